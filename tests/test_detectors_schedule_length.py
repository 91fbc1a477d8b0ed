"""``schedule-length`` and ``schedule-not-applied`` on synthetic observation streams (no framework; milliseconds).

A ``Loop`` feeds a ``TrainingRun`` the way the PyTorch adapter does: optimizer steps with their real lrs and losses,
``scheduler.step()`` calls (``Stepping.call``) and DataLoader epoch starts (``Epochs.start``); the schedule's lr is
a function of the scheduler's own count, as in torch.
"""
from __future__ import annotations

import math
import warnings

import pytest

import lrguard
from lrguard.detection.detectors import schedule_length, schedule_not_applied
from lrguard.detection.stepping import CUTS, LOW, TURNS, ZERO, Plan, Shape, Stepping
from lrguard.detection.training import Schedule, TrainingRun
from lrguard.detection.series import GradSample

LENGTH = schedule_length.ID
NOT_APPLIED = schedule_not_applied.ID


@pytest.fixture(autouse=True)
def quiet():
    """Findings go to lrguard's log and warn: a clean log, warnings recorded."""
    lrguard.reset()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        yield
    lrguard.reset()


# -- schedules as functions of the scheduler's own count ----------------------------------------------------------
def cosine(t_max, eta_min=0.0):
    return lambda e: eta_min + (1 - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2


def linear_warmup_decay(warmup, total):
    return lambda e: e / max(1, warmup) if e < warmup else max(0.0, (total - e) / max(1, total - warmup))


def one_cycle(total, pct=0.3):
    up = pct * total
    def f(e):
        return 0.04 + 0.96 * e / up if e < up else 0.5 * (1 + math.cos(math.pi * min(1.0, (e - up) / (total - up))))
    return f


def milestones(points, gamma=0.1):
    return lambda e: gamma ** sum(e >= m for m in points)


class Loop:
    """One optimizer with one scheduler, fed as the adapter feeds a run."""

    def __init__(self, kind="CosineAnnealingLR", shape=None, fn=lambda e: 1.0, base=0.1, family="builtin",
                 stepped=True):
        self.run = TrainingRun("torch")
        self.run.set_bases([base])
        self.base, self.fn, self.position = base, fn, 0
        self.schedule = Schedule(kind, family, 0, shape=shape, stepping=Stepping() if stepped else None)
        self.run.add_schedule(self.schedule)

    def lr(self) -> float:
        return self.base * self.fn(self.position)

    def optimizer_step(self, loss: float = 2.3) -> None:
        run = self.run
        run.step += 1
        run.observe_lrs([self.lr()])
        run.observe_losses([loss + 0.01 * math.sin(run.step)])

    def scheduler_step(self) -> None:
        self.position += 1
        self.schedule.stepping.call(self.run.step, self.position, self.schedule.shape)

    def epoch_start(self, batches: int, key: int = 1) -> None:
        self.run.epochs.start(key, batches, self.run.step, self.run.schedules)

    def train(self, epochs: int, batches: int, per: str = "batch", times: int = 1, accumulate: int = 1,
              stop_at: int = None, val_batches: int = 0) -> list:
        """The usual loop; ``per``: the scheduler is stepped per "batch" (micro-batch), per optimizer "step" or
        per "epoch", ``times`` times in a row. Checks after each optimizer step and at each epoch start; returns
        the findings' (id, step)."""
        found = []
        for _ in range(epochs):
            self.epoch_start(batches)
            found += self.check()
            for batch in range(batches):
                stepped = (batch + 1) % accumulate == 0
                if stepped:
                    self.optimizer_step()
                if per == "batch" or (per == "step" and stepped):
                    for _ in range(times):
                        self.scheduler_step()
                found += self.check()
                if stop_at is not None and self.run.step >= stop_at:
                    return found + self.end()
            if val_batches:
                self.run.epochs.start(2, val_batches, self.run.step, self.run.schedules)
            if per == "epoch":
                for _ in range(times):
                    self.scheduler_step()
        return found + self.end()

    def check(self) -> list:
        return [(f.id, self.run.step) for f in self.run.check()]

    def end(self) -> list:
        self.run.final = True
        try:
            return self.check()
        finally:
            self.run.final = False

    def findings(self, finding_id: str) -> list:
        return [f for f in self.run.findings if f.id == finding_id]


def ids(found) -> set:
    return {finding_id for finding_id, _ in found}


def first(found, finding_id) -> int:
    return next(step for i, step in found if i == finding_id)


# -- schedule-length: caught -------------------------------------------------------------------------------------
def test_cosine_sized_in_epochs_stepped_per_batch_is_caught_in_the_first_epoch():
    loop = Loop(shape=Shape(1, 10, "T_max=10", TURNS, end_ratio=0.0), fn=cosine(10))
    found = loop.train(epochs=10, batches=64)
    assert LENGTH in ids(found) and first(found, LENGTH) == 15  # 1.5 x T_max: halfway back up
    finding = loop.findings(LENGTH)[0]
    assert finding.message.startswith("CosineAnnealingLR(T_max=10) was stepped 15 times in 15 optimizer steps:")
    assert "its cosine turns and the lr rises again" in finding.message
    assert "T_max counts scheduler steps and it is stepped every optimizer step" in finding.fix
    assert "set T_max to epochs*len(loader) (= 10*64 = 640 if 10 is the number of epochs)" in finding.fix


def test_cosine_with_double_stepping_is_caught_after_the_first_epoch():
    """matgl: Lightning steps the scheduler every step and training_step steps it again."""
    loop = Loop(shape=Shape(1, 5 * 32, "T_max=160", TURNS, end_ratio=0.0), fn=cosine(160))
    found = loop.train(epochs=5, batches=32, times=2)
    assert first(found, LENGTH) == 32  # the second epoch's start: a whole epoch of 64 steps for 32 batches
    finding = loop.findings(LENGTH)[0]
    assert "was stepped 64 times in one epoch of 32 batches (32 optimizer steps): twice per batch" in finding.message
    assert "after 1/2 of the steps it was sized for" in finding.message


def test_stepped_twice_per_epoch_is_caught_after_two_epochs():
    loop = Loop(shape=Shape(1, 20, "T_max=20", TURNS, end_ratio=0.0), fn=cosine(20))
    found = loop.train(epochs=20, batches=16, per="epoch", times=2, val_batches=4)
    assert first(found, LENGTH) == 2 * 16
    assert "stepped twice per epoch, back to back" in loop.findings(LENGTH)[0].message


def test_schedule_sized_in_epochs_reaches_zero_early_and_lr_collapse_still_fires():
    """HF's linear schedule told the number of epochs (3) where it wants optimizer steps."""
    loop = Loop("LambdaLR", Shape(1, 3, "num_training_steps=3", ZERO, end_ratio=0.0), linear_warmup_decay(0, 3),
                family="lambda")
    found = loop.train(epochs=3, batches=20)
    assert first(found, LENGTH) == 8  # the end at step 3; nothing is decided before step 8
    assert "lr-collapse" in ids(found)  # the existing finding is kept beside it
    message = loop.findings(LENGTH)[0].message
    assert message.startswith("LambdaLR(num_training_steps=3) reached its end at optimizer step 3 (in the first epoch"
                              " of training) and the run has gone on for 5 more steps since (62% of it), at lr 0.")


def test_schedule_that_ends_at_half_the_run_is_caught_at_its_end():
    """transformers#26827: num_training_steps is half the optimizer steps: lr 0 for the second half."""
    loop = Loop("LambdaLR", Shape(1, 100, "num_training_steps=100", ZERO, warmup=10, end_ratio=0.0),
                linear_warmup_decay(10, 100), family="lambda")
    found = loop.train(epochs=4, batches=50)
    assert first(found, LENGTH) == 200  # past == before only at the last step
    short = Loop("LambdaLR", Shape(1, 100, "num_training_steps=100", ZERO, warmup=10, end_ratio=0.0),
                 linear_warmup_decay(10, 100), family="lambda")
    assert LENGTH not in ids(short.train(epochs=4, batches=49))  # 196 steps: less than half at lr 0


def test_one_cycle_sized_in_steps_stepped_per_epoch_never_anneals():
    loop = Loop("OneCycleLR", Shape(1, 8 * 25, "total_steps=200", "stops", warmup=60, end_ratio=0.0), one_cycle(200))
    found = loop.train(epochs=8, batches=25, per="epoch")
    assert first(found, LENGTH) == 200  # at the end of the run
    message = loop.findings(LENGTH)[0].message
    assert message.startswith("OneCycleLR(total_steps=200) is sized in optimizer steps (200: the 200 steps this run"
                              " took) but was stepped 8 times (1 per epoch of 25 optimizer steps): it got through 4%")
    assert "still inside its 60-step warmup" in message


def test_milestones_in_epochs_stepped_per_batch():
    loop = Loop("MultiStepLR", Shape(30, 80, "milestones=[30, 60, 80]", CUTS, end_ratio=1e-3),
                milestones([30, 60, 80]))
    found = loop.train(epochs=10, batches=100)
    assert first(found, LENGTH) == 800  # 9x the 80 steps before its last milestone


def test_keras_decay_steps_given_in_epochs_is_caught_at_its_end_with_the_fit_plan():
    loop = Loop("CosineDecay", Shape(1, 5, "decay_steps=5", ZERO, end_ratio=0.0), fn=lambda e: cosine(5)(min(e, 5)))
    loop.schedule.stepping.follows = True
    loop.run.plan = Plan(5 * 40, 40)
    found = []
    for _ in range(5 * 40):
        loop.position = loop.run.step + 1
        loop.optimizer_step()
        found += loop.check()
    assert first(found, LENGTH) == 8  # past its end (and MIN_STEPS): the plan has 195 of its 200 steps at lr 0
    assert "decay_steps counts optimizer steps (batches), not epochs: set it to the steps the whole training takes" \
        " (epochs * steps_per_epoch = 200)." == loop.findings(LENGTH)[0].fix


def test_any_schedule_that_drove_the_lr_to_exactly_zero_long_before_the_end():
    """A Keras LearningRateScheduler function that hits 0 at epoch 5 of 20 (no length parameter known)."""
    loop = Loop("LearningRateScheduler", None, fn=lambda e: max(0.0, 1 - e / 5), family="absolute")
    found = loop.train(epochs=20, batches=10, per="epoch")
    assert first(found, LENGTH) == 101  # as many steps at lr 0 as before it
    assert loop.findings(LENGTH)[0].message.startswith("the lr reached 0 at optimizer step 51")


# -- schedule-length: traps --------------------------------------------------------------------------------------
@pytest.mark.parametrize("loop, kwargs", [
    (lambda: Loop(shape=Shape(1, 10, "T_max=10", TURNS, end_ratio=0.0), fn=cosine(10)), dict(per="epoch")),
    (lambda: Loop(shape=Shape(1, 300, "T_max=300", TURNS, end_ratio=0.0), fn=cosine(300)), dict()),
    (lambda: Loop("OneCycleLR", Shape(1, 300, "total_steps=300", "stops", warmup=90, end_ratio=0.0),
                  one_cycle(300)), dict()),
    (lambda: Loop("OneCycleLR", Shape(1, 300, "total_steps=300", "stops", warmup=90, end_ratio=0.0),
                  one_cycle(300)), dict(stop_at=120)),  # a step budget
    (lambda: Loop(shape=Shape(1, 10, "T_max=10", TURNS, end_ratio=0.0), fn=cosine(10)),
     dict(per="epoch", stop_at=70)),  # early stopping after 2 of 10 epochs
    (lambda: Loop(shape=Shape(1, 60, "T_max=60", TURNS, end_ratio=0.0), fn=cosine(60)),
     dict(per="epoch", stop_at=60, epochs=60)),  # stopped early at step 60: T_max's own number, by chance
    (lambda: Loop("LambdaLR", Shape(1, 300, "num_training_steps=300", ZERO, warmup=30, end_ratio=0.0),
                  linear_warmup_decay(30, 300), family="lambda"), dict()),
    (lambda: Loop("LambdaLR", Shape(1, 300, "num_training_steps=300", ZERO, warmup=30, end_ratio=0.0),
                  linear_warmup_decay(30, 300), family="lambda"), dict(stop_at=20)),  # smoke test, in its warmup
    (lambda: Loop("LambdaLR", Shape(1, 300, "", ZERO, warmup=30, end_ratio=0.0),  # warmup-stable-decay
                  lambda e: min(e / 30, 1.0, max(0.0, (300 - e) / 30)), family="lambda"), dict()),
    (lambda: Loop("LinearLR", Shape(1, 30, "total_iters=30", "", end_ratio=1.0),  # constant after warmup
                  lambda e: min(1.0, 0.1 + 0.9 * e / 30)), dict()),
    (lambda: Loop("MultiStepLR", Shape(5, 8, "milestones=[5, 8]", CUTS, end_ratio=0.01),
                  milestones([5, 8])), dict(per="epoch")),
    (lambda: Loop("LinearLR", Shape(1, 10, "total_iters=10", LOW, end_ratio=0.1),
                  lambda e: 1 - 0.09 * min(e, 10)), dict(per="epoch")),
    (lambda: Loop("MultiStepLR", Shape(2, 4, "milestones=[2, 4]", CUTS, end_ratio=0.01), milestones([2, 4])),
     dict(per="epoch", epochs=50)),  # two early cuts, then a long tail: a plan, stepped per epoch
    (lambda: Loop("MultiStepLR", Shape(60, 90, "milestones=[60, 90]", CUTS, end_ratio=0.01),
                  milestones([60, 90])), dict(epochs=40)),  # in batches, after the first epoch
    (lambda: Loop("CosineAnnealingWarmRestarts", None, lambda e: cosine(7)(e % 7)), dict()),
    (lambda: Loop("CyclicLR", None, lambda e: 0.1 + 0.9 * abs((e % 20) - 10) / 10), dict()),
], ids=["cosine-per-epoch", "cosine-per-step", "onecycle-per-step", "onecycle-step-budget", "cosine-early-stop",
        "cosine-stopped-at-t-max", "hf-linear", "smoke-test", "warmup-stable-decay", "constant-after-warmup", "multistep-per-epoch",
        "linear-decay-per-epoch", "multistep-early-cuts-per-epoch", "multistep-in-batches", "warm-restarts",
        "cyclic"])
def test_healthy_schedules_give_nothing(loop, kwargs):
    loop = loop()
    found = loop.train(epochs=kwargs.pop("epochs", 10), batches=30, **kwargs)
    assert not found, [f.message for f in loop.run.findings]


def test_per_micro_batch_stepping_of_a_length_in_micro_batches_is_quiet():
    """Gradient accumulation: 4 micro-batches per optimizer step, the scheduler stepped per micro-batch and sized in
    micro-batches (and the variant: stepped per optimizer step, sized in optimizer steps)."""
    per_micro = Loop(shape=Shape(1, 10 * 32, "T_max=320", TURNS, end_ratio=0.0), fn=cosine(320))
    assert not per_micro.train(epochs=10, batches=32, accumulate=4)
    per_step = Loop(shape=Shape(1, 10 * 8, "T_max=80", TURNS, end_ratio=0.0), fn=cosine(80))
    assert not per_step.train(epochs=10, batches=32, accumulate=4, per="step")


def test_two_training_loaders_per_epoch_are_not_double_stepping():
    """A multi-task epoch: two loaders of 32 batches one after the other, the scheduler stepped every batch."""
    loop = Loop(shape=Shape(1, 10 * 64, "T_max=640", TURNS, end_ratio=0.0), fn=cosine(640))
    found = []
    for _ in range(4):
        for key in (1, 2):
            loop.epoch_start(32, key=key)
            found += loop.check()
            for _ in range(32):
                loop.optimizer_step()
                loop.scheduler_step()
    assert not found + loop.end()


def test_a_validation_loader_iterated_mid_epoch_is_not_the_epoch_clock():
    """Evaluation every 20 steps on a 30-batch validation loader, in 200-batch epochs: a per-epoch scheduler not yet
    stepped in the first epoch is not 'never stepped'."""
    loop = Loop("LambdaLR", Shape(1), fn=lambda e: 0.9 ** e, family="lambda")
    found = []
    loop.epoch_start(200)
    for batch in range(150):
        loop.optimizer_step()
        if (batch + 1) % 20 == 0:
            loop.run.epochs.start(2, 30, loop.run.step, loop.run.schedules)
        found += loop.check()
    assert not found and loop.run.epochs.clock() is None


def test_a_validation_loader_is_not_the_epoch_clock():
    """Per-batch stepping, with a 2-batch validation loader iterated every epoch: not 'stepped 16x per batch'."""
    loop = Loop(shape=Shape(1, 10 * 32, "T_max=320", TURNS, end_ratio=0.0), fn=cosine(320))
    assert not loop.train(epochs=10, batches=32, val_batches=2)
    assert loop.run.epochs.clock().length == 32


def test_length_finding_keeps_vanishing_gradients_quiet():
    loop = Loop(shape=Shape(1, 10, "T_max=10", TURNS, end_ratio=0.0), fn=cosine(10))
    for step in (2, 4, 8):
        loop.run.observe_grads(GradSample(step, 1e-9, 1.0, 5.0, 1.5))
    found = loop.train(epochs=2, batches=40)
    assert ids(found) == {LENGTH}


# -- schedule-not-applied ----------------------------------------------------------------------------------------
def test_scheduler_of_a_recreated_optimizer():
    loop = Loop("StepLR", Shape(1), fn=lambda e: 0.5 ** e)
    stepping = loop.schedule.stepping
    stepping.call(0, 1, None)
    stepping.moved = True
    assert not loop.check()  # one call: not yet
    stepping.call(0, 2, None)
    stepping.replaced = ("SGD", 64, 0.1)
    assert ids(loop.check()) == {NOT_APPLIED}
    finding = loop.findings(NOT_APPLIED)[0]
    assert "the optimizer it was built on never took a step: another SGD over the same parameters did (64 steps" \
        in finding.message


def test_constant_scheduler_of_a_recreated_optimizer_is_quiet():
    loop = Loop("LambdaLR", Shape(None), family="lambda")
    loop.schedule.stepping.call(0, 1, None)
    loop.schedule.stepping.call(0, 2, None)
    loop.schedule.stepping.replaced = ("SGD", 64, 0.1)
    assert not loop.check()


def _overridden(loop, calls: int, streak: int, scale: float = None) -> None:
    """``calls`` scheduler steps of a cosine, the last ``streak`` of them after an optimizer step at another lr: 0.1,
    or ``scale`` x the schedule's."""
    stepping = loop.schedule.stepping
    for call in range(calls):
        loop.optimizer_step()
        stepping.call(loop.run.step, call + 1, None)
        stepping.moved = True
        scheduled = 0.1 * cosine(calls)(call)
        if call >= calls - streak:
            stepping.overridden_call(0.1 if scale is None else scale * scheduled, scheduled)
        else:
            stepping.overridden_call(None, 0.0)


def test_lr_overridden_before_every_step_is_caught_at_the_end():
    loop = Loop("CosineAnnealingLR", Shape(1, 100, "T_max=100", TURNS))
    _overridden(loop, 40, 40)
    assert not loop.check()  # decided at the end of the run only
    assert ids(loop.end()) == {NOT_APPLIED}
    assert "for its last 40 steps the optimizer trained at lrs it had not set (lr 0.1 where the schedule had set" \
        " 0.0001541)" in loop.findings(NOT_APPLIED)[0].message


def test_hand_written_warmup_that_hands_over_is_quiet():
    loop = Loop("CosineAnnealingLR", Shape(1, 100, "T_max=100", TURNS))
    _overridden(loop, 100, 0)
    assert not loop.end()


def test_per_layer_factors_on_top_of_the_schedule_are_quiet():
    """Layer-wise lr decay: every step, each group's lr is set to the schedule's times a constant factor."""
    loop = Loop("CosineAnnealingLR", Shape(1, 100, "T_max=100", TURNS))
    _overridden(loop, 40, 40, scale=0.65)
    assert not loop.end()


def test_plateau_cuts_undone():
    loop = Loop("LambdaLR", Shape(1), family="lambda")
    loop.run.add_schedule(Schedule("ReduceLROnPlateau", "plateau"))
    stepping = loop.schedule.stepping
    assert stepping.cut_undone(0.1, 0.01, 0.095)
    assert not loop.check()
    assert not stepping.cut_undone(0.1, 0.01, 0.009)  # a chainable scheduler keeps the cut
    assert stepping.cut_undone(0.095, 0.0095, 0.09)
    assert ids(loop.check()) == {NOT_APPLIED}
    assert "ReduceLROnPlateau cut the lr 2 times, and each time LambdaLR set it back" in \
        loop.findings(NOT_APPLIED)[0].message


def test_undone_cuts_without_a_plateau_scheduler_are_quiet():
    loop = Loop("LambdaLR", Shape(1), family="lambda")
    loop.schedule.stepping.undone[:] = [(0.1, 0.01, 0.1)] * 3
    assert not loop.check()


def test_scheduler_never_stepped():
    loop = Loop("LambdaLR", Shape(1, 10, "", ZERO), fn=lambda e: 1 - e / 10, family="lambda")
    found = loop.train(epochs=3, batches=16, per="never")
    assert first(found, NOT_APPLIED) == 16  # the second epoch's start: one whole epoch went by
    assert loop.findings(NOT_APPLIED)[0].message.startswith(
        "LambdaLR was built but never stepped: 1 epoch (16 optimizer steps) trained at its initial lr 0.1, though"
        " it changes the lr at its step 1. Call scheduler.step()")


@pytest.mark.parametrize("make", [
    lambda: Loop("LambdaLR", Shape(None), family="lambda"),  # constant: LambdaLR returning 1
    lambda: Loop("StepLR", Shape(5)),  # its first change needs 5 epochs
    lambda: Loop("ReduceLROnPlateau", Shape(None), family="plateau"),
], ids=["constant", "first-change-later", "plateau"])
def test_never_stepped_traps(make):
    loop = make()
    assert not loop.train(epochs=3, batches=16, per="never")


def test_never_stepped_beside_a_scheduler_that_is_stepped_is_quiet():
    """PyTorch's SWA recipe: SWALR is built up front and stepped only in the SWA phase."""
    loop = Loop("CosineAnnealingLR", Shape(1, 10, "T_max=10", TURNS, end_ratio=0.0), fn=cosine(10))
    waiting = Schedule("SWALR", "builtin", 0, shape=Shape(1, 10, "", LOW), stepping=Stepping())
    loop.run.add_schedule(waiting)
    assert not loop.train(epochs=6, batches=16, per="epoch")


def test_scheduler_inside_a_sequence_waits_for_its_milestone():
    loop = Loop("CosineAnnealingLR", Shape(1, 10, "T_max=10", TURNS))
    loop.schedule.stepping.contained = True
    assert not loop.train(epochs=3, batches=16, per="never")
