"""Overhead on a vanilla RNN, where lrguard also measures the gradient through time: nn.RNN (tanh) over 100 time
steps, hidden 64, batch 32, Adam, CPU, 1 thread (target: <= 1%).

In-process, ``lrguard.uninstall()`` / ``lrguard.install()`` toggled between alternating rounds on the same model,
optimizer and data (as ``overhead_tiny.py`` does), 128 steps per round: two of lrguard's 64-step sampling
periods (one of its 128-step ones from step 2048), so each round holds whole sampling periods (a gradient sample,
and the through-time measurement at the forward after it: one small chain of products per time step on 8
sequences). The variants take turns every 16 steps (~0.13 s) within a round, so that the machine's swings fall
on both alike.

    python benchmarks/overhead_rnn.py [--rounds N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import _bench  # noqa: E402

LIMIT_PCT = 1.0
PERIOD = 128  # steps per round: two gradient-sampling periods
BLOCK = 16  # steps per turn of a variant


def build():
    """The RNN loop: returns ``steps(n)``. The RNN is built with lrguard installed (it remembers RNNs as built)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rnn, head = nn.RNN(8, 64, batch_first=True), nn.Linear(64, 4)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    X, y = torch.randn(32, 100, 8), torch.randint(0, 4, (32,))

    def steps(n: int) -> None:
        for _ in range(n):
            opt.zero_grad()
            out, _ = rnn(X)
            nn.functional.cross_entropy(head(out[:, -1]), y).backward()
            opt.step()

    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="in-process rounds (default 20)")
    args = parser.parse_args()
    import lrguard

    lrguard.install()
    steps = build()
    steps(300)  # lrguard's warm-up: its dense first steps and first checkpoints
    ratios = _bench.alternate({"plain": lrguard.uninstall, "lrguard": lrguard.install}, lambda: steps(BLOCK),
                              args.rounds, BLOCK, interleave=PERIOD // BLOCK)
    print(f"vanilla RNN: nn.RNN(8, 64) over 100 steps, batch 32, Adam, CPU, 1 thread; {_bench.machine()}")
    print(f"\n[in-process: rounds of {PERIOD} steps, turns of {BLOCK}]")
    print(ratios.table(scale=1e3, unit_name="ms"))
    ratio = ratios.ratio("lrguard", 1)
    print("\n" + _bench.verdict("in-process", ratio, LIMIT_PCT), f"({_bench.interval_text(ratios, 'lrguard')})")
    _bench.emit({"benchmark": "overhead_rnn", "overhead_pct": {"in-process": (ratio - 1) * 100},
                 "limit_pct": LIMIT_PCT})


if __name__ == "__main__":
    main()
