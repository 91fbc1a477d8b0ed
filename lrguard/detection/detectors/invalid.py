"""``invalid-lr``: a schedule produced NaN, inf, a negative number or a non-number."""
from __future__ import annotations

import math
from typing import Optional

from . import Diagnosis, fmt

ID = "invalid-lr"

_LAMBDA_FAMILIES = ("lambda", "multiplicative")


def check(run) -> Optional[Diagnosis]:

    if run.invalid is not None:
        group, value = run.invalid
        return Diagnosis(
            ID, "schedule-bug",
            f"param group {group}'s learning rate is {value!r}, not a number.",
            "Make the schedule return a float.", group=group,
        )
    for index, track in enumerate(run.groups):
        lr = track.lr
        if math.isnan(lr) and not track.since:
            continue  # never observed (an optimizer built but not stepped yet): NaN is the track's default
        if math.isnan(lr) or math.isinf(lr) or lr < 0:
            what = "NaN" if math.isnan(lr) else ("infinite" if math.isinf(lr) else f"negative ({fmt(lr)})")
            return Diagnosis(
                ID, "schedule-bug",
                f"param group {index}'s learning rate became {what} at step {run.step}"
                f" (base lr {fmt(track.base)}): the optimizer will {'ascend the loss' if lr < 0 else 'corrupt every weight'}.",
                "Check the schedule for a division by zero, a log of a non-positive number or a sign error.",
                group=index,
            )
    if run.step and run.groups and all(t.base == 0 for t in run.groups) and any(
        s.family in _LAMBDA_FAMILIES for s in run.schedules
    ):
        kind = next(s.kind for s in run.schedules if s.family in _LAMBDA_FAMILIES)
        return Diagnosis(
            ID, "schedule-bug",
            f"the optimizer was built with lr=0 and {kind} multiplies base_lr by its lambda: the lr stays 0"
            " and nothing trains.",
            "Build the optimizer with the real learning rate (or lr=1.0 if the lambda returns absolute lrs).",
            group=0,
        )
    return None
