"""Shared helpers of the benchmarks: side-by-side timing, medians, the machine, subprocess children.

Every overhead benchmark compares the same loop with and without lrguard *in one invocation*, in alternating
rounds (the order flips every round so that drift and the load of other processes fall on both sides), and reports
the median of the per-round ratios. Two clocks: wall time (what a user waits) and the process's CPU time (what the
loop itself computed; it does not count the time the process was descheduled, which matters on a shared machine).
"""
from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "
CHILD_PREFIX = "BENCH-CHILD "  # a Child's replies


def machine() -> str:
    """'<CPU model>, <n> cores, Python x.y, torch x.y' (whatever is known)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [model, f"{os.cpu_count()} cores", f"Python {platform.python_version()}"]
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch {torch.__version__}")
    return ", ".join(parts)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object]) -> tuple:
    """(wall seconds, CPU seconds) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


class Ratios:
    """Per-round times of a baseline and of variants; medians of the per-round ratios against the baseline."""

    def __init__(self, baseline: str = "plain") -> None:
        self.baseline = baseline
        self.rounds: List[Dict[str, tuple]] = []  # {variant: (wall, cpu) per unit}

    def add_round(self, times: Dict[str, tuple]) -> None:
        self.rounds.append(times)

    def variants(self) -> List[str]:
        seen: List[str] = []
        for r in self.rounds:
            seen += [v for v in r if v not in seen]
        return seen

    def ratio(self, variant: str, clock: int) -> float:
        """Median over rounds of variant/baseline (clock 0: wall, 1: CPU)."""
        return median([r[variant][clock] / r[self.baseline][clock] for r in self.rounds
                       if variant in r and self.baseline in r])

    def per_unit(self, variant: str, clock: int) -> float:
        return median([r[variant][clock] for r in self.rounds if variant in r])

    def interval(self, variant: str, clock: int, resamples: int = 400) -> tuple:
        """A 95% bootstrap interval of ``ratio(variant, clock)``: how far the median could move with other rounds
        of the same noise (on a shared machine single rounds range widely; the median of many does not)."""
        values = [r[variant][clock] / r[self.baseline][clock] for r in self.rounds
                  if variant in r and self.baseline in r]
        return bootstrap(lambda rng: median(rng.choices(values, k=len(values))), resamples)

    def table(self, unit: str = "step", scale: float = 1e3, unit_name: str = "ms") -> str:
        lines = [f"{'variant':<16} {'wall/' + unit:>12} {'cpu/' + unit:>12} {'wall ratio':>11} {'cpu ratio':>10}"
                 f"   (medians of {len(self.rounds)} alternating rounds; cpu ratio's 95% interval)"]
        for v in self.variants():
            wall, cpu = self.per_unit(v, 0) * scale, self.per_unit(v, 1) * scale
            if v == self.baseline:
                lines.append(f"{v:<16} {wall:>9.3f} {unit_name} {cpu:>9.3f} {unit_name} {'1':>11} {'1':>10}")
            else:
                lo, hi = self.interval(v, 1)
                lines.append(f"{v:<16} {wall:>9.3f} {unit_name} {cpu:>9.3f} {unit_name} {self.ratio(v, 0):>11.4f}"
                             f" {self.ratio(v, 1):>10.4f}   ({lo:.3f}..{hi:.3f})")
        return "\n".join(lines)


def bootstrap(draw: Callable[[random.Random], float], resamples: int) -> tuple:
    """The 2.5th and 97.5th percentiles of ``resamples`` draws (each a statistic of one resample, seeded)."""
    rng = random.Random(0)
    draws = sorted(draw(rng) for _ in range(resamples))
    return draws[int(0.025 * resamples)], draws[int(0.975 * resamples) - 1]


def overhead(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.2f}%"


def interval_text(ratios: Ratios, variant: str) -> str:
    """'95% interval -0.50%..+1.20%': the CPU ratio's interval, as overheads."""
    lo, hi = ratios.interval(variant, 1)
    return f"95% interval {overhead(lo)}..{overhead(hi)}"


def verdict(name: str, ratio: float, limit_pct: float) -> str:
    ok = (ratio - 1) * 100 <= limit_pct
    return f"{name}: {overhead(ratio)} (target <= {limit_pct:g}%): {'met' if ok else 'NOT MET'}"


def emit(result: dict) -> None:
    """One machine-readable line for benchmarks/run_all.py."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def _turns(players: list, play: Callable[[Any], tuple], rounds: int, units: int, interleave: int) -> Iterator[dict]:
    """Rounds of turns: each player plays ``interleave`` times a round, one at a time, in an order that rotates
    every pass (AB, BA, AB, ...); yields each round's {player: (wall, cpu) per unit}, summed over its passes.
    ``play(player)`` runs ``units`` units and returns their (wall, cpu) seconds."""
    turn = 0
    for _ in range(rounds):
        times = dict.fromkeys(players, (0.0, 0.0))
        for _ in range(interleave):
            first = turn % len(players)
            turn += 1
            for player in players[first:] + players[:first]:
                wall, cpu = play(player)
                old = times[player]
                times[player] = (old[0] + wall / units / interleave, old[1] + cpu / units / interleave)
        yield times


def alternate(variants: Dict[str, Callable[[], None]], run: Callable[[], None], rounds: int, units: int,
              ratios: Optional[Ratios] = None, interleave: int = 1) -> Ratios:
    """In-process rounds: each variant's setup (e.g. lrguard.install/uninstall) then ``run()`` (``units`` steps),
    in an order that rotates every time (AB, BA, ...). With ``interleave`` > 1 a round is that many such passes,
    its times summed per variant: a round spans e.g. one of lrguard's sampling periods while the variants still
    take turns every ``units`` steps (the machine's slower swings fall on both alike). Returns the per-unit times."""
    ratios = ratios or Ratios()

    def play(name: str) -> tuple:
        variants[name]()
        return timed(run)

    for times in _turns(list(variants), play, rounds, units, interleave):
        ratios.add_round(times)
    return ratios


class ChildRatios(Ratios):
    """Ratios of fresh processes, several children per variant: a round's time of a variant is the mean of its
    children's, and the interval resamples the children as well as the rounds (each process has its own memory
    layout: an offset of a percent or two that lasts its lifetime, which more rounds do not average out)."""

    def __init__(self, baseline: str = "plain") -> None:
        super().__init__(baseline)
        self.children: List[Dict[str, List[tuple]]] = []  # per round: {variant: [(wall, cpu) per unit, per child]}

    def add_children_round(self, times: Dict[str, List[tuple]]) -> None:
        self.children.append(times)
        self.add_round({v: tuple(statistics.fmean(t[c] for t in ts) for c in (0, 1)) for v, ts in times.items()})

    def interval(self, variant: str, clock: int, resamples: int = 400) -> tuple:
        base, rounds = self.baseline, self.children

        def draw(rng: random.Random) -> float:
            picks = {v: rng.choices(range(len(ts)), k=len(ts)) for v, ts in rounds[0].items()}
            return median([statistics.fmean(r[variant][i][clock] for i in picks[variant])
                           / statistics.fmean(r[base][i][clock] for i in picks[base])
                           for r in rng.choices(rounds, k=len(rounds))])

        return bootstrap(draw, resamples)


class Child:
    """A fresh benchmark process that takes turns: it sets itself up, says it is ready (``serve``), then runs and
    times as many units (e.g. training steps) as each order asks."""

    def __init__(self, argv: List[str]) -> None:
        self.argv = argv
        self.stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                                               "PYTHONWARNINGS": "ignore"})

    def reply(self) -> dict:
        """The JSON of the child's next ``CHILD_PREFIX`` line (its other output is skipped)."""
        for line in self.proc.stdout:
            if line.startswith(CHILD_PREFIX):
                return json.loads(line[len(CHILD_PREFIX):])
        self.stderr.seek(0)
        raise RuntimeError(f"child {self.argv} ended (rc {self.proc.wait()}):\n{self.stderr.read()[-3000:]}")

    def run(self, units: int) -> tuple:
        """(wall, cpu) seconds of ``units`` units, run now."""
        self.proc.stdin.write(f"{units}\n")
        self.proc.stdin.flush()
        out = self.reply()
        return out["wall"], out["cpu"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.stderr.close()


def serve(run: Callable[[int], None], **ready) -> None:
    """A ``Child``'s side: report ``ready`` (e.g. whether lrguard watches), then time ``run(units)`` for each order
    read from stdin, until it closes."""
    print(CHILD_PREFIX + json.dumps(ready), flush=True)
    for line in sys.stdin:
        wall, cpu = timed(lambda: run(int(line)))
        print(CHILD_PREFIX + json.dumps({"wall": wall, "cpu": cpu}), flush=True)


def side_by_side(modes: Dict[str, List[str]], per_mode: int, rounds: int, units: int, interleave: int = 1,
                 expect: Optional[Callable[[str, dict], None]] = None) -> ChildRatios:
    """Fresh processes taking turns, as ``alternate`` takes turns in one process: ``per_mode`` children of each mode
    (its argv) start together and set up; then in every round each child runs ``units`` units ``interleave`` times,
    one child at a time, in an order that rotates every pass, so that the machine's swings fall on every mode alike.
    ``expect(mode, ready)`` may check a child's ready report. Returns the per-unit times."""
    children: List[tuple] = []  # (mode, Child), the modes interleaved
    try:
        for _ in range(per_mode):
            children += [(name, Child(argv)) for name, argv in modes.items()]
        for name, child in children:
            ready = child.reply()
            if expect is not None:
                expect(name, ready)
        ratios = ChildRatios()
        for times in _turns(children, lambda c: c[1].run(units), rounds, units, interleave):
            ratios.add_children_round({name: [times[c] for c in children if c[0] == name] for name in modes})
        return ratios
    finally:
        for _, child in children:
            child.close()


def lrguard_run_argv() -> Optional[List[str]]:
    """How to start ``lrguard run`` with this interpreter, or None while lrguard has no CLI (lrguard not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("lrguard")
    places = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    if not any((p / "cli.py").exists() for p in places):
        return None
    if any((p / "__main__.py").exists() for p in places):
        return [sys.executable, "-m", "lrguard", "run"]
    return [sys.executable, "-c", "import sys; from lrguard.cli import main; sys.argv[0] = 'lrguard'; main()", "run"]
