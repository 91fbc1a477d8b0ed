"""Concurrency: trainings in threads get their own findings; a torchrun job works on every rank, adds no
collective, and warns once (rank 0) while every rank records its findings."""
from __future__ import annotations

import gc
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR

import lrguard
from lrguard.integrations.torch_probe import quiet
from reliability_support import fresh_lrguard, seed_bug, without_lrguard

HERE = Path(__file__)


@pytest.fixture(autouse=True)
def _fresh():
    gc.collect()
    fresh_lrguard()
    yield
    fresh_lrguard()


def _line(marker: str) -> int:
    return next(i for i, text in enumerate(HERE.read_text().splitlines(), 1) if text.rstrip().endswith(marker))


def _bug_scheduler(opt):
    return LambdaLR(opt, seed_bug)  # scheduler: seed bug


def _nan_scheduler(opt):
    return LambdaLR(opt, lambda e: 0.9 ** e if e < 3 else math.nan)  # scheduler: nan


def _healthy_scheduler(opt):
    return LambdaLR(opt, lambda e: 0.9 ** e)  # scheduler: healthy


def _train_in_thread(build, barrier, results, key, seed):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    generator = torch.Generator().manual_seed(seed)  # not torch.manual_seed: the default generator is shared
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    barrier.wait()
    sched = build(opt)
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(seed))
    losses = []
    for step in range(40):
        barrier.wait()  # the two trainings step in lockstep, interleaved
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()
        if step % 4 == 3:
            sched.step()
        losses.append(loss.item())
    results[key] = (losses, model[0].weight.detach().clone())


def _two_threads(first, second):
    barrier, results = threading.Barrier(2, timeout=60), {}
    threads = [threading.Thread(target=_train_in_thread, args=(build, barrier, results, key, seed))
               for key, build, seed in (("first", first, 1), ("second", second, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(results) == {"first", "second"}, "a training thread failed"
    return results


@pytest.mark.parametrize("second", ["nan", "healthy"])
def test_two_trainings_in_two_threads_get_their_own_findings(second, capfd):
    other = {"nan": _nan_scheduler, "healthy": _healthy_scheduler}[second]
    with without_lrguard():
        plain = _two_threads(_bug_scheduler, other)
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        guarded = _two_threads(_bug_scheduler, other)
        found = lrguard.findings()
    assert list(warnings.filters) == filters  # the threads' probes left the process's filters alone
    for key in plain:  # bit for bit (NaN as NaN: the nan schedule makes the weights NaN)
        torch.testing.assert_close(torch.tensor(guarded[key][0]), torch.tensor(plain[key][0]), rtol=0, atol=0,
                                   equal_nan=True)
        torch.testing.assert_close(guarded[key][1], plain[key][1], rtol=0, atol=0, equal_nan=True)
    where = {(f.id, f.where) for f in found}
    expected = {("lambda-absolute-lr", f"{HERE}:{_line('# scheduler: seed bug')}")}
    if second == "nan":
        expected.add(("invalid-lr", f"{HERE}:{_line('# scheduler: nan')}"))
    assert where == expected
    assert len([w for w in caught if issubclass(w.category, lrguard.LRGuardWarning)]) == len(expected)
    assert "lrguard" not in capfd.readouterr().err


def test_probe_leaves_the_warning_filters_alone_while_other_threads_run():
    """``warnings.catch_warnings`` swaps the process-wide filters: not while another thread may warn."""
    alone = (  # in a fresh interpreter (this one may hold other frameworks' threads): only this thread
        "import warnings\nfrom lrguard.integrations.torch_probe import quiet\n"
        "before = warnings.filters\nwith quiet():\n    alone = warnings.filters\n"
        "assert alone is not before and warnings.filters is before  # swapped, and put back\n"
    )
    proc = subprocess.run([sys.executable, "-c", alone], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with pytest.warns(UserWarning, match="from a probe"):
            current = warnings.filters
            with quiet():
                assert warnings.filters is current
                warnings.warn("from a probe", UserWarning)  # not silenced: it would be for the other thread too
    finally:
        stop.set()
        other.join()


# -- torchrun ----------------------------------------------------------------------------------------------
DDP_SCRIPT = '''
import lrguard  # the first line of train.py, on every rank

import json, os, sys
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
rank = dist.get_rank()
group = dist.distributed_c10d._get_default_group()


def collectives():
    return group._get_sequence_number_for_group()  # +1 for every collective on the group


def train():
    torch.manual_seed(0)
    model = DDP(torch.nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1e-3 * 0.95 ** e)  # the seed bug
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(rank))
    losses = []
    for epoch in range(4):
        for b in range(4):
            opt.zero_grad()
            loss = model(x[b * 8:(b + 1) * 8]).pow(2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
    return losses


lrguard.uninstall()
start = collectives()
plain = train()
plain_collectives = collectives() - start
lrguard.install()
start = collectives()
guarded = train()
found = [f.id for f in lrguard.findings()]
guarded_collectives = collectives() - start
with open(os.path.join(sys.argv[1], f"rank{rank}.json"), "w") as file:
    json.dump({"plain": plain, "guarded": guarded, "plain_collectives": plain_collectives,
               "guarded_collectives": guarded_collectives, "findings": found}, file)
dist.destroy_process_group()
'''


def test_torchrun_two_ranks_on_cpu_with_gloo(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT)
    logs, out = tmp_path / "logs", tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LRGUARD_DISABLE", "RANK", "LOCAL_RANK", "WORLD_SIZE")}
    env.update(PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    for attempt in range(2):
        shutil.rmtree(logs, ignore_errors=True)
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
             "--log-dir", str(logs), "--redirects", "3", str(script), str(out)],
            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
        )
        stderr = {int(p.parent.name): p.read_text() for p in logs.glob("*/attempt_0/*/stderr.log")}
        # gloo's known teardown race on a loaded machine: a rank aborts at exit, after its work ("terminate called
        # without an active exception"), with or without lrguard; run the job once more then
        if proc.returncode == 0 or not any("terminate called without an active exception" in s for s in stderr.values()):
            break
    assert proc.returncode == 0, (proc.stderr[-2000:], stderr)
    ranks = {r: json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)}
    for rank, result in ranks.items():
        assert result["findings"] == ["lambda-absolute-lr"], (rank, result)  # every rank records
        assert result["guarded"] == result["plain"], rank  # the same training
        assert result["guarded_collectives"] == result["plain_collectives"] > 0, result  # no collective added
        assert "internal error" not in stderr[rank]
    assert stderr[0].count("ScheduleBugWarning: [lambda-absolute-lr]") == 1, stderr[0]
    assert "LRGuardWarning" not in stderr[1] and "ScheduleBugWarning" not in stderr[1], stderr[1]
