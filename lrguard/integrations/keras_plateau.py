"""Keras' ReduceLROnPlateau callback: each ``on_epoch_end(epoch, logs)`` becomes an evaluation of its
``PlateauTrace``: the monitored value from the logs, whether the optimizer's lr went down, the epoch's training loss
(``logs["loss"]``), the direction Keras resolved (``monitor_op``, set lazily by the callback itself in Keras 3)
and the mode the user gave. Keras 3 and tf_keras alike; nothing here imports a framework.
"""
from __future__ import annotations

import math

from ..detection.plateau import PlateauTrace
from .failopen import STATE
from .keras_common import _attach, _get, _schedule_of, _sites, guarded, watch_of
from .patches import argument, from_callers_line, hide_inner_wrappers


def observer(ops, where: str):
    """The wrapper of ``ReduceLROnPlateau.on_epoch_end`` for the backend ``ops`` reads through."""
    def lrguard_observes_plateau_callback(wrapped, instance, args, kwargs):
        before = guarded(where, _before, instance, ops) if not STATE.stopped else None
        try:
            result = from_callers_line()(wrapped, args, kwargs)  # Keras' missing-metric warning names its caller
        except BaseException as exc:
            hide_inner_wrappers(exc)
            raise
        if before is not None and not STATE.stopped:
            guarded(where, _after, instance, ops, before, argument(args, kwargs, 1, "logs"))
        return result
    return lrguard_observes_plateau_callback


def _before(callback, ops):
    opt = getattr(getattr(callback, "model", None), "optimizer", None)
    return (opt, ops.read_lrs(opt)) if opt is not None else None


def _after(callback, ops, before, logs) -> None:
    opt, lrs = before
    monitor = getattr(callback, "monitor", None)
    if not isinstance(logs, dict) or not isinstance(monitor, str):
        return
    value = ops.value(logs.get(monitor)) if logs.get(monitor) is not None else None
    direction = _direction(callback)
    if value is None or not math.isfinite(value) or direction is None:
        return
    watch = watch_of(ops.inner(opt), ops)
    if watch is None:
        return
    schedule = _schedule_of(callback, type(callback).__name__, "plateau", _get(_sites, callback))
    _attach(watch.run, schedule)
    trace = schedule.plateau
    if trace is None:
        mode = getattr(callback, "mode", None)
        trace = schedule.plateau = PlateauTrace(
            mode=direction, patience=int(getattr(callback, "patience", 0) or 0),
            cooldown=int(getattr(callback, "cooldown", 0) or 0), mode_given=mode if isinstance(mode, str) else None,
            name=monitor, first_lr=lrs[0] if lrs else None)
    after = ops.read_lrs(opt)
    cut = any(a is not None and b is not None and a < b for a, b in zip(after, lrs))
    loss = ops.value(logs["loss"]) if logs.get("loss") is not None else None
    trace.add(value, cut, loss if loss is not None and math.isfinite(loss) else None, after[0] if after else None)


def _direction(callback):
    """'min' or 'max': how the callback compares values (Keras' 'auto' resolved), None when unknown."""
    compare = getattr(callback, "monitor_op", None)
    if compare is None:
        return None
    try:
        return "min" if bool(compare(0.0, 1e9)) else "max"
    except Exception:
        return None
