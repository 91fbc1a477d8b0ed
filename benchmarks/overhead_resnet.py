"""Overhead on a realistic step: torchvision resnet18, FakeData-sized random batches, CPU (target: <= 1%).

Batch 16 of 3x64x64 random images, 10 classes, SGD with momentum, CPU, 1 thread (~0.1-0.2 s a step): a real
convolutional network with 62 parameter tensors. lrguard is toggled in-process (``lrguard.uninstall()`` /
``lrguard.install()``) on the same model and data, as in ``overhead_tiny.py``: the variants take turns every step,
3 turns of each a round; the ratios are medians over the rounds. The batches are made once up front (a data pipeline
would only add noise).

    python benchmarks/overhead_resnet.py [--rounds N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402

import _bench  # noqa: E402

LIMIT_PCT = 1.0
TURNS = 3  # one-step turns of each variant per round


def build():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    batches = [(torch.randn(16, 3, 64, 64), torch.randint(0, 10, (16,))) for _ in range(4)]
    loss_fn = nn.CrossEntropyLoss()
    state = {"i": 0}

    def steps(n: int) -> None:
        for _ in range(n):
            x, y = batches[state["i"] % len(batches)]
            state["i"] += 1
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=80)
    args = parser.parse_args()
    steps = build()
    steps(4)
    import lrguard

    lrguard.install()
    steps(8)  # lrguard's first steps (dense sampling) out of the way
    ratios = _bench.alternate({"plain": lrguard.uninstall, "lrguard": lrguard.install}, lambda: steps(1), args.rounds,
                              1, interleave=TURNS)
    print(f"resnet18, batch 16 x 3x64x64, SGD(momentum), CPU, 1 thread; {_bench.machine()}")
    print(f"[in-process, {TURNS} one-step turns of each variant per round]")
    print(ratios.table(scale=1e3, unit_name="ms"))
    cpu, wall = ratios.ratio("lrguard", 1), ratios.ratio("lrguard", 0)
    print(_bench.verdict("resnet18 (cpu)", cpu, LIMIT_PCT), f"({_bench.interval_text(ratios, 'lrguard')})",
          f"| wall {_bench.overhead(wall)}")
    _bench.emit({"benchmark": "overhead_resnet", "limit_pct": LIMIT_PCT,
                 "overhead_pct": {"in-process": round((cpu - 1) * 100, 2)},
                 "wall_overhead_pct": round((wall - 1) * 100, 2)})


if __name__ == "__main__":
    main()
