"""PyTorch's ReduceLROnPlateau: each ``step(metrics)`` becomes an evaluation of the scheduler's ``PlateauTrace``.

The wrapper reads the param groups' lrs before and after the original ``step`` (a cut: a group's lr went down), the
value it was given (``float(metrics)``, which the scheduler computed itself), its settings, and the training loss
lrguard has seen by then; at the first step, the name of what it watches (``plateau_source``). It runs once per
evaluation (an epoch, usually), never per optimizer step, and then lets the detectors judge.
"""
from __future__ import annotations

import sys
import weakref
from typing import List, Optional

from torch.optim import lr_scheduler

from ..detection.plateau import PlateauTrace
from ..detection.training import Schedule
from ..findings import LRGuardWarning, surfaced
from .failopen import STATE, internal_error
from .patches import Patches, argument, from_callers_line, hide_inner_wrappers
from .plateau_source import watched_name
from . import torch as adapter, torch_schedules

TRAIN_LOSSES = 8  # the training loss at an evaluation: the mean of the latest losses lrguard read
_traced: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # scheduler -> the Schedule its trace is on


def lrguard_observes_plateau_step(wrapped, instance, args, kwargs):
    """``ReduceLROnPlateau.step(metrics)``: the value, and whether the lr was cut."""
    before = _lrs(instance) if not STATE.stopped else None
    if before is not None:
        _look(instance)  # the other schedulers' calls before this one
    try:
        result = from_callers_line()(wrapped, args, kwargs)  # torch's epoch warning names your line, as without
    except BaseException as exc:
        hide_inner_wrappers(exc)
        raise
    if before is not None and not STATE.stopped:
        try:
            _stepped(instance, argument(args, kwargs, 0, "metrics"), before, sys._getframe(1))
        except LRGuardWarning as error:
            raise surfaced(error)  # a finding your warning filter (-W error) made an exception: see its note
        except Exception as exc:
            internal_error("the ReduceLROnPlateau hook", exc)
    return result


def _look(sched) -> None:
    try:
        opt = adapter._unwrap(getattr(sched, "optimizer", None))
        watch = adapter._watches.get(opt) if adapter._hashable(opt) else None
        if watch is not None and watch.steppers:
            torch_schedules.look(watch)
    except Exception as exc:
        internal_error("the ReduceLROnPlateau hook", exc)


def _lrs(sched) -> Optional[List[Optional[float]]]:
    try:
        return [adapter._number(group["lr"]) for group in sched.optimizer.param_groups]
    except Exception as exc:
        internal_error("the ReduceLROnPlateau hook", exc)
        return None


def _stepped(sched, metrics, before: List[Optional[float]], frame) -> None:
    opt = adapter._unwrap(getattr(sched, "optimizer", None))
    if not isinstance(opt, adapter.Optimizer) or not adapter._hashable(opt) or not adapter._hashable(sched):
        return
    value = adapter._number(metrics)
    if value is None:
        return
    watch = adapter._watch(opt)
    run = watch.run
    schedule = _schedule_of(sched, run)
    trace = schedule.plateau
    if trace is None:
        trace = schedule.plateau = PlateauTrace(
            mode=str(getattr(sched, "mode", "min")), patience=int(getattr(sched, "patience", 0)),
            cooldown=int(getattr(sched, "cooldown", 0)), name=watched_name(frame), first_lr=before[0])
    after = _lrs(sched) or []
    cut = any(a is not None and b is not None and a < b for a, b in zip(after, before))
    if cut:
        torch_schedules.plateau_cut(watch, after)
    watch.checkpoint(opt)  # reads the losses sampled since the last checkpoint (and judges what it has)
    losses = list(run.losses.recent)[-TRAIN_LOSSES:]
    trace.add(value, cut, sum(losses) / len(losses) if losses else None, after[0] if after else None)
    run.check()


def _schedule_of(sched, run) -> Schedule:
    """The ``Schedule`` lrguard made when ``sched`` was built (a new one if it was not watched then), on the run."""
    schedule = _traced.get(sched) or adapter._schedule_of.get(sched)
    if schedule is None:
        schedule = Schedule(type(sched).__name__, "plateau", getattr(sched, "last_epoch", 0))
    if not any(s is schedule for s in run.schedules):
        run.add_schedule(schedule)
    _traced[sched] = schedule
    return schedule


def patch(patches: Patches) -> None:
    patches.wrap(lr_scheduler.ReduceLROnPlateau, "step", lrguard_observes_plateau_step)
