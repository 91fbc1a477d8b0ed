"""Keras (3 and tf_keras): a schedule object's length, the planned length of a ``fit``, and the plateau cuts a
``LearningRateScheduler`` undoes, for ``schedule-length`` and ``schedule-not-applied``.

A ``LearningRateSchedule`` object (``CosineDecay``, ``PolynomialDecay``, ``PiecewiseConstantDecay``, ...) is
evaluated at the optimizer's ``iterations``: it follows the optimizer's steps, so its length (``decay_steps``,
``warmup_steps``, the last boundary) is in optimizer steps. A ``fit`` plans ``epochs * steps`` steps: at each
epoch's start, the steps left are known. No framework is imported here: classes are recognised by name and module.
"""
from __future__ import annotations

import math
import weakref
from typing import Optional

from ..detection.stepping import CUTS, LOW, ZERO, Plan, Shape, Stepping

_set_last: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # LearningRateScheduler -> the lr it set last
_found: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # ... -> the lr before its latest call


def _number(value) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def shape_of(schedule) -> Optional[Shape]:
    """What a Keras schedule object's parameters say about its length (in optimizer steps); None: unknown."""
    cls = type(schedule)
    if not cls.__module__.startswith(("keras.", "tf_keras.")):
        return None
    name = cls.__name__
    initial = _number(getattr(schedule, "initial_learning_rate", None))
    if name in ("CosineDecay", "PolynomialDecay"):
        steps = _number(getattr(schedule, "decay_steps", None))
        if not steps or not initial or steps <= 0:
            return None
        steps = int(steps)
        if name == "CosineDecay":
            warmup = int(_number(getattr(schedule, "warmup_steps", 0)) or 0)
            target = _number(getattr(schedule, "warmup_target", None))
            ratio = _number(getattr(schedule, "alpha", 0.0)) or 0.0
            warmup = warmup if target is not None else 0
            return Shape(1, warmup + steps, f"decay_steps={steps}", ZERO if ratio <= 0.01 else LOW, warmup=warmup,
                         end_ratio=ratio)
        if getattr(schedule, "cycle", False):
            return Shape(1)  # restarts its decay: no end
        end = _number(getattr(schedule, "end_learning_rate", 0.0)) or 0.0
        ratio = end / initial
        return Shape(1, steps, f"decay_steps={steps}", ZERO if ratio <= 0.01 else (LOW if ratio < 1 else ""),
                     end_ratio=min(ratio, 1.0))
    if name == "PiecewiseConstantDecay":
        try:
            boundaries = [int(_number(b)) for b in schedule.boundaries]
            values = [_number(v) for v in schedule.values]
        except (TypeError, ValueError, AttributeError):
            return None
        if not boundaries or None in values or not max(values) > 0:
            return None
        ratio = values[-1] / max(values)
        return Shape(boundaries[0] + 1, boundaries[-1] + 1, f"boundaries={boundaries}", CUTS if ratio < 1 else "",
                     end_ratio=ratio)
    if name in ("ExponentialDecay", "InverseTimeDecay", "CosineDecayRestarts"):
        return Shape(1)  # no end
    return None


def fit_began(run, schedule, schedule_object, iterations: Optional[float]) -> None:
    """A fit begins with ``schedule_object`` (read as ``schedule``) as the optimizer's lr, at ``iterations``."""
    if schedule.shape is None:
        schedule.shape = shape_of(schedule_object)
    offset = int(iterations) - run.step if iterations is not None and iterations >= 0 else 0
    schedule.stepping = Stepping(built_at=-offset, follows=True, offset=offset)


def epoch_began(run, params, epoch) -> None:
    """The fit's plan: ``params["epochs"]`` epochs of ``params["steps"]`` steps; epoch ``epoch`` begins now."""
    params = params if isinstance(params, dict) else {}
    epochs, steps = params.get("epochs"), params.get("steps")
    if isinstance(epochs, int) and isinstance(steps, int) and steps > 0 and isinstance(epoch, int):
        run.plan = Plan(run.step + max(epochs - epoch, 0) * steps, steps)
    else:
        run.plan = None


def before_scheduled(callback, lr: Optional[float]) -> None:
    """A LearningRateScheduler is about to set this epoch's lr; the optimizer's lr is ``lr`` now."""
    try:
        if lr is not None:
            _found[callback] = lr
    except TypeError:
        pass  # an unhashable callback: not followed


def scheduled(callback, schedule, value: Optional[float]) -> None:
    """It set ``value``: if another writer (ReduceLROnPlateau) had cut the lr it set last time, did it undo the cut?"""
    if value is None:
        return
    try:
        before, found = _set_last.get(callback), _found.pop(callback, None)
        _set_last[callback] = value
    except TypeError:
        return
    if schedule.stepping is None:
        schedule.stepping = Stepping()
    if before is not None and found is not None:
        schedule.stepping.cut_undone(before, found, value)
