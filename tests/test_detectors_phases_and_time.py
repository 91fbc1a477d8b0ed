"""Two diagnoses on synthetic observation streams (no framework; milliseconds each):

* a schedule that drives the lr for one phase of a SequentialLR is judged on that phase alone;
* vanishing gradients through time in a vanilla RNN, from the gain through time, the weights' drift and the loss.
"""
from __future__ import annotations

import math

import pytest

from lrguard.detection.detectors import absolute_lr, vanishing
from lrguard.detection.series import GradSample
from lrguard.detection.training import Schedule, TrainingRun
from lrguard.integrations.torch import PROBE_EPOCHS
from lrguard.integrations.torch_probe import phase_epochs

W = 30  # the warmup's length: SequentialLR's milestone


def phase(fn, span: int = W, family: str = "lambda") -> Schedule:
    """A schedule as the PyTorch adapter records one inside SequentialLR([it, ...], milestones=[span])."""
    epochs = phase_epochs(PROBE_EPOCHS, span)
    return Schedule("LambdaLR" if family == "lambda" else "MultiplicativeLR", family, probe_epochs=epochs,
                    probes=[[float(fn(e)) for e in epochs]], within="SequentialLR", span=span)


def whole(fn) -> Schedule:
    return Schedule("LambdaLR", "lambda", probe_epochs=list(PROBE_EPOCHS), probes=[[float(fn(e)) for e in PROBE_EPOCHS]])


def first_step(base: float, schedule: Schedule) -> TrainingRun:
    """The run at its first optimizer step, at the lr the schedule's epoch 0 sets."""
    run = TrainingRun("torch")
    run.set_bases([base])
    run.add_schedule(schedule)
    run.step = 1
    run.observe_lrs([base * schedule.probes[0][0]])
    return run


def test_phase_epochs_cover_the_phase_its_end_and_the_epoch_after():
    epochs = phase_epochs(PROBE_EPOCHS, 30)
    assert epochs[-2:] == [29, 30] and all(e <= 30 for e in epochs) and epochs == sorted(set(epochs))
    assert phase_epochs(PROBE_EPOCHS, 1) == [0, 1]


@pytest.mark.parametrize("fn", [
    lambda s: 1e-3 * (s + 1) / W,  # rises without end: only SequentialLR's milestone stops it
    lambda s: 1e-3 * s / W,  # ends at 1e-3 where the next phase starts (epoch W)
    lambda s: 1e-3,  # a constant lr for the phase
    lambda s: 1e-3 * 0.9 ** s,  # an absolute decay phase
], ids=["(s+1)/W", "s/W", "constant", "decay"])
def test_an_absolute_phase_is_caught_at_the_first_step(fn):
    diagnosis = absolute_lr.check(first_step(1e-3, phase(fn)))
    assert diagnosis is not None and diagnosis.id == "lambda-absolute-lr"
    assert f"for the {W} scheduler steps SequentialLR gives it" in diagnosis.message


def test_the_same_warmup_read_over_the_whole_run_is_undecided():
    """What lrguard saw before it knew the phase: a warmup still rising at its last probe."""
    assert absolute_lr.check(first_step(1e-3, whole(lambda s: 1e-3 * (s + 1) / W))) is None


@pytest.mark.parametrize("base, fn", [
    (1e-3, lambda s: (s + 1) / W),  # the correct multiplier warmup
    (1e-3, lambda s: s / W),
    (1e-3, lambda s: 0.001 + (1 - 0.001) * s / W),  # a warmup factor that happens to equal the lr
    (1e-3, lambda s: 0.01),  # 1% of the lr for one phase: may be meant (no echo of the lr)
    (1e-3, lambda s: 0.1),
    (1.0, lambda s: 0.05 * (s + 1) / W),  # lr=1.0: the lambdas are the lrs
    (0.5, lambda s: 1e-3),
], ids=["(s+1)/W", "s/W", "factor==lr", "0.01", "0.1", "lr=1.0", "lr=0.5"])
def test_phase_traps_are_quiet(base, fn):
    assert absolute_lr.check(first_step(base, phase(fn))) is None


def test_a_phase_is_judged_while_it_trains():
    run = first_step(1e-3, phase(lambda s: 1e-3 * (s + 1) / W))
    run.step = 40
    run.observe_lrs([1e-3])  # the next phase (cosine from the base lr) trains now: not what the run trains with
    assert absolute_lr.check(run) is None


def test_phase_judgment_ignores_the_schedule_after_the_milestone():
    """A lambda whose values after its phase look like a multiplier: only the phase counts."""
    fn = lambda s: 1e-3 * (s + 1) / W if s < W else 1.0  # noqa: E731
    assert absolute_lr.check(first_step(1e-3, phase(fn))) is not None


def test_multiplicative_factors_in_a_phase():
    run = first_step(1e-3, phase(lambda s: 1e-3, family="multiplicative"))
    diagnosis = absolute_lr.check(run)
    assert diagnosis is not None and "MultiplicativeLR" in diagnosis.message
    assert absolute_lr.check(first_step(1e-3, phase(lambda s: 0.95, family="multiplicative"))) is None


def test_phase_absolute_needs_values():
    assert absolute_lr.phase_absolute([], None, [1e-3]) is False
    assert absolute_lr.phase_absolute([0.0, 0.0], 0.0, [1e-3]) is False


# -- vanishing gradients through time ----------------------------------------------------------------------------
def rnn_run(*, gain=1e-20, drift=0.5, drift_steps=16, loss=lambda step: 1.386 + 0.01 * math.sin(step), steps=64,
            lr=lambda step: 3e-3, time_steps=100) -> TrainingRun:
    """A vanilla-RNN run: healthy weight gradients (first/last ratio ~0.5), losses every step, gradient samples at
    the adapter's steps with the RNN's gain through time and the weights' drift since the previous sample."""
    run = TrainingRun("torch")
    run.set_bases([3e-3])
    for step in range(1, steps + 1):
        run.step = step
        run.observe_lrs([lr(step)])
        run.observe_losses([loss(step)])
        if step in (2, 4, 8, 16, 32, 64, 128):
            run.observe_grads(GradSample(step, 0.05, 0.1, 3.0, 1.5, 1e-2, 1e-2, time_steps, gain,
                                         drift if step > 4 else None, drift_steps if step > 4 else None))
    return run


def test_vanishing_through_time():
    diagnosis = vanishing.check(rnn_run())
    assert diagnosis is not None and (diagnosis.id, diagnosis.category) == ("vanishing-gradients",) * 2
    message = f"{diagnosis.message} {diagnosis.fix}"
    for words in ("through time", "first of 100 time steps", "1e-20 x", "nn.LSTM or nn.GRU", "Gradient clipping",
                  "truncated backpropagation through time", "orthogonal"):
        assert words in message
    assert diagnosis.severity == "warning"


@pytest.mark.parametrize("kwargs", [
    dict(gain=1e-4),  # the start of the sequence still gets a gradient
    dict(gain=None),  # nothing measured (an LSTM, a GRU, a bidirectional RNN)
    dict(drift=0.97),  # the weights move one way: a signal learned slowly (a small lr), not a lost gradient
    dict(drift=None),  # no drift measured
    dict(drift_steps=8),  # too short a window to tell a drift from a walk
    dict(loss=lambda step: 1.386 * 0.99 ** step),  # it learns
    dict(loss=lambda step: 1.5 if step <= 16 else 1.35),  # it learned something, then stalled
    dict(steps=31),  # too few losses to tell the first ones from the recent ones
    dict(lr=lambda step: 3e-3 if step < 10 else 1e-7),  # the lr itself is starved
], ids=["gain", "unmeasured", "drifting", "no-drift", "short-window", "learning", "learned", "early", "lr"])
def test_not_vanishing_through_time(kwargs):
    assert vanishing.check(rnn_run(**kwargs)) is None


def test_vanishing_through_time_needs_three_samples_in_a_row():
    run = rnn_run()
    run.observe_grads(GradSample(64, 0.05, 0.1, 3.0, 1.5, 1e-2, 1e-2, 100, 1e-3, 0.5, 32))
    assert vanishing.check(run) is None


def test_vanishing_in_time_of_a_sample():
    assert vanishing.vanishing_in_time(GradSample(1, 1.0, 1.0, 1.0, 1.0, time_steps=100, time_gain=1e-9))
    assert not vanishing.vanishing_in_time(GradSample(1, 1.0, 1.0, 1.0, 1.0, time_steps=100, time_gain=1e-5))
    assert not vanishing.vanishing_in_time(GradSample(1, 1.0, 1.0, 1.0, 1.0))
