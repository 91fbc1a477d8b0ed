"""The detectors and the series they read, on synthetic observation streams (no framework; milliseconds each).

A ``Run`` is fed the way the adapters feed it: the real lrs at optimizer steps, sampled losses, gradient samples
and the schedules with their probes (the multipliers a LambdaLR's functions return at a few epochs).
"""
from __future__ import annotations

import math
import warnings

import pytest

import lrguard
from lrguard.detection.detectors import absolute_lr, collapse, invalid, vanishing
from lrguard.detection.training import TrainingRun, Schedule
from lrguard.detection.series import GradSample, LossWindow, LRTrack

EPOCHS = list(range(17)) + [24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096, 8192]


# -- helpers ------------------------------------------------------------------------------------------------------
def schedule(kind: str, family: str, *functions, epochs=EPOCHS) -> Schedule:
    """A schedule as the PyTorch adapter records it: each function's values at ``epochs``."""
    probes = [[float(f(e)) for e in epochs] for f in functions]
    return Schedule(kind, family, probe_epochs=list(epochs) if functions else [], probes=probes)


def lambda_lr(*functions, epochs=EPOCHS) -> Schedule:
    return schedule("LambdaLR", "lambda", *functions, epochs=epochs)


def run_of(bases, *schedules) -> TrainingRun:
    run = TrainingRun("torch")
    run.set_bases(bases)
    for s in schedules:
        run.add_schedule(s)
    return run


def flat_loss(step: int) -> float:
    return 2.3 + 0.01 * math.sin(step)  # noise around a plateau


def falling_loss(step: int) -> float:
    return 2.3 * 0.97 ** step


def drive(run: TrainingRun, lrs, steps: int, *, start: int = 1, loss=flat_loss, epoch_of=None,
          scheduler_steps_of=None) -> TrainingRun:
    """Optimizer steps start..steps: the lrs of each step (a function of the step), one loss per step; the
    training epoch and the scheduler's own count (its ``last_epoch``) at each step when given."""
    for step in range(start, steps + 1):
        run.step = step
        value = lrs(step)
        run.observe_lrs(value if isinstance(value, (list, tuple)) else [value])
        if loss is not None:
            run.observe_losses([loss(step)])
        if epoch_of is not None:
            run.epoch = epoch_of(step)
        if scheduler_steps_of is not None:
            run.scheduler_steps = scheduler_steps_of(step)
    return run


def per_epoch(multiplier, base: float, batches: int):
    """The lr at each optimizer step of a per-epoch schedule (epoch = (step - 1) // batches)."""
    return lambda step: base * multiplier((step - 1) // batches)


def grads(run: TrainingRun, ratio: float, first: float, steps, first_update=None, last_update=None) -> TrainingRun:
    for step in steps:
        run.observe_grads(GradSample(step, first, first / ratio if ratio else 0.0, 5.0, 1.5, first_update, last_update))
    return run


@pytest.fixture
def log():
    """A clean findings log, warnings recorded instead of shown."""
    lrguard.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    lrguard.reset()


# -- lambda-absolute-lr -------------------------------------------------------------------------------------------
SEED = lambda e: 1e-3 * (10 - e) / 10  # noqa: E731  (the seed bug's Keras-style schedule)


def test_seed_bug_message_keeps_the_readme_format():
    run = drive(run_of([1e-3], lambda_lr(SEED)), per_epoch(SEED, 1e-3, 32), 1)
    found = absolute_lr.check(run)
    assert found.id == "lambda-absolute-lr" and found.category == "schedule-bug" and found.group == 0
    assert found.message == (
        "LambdaLR's lr_lambda returns absolute learning rates (lr_lambda(0) = 0.001 = the optimizer's lr), but"
        " LambdaLR multiplies them by base_lr: the real lr is 1e-06 (base_lr**2)."
    )
    assert found.fix == "Return a multiplier (lr_lambda(epoch) / 0.001: 1, 0.9, 0.8, ...) or build the optimizer with lr=1.0."


@pytest.mark.parametrize("base, fn", [
    (1e-3, lambda e: 1e-3),  # constant absolute lr
    (0.01, lambda e: 0.01 * math.exp(-0.1 * e)),  # absolute exponential decay (SGD + momentum)
    (2e-3, lambda e: 2e-3 / (1 + 0.5 * e)),  # inverse decay with argparse values
    (0.1, lambda e: 0.1 * 0.7 ** e),  # SGD's 0.1: peak 0.1 == LR_LIKE, an echo
    (0.2, lambda e: 0.2 * 0.7 ** e),  # above LR_LIKE, but the peak echoes the optimizer's lr
    (3e-4, lambda s: 3e-4 * s / 40 if s < 40 else 3e-4 * max(0.0, (160 - s) / 120)),  # warmup from 0, per batch
    (1e-3, lambda e: 1e-4),  # no echo, but a 'multiplier' that keeps the lr 1000x below the optimizer's
], ids=["constant", "exp-decay", "inverse", "sgd-0.1", "sgd-0.2", "warmup-from-0", "tiny-no-echo"])
def test_absolute_lambdas_are_caught_at_the_first_step(base, fn):
    run = drive(run_of([base], lambda_lr(fn)), lambda step: base * fn(0), 1)
    found = absolute_lr.check(run)
    assert found is not None and found.id == "lambda-absolute-lr"
    assert f"{absolute_lr.fmt(base)}" in found.fix


def test_two_param_groups_each_with_its_absolute_lambda():
    fns = (lambda e: 1e-3 * 0.5 ** (e // 2), lambda e: 5e-4 * 0.5 ** (e // 2))
    run = drive(run_of([1e-3, 5e-4], lambda_lr(*fns)), lambda step: [1e-6, 2.5e-7], 1)
    found = absolute_lr.check(run)
    assert found.group == 0 and "(param group 0)" in found.message


def test_one_absolute_lambda_over_two_groups_echoes_either_lr():
    run = drive(run_of([2e-3, 1e-3], lambda_lr(lambda e: 1e-3, lambda e: 1e-3)), lambda step: [2e-6, 1e-6], 1)
    assert absolute_lr.check(run).group == 0


def test_custom_scheduler_factor_is_reported_as_f():
    custom = schedule("CosineLR", "custom", lambda e: 0.5e-3 * (1 + math.cos(math.pi * e / 10)), epochs=range(11))
    run = drive(run_of([1e-3], custom), lambda step: 1e-6, 1)
    found = absolute_lr.check(run)
    assert found.message.startswith("CosineLR returns base_lr * f(epoch) with f an absolute learning rate (f(0) = 0.001")
    assert "Make f a multiplier" in found.fix


@pytest.mark.parametrize("base, fn", [
    (0.05, lambda e: 0.05 * 0.9 ** e),  # a Keras schedule given to MultiplicativeLR: echo
    (0.1, lambda e: 0.01),  # a per-step factor of 0.01: never a decay anybody means
])
def test_multiplicative_given_an_lr(base, fn):
    run = drive(run_of([base], schedule("MultiplicativeLR", "multiplicative", fn)), lambda step: base, 1)
    found = absolute_lr.check(run)
    assert found is not None and "multiplies the current lr by it" in found.message


@pytest.mark.parametrize("fn", [
    lambda e: 0.95,  # a real per-step factor
    lambda e: 0.1 if e == 30 else 1.0,  # a one-off 10x cut
    lambda e: 0.05,  # a 20x cut per step, no echo of the optimizer's lr (lr-collapse's business)
], ids=["factor", "one-off-cut", "big-factor"])
def test_multiplicative_real_factors_are_quiet(fn):
    run = drive(run_of([0.1], schedule("MultiplicativeLR", "multiplicative", fn)), lambda step: 0.1, 1)
    assert absolute_lr.check(run) is None


HF_TOTAL, HF_WARMUP = 300, 30


def hf_linear(step: int) -> float:
    if step < HF_WARMUP:
        return step / HF_WARMUP
    return max(0.0, (HF_TOTAL - step) / (HF_TOTAL - HF_WARMUP))


@pytest.mark.parametrize("base, fns", [
    (1e-3, [lambda e: (10 - e) / 10]),  # the seed program fixed
    (1e-3, [hf_linear]),  # HuggingFace warmup from multiplier 0
    (1e-3, [lambda e: 1.0 if e >= 3 else 0.001 * (1 - e / 3) + e / 3]),  # warmup factor == base lr, per epoch
    (1e-3, [lambda s: 1.0 if s >= 100 else 0.001 * (1 - s / 100) + s / 100]),  # the same per batch
    (1.0, [lambda e: 1e-3 * (10 - e) / 10]),  # 'lr=1.0, the lambda is the absolute lr'
    (0.1, [lambda e: 1e-3 * 0.8 ** e] * 2),  # param-group lrs 0.1 / 1.0 as factors (bases set below)
    (1e-3, [lambda e: 0.5 * (1 + math.cos(math.pi * min(e, 50) / 50))]),  # cosine to exactly 0
    (1e-3, [lambda e: 0.7 ** e]),  # a resumed LambdaLR: probes still start at epoch 0
], ids=["seed-fixed", "hf-warmup", "warmup-factor-epoch", "warmup-factor-batch", "lr-1.0", "group-factors",
        "cosine-to-0", "resume"])
def test_lambda_traps_are_quiet(base, fns):
    bases = [0.1, 1.0] if len(fns) == 2 else [base]
    run = run_of(bases, lambda_lr(*fns))
    drive(run, lambda step: [b * fns[0]((step - 1) // 8) for b in bases], 200)
    assert absolute_lr.check(run) is None


def test_a_warmup_still_rising_at_its_last_probe_is_undecided():
    assert absolute_lr.looks_absolute([0.0, 1e-5, 2e-5, 3e-5], [1e-3]) is None
    assert absolute_lr.looks_absolute([0.0, 1e-3, 1e-3], [1e-3]) is True
    assert absolute_lr.looks_absolute([0.001, 0.5, 1.0, 1.0], [1e-3]) is False


def test_looks_absolute_ignores_values_after_the_first_invalid_one():
    assert absolute_lr.looks_absolute([1e-3, 1e-3, math.nan, 5.0], [1e-3]) is True
    assert absolute_lr.looks_absolute([1e-3, 5e-4, -1e-4, 7.0], [1e-3]) is True
    assert absolute_lr.looks_absolute([math.nan, 1e-3], [1e-3]) is False
    assert absolute_lr.looks_absolute([math.inf], [1e-3]) is False
    assert absolute_lr.looks_absolute([], [1e-3]) is False


@pytest.mark.parametrize("bases", [[0.0], [-1e-3], [math.nan], [1e-3, 0.7]])
def test_looks_absolute_needs_a_real_small_base(bases):
    assert absolute_lr.looks_absolute([1e-3, 9e-4], bases) is False


def test_absolute_lambda_is_quiet_when_the_real_lr_is_not_small():
    """Probes say absolute, but the lr the run trains with is the optimizer's own (the lambda was replaced)."""
    run = drive(run_of([1e-3], lambda_lr(lambda e: 1e-3)), lambda step: 1e-3, 5)
    assert absolute_lr.check(run) is None


def test_absolute_needs_a_step_and_groups():
    assert absolute_lr.check(run_of([1e-3], lambda_lr(lambda e: 1e-3))) is None  # not stepped yet
    assert absolute_lr.check(TrainingRun("torch")) is None


def test_unprobed_lambda_is_judged_from_the_stream_once_past_its_peak():
    run = run_of([1e-3], Schedule("LambdaLR", "lambda"))  # a callable object: no probes
    drive(run, per_epoch(SEED, 1e-3, 10), 15)
    assert absolute_lr.check(run) is None  # one change only
    drive(run, per_epoch(SEED, 1e-3, 10), 25, start=16)
    assert absolute_lr.check(run) is not None


def test_unprobed_warmup_factor_equal_to_base_is_quiet_from_the_stream():
    run = run_of([1e-3], Schedule("LambdaLR", "lambda"))
    drive(run, lambda s: 1e-3 * (1.0 if s >= 50 else 0.001 * (1 - s / 50) + s / 50), 200)
    assert absolute_lr.check(run) is None


def warmup_cosine(peak: float, step: int, warmup: int = 10, total: int = 96) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def test_no_scheduler_object_writing_base_times_an_lr_is_caught_past_its_peak():
    """timm's style: an object writes param_groups[i]["lr"] = base * f(t), f the warmup-cosine *lr* (peak 3e-3)."""
    run = drive(run_of([3e-3]), lambda s: 3e-3 * warmup_cosine(3e-3, s - 1), 10)
    assert absolute_lr.check(run) is None  # still rising
    drive(run, lambda s: 3e-3 * warmup_cosine(3e-3, s - 1), 14, start=11)
    assert absolute_lr.check(run) is not None


def test_no_scheduler_object_peaking_at_base_squared_by_design_is_quiet():
    """SGD(lr=0.1) as a placeholder, the lrs written by hand peak at 0.01 = 0.1**2: a ratio of 0.1, not 50x below."""
    run = drive(run_of([0.1]), lambda s: warmup_cosine(0.01, s - 1), 96)
    assert absolute_lr.check(run) is None


@pytest.mark.parametrize("family", ["builtin", "plateau"])
def test_builtin_schedules_reaching_base_squared_are_quiet(family):
    """MultiStepLR: 0.01 -> 1e-4 (= base_lr**2) after two 10x cuts; ReduceLROnPlateau cutting 10x three times."""
    run = run_of([0.01], Schedule("MultiStepLR", family))
    drive(run, lambda s: 0.01 * 0.1 ** min((s - 1) // 50, 2 if family == "builtin" else 3), 300)
    assert absolute_lr.check(run) is None


def test_lr_range_test_written_by_hand_is_quiet():
    run = run_of([1e-6])
    drive(run, lambda s: 1e-6 * (1e6 ** ((s - 1) / 149)), 150)
    assert absolute_lr.check(run) is None
    run = run_of([1e-3])  # built with the lr it will train at, swept from 1e-7 to 1
    drive(run, lambda s: 1e-7 * (1e7 ** ((s - 1) / 149)), 150)
    assert absolute_lr.check(run) is None


# -- lr-collapse --------------------------------------------------------------------------------------------------
def test_steplr_stepped_per_batch_collapses_and_says_so():
    run = run_of([0.05], Schedule("StepLR", "builtin"))
    drive(run, lambda s: 0.05 * 0.1 ** ((s - 1) // 10), 128, scheduler_steps_of=lambda s: s)
    found = collapse.check(run)
    assert found.id == "lr-collapse" and found.category == "schedule-bug"
    assert "looks stepped every batch" in found.fix and "orders of magnitude below the base lr 0.05" in found.message


def test_exponential_per_batch_collapses_once_starved_for_a_quarter_of_the_run():
    run = run_of([1e-3], Schedule("ExponentialLR", "builtin"))
    drive(run, lambda s: 1e-3 * 0.9 ** (s - 1), 80, scheduler_steps_of=lambda s: s)  # 1000x below after 66 steps
    assert collapse.check(run) is None
    drive(run, lambda s: 1e-3 * 0.9 ** (s - 1), 96, start=81, scheduler_steps_of=lambda s: s)
    assert collapse.check(run) is not None


def test_compounding_by_hand_collapses_with_a_generic_fix():
    run = drive(run_of([0.1]), lambda s: 0.1 * 0.9 ** (s - 1), 150)
    found = collapse.check(run)
    assert found is not None and "do not compound" in found.fix


def test_collapse_without_any_loss_seen():
    run = drive(run_of([0.1]), lambda s: 0.1 * 0.5 ** (s - 1), 60, loss=None)
    assert collapse.check(run) is None  # nothing trained (a scheduler stepped in a unit test): nothing stalls
    grads(run, 0.5, 0.4, (16, 32, 48))  # gradients seen, the loss not (backward on a non-scalar)
    assert collapse.check(run) is not None


def test_collapse_waits_while_the_loss_still_improves_at_the_low_lr():
    run = drive(run_of([0.1]), lambda s: 0.1 * 0.5 ** min(s - 1, 12), 100, loss=falling_loss)
    assert collapse.check(run) is None


def test_collapse_judges_the_loss_since_the_fall_not_before():
    """The loss fell fast while the lr was healthy (first 30 steps), then went flat once it collapsed."""
    run = drive(run_of([0.05]), lambda s: 0.05 * 0.1 ** ((s - 1) // 10), 160,
                loss=lambda s: 2.3 * 0.9 ** min(s, 30) + 0.01 * math.sin(s))
    assert collapse.check(run) is not None


def onecycle(step: int, total: int = 300, base: float = 0.002, peak: float = 0.05) -> float:
    up = int(0.3 * total)
    if step <= up:
        return base + (peak - base) * (1 - math.cos(math.pi * step / up)) / 2
    end = base / 1e4
    t = (step - up) / (total - up)
    return end + (peak - end) * (1 + math.cos(math.pi * t)) / 2


@pytest.mark.parametrize("base, lrs, family", [
    (0.1, lambda s: 0.05 * (1 + math.cos(math.pi * (s - 1) / 299)), "builtin"),  # cosine to exactly 0
    (3e-3, lambda s: 3e-3 * (1 - (s - 1) / 299), "lambda"),  # linear to exactly 0, per batch
    (0.002, onecycle, "builtin"),  # OneCycleLR: ends 1e4x below its initial lr
    (0.01, lambda s: 0.01 * 0.1 ** (((s - 1) // 50 >= 2) + ((s - 1) // 50 >= 4)), "builtin"),  # MultiStepLR, 2 cuts
    (0.1, lambda s: 0.1 * 0.1 ** sum((s - 1) // 10 >= m for m in (30, 60, 80)), "builtin"),  # ImageNet 30/60/80/90
    (1e-3, lambda s: 1e-3 * 0.1 ** ((s - 1) // 32), "plateau"),  # ReduceLROnPlateau, 10x cut every epoch
    (1e-3, lambda s: 1e-3 * hf_linear(s - 1), "lambda"),  # HF warmup from 0 then decay to 0
    (1e-6, lambda s: 1e-6 * 1e6 ** ((s - 1) / 299), "builtin"),  # lr-range test
    (1.0, lambda s: 0.05 * (10 - (s - 1) // 30) / 10, "lambda"),  # lr=1.0 idiom, decays to 0.005
    (1e-3, lambda s: 1e-3 * max(0.0, 1 - (s - 1) / 299) ** 2, "lambda"),  # polynomial decay to 0
], ids=["cosine-0", "linear-0", "onecycle", "multistep", "imagenet", "plateau", "hf", "range-test", "lr-1.0",
        "poly"])
def test_legit_decays_are_quiet(base, lrs, family):
    run = run_of([base], Schedule("X", family))
    steps = 900 if lrs.__code__.co_consts and 80 in lrs.__code__.co_consts else 300
    for stop in range(20, steps + 1, 20):  # judged all along, as the checkpoints do
        drive(run, lrs, stop, start=stop - 19)
        assert collapse.check(run) is None, stop


def test_an_lr_that_came_back_up_is_not_collapsed_now():
    """Warm restarts: starved at the end of each long cycle's trough, then back up; judged at 1/100 of the peak."""
    run = run_of([0.1], Schedule("CosineAnnealingWarmRestarts", "builtin"))
    drive(run, lambda s: 0.1 if s <= 40 else (1e-5 if s <= 120 else 1e-3), 160)
    assert run.groups[0].steps_below(3, 160) >= 0.25 * 160
    assert collapse.check(run) is None


def test_a_resumed_steplr_is_judged_from_where_it_resumed():
    """Resumed at epoch 6 of StepLR(step_size=3, gamma=0.1) from 0.05: 5e-4 at first, 5e-5 after one more cut."""
    run = run_of([0.05], Schedule("StepLR", "builtin", last_epoch=5))
    drive(run, lambda s: 5e-4 * 0.1 ** ((s - 1) // 96), 288)
    assert collapse.check(run) is None and absolute_lr.check(run) is None


@pytest.mark.parametrize("base, loss", [(1e-3, falling_loss), (0.01, flat_loss), (1.0, flat_loss)],
                         ids=["adam", "sgd-random-labels", "adadelta"])
def test_plain_optimizers_without_scheduler_are_quiet(base, loss):
    run = drive(run_of([base]), lambda s: base, 300, loss=loss)
    grads(run, 0.5, 0.4, range(16, 300, 16), 2e-3, 1e-3)
    assert all(d.check(run) is None for d in (absolute_lr, collapse, invalid, vanishing))


def test_warmup_from_zero_is_not_a_fall():
    track = LRTrack(base=1e-3)
    for step in range(1, 30):
        track.update(1e-3 * (step - 1) / 1000, step)
    assert track.steps_below(3, 29) == 0


def test_collapse_is_silent_after_another_schedule_bug_and_early():
    run = drive(run_of([0.1]), lambda s: 0.1 * 0.5 ** (s - 1), 15)
    assert collapse.check(run) is None  # fewer than MIN_STEPS
    drive(run, lambda s: 0.1 * 0.5 ** (s - 1), 60, start=16)
    assert collapse.check(run) is not None
    run.findings.append(lrguard.Finding("invalid-lr", "schedule-bug", "error", "torch", "", ""))
    assert collapse.check(run) is None


def test_collapse_ignores_invalid_lrs():
    run = drive(run_of([0.1]), lambda s: math.nan if s > 10 else 0.1, 60)
    assert collapse.check(run) is None
    assert collapse.check(drive(run_of([0.0]), lambda s: 0.0, 60)) is None


# -- invalid-lr ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, word", [(math.nan, "NaN"), (math.inf, "infinite"), (-0.0025, "negative (-0.0025)")])
def test_invalid_lrs(bad, word):
    run = drive(run_of([0.01], lambda_lr(lambda e: 1 - e / 4)), lambda s: 0.01 if s < 10 else bad, 12)
    found = invalid.check(run)
    assert found.id == "invalid-lr" and word in found.message


def test_a_non_number_lr():
    run = drive(run_of([0.01]), lambda s: [None], 1)
    assert "not a number" in invalid.check(run).message


def test_optimizer_lr_zero_under_a_lambda():
    run = drive(run_of([0.0], lambda_lr(lambda e: 1e-3)), lambda s: 0.0, 3)
    assert "built with lr=0" in invalid.check(run).message


@pytest.mark.parametrize("lrs", [lambda s: 0.0 if s == 1 else 1e-3, lambda s: 1e-3 * (1 - s / 10)])
def test_zero_lr_is_valid(lrs):
    """A warmup from 0, a linear decay to exactly 0."""
    assert invalid.check(drive(run_of([1e-3], lambda_lr(hf_linear)), lrs, 10)) is None


def test_a_group_never_stepped_is_not_invalid():
    run = run_of([1e-3, 1e-3])
    run.step = 1
    run.observe_lrs([1e-3])
    assert invalid.check(run) is None


# -- vanishing-gradients ------------------------------------------------------------------------------------------
def vanishing_run(ratio=1e-8, first=1e-9, first_update=None, last_update=None, lrs=lambda s: 0.1, loss=flat_loss,
                  steps=64, *schedules) -> TrainingRun:
    run = drive(run_of([0.1], *schedules), lrs, steps, loss=loss)
    return grads(run, ratio, first, (16, 32, 48, 64), first_update, last_update)


def test_deep_sigmoid_net_is_vanishing():
    found = vanishing.check(vanishing_run())
    assert found.id == "vanishing-gradients" and found.category == "vanishing-gradients"
    assert "not a schedule problem" in found.message and "ReLU" in found.fix


def test_vanishing_by_a_frozen_first_layer_when_the_loss_scale_hides_the_norm():
    """AUTOTRAINER's ratio, a first-layer norm above its 1e-4 (a large loss scale), the first layer frozen."""
    assert vanishing.check(vanishing_run(ratio=5e-4, first=3e-3, first_update=1e-10, last_update=1e-5)) is not None


@pytest.mark.parametrize("ratio, first, first_update, last_update", [
    (0.5, 0.4, 3e-3, 1e-3),  # a healthy MLP
    (0.05, 0.06, 1e-6, 1e-5),  # a small CNN at a tiny lr
    (2e-3, 1.3e-3, 1e-8, 5e-5),  # a 4-layer sigmoid MLP: weak, not vanishing
    (5e-4, 2.7e-4, 2e-3, 1e-3),  # a 5-layer sigmoid under Adam: the first layer still learns
    (5e-4, 3e-3, 1e-4, 1e-3),  # a large loss scale, the first layer learning at a tenth of the last's pace
    (math.nan, math.nan, None, None),  # a diverged run
    (1e-8, math.inf, None, None),
], ids=["healthy", "cnn", "sigmoid-4", "adam-rescues", "slow-first-layer", "nan", "inf"])
def test_not_vanishing(ratio, first, first_update, last_update):
    assert vanishing.check(vanishing_run(ratio, first, first_update, last_update)) is None


def test_vanishing_needs_three_samples_in_a_row():
    run = vanishing_run()
    run.observe_grads(GradSample(80, 0.5, 0.9, 5.0, 1.5))
    assert vanishing.check(run) is None
    grads(run, 1e-8, 1e-9, (96, 112))
    assert vanishing.check(run) is None
    grads(run, 1e-8, 1e-9, (128,))
    assert vanishing.check(run) is not None


def test_zero_last_gradient_is_not_vanishing():
    run = vanishing_run()
    grads(run, 0.0, 0.0, (80, 96, 112))  # dead ReLUs everywhere: ratio inf
    assert vanishing.check(run) is None


def test_vanishing_needs_a_flat_loss():
    assert vanishing.check(vanishing_run(loss=falling_loss)) is None
    assert vanishing.check(vanishing_run(loss=None)) is None


@pytest.mark.parametrize("lrs", [lambda s: 0.1 if s < 5 else 1e-4, lambda s: 0.0, lambda s: 0.1 * 0.5 ** s])
def test_vanishing_needs_a_healthy_lr(lrs):
    assert vanishing.check(vanishing_run(lrs=lrs)) is None


def test_vanishing_lr_is_healthy_against_the_peak_of_the_lr_1_idiom():
    run = drive(run_of([1.0], lambda_lr(lambda e: 1e-3)), lambda s: 1e-3, 64)
    assert vanishing.check(grads(run, 1e-8, 1e-9, (16, 32, 48))) is not None


def test_a_schedule_bug_silences_vanishing_gradients(log):
    """The seed bug on a net whose gradients vanish too: one finding, the schedule's, whatever the order."""
    run = drive(run_of([1e-3], lambda_lr(SEED)), per_epoch(SEED, 1e-3, 32), 64)
    grads(run, 1e-8, 1e-9, (16, 32, 48, 64))
    assert vanishing.check(run) is not None  # alone it would say so
    found = run.check()
    assert [f.id for f in found] == ["lambda-absolute-lr"]
    assert vanishing.check(run) is None and run.check() == []
    assert [type(w.message).__name__ for w in log] == ["ScheduleBugWarning"]


def test_vanishing_gradients_with_a_correct_lambdalr_is_no_schedule_bug(log):
    run = vanishing_run(1e-8, 1e-9, None, None, per_epoch(lambda e: 0.95 ** e, 0.1, 16), flat_loss, 64,
                        lambda_lr(lambda e: 0.95 ** e))
    assert [f.id for f in run.check()] == ["vanishing-gradients"]
    assert [type(w.message).__name__ for w in log] == ["VanishingGradientWarning"]


def test_a_collapsed_lr_is_never_vanishing(log):
    run = run_of([0.05], Schedule("StepLR", "builtin"))
    drive(run, lambda s: 0.05 * 0.1 ** ((s - 1) // 10), 128, scheduler_steps_of=lambda s: s)
    grads(run, 1e-8, 1e-9, (64, 80, 96, 112, 128))  # even where the gradients look like it
    assert [f.id for f in run.check()] == ["lr-collapse"]


# -- series -------------------------------------------------------------------------------------------------------
def test_lrtrack_mean_and_integral():
    track = LRTrack(base=0.1)
    track.update(0.1, 1)
    assert track.mean_lr(10) == pytest.approx(0.1) and track.integral == 0.0
    track.update(0.01, 6)  # steps 1-5 at 0.1, 6-10 at 0.01
    assert track.integral == pytest.approx(0.5)
    assert track.mean_lr(10) == pytest.approx((5 * 0.1 + 5 * 0.01) / 10)
    assert (track.first, track.peak, track.low, track.changes, track.changes_after_peak) == (0.1, 0.1, 0.01, 1, 1)


def test_lrtrack_first_update_at_step_zero():
    """Keras reports the first lr at step 0: the next update is a change, not a second 'first'."""
    track = LRTrack(base=1e-3)
    track.update(1e-3, 0)
    track.update(5e-4, 4)
    assert track.first == 1e-3 and track.changes == 1 and track.integral == pytest.approx(4e-3)


def test_lrtrack_peak_resets_changes_after_peak():
    track = LRTrack(base=1.0)
    for step, lr in enumerate([0.1, 0.5, 1.0, 0.5, 0.2], start=1):
        track.update(lr, step)
    assert track.peak == 1.0 and track.changes == 4 and track.changes_after_peak == 2


def test_lrtrack_steps_below_counts_falls_from_the_peak():
    track = LRTrack(base=0.1)
    track.update(0.1, 1)
    track.update(1e-4, 11)  # exactly 3 decades below from step 11
    assert track.depth() == 3
    assert track.steps_below(3, 20) == 10 and track.observed_steps(20) == 20
    track.update(0.0, 21)
    assert track.depth() == track.depth_steps.__len__() - 1  # 0: the deepest bucket
    assert track.steps_below(3, 30) == 20 and track.steps_below(4, 30) == 10
    track.update(math.nan, 31)
    assert track.depth() == 0 and track.steps_below(3, 40) == 20


def test_lrtrack_unobserved():
    track = LRTrack(base=0.1)
    assert track.observed_steps(10) == 0 and track.steps_below(0, 10) == 0 and track.depth() == 0


def test_losswindow_head_recent_and_halves():
    window = LossWindow()
    window.extend([math.nan, math.inf] + [float(i) for i in range(100)], step=100)
    assert window.count == 100 and window.head == [float(i) for i in range(16)] and len(window.recent) == 64
    assert window.initial() == pytest.approx(7.5)
    older, newer = window.halves()
    assert older == pytest.approx(sum(range(36, 68)) / 32) and newer == pytest.approx(sum(range(68, 100)) / 32)


def test_losswindow_stalled():
    window = LossWindow()
    window.extend([2.0] * 15)
    assert window.halves() is None and window.stalled() is None
    window.extend([2.0])
    assert window.stalled() is True
    falling = LossWindow()
    falling.extend([2.0 * 0.95 ** i for i in range(32)])
    assert falling.stalled() is False and falling.stalled(tolerance=0.9) is True


def test_losswindow_spreads_values_read_together_over_their_steps():
    window = LossWindow()
    window.extend([1.0] * 4, step=4)
    window.extend([2.0] * 4, step=20)
    window.extend([3.0], step=21)
    assert list(window.steps) == [1, 2, 3, 4, 8, 12, 16, 20, 21]
    assert LossWindow(steps=[5]).steps.maxlen == 64


def test_losswindow_since_keeps_only_later_values():
    window = LossWindow()
    window.extend([3.0 - 0.1 * i for i in range(16)], step=16)  # improving before step 17
    window.extend([1.4] * 16, step=32)
    window.extend([1.4] * 16, step=48)
    assert window.stalled() is False
    assert window.stalled(since=17) is True
    assert window.halves(since=49) is None


def test_grad_ratio():
    assert GradSample(1, 1e-6, 1e-2, 1.0, 1.0).grad_ratio == pytest.approx(1e-4)
    assert GradSample(1, 1e-6, 0.0, 1.0, 1.0).grad_ratio == math.inf
