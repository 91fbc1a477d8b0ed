"""``schedule-not-applied``: the schedule does not drive the optimizer that trains.

The evidence is the scheduler's own steps (``Schedule.stepping``) against the optimizer's, read at scheduler events:

- re-created optimizer: the scheduler is stepped and moves its optimizer's lr, but that optimizer never takes a
  step, while another optimizer over the same parameters does (the loop steps the new one);
- overridden: the scheduler moves the lr, but before each optimizer step something else writes the lr (a
  ``param_group["lr"] = ...`` loop, another framework's config): for ``OVERRIDDEN`` or more consecutive scheduler
  steps, and at least half of all of them, the optimizer trained at lrs no scheduler had set, and not in a constant
  ratio to the scheduler's (per-layer factors applied on top of a schedule follow it). Decided at the end
  of the run only: a hand-written warmup that overrides the scheduler for its first steps, then hands over, is a
  known healthy pattern;
- cuts undone: ReduceLROnPlateau (PyTorch's, or Keras' callback) cut the lr and this scheduler set it back up at
  its next step, ``UNDONE`` times (a closed-form schedule such as LambdaLR, or a Keras ``schedule(epoch)`` that
  ignores the current lr, beside a plateau scheduler): the plateau's cuts never take effect;
- never stepped: a scheduler whose lr would change at its step ``first_change`` was not stepped once while at least
  that many whole epochs of the training loader went by (even stepped once per epoch it would have changed the
  lr), and no other scheduler of the optimizer was stepped meanwhile (an SWALR waits for its phase beside another).

Traps: ReduceLROnPlateau has no step at which its lr must change (never judged as never stepped); a constant
schedule (LambdaLR returning 1, ConstantLR past its ``total_iters``) moves nothing; the schedulers of a
SequentialLR wait for their milestone; frozen param groups (lr 0) and per-group schedules are one scheduler's own
lrs, which the optimizer follows.
"""
from __future__ import annotations

from typing import Optional

from . import Diagnosis, first_rule, fmt

ID = "schedule-not-applied"

OVERRIDDEN = 8  # consecutive scheduler steps overridden
UNDONE = 2  # plateau cuts undone
MIN_STEPS = 8  # optimizer steps before a never-stepped scheduler is judged


def check(run) -> Optional[Diagnosis]:
    return first_rule(run, (_replaced, _overridden, _undone, _never_stepped))


def _replaced(run, schedule) -> Optional[Diagnosis]:
    stepping = schedule.stepping
    if stepping.replaced is None or run.step or stepping.calls < 2 or not stepping.moved:
        return None
    name, steps, lr = stepping.replaced
    return Diagnosis(
        ID, "schedule-bug",
        f"{schedule.kind} has been stepped {stepping.calls} times, but the optimizer it was built on never took a"
        f" step: another {name} over the same parameters did ({steps} steps so far, at lr {fmt(lr)}), so the"
        " schedule moves an optimizer that does not train. The optimizer was re-created after the scheduler was"
        " built.",
        "Build the scheduler on the optimizer the loop steps (after the optimizer is created for the last time), or"
        " build a new scheduler whenever you re-create the optimizer.",
        schedule=schedule,
    )


def _overridden(run, schedule) -> Optional[Diagnosis]:
    stepping = schedule.stepping
    if not run.final or not stepping.moved or stepping.override is None:
        return None
    if stepping.overridden < OVERRIDDEN or 2 * stepping.overridden < stepping.calls or stepping.diverged < 2:
        return None  # (a constant ratio is the schedule with per-layer factors on top: it still drives the lr)
    trained, scheduled = stepping.override
    return Diagnosis(
        ID, "schedule-bug",
        f"{schedule.kind} was stepped {stepping.calls} times, but for its last {stepping.overridden} steps the"
        f" optimizer trained at lrs it had not set (lr {fmt(trained)} where the schedule had set {fmt(scheduled)}):"
        " something else writes the lr before the optimizer steps, and the schedule does not drive the training.",
        "Let one thing set the lr: remove the code that assigns param_group[\"lr\"] (or the other scheduler), or"
        " fold it into the scheduler.",
        schedule=schedule,
    )


def _undone(run, schedule) -> Optional[Diagnosis]:
    undone = schedule.stepping.undone
    plateau = next((s for s in run.schedules if s.family == "plateau"), None)
    if len(undone) < UNDONE or plateau is None:
        return None
    before, found, after = undone[-1]
    if schedule.family == "absolute":  # a Keras LearningRateScheduler
        fix = ("Write the schedule as schedule(epoch, lr) and return the lr it is given once its own changes are done"
               " (or drop one of the two callbacks).")
    else:
        fix = ("Drive the lr with one of them, or pair ReduceLROnPlateau with a scheduler that multiplies the current"
               " lr (StepLR, ExponentialLR) rather than one that sets it from the initial lr.")
    return Diagnosis(
        ID, "schedule-bug",
        f"{plateau.kind} cut the lr {len(undone)} times, and each time {schedule.kind} set it back at its next step"
        f" (lately {fmt(before)} -> cut to {fmt(found)} -> set back to {fmt(after)}): the plateau's cuts never take"
        " effect.",
        fix,
        schedule=schedule,
    )


def _never_stepped(run, schedule) -> Optional[Diagnosis]:
    stepping, shape = schedule.stepping, schedule.shape
    if stepping.calls or stepping.follows or stepping.contained or stepping.unseen or schedule.family == "plateau":
        return None
    if shape is None or shape.first_change is None or run.step - stepping.built_at < MIN_STEPS:
        return None
    if any(s.stepping is not None and s.stepping.calls for s in run.schedules if s is not schedule):
        return None  # another scheduler drives the lr meanwhile (SWALR waits for its phase beside the main one)
    first = max(shape.first_change - stepping.start, 1)
    epochs = _epochs_since(run, stepping.built_at)
    if epochs < first:
        return None
    track = run.groups[0] if run.groups else None
    lr = f" at its initial lr {fmt(track.lr)}" if track is not None else ""
    return Diagnosis(
        ID, "schedule-bug",
        f"{schedule.kind} was built but never stepped: {epochs} epoch{'s' if epochs > 1 else ''}"
        f" ({run.step - stepping.built_at} optimizer steps) trained{lr}, though it changes the lr at its step"
        f" {shape.first_change}.",
        "Call scheduler.step() after optimizer.step(): once per epoch, or once per batch if it was sized in batches.",
        schedule=schedule,
    )


def _epochs_since(run, step: int) -> int:
    """Whole epochs of the training loader that began at or after optimizer step ``step``."""
    clock = run.epochs.clock()
    if clock is None:
        return 0
    if clock.first_step >= step:
        return clock.epochs
    marks = [mark.step for mark in clock.marks if mark.step >= step]
    return sum(1 for a, b in zip(marks, marks[1:]) if b > a)
