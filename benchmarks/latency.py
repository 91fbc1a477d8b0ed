"""Detection latency: at which optimizer step (and epoch) each finding fires, on scenario-like runs.

Each scenario is a small real training loop (CPU, data made on the spot) with ``import lrguard`` watching. The
moment a finding fires is taken from the loop's side: the warning lrguard emits is caught, and the loop's own
(epoch, batch) at that moment is recorded; ``Finding.step`` (lrguard's count of optimizer steps) is printed
beside it. A run stops one epoch after its expected finding. The seed bug must fire within the first epoch.

    python benchmarks/latency.py
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lrguard  # noqa: E402,F401  (import mode: before torch)
import torch  # noqa: E402
from torch import nn  # noqa: E402

import _bench  # noqa: E402

N, BATCH = 1024, 32  # 32 steps per epoch


def mnist_like(seed: int = 0):
    """MNIST-shaped learnable data: each class is a noisy copy of a random prototype."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(10, 784, generator=g)
    y = torch.randint(0, 10, (N,), generator=g)
    X = (prototypes[y] + 0.8 * torch.rand(N, 784, generator=g)).clamp(0, 1)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=BATCH, shuffle=True,
                                       generator=g)


def mlp():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def deep_sigmoid(depth: int = 12, width: int = 64):
    layers, size = [], 784
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.Sigmoid()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, 10))


def seed_bug():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1e-3 * (10 - epoch) / 10)  # an absolute lr
    return model, opt, sched, "epoch", 3


def steplr_per_batch():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)  # sized in epochs, stepped per batch
    return model, opt, sched, "batch", 10


def multiplicative_given_lr():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.MultiplicativeLR(opt, lambda epoch: 1e-2)  # the lr, not a factor
    return model, opt, sched, "epoch", 3


def vanishing():
    model = deep_sigmoid()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.9 ** epoch)  # a correct multiplier
    return model, opt, sched, "epoch", 8


SCENARIOS = [
    ("seed bug (LambdaLR given the lr)", seed_bug, "lambda-absolute-lr"),
    ("StepLR stepped per batch", steplr_per_batch, "lr-collapse"),
    ("MultiplicativeLR given the lr", multiplicative_given_lr, "lambda-absolute-lr"),
    ("vanishing gradients (12 sigmoid layers)", vanishing, "vanishing-gradients"),
]


def run(build, expected: str, seed: int = 0) -> list:
    """Train (until one epoch after ``expected`` fired); return (id, epoch, batch, lrguard step, seconds) for each
    finding, when it fired."""
    torch.manual_seed(seed)
    loader = mnist_like(seed)
    model, opt, sched, every, epochs = build()
    loss_fn = nn.CrossEntropyLoss()
    fired, t0 = [], time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", lrguard.LRGuardWarning)
        seen = 0
        for epoch in range(1, epochs + 1):
            for batch, (xb, yb) in enumerate(loader, 1):
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
                if every == "batch":
                    sched.step()
                if len(caught) > seen:
                    for w in caught[seen:]:
                        if issubclass(w.category, lrguard.LRGuardWarning):
                            fired.append([str(w.message).split("]")[0].lstrip("["), epoch, batch, None,
                                          time.perf_counter() - t0])
                    seen = len(caught)
            if every == "epoch":
                sched.step()
            hit = next((f for f in fired if f[0] == expected), None)
            if hit and epoch >= hit[1] + 1:
                break  # latency is measured: one more epoch for anything that would follow, then stop
    steps = {f.id: f.step for f in lrguard.findings()}
    for row in fired:
        row[3] = steps.get(row[0])
    return fired


def main() -> None:
    print(f"detection latency ({N // BATCH} steps per epoch); {_bench.machine()}")
    print(f"{'scenario':<42} {'expected':<20} {'fired':<20} {'epoch':>5} {'batch':>5} {'step':>5} {'seconds':>8}")
    results, first_epoch_ok = {}, False
    for name, build, expected in SCENARIOS:
        lrguard.reset()
        fired = run(build, expected)
        if not fired:
            print(f"{name:<42} {expected:<20} {'(nothing)':<20}")
        for finding_id, epoch, batch, step, seconds in fired:
            print(f"{name:<42} {expected:<20} {finding_id:<20} {epoch:>5} {batch:>5} {step!s:>5} {seconds:>8.2f}")
        hit = next((f for f in fired if f[0] == expected), None)
        results[name] = {"expected": expected, "fired": [f[0] for f in fired],
                         "epoch": hit[1] if hit else None, "step": hit[3] if hit else None}
        if build is seed_bug:
            first_epoch_ok = bool(hit and hit[1] == 1)
    all_found = all(r["expected"] in r["fired"] for r in results.values())
    print(f"seed bug fired within the first epoch: {'met' if first_epoch_ok else 'NOT MET'}; every scenario's"
          f" expected finding fired: {'yes' if all_found else 'NO'}")
    _bench.emit({"benchmark": "latency", "scenarios": results, "met": first_epoch_ok and all_found})


if __name__ == "__main__":
    main()
