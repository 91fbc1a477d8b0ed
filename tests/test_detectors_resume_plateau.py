"""``resume-mismatch`` and ``plateau-mode`` on synthetic observation streams (no framework; milliseconds each).

The plateau streams are cut by a copy of PyTorch's ReduceLROnPlateau rule (``cuts_of``), so the cuts fall where the
real scheduler puts them for the same values.
"""
from __future__ import annotations

import math
import warnings

import pytest

import lrguard
from lrguard.detection.detectors import plateau_mode, resume_mismatch
from lrguard.detection.detectors.plateau_mode import direction_of
from lrguard.detection.plateau import PlateauTrace
from lrguard.detection.resume import FitResume, Restore, SchedulerAt
from lrguard.detection.training import Schedule, TrainingRun


@pytest.fixture(autouse=True)
def quiet_log():
    lrguard.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    lrguard.reset()


# -- plateau-mode ----------------------------------------------------------------------------------------------
def cuts_of(values, mode="min", patience=2, threshold=1e-4, threshold_mode="rel", cooldown=0, factor=0.1,
            lr=1e-3, min_lr=0.0):
    """PyTorch's ReduceLROnPlateau on ``values``: (indices of the evaluations that cut, the lr after each)."""
    best = math.inf if mode == "min" else -math.inf
    bad = cool = 0
    cuts, lrs = [], []
    for index, value in enumerate(values):
        if mode == "min":
            better = value < (best * (1 - threshold) if threshold_mode == "rel" else best - threshold)
        else:
            better = value > (best * (1 + threshold) if threshold_mode == "rel" else best + threshold)
        if better:
            best, bad = value, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > 1e-12:
                lr = new
                cuts.append(index)
            cool, bad = cooldown, 0
        lrs.append(lr)
    return cuts, lrs


def plateau_run(values, train_losses="falling", name=None, mode="min", mode_given=None, **settings) -> TrainingRun:
    cuts, lrs = cuts_of(values, mode=mode, **settings)
    if train_losses == "falling":
        train_losses = [2.0 * 0.85 ** i for i in range(len(values))]
    elif train_losses is None:
        train_losses = [None] * len(values)
    trace = PlateauTrace(mode=mode, patience=settings.get("patience", 2), cooldown=settings.get("cooldown", 0),
                         mode_given=mode_given, name=name, first_lr=1e-3)
    for index, value in enumerate(values):
        trace.add(value, index in cuts, train_losses[index], lrs[index])
    run = TrainingRun("torch")
    run.set_bases([1e-3])
    run.step = 100 * len(values)
    run.observe_lrs([lrs[-1]])
    run.add_schedule(Schedule("ReduceLROnPlateau", "plateau", plateau=trace))
    return run


ACCURACY = [0.52, 0.61, 0.68, 0.73, 0.77, 0.80, 0.83, 0.85, 0.87, 0.88, 0.89, 0.91]


def test_accuracy_under_min_mode_is_caught():
    diagnosis = plateau_mode.check(plateau_run(ACCURACY, name="val_acc"))
    assert diagnosis is not None and diagnosis.id == "plateau-mode" and diagnosis.category == "schedule-bug"
    message = diagnosis.message
    assert "ReduceLROnPlateau(mode='min') cut the lr 3 times" in message
    assert "(val_acc) rose 11 evaluations in a row (0.52 -> 0.91)" in message
    assert "a metric to maximize" in message and "mode='max'" in diagnosis.fix


def test_accuracy_without_a_name_needs_two_cuts_and_training_progress():
    assert plateau_mode.check(plateau_run(ACCURACY)) is not None  # 3 cuts, the training loss falls
    assert plateau_mode.check(plateau_run(ACCURACY, name="metric")) is not None
    # one cut only (patience 10: the first at evaluation 12): the name must say it
    assert plateau_mode.check(plateau_run(ACCURACY, patience=10)) is None
    assert plateau_mode.check(plateau_run(ACCURACY, patience=10, name="val_accuracy")) is not None
    # no training loss seen: only the name decides
    assert plateau_mode.check(plateau_run(ACCURACY, train_losses=None)) is None
    assert plateau_mode.check(plateau_run(ACCURACY, train_losses=None, name="acc")) is not None


def test_percent_accuracy_and_noisy_accuracy_are_caught():
    percent = [100 * v for v in ACCURACY]
    assert plateau_mode.check(plateau_run(percent, name="100. * correct / total")) is not None
    noisy = [0.50, 0.49, 0.60, 0.66, 0.65, 0.72, 0.75, 0.74, 0.79, 0.81, 0.83, 0.82, 0.85]
    diagnosis = plateau_mode.check(plateau_run(noisy, name="val_acc"))  # best at the 2nd evaluation, a few dips
    assert diagnosis is not None and "never better than at evaluation 2" in diagnosis.message
    assert plateau_mode.check(plateau_run(noisy)) is None  # without the name, its best must be the first


def test_accuracy_under_max_mode_is_quiet():
    assert plateau_mode.check(plateau_run(ACCURACY, name="val_acc", mode="max")) is None


def test_overfitting_validation_loss_is_quiet():
    """The validation loss first improves, then rises: the best is in the middle, the cuts are right."""
    values = [1.20, 0.90, 0.75, 0.70, 0.72, 0.76, 0.81, 0.87, 0.94, 1.02, 1.10, 1.19]
    for name in ("val_loss", None, "metric"):
        assert plateau_mode.check(plateau_run(values, name=name)) is None


def test_loss_named_value_rising_from_the_start_is_quiet():
    """A validation loss on labels it cannot learn rises from the first evaluation: named a loss, never judged."""
    values = [2.30 + 0.03 * i for i in range(12)]
    assert plateau_mode.check(plateau_run(values, name="val_loss")) is None
    assert plateau_mode.check(plateau_run(values, name="loss_fn(model(X_val), y_val).item()")) is None


def test_genuine_plateau_with_tiny_noisy_improvements_is_quiet():
    values = [1.000, 0.9995, 1.0004, 0.9991, 1.0002, 0.9990, 0.9996, 0.9989, 1.0001, 0.9993, 0.9988, 0.9994]
    for name in (None, "val_loss", "val_acc"):
        assert plateau_mode.check(plateau_run(values, name=name, patience=1)) is None
    flat_then_worse = [0.500, 0.5001, 0.5002, 0.5004, 0.5003, 0.5005, 0.5006, 0.5008]  # 0.16%: noise, not a trend
    assert plateau_mode.check(plateau_run(flat_then_worse, patience=0)) is None


def test_diverging_training_is_quiet():
    """The training loss rises too: the value gets worse for real, cutting the lr is right."""
    values = [0.5 + 0.05 * i for i in range(12)]
    rising = [1.0 + 0.1 * i for i in range(12)]
    assert plateau_mode.check(plateau_run(values, train_losses=rising)) is None


def test_threshold_cooldown_and_min_lr_variants():
    # cooldown and min_lr: fewer cuts, still the wrong direction
    assert plateau_mode.check(plateau_run(ACCURACY, name="val_acc", cooldown=2)) is not None
    assert plateau_mode.check(plateau_run(ACCURACY, name="val_acc", min_lr=1e-4, patience=1)) is not None
    # an abs threshold larger than the improvements: a slowly improving loss is cut for real; mode is right
    improving = [1.0 - 0.004 * i for i in range(12)]
    run = plateau_run(improving, name="val_loss", threshold=0.01, threshold_mode="abs", patience=1)
    assert run.schedules[0].plateau.cuts and plateau_mode.check(run) is None
    assert plateau_mode.check(plateau_run(improving, threshold=0.01, threshold_mode="abs", patience=1)) is None


def test_loss_under_max_mode_is_caught():
    values = [2.3 * 0.9 ** i for i in range(10)]
    diagnosis = plateau_mode.check(plateau_run(values, name="val_loss", mode="max"))
    assert diagnosis is not None
    assert "(mode='max')" in diagnosis.message and "fell" in diagnosis.message
    assert "a value to minimize" in diagnosis.message and "mode='min'" in diagnosis.fix


def test_keras_auto_mode_message():
    auc = [0.61, 0.70, 0.76, 0.80, 0.83, 0.85, 0.87, 0.88, 0.89]
    diagnosis = plateau_mode.check(plateau_run(auc, name="val_auc", mode_given="auto", patience=1))
    assert diagnosis is not None
    assert "mode='auto'), which took 'val_auc' for a value to minimize" in diagnosis.message
    assert "Pass mode='max'" in diagnosis.fix


@pytest.mark.parametrize("name, direction", [
    ("val_acc", "max"), ("valAccuracy", "max"), ("metrics['f1']", "max"), ("top1", "max"), ("val_auc", "max"),
    ("100. * correct / total", "max"), ("val_loss", "min"), ("loss.item()", "min"), ("eval_loss", "min"),
    ("-val_acc", "min"), ("1 - f1", "min"), ("-val_loss", "max"), ("metric", None), ("x", None), (None, None),
    ("acc_loss", None), ("valid_mse", "min"), ("score", "max"),
])
def test_direction_of_names(name, direction):
    assert direction_of(name) == direction


def test_plateau_finding_through_the_run(quiet_log):
    run = plateau_run(ACCURACY, name="val_acc")
    run.schedules[0].where = ("train.py", 12)
    found = run.check()
    assert [f.id for f in found] == ["plateau-mode"] and found[0].where == "train.py:12"
    assert any("[plateau-mode]" in str(w.message) for w in quiet_log)


def test_plateau_trace_is_bounded():
    trace = PlateauTrace(mode="min")
    for i in range(2000):
        trace.add(float(i), i % 3 == 0, None, 1e-3)
    assert trace.evaluations == 2000 and len(trace.values) == len(trace.lrs) == 512


# -- resume-mismatch: PyTorch ----------------------------------------------------------------------------------
def restored_run(saved=1e-4, first=1e-3, step=3000, schedulers=(("CosineAnnealingLR", 0, False),),
                 optimizer="Adam", state="Adam's step count") -> TrainingRun:
    run = TrainingRun("torch")
    run.set_bases([1e-3])
    run.add_schedule(Schedule(schedulers[0][0] if schedulers else "LambdaLR", "builtin", where=("train.py", 30)))
    run.restore = Restore(step=0, optimizer=optimizer, optimizer_step=step, state=state, saved_lrs=[saved])
    run.step = 1
    run.observe_lrs([first])
    run.restore.schedulers = [SchedulerAt(*s) for s in schedulers]
    run.restore.first_lrs = [first]
    return run


def test_restored_optimizer_with_a_new_schedule_is_caught(quiet_log):
    run = restored_run()
    diagnosis = resume_mismatch.check(run)
    assert diagnosis is not None and diagnosis.id == "resume-mismatch"
    assert ("Adam's restored state is at step 3000 but CosineAnnealingLR starts at last_epoch 0: the schedule"
            " restarted") in diagnosis.message
    assert "from 0.0001 (when the checkpoint was saved) back up to 0.001" in diagnosis.message
    assert "scheduler.load_state_dict(checkpoint['scheduler'])" in diagnosis.fix and "last_epoch=" in diagnosis.fix
    found = run.check()
    assert [f.id for f in found] == ["resume-mismatch"] and found[0].where == "train.py:30"


def test_restarted_warmup_from_zero_is_caught():
    diagnosis = resume_mismatch.check(restored_run(saved=3e-4, first=0.0, schedulers=(("LambdaLR", 0, False),)))
    assert diagnosis is not None and "down to 0" in diagnosis.message


def test_sgd_state_without_a_step_count():
    run = restored_run(step=None, optimizer="SGD", state="momentum buffers", schedulers=(("StepLR", 0, False),),
                       saved=1e-3, first=0.1)
    diagnosis = resume_mismatch.check(run)
    assert diagnosis is not None and "SGD's state was restored (momentum buffers)" in diagnosis.message


@pytest.mark.parametrize("change", [
    dict(schedulers=(("CosineAnnealingLR", 3000, True),)),  # scheduler.load_state_dict(...)
    dict(schedulers=(("CosineAnnealingLR", 1, True),)),  # built with last_epoch=0
    dict(schedulers=(("CosineAnnealingLR", 30, False),)),  # fast-forwarded: for _ in range(30): scheduler.step()
    dict(schedulers=()),  # no scheduler: the lr is what the optimizer's groups say
    dict(step=3),  # a restored optimizer that hardly trained
    dict(first=1e-4),  # the lr goes on where it was: a constant schedule, or one restored
    dict(first=1.1e-4),  # a chainable decay continuing from the restored lr (ExponentialLR(0.9))
    dict(schedulers=(("LinearLR", 0, False), ("CosineAnnealingLR", 2000, True))),  # SequentialLR's parts
])
def test_resumes_that_keep_the_schedule_are_quiet(change):
    assert resume_mismatch.check(restored_run(**change)) is None


def test_a_scheduler_built_before_the_restore_restarts_at_its_next_step():
    """The restored lr holds until the new scheduler's first step sets its own: seen within WINDOW of its steps."""
    run = restored_run(first=1e-4)
    assert resume_mismatch.check(run) is None
    run.step, run.scheduler_steps = 400, 1
    run.observe_lrs([9.9e-4])
    assert resume_mismatch.check(run) is not None
    late = restored_run(first=1e-4)
    late.step, late.scheduler_steps = 4000, 10  # long after the resume: a later change is the schedule's own
    late.observe_lrs([1e-5])
    assert resume_mismatch.check(late) is None


def test_a_chainable_schedule_going_on_from_the_restored_lr_counts_from_0_again():
    """A new CosineAnnealingLR continues from the restored lr (no jump) but decays over T_max steps again."""
    def run_at(position, kind="CosineAnnealingLR", initial=1e-3):
        run = restored_run(first=1e-4, schedulers=((kind, 0, False),))
        run.restore.saved_initial_lrs = [initial]
        run.step, run.scheduler_steps = 400, position
        run.observe_lrs([0.99e-4])
        return run

    assert resume_mismatch.check(run_at(0)) is None  # not stepped yet
    diagnosis = resume_mismatch.check(run_at(1))
    assert diagnosis is not None and "started over: the saved run was part-way through it" in diagnosis.message
    assert "(lr 0.0001, from 0.001)" in diagnosis.message
    assert resume_mismatch.check(run_at(1, kind="ExponentialLR")) is None  # memoryless: nothing restarts
    assert resume_mismatch.check(run_at(1, initial=1e-4)) is None  # the saved run had not moved its lr
    assert resume_mismatch.check(run_at(30)) is None  # scheduler.step(epoch) caught up with the resume


def test_no_first_step_yet_or_no_restore_is_quiet():
    run = restored_run()
    run.restore.schedulers = None
    assert resume_mismatch.check(run) is None
    assert resume_mismatch.check(TrainingRun("torch")) is None


# -- resume-mismatch: Keras ------------------------------------------------------------------------------------
def keras_run(**fields) -> TrainingRun:
    run = TrainingRun("keras")
    run.set_bases([1e-3])
    run.fit_resume = FitResume(**fields)
    return run


def test_keras_initial_epoch_with_a_new_optimizer_restarts_a_step_schedule():
    run = keras_run(iterations=0, restored=False, steps_per_epoch=16, lrs=[1e-3], initial_epoch=5,
                    schedule="CosineDecay", schedule_lr=1e-3, schedule_lr_resumed=5.2e-4)
    diagnosis = resume_mismatch.check(run)
    assert diagnosis is not None
    assert "fit(initial_epoch=5) resumes at epoch 5 (step 80 at 16 steps per epoch)" in diagnosis.message
    assert "iterations are 0: CosineDecay counts optimizer iterations" in diagnosis.message
    assert "optimizer.iterations.assign(80)" in diagnosis.fix


@pytest.mark.parametrize("change", [
    dict(iterations=80, restored=True),  # the optimizer was restored with the model: the schedule goes on
    dict(initial_epoch=0),  # a new training
    dict(schedule=None, schedule_lr=None, schedule_lr_resumed=None),  # an epoch-based callback gets the epoch
    dict(schedule_lr_resumed=1e-3),  # a constant schedule object
])
def test_keras_initial_epoch_traps(change):
    fields = dict(iterations=0, restored=False, steps_per_epoch=16, lrs=[1e-3], initial_epoch=5,
                  schedule="CosineDecay", schedule_lr=1e-3, schedule_lr_resumed=5.2e-4)
    fields.update(change)
    assert resume_mismatch.check(keras_run(**fields)) is None


def lrs_callback(epoch: int, lr: float) -> Schedule:
    return Schedule("LearningRateScheduler", "absolute", probe_epochs=[epoch], probes=[[lr]],
                    where=("train.py", 9))


def test_keras_restored_optimizer_fit_from_epoch_zero_restarts_the_callback():
    run = keras_run(iterations=80, restored=True, steps_per_epoch=16, lrs=[2e-4], initial_epoch=0)
    run.add_schedule(lrs_callback(0, 1e-3))
    diagnosis = resume_mismatch.check(run)
    assert diagnosis is not None
    assert "restored with 80 iterations (5 epochs of 16 steps) but fit started at epoch 0" in diagnosis.message
    assert "from 0.0002 (restored) to 0.001" in diagnosis.message and "initial_epoch" in diagnosis.fix
    assert "(here 5)" in diagnosis.fix


@pytest.mark.parametrize("change, epoch, lr", [
    (dict(initial_epoch=5), 5, 2e-4),  # initial_epoch given: the callback goes on
    (dict(restored=False), 0, 1e-3),  # a second fit in the same process: iterations this process counted
    (dict(), 0, 2.1e-4),  # the callback's lr at epoch 0 is the restored one (a constant schedule)
    (dict(iterations=10), 0, 1e-3),  # less than an epoch done
])
def test_keras_restored_optimizer_traps(change, epoch, lr):
    fields = dict(iterations=80, restored=True, steps_per_epoch=16, lrs=[2e-4], initial_epoch=0)
    fields.update(change)
    run = keras_run(**fields)
    run.add_schedule(lrs_callback(epoch, lr))
    assert resume_mismatch.check(run) is None


# -- what a ReduceLROnPlateau watches, by name (from the source of the call to step) ------------------------------
class Plateau:
    """Stands for a scheduler: its ``step`` reads the name the way lrguard's wrapper does (from its caller)."""

    def step(self, metrics=None, epoch=None):
        import sys

        from lrguard.integrations.plateau_source import watched_name

        return watched_name(sys._getframe(1))


def test_the_name_is_the_expression_given_to_step():
    scheduler, val_acc, stats = Plateau(), 0.5, {"f1": 0.3}
    assert scheduler.step(val_acc) == "val_acc"
    assert scheduler.step(stats["f1"]) == "stats['f1']"
    assert scheduler.step(metrics=-val_acc) == "-val_acc"
    assert scheduler.step(
        100.0 * val_acc,
    ) == "100.0 * val_acc"


def test_the_name_follows_a_parameter_passed_on_to_step():
    scheduler = Plateau()

    class Wrapper:
        def step(self, epoch, val_metric=None):
            return scheduler.step(val_metric)

    def validate_and_step(wrapper, top1_accuracy):
        return wrapper.step(3, top1_accuracy)

    assert validate_and_step(Wrapper(), 0.7) == "top1_accuracy"
    assert Wrapper().step(1, val_metric=0.2) == "val_metric"  # the caller passes a name that says nothing more
