"""Memory: 1,000,000 optimizer steps grow lrguard's memory by at most 5 MB (bounded windows, no growing lists).

What runs: a real 2-layer model (weights, gradients, an SGD optimizer that lrguard watches) and, for each of the
1,000,000 steps, lrguard's per-step path exactly as ``Optimizer.step`` runs it: the global pre- and post-step
hooks that lrguard registered with torch (taken from torch's own hook tables), with the loss handed over by the
function the patched ``torch.autograd.backward`` (what ``loss.backward()`` calls) runs once autograd is done, and a
learning rate that changes at every step (a cosine written into the param group, as a per-batch scheduler does), so
that every step records an lr change. The optimizer's
own arithmetic and autograd are left out: they are not lrguard's memory, and a real step costs ~100 us here
(~250 us under tracemalloc), too slow for a million steps; lrguard's sampled reads (losses, gradient norms,
weight clones, checkpoints with the detectors) all run for real.

The growth curve is ``tracemalloc``'s memory allocated by lrguard's own files (and the process RSS, for
anything outside Python's allocator), after a 1,000-step warm-up.

    python benchmarks/memory.py [--steps N]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402

LIMIT_MB = 5.0


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def lrguard_bytes(snapshot: tracemalloc.Snapshot) -> int:
    import lrguard

    root = str(Path(lrguard.__file__).resolve().parent)
    traces = snapshot.filter_traces([tracemalloc.Filter(True, root + os.sep + "*")])
    return sum(stat.size for stat in traces.statistics("filename"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    args = parser.parse_args()

    import lrguard  # before torch, as in import mode
    import torch
    from torch import nn
    from torch.optim import optimizer as torch_optimizer

    from lrguard.integrations import torch as adapter

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    losses = []
    for _ in range(97):  # real losses (and real gradients) from a few real steps
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)
    post = list(torch_optimizer._global_optimizer_post_hooks.values())
    if adapter._post_step not in post:
        raise SystemExit("lrguard's hook is not registered with torch")
    took_backward = getattr(adapter, "_took_backward", None)  # what the wrapped torch.autograd.backward runs
    if took_backward is None:
        raise SystemExit("lrguard.integrations.torch has no _took_backward: update this benchmark")
    group, no_args, no_kwargs = opt.param_groups[0], (), {}
    total = args.steps

    def steps(start: int, stop: int) -> None:
        for i in range(start, stop):
            group["lr"] = 0.05 * (1 + math.cos(math.pi * i / total)) + 1e-4
            took_backward(losses[i % 97])
            for hook in post:
                hook(opt, no_args, no_kwargs)

    print(f"memory: {total:,} steps of lrguard's per-step path; {_bench.machine()}")
    tracemalloc.start()
    steps(0, 1000)
    base_lrguard, base_traced = lrguard_bytes(tracemalloc.take_snapshot()), tracemalloc.get_traced_memory()[0]
    base_rss = rss_mb()
    print(f"{'steps':>10} {'lrguard (tracemalloc)':>22} {'all Python (traced)':>20} {'RSS':>10} {'s':>6}")
    marks = sorted({m for m in (10_000, 30_000, 100_000, 300_000, 500_000, total) if m <= total} | {total})
    done, t0, growth = 1000, time.perf_counter(), 0.0
    for mark in marks:
        steps(done, mark)
        done = mark
        snapshot = tracemalloc.take_snapshot()
        growth = (lrguard_bytes(snapshot) - base_lrguard) / 2**20
        traced = (tracemalloc.get_traced_memory()[0] - base_traced) / 2**20
        print(f"{mark:>10,} {growth:>+19.3f} MB {traced:>+17.3f} MB {rss_mb() - base_rss:>+7.1f} MB"
              f" {time.perf_counter() - t0:>6.1f}", flush=True)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    run = adapter._watches[opt].run
    print(f"the run saw {run.step:,} steps; its loss window holds {len(run.losses.recent)} values, "
          f"its gradient samples {len(run.grads)}, its lr history {len(run.history.lr)} points "
          f"(traced peak {peak:.1f} MB)")
    ok = growth <= LIMIT_MB
    print(f"lrguard's growth over {total:,} steps: {growth:+.3f} MB (target <= {LIMIT_MB:g} MB): "
          f"{'met' if ok else 'NOT MET'}")
    lrguard.uninstall()
    _bench.emit({"benchmark": "memory", "steps": total, "growth_mb": round(growth, 3), "limit_mb": LIMIT_MB,
                 "met": ok})


if __name__ == "__main__":
    main()
