"""Bad input: PyTorch does with it exactly what it does without lrguard, and lrguard never crashes on it.

Each case runs the same tiny training without lrguard and with it: the same result (losses, weights, lrs; NaN
equal to NaN), the same exception if PyTorch raises one (type and message), the same PyTorch warnings, and no
internal error of lrguard's. Where a bad lr means something that PyTorch accepts silently (NaN, inf, a negative
lr, an lr of 0 under a LambdaLR), lrguard adds an ``invalid-lr`` finding.
"""
from __future__ import annotations

import gc
import math

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR, StepLR

import lrguard
from reliability_support import fresh_lrguard, framework_warnings, observe, without_lrguard


@pytest.fixture(autouse=True)
def _fresh():
    gc.collect()
    fresh_lrguard()
    yield
    fresh_lrguard()


def _train(lr_lambda=None, lr=0.1, steps=12, make_optimizer=None, add_group_at=None, added_lr=0.05,
           scheduler_first=False, scheduler=None):
    """A tiny training: (losses, first weight, lrs of group 0 per step)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    params = model[0].parameters() if add_group_at is not None else model.parameters()
    opt = make_optimizer(params) if make_optimizer else torch.optim.SGD(params, lr=lr)
    sched = scheduler(opt) if scheduler else (LambdaLR(opt, lr_lambda) if lr_lambda is not None else None)
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    losses, lrs = [], []
    for step in range(steps):
        if step == add_group_at:
            opt.add_param_group({"params": model[2].parameters(), "lr": added_lr})
        if scheduler_first and sched is not None:
            sched.step()
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None and not scheduler_first:
            sched.step()
        losses.append(loss.item())
        lr = opt.param_groups[0]["lr"]
        lrs.append(float(lr))
    return losses, model[0].weight.detach().clone(), lrs


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(
            ((a == b) | (a.isnan() & b.isnan())).all())
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def both(fn, capfd):
    """Run ``fn`` without and with lrguard; check they agree; return (guarded outcome, lrguard's finding ids)."""
    with without_lrguard():
        plain = observe(fn)
    capfd.readouterr()
    guarded = observe(fn)
    found = observe(lrguard.findings)
    assert found.error is None, found.error
    out, err = capfd.readouterr()
    assert "lrguard" not in err and "lrguard" not in out, err  # no internal error, nothing printed
    assert guarded.error_signature == plain.error_signature, (plain.error, guarded.error)
    assert framework_warnings(guarded) == framework_warnings(plain)
    assert _same(guarded.value, plain.value), (plain.value, guarded.value)
    return guarded, [f.id for f in found.value]


def after_two_epochs(value):
    return lambda epoch: 1.0 if epoch < 2 else value


# -- what the lr_lambda returns ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf, -0.5, np.float64("nan"), torch.tensor(math.nan)],
                         ids=["nan", "inf", "negative", "numpy-nan", "tensor-nan"])
def test_lambda_returning_an_invalid_number(value, capfd):
    guarded, found = both(lambda: _train(after_two_epochs(value)), capfd)
    assert guarded.error is None
    assert "invalid-lr" in found, found


@pytest.mark.parametrize("value", [None, "0.1", [0.1]], ids=["none", "str", "list"])
@pytest.mark.parametrize("at", ["epoch-0", "epoch-2"])
def test_lambda_returning_a_non_number_raises_what_pytorch_raises(value, at, capfd):
    fn = (lambda e: value) if at == "epoch-0" else after_two_epochs(value)
    guarded, found = both(lambda: _train(fn), capfd)
    assert isinstance(guarded.error, TypeError), guarded.error  # PyTorch's own error, checked equal above


@pytest.mark.parametrize("fn", [lambda e: np.float64(0.9) ** e, lambda e: np.float32(0.9 ** e),
                                lambda e: torch.tensor(0.9 ** e),
                                lambda e: torch.tensor(0.9, dtype=torch.float64) ** e],
                         ids=["numpy-float64", "numpy-float32", "0d-tensor", "0d-tensor-float64"])
def test_lambda_returning_numpy_scalars_and_0d_tensors(fn, capfd):
    guarded, found = both(lambda: _train(fn), capfd)
    assert guarded.error is None
    assert found == []


@pytest.mark.parametrize("at", ["epoch-0", "epoch-3", "epoch-100"])
def test_lambda_that_raises(at, capfd):
    """PyTorch's exception, unchanged; raising only at an epoch the training never reaches changes nothing (lrguard
    reads schedules ahead of time and must swallow what it provokes)."""
    limit = {"epoch-0": 0, "epoch-3": 3, "epoch-100": 100}[at]

    def fn(epoch):
        if epoch >= limit:
            raise ZeroDivisionError(f"no lr at epoch {epoch}")
        return 0.9 ** epoch

    guarded, found = both(lambda: _train(fn), capfd)
    if at == "epoch-100":
        assert guarded.error is None and found == []
    else:
        assert isinstance(guarded.error, ZeroDivisionError)


# -- tensor lrs ---------------------------------------------------------------------------------------------
OPTIMIZERS = {
    "sgd-tensor-lr": lambda p: torch.optim.SGD(p, lr=torch.tensor(0.1)),
    "adam-fused-tensor-lr": lambda p: torch.optim.Adam(p, lr=torch.tensor(0.01), fused=True),
    "adam-fused": lambda p: torch.optim.Adam(p, lr=0.01, fused=True),
    "adam-capturable-cpu": lambda p: torch.optim.Adam(p, lr=torch.tensor(0.01), capturable=True),
    "adam-foreach-tensor-lr": lambda p: torch.optim.Adam(p, lr=torch.tensor(0.01), foreach=True),
    "adamw-tensor-lr": lambda p: torch.optim.AdamW(p, lr=torch.tensor(0.01)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("schedule", [None, "steplr"])
def test_tensor_lr_and_fused_or_capturable_optimizers(name, schedule, capfd):
    """Whatever PyTorch does with a tensor lr (train, or refuse: capturable on CPU, foreach), it does the same."""
    scheduler = (lambda opt: StepLR(opt, step_size=4, gamma=0.5)) if schedule else None
    guarded, found = both(lambda: _train(make_optimizer=OPTIMIZERS[name], scheduler=scheduler), capfd)
    assert found == []


def test_tensor_lr_that_becomes_nan_is_found(capfd):
    def make(params):
        return torch.optim.SGD(params, lr=torch.tensor(0.1))

    guarded, found = both(lambda: _train(after_two_epochs(math.nan), make_optimizer=make), capfd)
    assert "invalid-lr" in found


# -- the optimizer's lrs ----------------------------------------------------------------------------------
def test_base_lr_zero_under_lambdalr(capfd):
    guarded, found = both(lambda: _train(lambda e: 0.9 ** e, lr=0.0), capfd)
    assert found == ["invalid-lr"]


def test_base_lr_zero_without_a_scheduler_is_not_an_error(capfd):
    guarded, found = both(lambda: _train(lr=0.0), capfd)
    assert guarded.error is None


@pytest.mark.parametrize("added_lr", [0.05, torch.tensor(0.05)], ids=["float", "tensor"])
def test_param_group_added_later(added_lr, capfd):
    guarded, found = both(lambda: _train(add_group_at=5, added_lr=added_lr), capfd)
    assert found == []


def test_param_group_added_later_with_an_invalid_lr(capfd):
    guarded, found = both(lambda: _train(add_group_at=5, added_lr=-0.01), capfd)
    assert found == ["invalid-lr"]
    assert lrguard.findings()[0].group == 1


def test_param_group_added_later_under_a_scheduler(capfd):
    """A scheduler built before the new group: PyTorch's own behaviour (its error or not), unchanged."""
    guarded, found = both(lambda: _train(lambda e: 0.9 ** e, add_group_at=5), capfd)
    assert "invalid-lr" not in found


def test_lr_set_to_a_string_by_hand(capfd):
    def train():
        model = torch.nn.Linear(4, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model(torch.randn(3, 4)).sum().backward()
        opt.step()
        opt.param_groups[0]["lr"] = "0.1"
        opt.step()

    guarded, found = both(train, capfd)
    assert isinstance(guarded.error, TypeError)


# -- order of calls --------------------------------------------------------------------------------------
def test_scheduler_stepped_before_the_optimizer(capfd):
    """PyTorch's own warning, exactly once, unchanged; lrguard adds nothing."""
    guarded, found = both(lambda: _train(scheduler=lambda opt: StepLR(opt, step_size=5, gamma=0.5),
                                         scheduler_first=True), capfd)
    assert [w for w in guarded.warnings if "lr_scheduler.step()` before `optimizer.step()" in w[1]]
    assert len(guarded.warnings) == 1, guarded.warnings
    assert found == []


# -- the user's own error, in the user's traceback -------------------------------------------------------
_SCHEDULE_ERRORS = '''
import json, sys, traceback
import torch
from torch.optim.lr_scheduler import LambdaLR


def absolute(epoch):
    return "0.1"  # the user's bug: a string


def later(epoch):
    return 1.0 if epoch < 2 else "0.1"


def train(schedule):
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = LambdaLR(opt, schedule)
    for _ in range(4):
        opt.step()
        sched.step()


out = {}
for schedule in (absolute, later):
    try:
        train(schedule)
    except Exception as exc:
        text = traceback.format_exc()
        out[schedule.__name__] = [type(exc).__name__, str(exc), text,
                                  [(f.filename, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)]]
print("RESULT" + json.dumps(out))
'''


def test_an_error_in_the_users_schedule_keeps_its_traceback(tmp_path):
    """A LambdaLR whose function returns a string: PyTorch's TypeError, with the same message and frames as
    without lrguard, plus at most one frame of lrguard's: the outermost wrapper, named for what it does."""
    import json
    import os

    from reliability_support import run_python

    script = tmp_path / "train.py"
    script.write_text(_SCHEDULE_ERRORS)
    run = "import runpy; runpy.run_path({!r}, run_name='__main__')".format(str(script))
    results = []
    for code in (run, "import lrguard; " + run):
        proc = run_python(code)
        assert proc.returncode == 0 and "internal error" not in proc.stderr, proc.stderr[-3000:]
        results.append(json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:]))
    plain, guarded = results
    package = os.path.dirname(os.path.realpath(lrguard.__file__)) + os.sep
    assert set(plain) == set(guarded) == {"absolute", "later"}
    for case in plain:
        kind, message, text, frames = guarded[case]
        ours = [f for f in frames if os.path.realpath(f[0]).startswith(package)]
        assert [kind, message] == plain[case][:2] and kind == "TypeError", (case, guarded[case][:3])
        assert [f for f in frames if f not in ours] == plain[case][3], text
        assert len(ours) <= 1 and all(f[1].startswith("lrguard_observes_") for f in ours), text
        if case == "absolute":  # raised inside LambdaLR(...): its first step() runs in the scheduler's __init__
            assert [f[1] for f in ours] == ["lrguard_observes_scheduler_init"], text
            assert "in lrguard_observes_scheduler_init" in text
