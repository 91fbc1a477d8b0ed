"""GPU: lrguard's overhead on CUDA training steps, and zero host-device synchronisations in steady state.

1. Overhead: the tiny step of ``overhead_tiny.py`` (5-layer MLP, batch 32) and a torchvision resnet18 step
   (batch 32, 3x224x224) on the GPU, lrguard toggled in-process (``uninstall()`` / ``install()``) between
   alternating rounds; each round ends with ``torch.cuda.synchronize()``; medians of the per-round ratios.
2. Synchronisations: ``torch.cuda.set_sync_debug_mode("error")`` over steady-state steps (checkpoints included:
   lrguard reads device values through a non-blocking copy to pinned memory, and only once its event has
   completed), so any synchronising call (``.item()``, ``float()``, a blocking copy) raises.

Without CUDA it says so and exits cleanly (status 0).

    python benchmarks/gpu_check.py [--rounds N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import _bench  # noqa: E402

LIMIT_PCT = {"tiny MLP": 3.0, "resnet18": 1.0}


def tiny(device):
    torch.manual_seed(0)
    layers, size = [], 32
    for _ in range(4):
        layers += [nn.Linear(size, 64), nn.ReLU()]
        size = 64
    model = nn.Sequential(*layers, nn.Linear(size, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(32, 32, device=device), torch.randint(0, 10, (32,), device=device)
    return model, opt, x, y


def resnet(device):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch, side = (32, 224) if device.type == "cuda" else (2, 32)  # --cpu: just try the code
    x, y = torch.randn(batch, 3, side, side, device=device), torch.randint(0, 10, (batch,), device=device)
    return model, opt, x, y


def looper(model, opt, x, y):
    """(one training step, ``steps(n)``: n steps then a device synchronisation)."""
    synchronize = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    def steps(n: int) -> None:
        for _ in range(n):
            step()
        synchronize()

    return step, steps


def sync_check(step, n: int) -> str:
    """'' when ``n`` steady-state steps ran under sync debug mode 'error', else the error."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(n):
            step()
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cpu", action="store_true", help="try this script's code on the CPU (no sync check)")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.cpu:
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False): nothing to check; run this"
              " on a machine with a GPU.")
        _bench.emit({"benchmark": "gpu_check", "skipped": "no CUDA"})
        return
    import lrguard

    device = torch.device("cpu" if args.cpu else "cuda")
    if args.cpu:
        torch.set_num_threads(1)
    name = "CPU (--cpu: a dry run of this script)" if args.cpu else torch.cuda.get_device_name(device)
    print(f"gpu_check: {name}; {_bench.machine()}")
    results, syncs = {}, {}
    builders = [("tiny MLP", tiny, 128, args.rounds)]
    try:
        import torchvision  # noqa: F401

        builders.append(("resnet18", resnet, 8, max(6, args.rounds // 3)))
    except ImportError:
        print("(torchvision is not installed: resnet18 skipped)")
    for name, build, block, rounds in builders:
        model, opt, x, y = build(device)
        step, steps = looper(model, opt, x, y)
        steps(50)
        lrguard.install()
        steps(300)  # past lrguard's dense start: steady state
        ratios = _bench.alternate({"plain": lrguard.uninstall, "lrguard": lrguard.install}, lambda: steps(block),
                                  rounds, block)
        print(f"\n[{name} on {device}: {block} steps per round]")
        print(ratios.table(scale=1e3, unit_name="ms"))
        results[name] = ratios.ratio("lrguard", 0)
        print(_bench.verdict(f"{name} (wall)", results[name], LIMIT_PCT[name]))

        if args.cpu:
            lrguard.uninstall()
            continue
        lrguard.install()
        error = sync_check(step, 256)
        syncs[name] = error or None
        print(f"sync check, 256 steady-state steps (4 lrguard checkpoints) under set_sync_debug_mode('error'): "
              f"{'passed: no synchronisation' if not error else 'FAILED: ' + error}")
        lrguard.uninstall()
    findings = lrguard.findings()
    if findings:
        print("findings (none expected):", [f.id for f in findings])
    _bench.emit({"benchmark": "gpu_check", "overhead_pct": {k: round((v - 1) * 100, 2) for k, v in results.items()},
                 "sync_errors": syncs})


if __name__ == "__main__":
    main()
