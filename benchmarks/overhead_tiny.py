"""Overhead on a worst-case tiny step: a 5-layer MLP, batch 32, CPU, 1 thread (targets: <= 1.5% in process,
<= 3% in fresh processes).

A step this small is almost all Python and dispatch, so whatever lrguard does per step shows in full.

Two measurements, both side by side in this one invocation, each the median of per-round ratios:

1. In-process, ``lrguard.uninstall()`` / ``lrguard.install()`` toggled between alternating rounds on the same
   model, optimizer and data. This is the tight one: same process, same memory layout, same warmed-up allocator
   and caches, short turns (64 steps, ~30 ms) so that the load of other processes falls on both sides alike,
   16 turns of each per round (1024 steps: one of lrguard's steady-state checkpoint periods, so that each round
   holds the same sampled work); and ``uninstall()`` restores torch exactly (the original
   ``torch.autograd.backward``, no global optimizer hooks), so the plain rounds are plain torch. It measures
   exactly what lrguard adds per step: its hooks and its sampled reads, in a long run's steady state (from step
   16384, where lrguard samples a sixteenth as often as in a run's first 2048 steps).
   Run with a steady lr and with schedulers stepped every batch, whose lr changes at every step (LambdaLR,
   OneCycleLR, and a LambdaLR built as transformers' ``get_linear_schedule_with_warmup`` builds it): lrguard's
   busier path (an lr recorded at every step, the scheduler's calls counted). The start of a run (a new optimizer
   and scheduler, and their first 1024 steps, lrguard's dense sampling and its read-ahead of the schedule) is
   measured apart, with no target.
2. Fresh processes side by side: plain (lrguard never imported), import mode (``import lrguard`` first, then torch),
   and ``lrguard run`` (when lrguard has its CLI), 4 processes of each started together. Each warms up to step
   16384, then they take turns of 64 steps, one process at a time, in rounds of 1024 steps each, as the variants
   take turns in process: the machine's swings fall on every mode alike. This checks the real entry points end to
   end. What stays is each process's own memory layout, an offset of a percent or two for its lifetime: hence
   several processes a mode, and an interval that resamples the processes as well as the rounds.

    python benchmarks/overhead_tiny.py [--rounds N] [--schedules steady LambdaLR ...] [--no-subprocess]
                                       [--per-step ROUNDS] [--children N]
"""
from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and "--import-lrguard" in sys.argv:
    import lrguard  # noqa: F401  (import mode: before torch, as a user would)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse  # noqa: E402
import functools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.optim import lr_scheduler  # noqa: E402

import _bench  # noqa: E402

LIMIT_PCT = 1.5  # in process
FRESH_LIMIT_PCT = 3.0  # fresh processes: import mode and `lrguard run` (process-to-process noise is larger)
BLOCK = 64  # steps per turn of a variant (~30 ms): the shorter, the more alike the machine's load on both sides
PERIOD = 1024  # steps per round (16 turns of each variant): one of lrguard's steady-state checkpoint periods
STEADY_FROM = 16384  # lrguard samples at its steady-state rate from this step on
FRESH_CHILDREN = 4  # fresh processes of each mode, side by side
FRESH_ROUNDS = 30  # their rounds of PERIOD steps each, from STEADY_FROM
START_STEPS = 1024  # the start of a run, measured apart (no target: lrguard samples 16x as often there)


def _linear_warmup(step: int, warmup: int, total: int) -> float:
    """transformers' ``get_linear_schedule_with_warmup`` multiplier (a LambdaLR of a ``functools.partial``)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


# Schedules stepped every batch: the lr changes at every optimizer step, lrguard's busiest per-step path.
SCHEDULES = {
    "steady": None,
    "LambdaLR": lambda opt: lr_scheduler.LambdaLR(opt, lambda step: 1 / (1 + step / 1000)),
    "OneCycleLR": lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=10**7),
    "HF warmup": lambda opt: lr_scheduler.LambdaLR(opt, functools.partial(_linear_warmup, warmup=1000, total=10**7)),
}


class TinyLoop:
    """The tiny training loop, with one of ``SCHEDULES`` stepped every batch."""

    def __init__(self, schedule: str = "steady") -> None:
        torch.set_num_threads(1)
        torch.manual_seed(0)
        layers, size = [], 32
        for _ in range(4):
            layers += [nn.Linear(size, 64), nn.ReLU()]
            size = 64
        self.model = nn.Sequential(*layers, nn.Linear(size, 10))
        self.schedule = schedule
        self.X, self.y = torch.randn(32, 32), torch.randint(0, 10, (32,))
        self.loss_fn = nn.CrossEntropyLoss()
        self.restart()

    def restart(self) -> None:
        """A new optimizer (and scheduler) over the same model: a new training run, from its first step."""
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        make = SCHEDULES[self.schedule]
        self.sched = make(self.opt) if make else None

    def steps(self, n: int) -> None:
        opt, sched, model, loss_fn, X, y = self.opt, self.sched, self.model, self.loss_fn, self.X, self.y
        for _ in range(n):
            opt.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()


def child() -> None:
    """A fresh process of ``subprocesses``: warm up to the steady state, then take turns (``_bench.serve``)."""
    loop = TinyLoop()
    loop.steps(STEADY_FROM)
    lrguard = sys.modules.get("lrguard")
    watching = bool(lrguard and lrguard.is_installed() and "torch" in lrguard.integrations.install.active())
    _bench.serve(loop.steps, lrguard=watching)


def in_process(rounds: int, schedule: str) -> _bench.Ratios:
    """A long run's steady state: rounds of PERIOD steps (turns of BLOCK), from step STEADY_FROM on."""
    loop = TinyLoop(schedule)
    loop.steps(300)
    import lrguard  # after torch: lrguard patches it at once

    lrguard.install()
    loop.steps(STEADY_FROM)  # lrguard's start: its dense first steps, checkpoints and samples
    return _bench.alternate({"plain": lrguard.uninstall, "lrguard": lrguard.install}, lambda: loop.steps(BLOCK),
                            rounds, BLOCK, interleave=PERIOD // BLOCK)


def run_start(rounds: int, schedule: str) -> _bench.Ratios:
    """The start of a run: rounds of a new optimizer (and scheduler) and its first START_STEPS steps, where lrguard
    samples densely and reads the new scheduler ahead."""
    loop = TinyLoop(schedule)
    loop.steps(300)
    import lrguard

    def start() -> None:
        loop.restart()
        loop.steps(START_STEPS)

    return _bench.alternate({"plain": lrguard.uninstall, "lrguard": lrguard.install}, start, rounds, START_STEPS)


def per_step(rounds: int) -> None:
    """Diagnostic, no target: the steady-state loop timed one step at a time in the same alternation (plain,
    lrguard), to tell the typical step (its median and 25th percentile, which the machine's hiccups and lrguard's
    sampled steps leave alone) from the round means."""
    loop = TinyLoop()
    loop.steps(300)
    import lrguard

    lrguard.install()
    loop.steps(STEADY_FROM)
    clock = time.perf_counter_ns
    times: dict = {"plain": [], "lrguard": []}
    for r in range(rounds):
        for name in (("plain", "lrguard") if r % 2 == 0 else ("lrguard", "plain")):
            (lrguard.uninstall if name == "plain" else lrguard.install)()
            for _ in range(BLOCK):
                start = clock()
                loop.steps(1)
                times[name].append(clock() - start)
    print(f"\n[per step, steady lr: {rounds} rounds of {BLOCK} steps timed one by one; diagnostic, no target]")
    stats = {"25th percentile": lambda t: statistics.quantiles(t, n=4)[0], "median": statistics.median,
             "mean": statistics.fmean}
    for label, stat in stats.items():
        plain, guarded = stat(times["plain"]), stat(times["lrguard"])
        print(f"{label:16s} plain {plain / 1e3:7.1f} us  lrguard {guarded / 1e3:7.1f} us",
              _bench.overhead(guarded / plain))


def subprocesses(rounds: int, per_mode: int) -> _bench.ChildRatios:
    """Fresh processes side by side: ``per_mode`` of each mode, taking turns of BLOCK steps, rounds of PERIOD."""
    script = str(Path(__file__).resolve())
    modes = {"plain": [sys.executable, script, "--child"],
             "import lrguard": [sys.executable, script, "--import-lrguard", "--child"]}
    run = _bench.lrguard_run_argv()
    if run is not None:
        modes["lrguard run"] = [*run, script, "--child"]
    else:
        print("(lrguard has no CLI yet: the 'lrguard run' mode is skipped)")

    def expect(mode: str, ready: dict) -> None:
        if ready["lrguard"] != (mode != "plain"):
            raise SystemExit(f"mode {mode!r}: lrguard watching = {ready['lrguard']}, not as expected")

    return _bench.side_by_side(modes, per_mode, rounds, BLOCK, interleave=PERIOD // BLOCK, expect=expect)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="in-process rounds (default 40)")
    parser.add_argument("--schedules", nargs="*", choices=list(SCHEDULES), default=list(SCHEDULES),
                        help="in-process loops to measure (default: all)")
    parser.add_argument("--start-rounds", type=int, default=10,
                        help="rounds of a run's first steps (default 10; 0: not measured)")
    parser.add_argument("--per-step", type=int, default=0, metavar="ROUNDS",
                        help="also time the steady loop one step at a time (a diagnostic; default: not run)")
    parser.add_argument("--subprocess-rounds", type=int, default=FRESH_ROUNDS,
                        help=f"rounds of the fresh processes (default {FRESH_ROUNDS})")
    parser.add_argument("--children", type=int, default=FRESH_CHILDREN,
                        help=f"fresh processes per mode (default {FRESH_CHILDREN})")
    parser.add_argument("--no-subprocess", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--import-lrguard", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()

    print(f"tiny step: 5-layer MLP (32-64-64-64-64-10), batch 32, SGD(momentum), CPU, 1 thread; {_bench.machine()}")
    results, limits, start = {}, {}, {}
    for schedule in args.schedules:
        ratios = in_process(args.rounds, schedule)
        label = "steady lr" if schedule == "steady" else f"{schedule} stepped every batch (the lr changes every step)"
        print(f"\n[in-process, {label}: rounds of {PERIOD} steps ({PERIOD // BLOCK} turns of {BLOCK}) from step"
              f" {STEADY_FROM}]")
        print(ratios.table(scale=1e3, unit_name="ms"))
        key = f"in-process, {'steady lr' if schedule == 'steady' else schedule + ' per batch'}"
        results[key], limits[key] = ratios.ratio("lrguard", 1), LIMIT_PCT
        print(_bench.verdict(f"{key} (cpu)", ratios.ratio("lrguard", 1), LIMIT_PCT),
              f"({_bench.interval_text(ratios, 'lrguard')})", f"| wall {_bench.overhead(ratios.ratio('lrguard', 0))}")
        if args.start_rounds:
            ratios = run_start(args.start_rounds, schedule)
            print(f"[the start of a run, same loop: a new optimizer and its first {START_STEPS} steps per round]")
            print(ratios.table(scale=1e3, unit_name="ms"))
            start[key] = round((ratios.ratio("lrguard", 1) - 1) * 100, 2)
            print(f"{key}, steps 1-{START_STEPS} (cpu): {_bench.overhead(ratios.ratio('lrguard', 1))}"
                  f" ({_bench.interval_text(ratios, 'lrguard')}; no target)")
    if args.per_step:
        per_step(args.per_step)
    if not args.no_subprocess:
        ratios = subprocesses(args.subprocess_rounds, args.children)
        print(f"\n[fresh processes side by side, steady lr: {args.children} of each mode, from step {STEADY_FROM},"
              f" taking turns of {BLOCK} steps in rounds of {PERIOD}; the interval resamples processes and rounds]")
        print(ratios.table(scale=1e3, unit_name="ms"))
        for name in ratios.variants()[1:]:
            key = f"fresh process, {name}"
            results[key], limits[key] = ratios.ratio(name, 1), FRESH_LIMIT_PCT
            print(_bench.verdict(f"{key} (cpu)", ratios.ratio(name, 1), FRESH_LIMIT_PCT),
                  f"({_bench.interval_text(ratios, name)})", f"| wall {_bench.overhead(ratios.ratio(name, 0))}")
    _bench.emit({"benchmark": "overhead_tiny", "limit_pct": LIMIT_PCT, "limits_pct": limits,
                 "overhead_pct": {k: round((v - 1) * 100, 2) for k, v in results.items()},
                 "start_pct": start})


if __name__ == "__main__":
    main()
