"""``lambda-absolute-lr``: a PyTorch schedule function returns learning rates where a multiplier is expected.

LambdaLR sets ``lr = base_lr * lr_lambda(epoch)``. A Keras-style lambda that returns the lr itself makes the real
lr ``base_lr * lr`` (1e-3 -> 1e-6). A custom ``LRScheduler`` whose ``get_lr`` returns ``base_lr * f(step)`` with
an absolute ``f`` does the same. MultiplicativeLR multiplies the lr by its factor at every scheduler step, so a
factor that is a learning rate shrinks the lr ~1000x per step.

The evidence is the schedule itself, read ahead by the adapter (``Schedule.probes``: the multipliers at a few
epochs from 0 on), so the verdict comes at the first optimizer step. Why these thresholds:

- a multiplier schedule reaches ~1 somewhere (a decay starts there, a warmup ends there); one whose values never
  exceed ``LR_LIKE`` = 0.1 is learning-rate sized (Adam's lrs are 1e-5..3e-3, SGD's 1e-3..0.1);
- that alone is not proof (a 0.1/0.05 multiplier is conceivable), so it also needs an *echo*: its peak or its
  value at epoch 0 equals one of the optimizer's own lrs (within 5%: the user wrote the same lr twice), or a peak
  <= ``ECHO_NEEDED_ABOVE`` = 0.02 (a multiplier that keeps the lr 50x below what the optimizer was given, for the
  whole run, is an lr);
- a peak that echoes the optimizer's lr is enough above ``LR_LIKE`` too (SGD(lr=0.2) with a lambda peaking at 0.2):
  a multiplier schedule whose highest value happens to equal the lr it multiplies is not a plan;
- an optimizer lr >= ``IDIOM_BASE`` = 0.5 is the 'lr=1.0, so the lambda is the absolute lr' idiom (and Adadelta's
  default 1.0); param-group lrs such as 0.1/1.0 are relative factors of that idiom: never a finding;
- a schedule still rising at its last probe is a warmup whose end is unseen: undecided. A warmup *factor* of 0.001
  (== a 1e-3 base lr) rises to 1, so it is not LR-like; only the whole schedule decides;
- a scheduler inside a ``SequentialLR`` drives the lr only until the next milestone (``Schedule.span``): that phase
  is judged on its own epochs, however healthy the schedulers after it. Its end is known, so a warmup still rising
  there is decided; it needs an echo (at its peak, at epoch 0, or at epoch ``span`` where ``lr * s / span`` ends),
  since a low constant multiplier for one phase may be meant;
- the real lr now must be that small too (<= base x max(0.1, the schedule's peak)): the finding is about the lr
  the run trains with.

For MultiplicativeLR the factors (epochs >= 1) must all stay <= 0.02, or echo an optimizer lr: a per-step factor
that small is never a decay anybody means (a one-off cut, 0.1 at one epoch and 1.0 elsewhere, peaks at 1).

Without probes (a callable object, a function with side effects, a ``get_lr`` that cannot run ahead), the real
lr/base ratios decide once the schedule has moved past its peak. With no scheduler object at all (code writing
``param_groups[i]["lr"]`` itself, as timm's schedulers do) the lrs are absolute by nature, so the echo must come
with a peak ratio <= ``ECHO_NEEDED_ABOVE`` as well: an lr-range test sweeps far above the optimizer's lr.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

from . import Diagnosis, fmt

ID = "lambda-absolute-lr"

LR_LIKE = 0.1  # a multiplier whose peak stays at or below this looks like a learning rate
ECHO_NEEDED_ABOVE = 0.02  # above this, only an echo of the optimizer's own lr is evidence enough
IDIOM_BASE = 0.5  # a base lr of ~1 is the 'lr=1.0, the lambda is the lr' idiom (and Adadelta's default)
ECHO = 0.05  # relative tolerance of an echo

_READ_AHEAD = ("lambda", "custom")  # families whose probes are multipliers of base_lr


def _close(a: float, b: float, rel: float = ECHO) -> bool:
    return b > 0 and abs(a - b) <= rel * b


def _valid_prefix(values: Sequence[float]) -> List[float]:
    """The values before the first negative or non-finite one (those are the ``invalid-lr`` detector's business,
    when they happen: a schedule written for N epochs often goes negative after them)."""
    out = []
    for value in values:
        if not (math.isfinite(value) and value >= 0):
            break
        out.append(value)
    return out


def looks_absolute(values: Sequence[float], bases: Sequence[float]) -> Optional[bool]:
    """Do these multipliers (from epoch 0 on) look like learning rates? None while undecided."""
    values = _valid_prefix(values)
    if not values:
        return False
    positive_bases = [b for b in bases if b > 0]
    if not positive_bases or max(bases) >= IDIOM_BASE:
        return False
    peak = max(values)
    peak_echo = any(_close(peak, b) for b in positive_bases)
    if peak <= 0 or (peak > LR_LIKE and not peak_echo):
        return False
    if values.index(peak) == len(values) - 1 and (len(values) == 1 or values[-2] < peak):
        return None  # still rising: a warmup whose end is not seen yet
    echo = peak_echo or any(_close(values[0], b) for b in positive_bases)
    return echo or peak <= ECHO_NEEDED_ABOVE


def phase_absolute(values: Sequence[float], after: Optional[float], bases: Sequence[float]) -> bool:
    """Do the multipliers of one SequentialLR phase (its epochs 0..span-1) look like learning rates? ``after``: the
    function's value at epoch span, where a ramp written as ``s / span`` ends. The next scheduler takes over at the
    phase's end, so a warmup still rising there is decided; a low constant multiplier for one phase may be meant,
    so the phase also needs an echo of an optimizer's lr (at its peak, at epoch 0 or where its ramp ends)."""
    values = _valid_prefix(values)
    positive_bases = [b for b in bases if b > 0]
    if not values or not positive_bases or max(bases) >= IDIOM_BASE:
        return False
    peak = max(values)
    peak_echo = any(_close(peak, b) for b in positive_bases)
    if peak <= 0 or (peak > LR_LIKE and not peak_echo):
        return False
    return any(_close(v, b) for v in (peak, values[0], after) if v is not None for b in positive_bases)


def _in_phase(schedule, values: List[float]) -> Tuple[List[float], Optional[float]]:
    """(the probes of the epochs the schedule drives the lr, its value at the first epoch after them or None)."""
    if schedule.span is None:
        return values, None
    epochs = schedule.probe_epochs
    inside = [v for e, v in zip(epochs, values) if e < schedule.span]
    n = len(inside)
    after = values[n] if n < min(len(values), len(epochs)) and epochs[n] == schedule.span else None
    return inside, after


def factors_absolute(values: Sequence[float], bases: Sequence[float]) -> bool:
    """Do these MultiplicativeLR factors (from epoch 0 on; epoch 0's is never applied) look like learning rates?"""
    values = _valid_prefix(values)
    factors = values[1:]
    if not factors or not 0 < max(factors):
        return False
    peak = max(factors)
    echo = any(_close(v, b) for v in (values[0], peak) for b in bases if b > 0)
    return peak <= ECHO_NEEDED_ABOVE or (echo and peak <= LR_LIKE)


def check(run) -> Optional[Diagnosis]:
    bases = [t.base for t in run.groups]
    if not run.step or not bases:
        return None
    unread = False  # a LambdaLR / custom scheduler whose multipliers could not be read ahead
    for schedule in run.schedules:
        if schedule.family in _READ_AHEAD:
            if not schedule.probes:
                unread = True
            for group, values in enumerate(schedule.probes[: len(bases)]):
                values, after = _in_phase(schedule, values)
                if schedule.span is None:
                    verdict = looks_absolute(values, bases)
                else:  # judged on its own phase, however healthy the schedulers after it
                    verdict = phase_absolute(values, after, bases)
                unread = unread or verdict is None
                track = run.groups[group]
                if verdict and track.lr <= track.base * max(LR_LIKE, *_valid_prefix(values)) * 1.01:
                    return _lambda_diagnosis(schedule, group, values, track, run)
        elif schedule.family == "multiplicative":
            for group, values in enumerate(schedule.probes[: len(bases)]):
                values, _ = _in_phase(schedule, values)
                if factors_absolute(values, bases):
                    return _multiplicative_diagnosis(schedule, group, values, run)
    if unread:
        return _from_stream(run)
    if not run.schedules:
        # No scheduler lrguard knows, yet the lr moves: code writes param_groups[i]["lr"] itself (a timm-style
        # scheduler object computing base_lr * f(t)). Such lrs are absolute by nature, so an echo alone is no
        # proof: the lr must also have stayed >= 50x below the optimizer's lr all along (an lr-range test sweeps far
        # above it; a hand-written peak lr of exactly base_lr**2 that low is the bug, not a plan).
        return _from_stream(run, strict=True)
    return None


def _lambda_diagnosis(schedule, group: int, values: List[float], track, run):

    values = _valid_prefix(values)
    base = track.base
    peak = max(values)
    epoch = schedule.probe_epochs[values.index(peak)] if schedule.probe_epochs else values.index(peak)
    custom = schedule.family == "custom"
    fn = "f" if custom else "lr_lambda"
    if _close(values[0], base):
        evidence = f"{fn}(0) = {fmt(values[0])} = the optimizer's lr"
    elif values[0] == 0:
        evidence = f"{fn} rises from 0 to {fmt(peak)} (at epoch {epoch}), an lr, not a multiplier"
    else:
        evidence = f"{fn} peaks at {fmt(peak)} (epoch {epoch}) while the optimizer's lr is {fmt(base)}"
    squared = " (base_lr**2)" if _close(peak, base) else ""
    example = ", ".join(fmt(v / base) for v in values[:3]) if base > 0 else ""
    groups = f" (param group {group})" if len(run.groups) > 1 else ""
    if custom:
        return Diagnosis(
            ID, "schedule-bug",
            f"{schedule.kind} returns base_lr * f(epoch) with f an absolute learning rate ({evidence}): the real"
            f" lr{groups} is {fmt(base * peak)}{squared}{_during(schedule)}.",
            f"Make f a multiplier (f(epoch) / {fmt(base)}: {example}, ...), or build the optimizer with lr=1.0.",
            group=group, schedule=schedule,
        )
    return Diagnosis(
        ID, "schedule-bug",
        f"{schedule.kind}'s lr_lambda returns absolute learning rates ({evidence}), but {schedule.kind} multiplies"
        f" them by base_lr: the real lr{groups} is {fmt(base * peak)}{squared}{_during(schedule)}.",
        f"Return a multiplier (lr_lambda(epoch) / {fmt(base)}: {example}, ...) or build the optimizer with lr=1.0.",
        group=group, schedule=schedule,
    )


def _during(schedule) -> str:
    """Where a SequentialLR phase trains at that lr: ' for the 30 scheduler steps SequentialLR gives it'."""
    if schedule.span is None or not schedule.within:
        return ""
    return f" for the {schedule.span} scheduler steps {schedule.within} gives it, before its next scheduler"


def _multiplicative_diagnosis(schedule, group: int, values: List[float], run):

    base, factor = run.groups[group].base, _valid_prefix(values)[1]
    return Diagnosis(
        ID, "schedule-bug",
        f"{schedule.kind}'s lr_lambda returns {fmt(factor)}, a learning rate, but {schedule.kind} multiplies the"
        f" current lr by it at every scheduler step: the lr falls from {fmt(base)} to {fmt(base * factor)} after"
        f" one step and {fmt(base * factor * factor)} after two.",
        "Return the per-step factor (e.g. 0.95), or use LambdaLR with a multiplier of the initial lr.",
        group=group, schedule=schedule,
    )


def _from_stream(run, strict: bool = False):
    """A schedule we could not read ahead: judge the real lr / base lr ratios the run has shown, once it moved
    past its peak (a warmup factor equal to the base lr is still rising until then). ``strict``: no scheduler at
    all, the peak ratio must also be <= ``ECHO_NEEDED_ABOVE``."""

    bases = [t.base for t in run.groups]
    for group, track in enumerate(run.groups):
        if track.base <= 0 or track.changes < 2 or track.changes_after_peak < 1:
            continue  # a schedule must have been seen to move, and to pass its peak
        ratios = [track.first / track.base, track.peak / track.base, track.lr / track.base]
        if strict and ratios[1] > ECHO_NEEDED_ABOVE:
            continue
        if looks_absolute(ratios, bases) and any(_close(r, b) for r in ratios[:2] for b in bases):
            kind = run.schedules[-1].kind if run.schedules else "The schedule"
            return Diagnosis(
                ID, "schedule-bug",
                f"{kind} sets lr/base_lr ratios that are learning rates themselves (the ratio peaks at"
                f" {fmt(ratios[1])}, the optimizer's own lr): the real lr is {fmt(track.lr)}, about base_lr**2.",
                "If the scheduler computes base_lr * f(step), make f return a multiplier (peak 1.0), not an lr.",
                group=group,
            )
    return None
