"""Keras resumes: how each ``fit`` begins (a ``FitResume`` on the optimizer's run).

At ``on_train_begin``: the optimizer's ``iterations`` (what a step-based ``LearningRateSchedule`` reads; restored
with the optimizer by ``keras.models.load_model``, 0 on a new one), whether this process counted them, the steps
per epoch and the optimizer's lrs before any callback sets one. At the first ``on_epoch_begin``: the epoch the fit
starts at (``initial_epoch``), and the schedule object's lr at the optimizer's iterations and at
``initial_epoch * steps_per_epoch``. Nothing here imports a framework; the backend reads go through ``KerasOps``.
"""
from __future__ import annotations

from typing import Optional

from ..detection.resume import FitResume


def fit_began(watch, ops, opt, params) -> None:
    """``on_train_begin`` of a fit of ``opt`` (the optimizer that applies the updates)."""
    iterations = _iterations(opt, ops)
    if iterations is None:
        return
    steps = (params or {}).get("steps")
    run = watch.run
    run.fit_resume = FitResume(iterations=iterations, restored=iterations > run.step,
                               steps_per_epoch=steps if isinstance(steps, int) and steps > 0 else None,
                               lrs=ops.read_lrs(opt))


def epoch_began(watch, epoch) -> None:
    """``on_epoch_begin``: the first one of a fit tells where it starts."""
    fit = watch.run.fit_resume
    if fit is None or fit.initial_epoch is not None or type(epoch) is not int:
        return
    fit.initial_epoch = epoch
    opt = watch.opt()
    schedule = watch.ops.lr_schedule(opt) if opt is not None else None
    if schedule is None or not epoch:
        return
    fit.schedule = type(schedule).__name__
    fit.schedule_lr = _lr_at(schedule, fit.iterations, watch.ops)
    fit.schedule_lr_resumed = _lr_at(schedule, epoch * (fit.steps_per_epoch or 1), watch.ops)


def _iterations(opt, ops) -> Optional[int]:
    variable = getattr(opt, "_iterations", None)  # what the optimizer's schedule reads (not created here if absent)
    if variable is None:
        return 0
    value = ops.value(variable)
    return int(value) if value is not None else None


def _lr_at(schedule, step: int, ops) -> Optional[float]:
    """The schedule's lr at optimizer step ``step`` (a user's schedule that cannot say: None)."""
    try:
        return ops.value(schedule(step))
    except Exception:
        return None
