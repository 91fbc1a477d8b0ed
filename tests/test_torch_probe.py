"""Reading schedules ahead of time (lrguard.integrations.torch_probe): what is run, what is not, and that the user's
objects and the program's state are left exactly as they were."""
from __future__ import annotations

import math
import random
import subprocess
import sys
import threading

import pytest
import torch

from lrguard.integrations.torch_probe import pure, probe_functions, probe_scheduler
from torch.optim.lr_scheduler import LRScheduler

EPOCHS = [0, 1, 2, 3, 4, 8, 16, 64]
STATE = {"factor": 1.0}
COUNTER = 0


def compounding(epoch):
    STATE["factor"] *= 0.5  # a schedule with state: probing it would change the training
    return STATE["factor"]


def global_counter(epoch):
    global COUNTER
    COUNTER += 1
    return 1.0


def closure_counter():
    calls = 0

    def schedule(epoch):
        nonlocal calls
        calls += 1
        return 0.9 ** epoch

    return schedule


def keras_habit(epoch):
    lr = 1e-3 * (10 - epoch) / 10
    print(f"epoch {epoch}: lr {lr}")
    return lr


def to_stderr(epoch):
    print(epoch, file=sys.stderr)
    return 1.0


def helper(epoch):
    return 0.9 ** epoch


HISTORY = []


def logs_to_a_list(epoch):
    HISTORY.append(epoch)
    return 1.0


@pytest.mark.parametrize("fn", [
    lambda e: 1e-3 * (10 - e) / 10,
    lambda e: float(max(0.0, math.cos(e))),
    lambda e: helper(e) * 1e-3,  # calls a pure helper
    lambda e: [0.5 ** k for k in range(e + 1)][-1],  # a comprehension
    lambda e: sum(0.9 ** k for k in range(3)),  # a generator expression
], ids=["lambda", "math", "helper", "comprehension", "genexpr"])
def test_pure_functions(fn):
    assert pure(fn)


@pytest.mark.parametrize("fn", [
    compounding, global_counter, closure_counter(), to_stderr, logs_to_a_list,
    lambda e: 1 + 0.01 * random.random(),  # draws from the user's RNG stream
    lambda e: torch.ones(1).mul_(e).item(),  # an in-place tensor op
    lambda e: logs_to_a_list(e) * 0.5,  # calls a helper with side effects
    len,  # not a schedule function, but a builtin: fine to call; a class instance is not
], ids=["dict-state", "global", "nonlocal", "print-file", "append", "random", "in-place", "bad-helper", "builtin"])
def test_functions_with_effects(fn):
    assert pure(fn) is (fn is len)


def test_print_is_pure_only_where_the_caller_silences_stdout():
    assert not pure(keras_habit) and pure(keras_habit, prints=True)


def test_probe_does_not_run_functions_with_state():
    assert probe_functions([compounding], EPOCHS, 0.05) == ([], [])
    assert STATE["factor"] == 1.0


def test_probe_silences_the_prints_of_a_keras_habit():
    # A fresh interpreter: stdout is silenced only while the prober is the only Python thread, and this process
    # may hold other frameworks' threads.
    code = (
        "from lrguard.integrations.torch_probe import probe_functions\n"
        "def keras_habit(epoch):\n    lr = 1e-3 * (10 - epoch) / 10\n    print('lr =', lr)\n    return lr\n"
        "epochs, (values,) = probe_functions([keras_habit], [0, 1, 2, 3], 0.05)\n"
        "assert epochs == [0, 1, 2, 3], epochs\n"
        "assert [round(v, 9) for v in values] == [1e-3, 9e-4, 8e-4, 7e-4], values\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_probe_of_a_printing_function_waits_while_other_threads_run():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert probe_functions([keras_habit], EPOCHS[:4], 0.05) == ([], [])  # its prints would not be silenced
    finally:
        stop.set()
        other.join()


def test_probe_stops_at_the_first_error_or_non_number():
    def table(epoch):
        return [1.0, 0.5, 0.25][epoch]

    assert probe_functions([table], EPOCHS, 0.05) == ([0, 1, 2], [[1.0, 0.5, 0.25]])
    assert probe_functions([lambda e: None if e > 1 else 1.0], EPOCHS, 0.05) == ([0, 1], [[1.0, 1.0]])
    assert probe_functions([lambda e: 1.0, table], EPOCHS, 0.05)[0] == [0, 1, 2]  # all cut to the shortest


def optimizer(lr=1e-3, groups=1):
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in range(groups)]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p in params])


class ClosedForm(LRScheduler):
    def __init__(self, optimizer, f):
        self.f = f
        super().__init__(optimizer)

    def get_lr(self):
        return [base * self.f(self.last_epoch) for base in self.base_lrs]


class Chainable(LRScheduler):
    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * 0.5 for group in self.optimizer.param_groups]


class CountsItsCalls(LRScheduler):
    def get_lr(self):
        self.calls = getattr(self, "calls", 0) + 1
        return list(self.base_lrs)


class OwnStep(LRScheduler):
    def get_lr(self):
        return list(self.base_lrs)

    def step(self, epoch=None):
        super().step(epoch)


class StatefulMultiplier:
    def __init__(self):
        self.calls = 0

    def __call__(self, where):
        self.calls += 1
        return 1.0


class PureMultiplier:
    def __init__(self, start):
        self.start = start

    def __call__(self, where):
        return self.start * 0.5 * (1 + math.cos(math.pi * min(where, 64) / 64))


def snapshot(sched):
    return dict(sched.__dict__), [dict(g) for g in sched.optimizer.param_groups]


@pytest.mark.parametrize("make, expected", [
    (lambda opt: ClosedForm(opt, lambda e: 1e-3 * 0.9 ** e), [1e-3 * 0.9 ** e for e in EPOCHS]),
    (lambda opt: Chainable(opt), [0.5 ** e for e in EPOCHS]),
    (lambda opt: ClosedForm(opt, PureMultiplier(1.0)), [0.5 * (1 + math.cos(math.pi * e / 64)) for e in EPOCHS]),
], ids=["closed-form", "chainable", "callable-object"])
def test_custom_scheduler_is_read_on_a_shadow(make, expected):
    sched = make(optimizer(lr=1e-3, groups=2))
    before = snapshot(sched)
    epochs, tables = probe_scheduler(sched, LRScheduler, EPOCHS, 0.05)
    assert epochs == EPOCHS and len(tables) == 2
    assert tables[0] == pytest.approx(expected) and tables[1] == pytest.approx(expected)
    assert snapshot(sched) == before  # the user's scheduler and optimizer are untouched


@pytest.mark.parametrize("make", [
    lambda opt: CountsItsCalls(opt),  # get_lr writes an attribute
    lambda opt: OwnStep(opt),  # a step() of its own: its own rules
    lambda opt: ClosedForm(opt, StatefulMultiplier()),  # a multiplier object with state
    lambda opt: ClosedForm(opt, closure_counter()),
], ids=["writes-self", "own-step", "stateful-object", "stateful-function"])
def test_custom_schedulers_with_effects_are_not_read(make):
    sched = make(optimizer())
    before = snapshot(sched)
    assert probe_scheduler(sched, LRScheduler, EPOCHS, 0.05) == ([], [])
    assert snapshot(sched) == before


def test_a_resumed_custom_scheduler_is_read_from_its_epoch():
    opt = optimizer()
    opt.param_groups[0]["initial_lr"] = 1e-3
    sched = Chainable.__new__(Chainable)
    LRScheduler.__init__(sched, opt, last_epoch=4)  # resumed: the lr is initial_lr * 0.5 after one step
    epochs, (values,) = probe_scheduler(sched, LRScheduler, [0, 1, 2], 0.05)
    assert epochs == [5, 6, 7] and values == pytest.approx([0.5, 0.25, 0.125])


def test_a_stateful_multiplier_object_is_never_called_by_the_probe():
    multiplier = StatefulMultiplier()
    sched = ClosedForm(optimizer(), multiplier)
    calls = multiplier.calls  # torch itself called it once, at construction
    assert probe_scheduler(sched, LRScheduler, EPOCHS, 0.05) == ([], [])
    assert multiplier.calls == calls
