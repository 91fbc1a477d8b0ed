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
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "


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
        rng = random.Random(0)
        medians = sorted(median(rng.choices(values, k=len(values))) for _ in range(resamples))
        return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]

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


def overhead(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.2f}%"


def verdict(name: str, ratio: float, limit_pct: float) -> str:
    ok = (ratio - 1) * 100 <= limit_pct
    return f"{name}: {overhead(ratio)} (target <= {limit_pct:g}%): {'met' if ok else 'NOT MET'}"


def emit(result: dict) -> None:
    """One machine-readable line for benchmarks/run_all.py."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def alternate(variants: Dict[str, Callable[[], None]], run: Callable[[], None], rounds: int, units: int,
              ratios: Optional[Ratios] = None, interleave: int = 1) -> Ratios:
    """In-process rounds: each variant's setup (e.g. lrguard.install/uninstall) then ``run()`` (``units`` steps),
    in an order that rotates every time (AB, BA, ...). With ``interleave`` > 1 a round is that many such passes,
    its times summed per variant: a round spans e.g. one of lrguard's sampling periods while the variants still
    take turns every ``units`` steps (the machine's slower swings fall on both alike). Returns the per-unit times."""
    ratios = ratios or Ratios()
    names = list(variants)
    turn = 0
    for _ in range(rounds):
        times = dict.fromkeys(names, (0.0, 0.0))
        for _ in range(interleave):
            order = names[turn % len(names):] + names[: turn % len(names)]  # AB, BA, AB, ...
            turn += 1
            for name in order:
                variants[name]()
                wall, cpu = timed(run)
                times[name] = (times[name][0] + wall / units / interleave, times[name][1] + cpu / units / interleave)
        ratios.add_round(times)
    return ratios


def run_child(argv: List[str], env: Optional[dict] = None, timeout: float = 300) -> dict:
    """Run a child benchmark process and return the JSON it printed on its last ``BENCH-CHILD`` line."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", **(env or {})})
    lines = [l for l in proc.stdout.splitlines() if l.startswith("BENCH-CHILD ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {argv} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("BENCH-CHILD "):])


def child_report(**values) -> None:
    print("BENCH-CHILD " + json.dumps(values), flush=True)


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
