"""A scheduler stepped once per optimizer step is *followed* from the post-step hook (``torch_schedules._Stepper``):
the hook only checks that the pattern holds, and the calls are recorded in one go when anything reads them. What the
detectors read must be exactly what looking at every step records, whatever breaks the pattern and wherever."""
import dataclasses
import gc
import math
import warnings

import pytest
import torch
from torch.optim import lr_scheduler

import lrguard
from lrguard.detection.training import TrainingRun
from lrguard.integrations import torch_schedules
from reliability_support import fresh_lrguard


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _train(steps, make, between=None, loader_epochs=None):
    """A real loop: ``make(opt)`` builds the schedulers, stepped every batch (or, over ``loader_epochs`` epochs of a
    DataLoader, every epoch); ``between(step, opt, scheds)`` runs after each step's calls (a scenario's events)."""
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheds = make(opt)
    X, y = torch.randn(16, 4), torch.randn(16, 1)
    done = 0

    def one(x, t, per_batch):
        nonlocal done
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), t).backward()
        opt.step()
        done += 1
        for sched in scheds if per_batch else ():
            sched.step()
        if between is not None:
            between(done, opt, scheds)

    if loader_epochs is None:
        for _ in range(steps):
            one(X, y, per_batch=True)
        return
    loader = torch.utils.data.DataLoader(list(zip(X, y)) * 2, batch_size=4)
    for _ in range(loader_epochs):
        for x, t in loader:
            one(x, t, per_batch=False)
        for sched in scheds:
            sched.step()


def _lambda(opt):
    return [lr_scheduler.LambdaLR(opt, lambda s: 1 / (1 + s / 100))]


def _overrides(step, opt, scheds):
    if step % 50 == 0 or 100 <= step < 180:  # now and then, and a streak (a hand-written warmup over it)
        opt.param_groups[0]["lr"] = 0.001 * step / 100  # the next step trains at an lr no scheduler set


def _double_and_moved(step, opt, scheds):
    if step == 100:
        scheds[0].step()  # stepped twice after this step
    if step == 200:
        scheds[0].last_epoch -= 1  # its position moved by hand


def _second_scheduler(step, opt, scheds):
    if step == 191:  # built, it sets the lr at once (half the initial one; judged at the check of step 192)
        scheds.append(lr_scheduler.LambdaLR(opt, lambda s: 0.5))


def _resume(step, opt, scheds):
    if step == 300:
        state = scheds[0].state_dict()
        scheds[0].load_state_dict(state)


def _group_added(step, opt, scheds):
    if step == 200:  # (a scheduler needs a base lr and a function for it, or torch raises at its next step)
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(3))], "lr": 0.05})
        scheds[0].base_lrs.append(0.05)
        scheds[0].lr_lambdas.append(scheds[0].lr_lambdas[0])


def _same_value_written(step, opt, scheds):
    if step % 7 == 0:
        opt.param_groups[0]["lr"] = float(str(opt.param_groups[0]["lr"]))  # an equal float, another object


def _not_a_number(opt):  # the scheduler itself sets NaN once: judged at once (invalid-lr), before a checkpoint
    return [lr_scheduler.LambdaLR(opt, lambda s: math.nan if s == 150 else 1 / (1 + s / 100))]


# name: (steps, schedulers, events, DataLoader epochs, the most calls recorded in one go at least)
SCENARIOS = {
    "LambdaLR every batch": (700, _lambda, None, None, 60),
    "a cosine past its end and its turn": (400, lambda opt: [lr_scheduler.CosineAnnealingLR(opt, T_max=100)],
                                           None, None, 50),
    "OneCycleLR to its end": (300, lambda opt: [lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=300)],
                              None, None, 60),
    "overrides, one at a time and a streak": (400, _lambda, _overrides, None, 40),
    "stepped twice once, position moved": (400, _lambda, _double_and_moved, None, 60),
    "a second scheduler mid-run": (400, _lambda, _second_scheduler, None, 60),
    "a state loaded mid-run": (500, _lambda, _resume, None, 60),
    "a param group added": (400, _lambda, _group_added, None, 60),
    "an lr that is not a number once": (300, _not_a_number, None, None, 60),
    "an equal lr written now and then": (300, _lambda, _same_value_written, None, 5),
    "a warm-restarts scheduler beside it": (  # (each of its calls is another scheduler's: never followed)
        300, lambda opt: [lr_scheduler.LambdaLR(opt, lambda s: 0.99 ** s),
                          lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=40)], None, None, 0),
    "per epoch, with a DataLoader": (0, lambda opt: [lr_scheduler.StepLR(opt, step_size=3)], None, 30, 0),
}


def _record(name, monkeypatch):
    """Run a scenario; return what every check of the run read (each scheduler's Stepping), and the findings."""
    gc.collect()  # the optimizers of the scenario before: their final checks now
    fresh_lrguard()
    steps, make, between, epochs, _ = SCENARIOS[name]
    seen = []
    original = TrainingRun.check

    def check(run, *args, **kwargs):
        seen.append((run.step, [dataclasses.astuple(s.stepping) for s in run.schedules if s.stepping is not None]))
        return original(run, *args, **kwargs)

    monkeypatch.setattr(TrainingRun, "check", check)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _train(steps, make, between, epochs)
        gc.collect()  # the optimizer's final check
        found = [(f.id, f.step, f.message) for f in lrguard.findings()]
    monkeypatch.setattr(TrainingRun, "check", original)
    return seen, found


@pytest.fixture(autouse=True)
def _fresh():
    fresh_lrguard()
    yield
    torch_schedules.FOLLOW = True
    fresh_lrguard()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_following_records_what_looking_every_step_records(name, monkeypatch):
    settled = []
    original = torch_schedules._Stepper.settle

    def settle(stepper):
        settled.append(stepper.watch.run.step - 1 - stepper.seen + stepper.lag)  # the calls it records at once
        original(stepper)

    monkeypatch.setattr(torch_schedules._Stepper, "settle", settle)
    torch_schedules.FOLLOW = True
    followed = _record(name, monkeypatch)
    torch_schedules.FOLLOW = False
    looked = _record(name, monkeypatch)
    assert followed == looked
    assert len(followed[0]) >= 8  # checks that read the schedulers
    assert max(settled, default=0) >= SCENARIOS[name][-1]  # followed for a while: calls recorded in one go
