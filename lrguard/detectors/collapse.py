"""``lr-collapse``: the real lr falls by orders of magnitude early or fast, and training stalls.

Typical causes: a per-epoch scheduler stepped every batch, factors that compound. Legitimate decays (cosine or
linear to 0, OneCycleLR, MultiStepLR's cuts) spend most of the run at a healthy lr before they get that low, so
the test is the lr now against the base lr and its own peak (it fell), *and* the mean lr over the run; ReduceLROnPlateau is exempt (it cuts
the lr because the loss stalled).
"""
from __future__ import annotations

import math
from typing import Optional

from . import fmt

ID = "lr-collapse"

MIN_STEPS = 20
COLLAPSED = 1e-3  # lr now <= base lr * COLLAPSED ...
STARVED = 0.1  # ... and the mean lr so far <= base lr * STARVED


def check(run) -> Optional["Diagnosis"]:
    from ..run import Diagnosis

    if run.step < MIN_STEPS or run.has_schedule_bug or any(s.family == "plateau" for s in run.schedules):
        return None
    for group, track in enumerate(run.groups):
        base, lr = track.base, track.lr
        if not (base > 0 and math.isfinite(lr) and 0 <= lr <= COLLAPSED * min(base, track.peak)):
            continue
        mean = track.mean_lr(run.step)
        if mean > base * STARVED or run.losses.stalled() is False:
            continue
        orders = math.log10(base / lr) if lr > 0 else math.inf
        halves = run.losses.halves()
        loss = f"; the loss has stopped improving ({fmt(halves[0])} -> {fmt(halves[1])})" if halves else ""
        kind = run.schedules[-1].kind if run.schedules else None
        per_batch = kind and run.epoch is not None and run.epoch >= 0.5 * run.step
        if per_batch:
            fix = (f"{kind} looks stepped every batch ({run.epoch} scheduler steps in {run.step} optimizer steps):"
                   " call scheduler.step() once per epoch, or size its step_size/gamma/milestones in batches.")
        else:
            fix = "Check that the schedule's factors do not compound and that it is stepped as often as it was designed for."
        drop = "to 0" if lr == 0 else f"{orders:.1f} orders of magnitude below the base lr"
        return Diagnosis(
            ID, "schedule-bug",
            f"the real lr fell from {fmt(track.peak)} to {fmt(lr)} by step {run.step} ({drop} {fmt(base)}); over the"
            f" run it averaged only {mean / base:.2%} of the base lr{loss}.",
            fix, group=group,
        )
    return None
