"""``keras-multiplier``: a Keras schedule returns PyTorch-style multipliers where Keras wants the lr itself.

Keras' ``LearningRateScheduler`` sets the optimizer's lr to whatever ``schedule(epoch)`` returns, so a
multiplier such as ``(10 - epoch) / 10`` turns an lr of 0.001 into 1.0 and training blows up.
"""
from __future__ import annotations

import math
from typing import Optional

from . import fmt

ID = "keras-multiplier"

MULTIPLIER_LIKE = 0.5  # a schedule value this large, far above the optimizer's lr, is a multiplier
JUMP = 100.0  # or any value this many times the optimizer's initial lr


def check(run) -> Optional["Diagnosis"]:
    from ..run import Diagnosis

    if not run.groups:
        return None
    base = run.groups[0].base
    for schedule in run.schedules:
        if schedule.family != "absolute" or not schedule.probes or not schedule.probes[0]:
            continue
        values = [v for v in schedule.probes[0] if math.isfinite(v)]
        if not values or not base > 0:
            continue
        first, peak = values[0], max(values)
        if base >= MULTIPLIER_LIKE or not (peak >= JUMP * base or (peak >= MULTIPLIER_LIKE and peak <= 1.0 + 1e-9)):
            continue
        return Diagnosis(
            ID, "schedule-bug",
            f"{schedule.kind}'s schedule returns multipliers (schedule(0) = {fmt(first)}) but Keras uses the value"
            f" as the learning rate itself: the optimizer's lr went from {fmt(base)} to {fmt(first)}.",
            f"Return the lr (e.g. {fmt(base)} * (the multiplier)).",
            group=0,
        )
    return None
