"""Child Python processes under ``lrguard run``: watched too, merged into the report, warned once per job."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from test_cli import TINY_TRAINING, run


@pytest.fixture
def work(tmp_path):
    (tmp_path / "tiny_train.py").write_text(TINY_TRAINING)
    return tmp_path


def report_of(work, proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((work / "report.json").read_text())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_multiprocessing_child_is_watched_and_merged(work, method):
    (work / "parent.py").write_text(textwrap.dedent(f"""
        import multiprocessing as mp
        import tiny_train

        if __name__ == "__main__":
            child = mp.get_context("{method}").Process(target=tiny_train.train)
            child.start()
            child.join()
            print("child exit", child.exitcode, child.pid)
    """))
    proc = run(["run", "--report-json", "report.json", "parent.py"], work)
    report = report_of(work, proc)
    child_pid = int(proc.stdout.split()[-1])
    assert [f["id"] for f in report["findings"]] == ["lambda-absolute-lr"]
    assert [(r["pid"], r["steps"]) for r in report["runs"]] == [(child_pid, 40)]
    assert [(p["pid"], p["main"]) for p in report["processes"]][1:] == [(child_pid, False)]
    assert proc.stderr.count("ScheduleBugWarning") == 1
    assert "lrguard: 1 finding (watched 1 optimizer (torch), 40 steps):" in proc.stderr
    assert not [n for n in os.listdir(work) if n.startswith("child-")]


def test_a_forked_child_reports_only_what_it_did_after_the_fork(work):
    (work / "parent.py").write_text(textwrap.dedent("""
        import multiprocessing as mp
        import tiny_train

        if __name__ == "__main__":
            tiny_train.train(absolute=True)  # the parent's own run, with the seed bug
            child = mp.get_context("fork").Process(target=tiny_train.train, kwargs={"absolute": False, "steps": 30})
            child.start()
            child.join()
    """))
    # OMP_NUM_THREADS=1: torch's OpenMP pool does not survive a fork once used (a hang, with or without lrguard)
    proc = run(["run", "--report-json", "report.json", "parent.py"], work, env={"OMP_NUM_THREADS": "1"}, timeout=120)
    report = report_of(work, proc)
    assert sorted(r["steps"] for r in report["runs"]) == [30, 40]
    parent, child = report["processes"]
    assert (parent["main"], parent["runs"], parent["findings"]) == (True, 1, 1)
    assert (child["main"], child["runs"], child["findings"]) == (False, 1, 0)


def test_a_subprocess_is_watched_and_an_existing_sitecustomize_still_runs(work):
    user_site = work / "user_site"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text("import os\nos.environ['USER_SITECUSTOMIZE_RAN'] = '1'\n")
    (work / "parent.py").write_text(textwrap.dedent("""
        import os, subprocess, sys
        quiet = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('USER_SITECUSTOMIZE_RAN'))"],
                               capture_output=True, text=True)
        print("user sitecustomize in child:", quiet.stdout.strip())
        subprocess.run([sys.executable, "tiny_train.py"], check=True)
    """))
    proc = run(["run", "--report-json", "report.json", "parent.py"], work, env={"PYTHONPATH": str(user_site)})
    report = report_of(work, proc)
    assert "user sitecustomize in child: 1" in proc.stdout
    assert [f["id"] for f in report["findings"]] == ["lambda-absolute-lr"]
    assert len(report["processes"]) == 2  # the child that trained nothing left no part
    assert report["processes"][1]["runs"] == 1


def test_lrguard_disable_reaches_the_children(work):
    (work / "parent.py").write_text("import subprocess, sys\nsubprocess.run([sys.executable, 'tiny_train.py'])\n")
    proc = run(["run", "--report-json", "report.json", "parent.py"], work, env={"LRGUARD_DISABLE": "1"})
    report = report_of(work, proc)
    assert report["findings"] == [] and report["runs"] == [] and "Warning" not in proc.stderr


DDP = '''
import torch, torch.distributed as dist
from torch import nn

dist.init_process_group("gloo")
torch.manual_seed(0)
model = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1e-3 * 0.9 ** epoch)
X, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
for step in range(30):
    opt.zero_grad()
    nn.functional.cross_entropy(model(X), y).backward()
    opt.step()
    if step % 10 == 9:
        scheduler.step()
dist.destroy_process_group()
'''


def test_torch_distributed_run_ranks_are_watched_and_rank_0_warns(work):
    (work / "ddp_train.py").write_text(DDP)
    proc = run(["run", "--report-json", "report.json", "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", "2", "ddp_train.py"], work, env={"OMP_NUM_THREADS": "1"}, timeout=400)
    report = report_of(work, proc)
    assert sorted((r["rank"], r["steps"]) for r in report["runs"]) == [(0, 30), (1, 30)]
    assert [f["id"] for f in report["findings"]] == ["lambda-absolute-lr"]  # one finding, not one per rank
    assert proc.stderr.count("ScheduleBugWarning: [lambda-absolute-lr]") == 1  # rank 0 warns, rank 1 does not
    assert "in 2 processes" in proc.stderr
