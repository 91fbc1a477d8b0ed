"""PyTorch schedulers' calls are counted from torch's own record (``_step_count``, ``_last_lr``), with no wrapper on
``LRScheduler``: every call is found, at the optimizer step it was made at, whatever the pattern, and what is not a
call (a state loaded from a checkpoint) is not counted as one."""
import warnings

import pytest
import torch
from torch.optim import lr_scheduler

import lrguard
from lrguard.integrations import torch as adapter, torch_schedules
from reliability_support import fresh_lrguard


@pytest.fixture(autouse=True)
def _fresh():
    fresh_lrguard()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own scheduler warnings, and lrguard's findings
        yield
    fresh_lrguard()


def _stepping(sched):
    return torch_schedules._steppers[id(sched)].stepping


def _optimizer():
    return torch.optim.SGD(torch.nn.Linear(4, 1).parameters(), lr=0.1)


def test_the_scheduler_classes_are_torch_own():
    assert lr_scheduler.LRScheduler.__dict__["step"].__module__ == "torch.optim.lr_scheduler"
    assert not hasattr(lr_scheduler.LRScheduler.__dict__.get("_update_lr"), "__wrapped__")


@pytest.mark.parametrize("per_step", [1, 2, 3])
def test_every_call_is_counted_at_the_step_it_was_made(per_step):
    opt = _optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=5)
    for _ in range(10):
        opt.step()
        for _ in range(per_step):
            sched.step()
    sched.step()  # after the last optimizer step: found by findings()
    lrguard.findings()
    stepping = _stepping(sched)
    assert (stepping.calls, stepping.repeats) == (10 * per_step + 1, 10 * (per_step - 1) + 1)
    assert (stepping.first_at, stepping.last_at, stepping.position) == (1, 10, 10 * per_step + 1)


def test_calls_before_an_epoch_begins_belong_to_the_epoch_before():
    opt = _optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    loader = torch.utils.data.DataLoader(list(range(8)), batch_size=2)
    for _ in range(3):
        for _ in loader:
            opt.step()
        sched.step()
        sched.step()  # twice per epoch, back to back
    lrguard.findings()
    run = adapter._watches[opt].run
    epochs = run.epochs.clock().whole_epochs()
    key = id(run.schedules[0])
    assert [(e.steps, e.calls[key], e.repeats[key]) for e in epochs] == [(4, 2, 1), (4, 2, 1)]


def test_a_milestone_set_without_step_is_a_call():
    """SequentialLR starts its next scheduler with ``_update_lr(0)``, which does not count in ``_step_count``."""
    opt = _optimizer()
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    sequence = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[3])
    for _ in range(10):
        opt.step()
        sequence.step()
    lrguard.findings()
    # the warmup: re-started by SequentialLR when built, then 2 steps; the decay: its milestone, then 7 steps
    assert (_stepping(warmup).calls, _stepping(decay).calls) == (3, 8)
    assert _stepping(decay).position == decay.last_epoch == 7


def test_a_loaded_state_is_not_counted_as_calls():
    opt = _optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=5)
    sched.load_state_dict({**sched.state_dict(), "_step_count": 5000, "last_epoch": 4999})
    for _ in range(5):
        opt.step()
        sched.step()
    lrguard.findings()
    stepping = _stepping(sched)
    assert (stepping.calls, stepping.repeats, stepping.position) == (5, 0, 5004)


def test_warm_restarts_stepped_with_fractional_epochs_is_counted_per_call():
    """CosineAnnealingWarmRestarts' own step() counts nothing: it is wrapped, and each call counts."""
    opt = _optimizer()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
    for i in range(8):
        opt.step()
        sched.step(i / 4)
        sched.step(i / 4)
    lrguard.findings()
    assert (_stepping(sched).calls, _stepping(sched).repeats) == (16, 8)
