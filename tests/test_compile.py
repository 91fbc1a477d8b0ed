"""torch.compile: lrguard still watches, and adds no graph, graph break or recompile.

Three ways to compile a training loop: the model, the whole train step (``loss.backward()`` and ``opt.step()``
inside the compiled function, where lrguard's hooks run), and the optimizer step alone. Each is run without and
with lrguard, and Dynamo's counters must match. The backend is "aot_eager" (Dynamo + AOTAutograd, the same
graphs and graph breaks as inductor, without compiling C++, which takes minutes on this machine).
"""
import logging
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from stacks_support import guard, ids, line_of, run_of  # noqa: F401

dynamo = pytest.importorskip("torch._dynamo")
from torch._dynamo.utils import counters  # noqa: E402

BACKEND = "aot_eager"
EPOCHS, BATCHES = 3, 16


class Recompiles(logging.Handler):
    """Counts Dynamo's "Recompiling function ..." records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record) -> None:
        self.count += "Recompiling function" in record.getMessage()


def training(how: str, absolute: bool = False):
    """Train with ``how`` compiled; returns (optimizer, what Dynamo did)."""
    dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    x = torch.randn(BATCHES * 16, 16)
    y = x[:, :4].argmax(1)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    # A compiled optimizer step guards on a float lr (a new lr recompiles it, with or without lrguard): the
    # documented way is a tensor lr, which lrguard reads at its checkpoints only.
    opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(1e-2) if how == "optimizer_step" else 1e-2)
    factor = (lambda e: 1e-2 * (1 - e / 10)) if absolute else (lambda e: 1 - e / 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)  # <- compiled run's scheduler

    if how == "model":
        compiled = torch.compile(model, backend=BACKEND)

        def train_step(xb, yb):
            loss = nn.functional.cross_entropy(compiled(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
    elif how == "train_step":
        @torch.compile(backend=BACKEND)
        def train_step(xb, yb):
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
    elif how == "autograd_backward":  # torch.autograd.backward called in the compiled frame: Dynamo guards on it
        @torch.compile(backend=BACKEND)
        def train_step(xb, yb):
            torch.autograd.backward(nn.functional.cross_entropy(model(xb), yb))
            opt.step()
            opt.zero_grad()
    else:
        @torch.compile(backend=BACKEND)
        def optimizer_step():
            opt.step()

        def train_step(xb, yb):
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer_step()
            opt.zero_grad()

    recompiles = Recompiles()
    logger = logging.getLogger("torch._dynamo.guards.__recompiles")
    logger.addHandler(recompiles)
    torch._logging.set_logs(recompiles=True)
    try:
        for epoch in range(EPOCHS):
            for i in range(0, BATCHES * 16, 16):
                train_step(x[i:i + 16], y[i:i + 16])
            sched.step()
    finally:
        torch._logging.set_logs()
        logger.removeHandler(recompiles)
    seen = {
        "unique_graphs": counters["stats"]["unique_graphs"],  # the graphs compiled
        "calls_captured": counters["stats"]["calls_captured"],  # the ops in them
        "graph_breaks": sum(counters["graph_break"].values()),
        "graph_break_reasons": {reason.splitlines()[0] for reason in counters["graph_break"]},
        "recompiles": recompiles.count,
        "frames": dict(counters["frames"]),  # frames Dynamo looked at
    }
    return opt, seen


def plain_and_watched(how: str):
    import lrguard

    lrguard.uninstall()
    try:
        _, plain = training(how)
    finally:
        lrguard.install()
    opt, watched = training(how)
    return plain, opt, watched


def test_compiled_model_dynamo_does_exactly_the_same(guard):
    plain, opt, watched = plain_and_watched("model")
    assert plain["unique_graphs"] == 1 and plain["recompiles"] == 0
    assert watched == plain
    assert guard.findings() == []
    run = run_of(opt)
    assert run.step == EPOCHS * BATCHES and run.losses.count > 0 and len(run.grads) > 0


@pytest.mark.parametrize("how", ["train_step", "optimizer_step", "autograd_backward"])
def test_compiled_optimizer_step_same_graphs_no_new_break_no_recompile(guard, how):
    """``opt.step()`` inside the compiled function: lrguard's step hooks run there. Dynamo compiles the same graphs
    with the same ops, meets no graph-break reason it did not meet without lrguard, and recompiles no more.

    One difference remains, and is asserted so that it is known: torch's thin ``Optimizer.step`` wrapper (the
    frame that calls the step hooks, no tensor op of its own) runs eagerly, since Dynamo does not trace into
    lrguard's hook; without lrguard, Dynamo breaks that frame at torch's own ``graph_break()`` instead. Hence
    one fewer graph break counted, and a few more frames looked at.
    """
    plain, opt, watched = plain_and_watched(how)
    assert plain["unique_graphs"] >= 1
    for key in ("unique_graphs", "calls_captured", "recompiles"):
        assert watched[key] == plain[key], key
    assert watched["graph_break_reasons"] <= plain["graph_break_reasons"]
    assert watched["graph_breaks"] <= plain["graph_breaks"]
    assert guard.findings() == []
    run = run_of(opt)
    assert run.step == EPOCHS * BATCHES and run.losses.count > 0 and len(run.grads) > 0
    assert run.groups[0].changes == EPOCHS - 1  # the lr of every epoch was seen


def test_absolute_lr_caught_under_compile(guard):
    training("model", absolute=True)
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert found[0].where.endswith(line_of(training, "<- compiled run's scheduler").split("/")[-1])


def test_uninstall_takes_lrguard_off_dynamos_skip_list(guard, tmp_path):
    """Exactly lrguard's package folder is skipped: never a file of the clone or venv around it (a clone folder
    is often named ``lrguard`` too), nor the user's files in a folder of that name."""
    import lrguard
    import lrguard.integrations.torch as adapter
    from torch._dynamo import trace_rules

    package = Path(lrguard.__file__).parent
    ours = adapter.__file__
    theirs = [__file__, str(package.parent / "train.py"), str(package.parent / "lrguard_pytest.py"),
              str(tmp_path / "lrguard" / "train.py"), str(package) + "_user" + os.sep + "train.py"]

    def skipped(path):
        return trace_rules.check_file(path).skipped

    assert skipped(ours) and not any(map(skipped, theirs))
    assert [d for d in trace_rules.SKIP_DIRS if d.startswith(package.as_posix())] == [package.as_posix() + "/"]
    lrguard.uninstall()
    try:
        assert not skipped(ours) and not any(map(skipped, theirs))
    finally:
        lrguard.install()
    assert skipped(ours) and not any(map(skipped, theirs))
