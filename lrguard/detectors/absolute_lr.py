"""``lambda-absolute-lr``: a PyTorch schedule function returns learning rates where a multiplier is expected.

LambdaLR sets ``lr = base_lr * lr_lambda(epoch)``. A Keras-style lambda that returns the lr itself makes the real
lr ``base_lr * lr`` (1e-3 -> 1e-6). The evidence is the schedule itself: its multipliers peak at a learning-rate-
sized value instead of reaching ~1. MultiplicativeLR multiplies the lr by its factor every step, so a factor that
is a learning rate shrinks the lr a thousandfold per step.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

from . import fmt

ID = "lambda-absolute-lr"

LR_LIKE = 0.1  # a multiplier whose peak stays at or below this looks like a learning rate
ECHO_NEEDED_ABOVE = 0.02  # above this, only an echo of the optimizer's own lr is evidence enough
IDIOM_BASE = 0.5  # a base lr of ~1 is the 'lr=1.0, the lambda is the lr' idiom (and Adadelta's default)


def _close(a: float, b: float, rel: float = 0.05) -> bool:
    return b > 0 and abs(a - b) <= rel * b


def looks_absolute(values: Sequence[float], bases: Sequence[float]) -> Optional[bool]:
    """Do these LambdaLR multipliers (from epoch 0 on) look like learning rates? None while undecided.

    Values past the first negative or non-finite one are ignored: a schedule written for N epochs often goes
    negative after them, and invalid values are the ``invalid-lr`` detector's business when they happen.
    """
    values = list(values)
    for index, value in enumerate(values):
        if not (math.isfinite(value) and value >= 0):
            del values[index:]
            break
    if not values:
        return False
    positive_bases = [b for b in bases if b > 0]
    if not positive_bases or max(bases) >= IDIOM_BASE:
        return False
    peak = max(values)
    if peak <= 0 or peak > LR_LIKE:
        return False
    if values.index(peak) == len(values) - 1 and (len(values) == 1 or values[-2] < peak):
        return None  # still rising: a warmup whose end is not seen yet
    echo = any(_close(peak, b) or _close(values[0], b) for b in positive_bases)
    return echo or peak <= ECHO_NEEDED_ABOVE


def check(run) -> Optional["Diagnosis"]:
    bases = [t.base for t in run.groups]
    if not run.step or not bases:
        return None
    decided = False
    for schedule in run.schedules:
        if schedule.family == "lambda" and schedule.probes:
            for group, values in enumerate(schedule.probes[: len(bases)]):
                verdict = looks_absolute(values, bases)
                decided = decided or verdict is not None
                track = run.groups[group]
                if verdict and track.lr <= track.base * LR_LIKE * 1.01:
                    return _lambda_diagnosis(schedule, group, values, track, run)
        elif schedule.family == "multiplicative" and schedule.probes:
            decided = True
            factors = [v for v in schedule.probes[0][1:] if math.isfinite(v)]
            if factors and 0 < max(factors) <= LR_LIKE:
                return _multiplicative_diagnosis(schedule, factors, run.groups[0])
        elif schedule.family in ("builtin", "plateau", "absolute"):
            decided = True
    if not decided:
        return _from_stream(run)
    return None


def _lambda_diagnosis(schedule, group: int, values: List[float], track, run):
    from ..run import Diagnosis

    base = track.base
    peak = max(values)
    epoch = schedule.probe_epochs[values.index(peak)]
    if _close(values[0], base):
        evidence = f"lr_lambda(0) = {fmt(values[0])} = the optimizer's lr"
    elif values[0] == 0:
        evidence = f"lr_lambda rises from 0 to {fmt(peak)} (at epoch {epoch}), an lr, not a multiplier"
    else:
        evidence = f"lr_lambda peaks at {fmt(peak)} (epoch {epoch}) while the optimizer's lr is {fmt(base)}"
    squared = " (base_lr**2)" if _close(peak, base) else ""
    example = ", ".join(fmt(v / base) for v in values[:3]) if base > 0 else ""
    groups = f" (param group {group})" if len(run.groups) > 1 else ""
    return Diagnosis(
        ID, "schedule-bug",
        f"{schedule.kind}'s lr_lambda returns absolute learning rates ({evidence}), but {schedule.kind} multiplies"
        f" them by base_lr: the real lr{groups} is {fmt(base * peak)}{squared}.",
        f"Return a multiplier (lr_lambda(epoch) / {fmt(base)}: {example}, ...) or build the optimizer with lr=1.0.",
        group=group,
    )


def _multiplicative_diagnosis(schedule, factors: List[float], track):
    from ..run import Diagnosis

    base, factor = track.base, factors[0]
    return Diagnosis(
        ID, "schedule-bug",
        f"{schedule.kind}'s lr_lambda returns {fmt(factor)}, a learning rate, but {schedule.kind} multiplies the"
        f" current lr by it at every step: the lr falls from {fmt(base)} to {fmt(base * factor)} after one step and"
        f" {fmt(base * factor * factor)} after two.",
        "Return the per-step factor (e.g. 0.95), or use LambdaLR with a multiplier of the initial lr.",
        group=0,
    )


def _from_stream(run):
    """No scheduler we can read: judge the real lr / base lr ratios the run has shown."""
    from ..run import Diagnosis

    bases = [t.base for t in run.groups]
    for group, track in enumerate(run.groups):
        if track.base <= 0 or track.changes < 2 or track.changes_after_peak < 1:
            continue  # a schedule must have been seen to move, and to pass its peak
        ratios = [track.first / track.base, track.peak / track.base, track.lr / track.base]
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
