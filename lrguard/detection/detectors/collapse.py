"""``lr-collapse``: the real lr falls by orders of magnitude early or fast, stays there, and training stalls.

Typical causes: a per-epoch scheduler stepped every batch (its whole schedule runs in the first few batches),
factors that compound (``lr *= 0.9`` per batch, MultiplicativeLR, a Keras ``schedule(epoch, lr)`` written on the
current lr). The rule, and why:

- the lr now is >= 1000x (``COLLAPSED``) below both the base lr and its own peak: it *fell* there (a warmup that
  has not risen yet, or the 'lr=1.0, the lambda is the lr' idiom, is measured against its peak, not against 1.0);
- it has spent at least a quarter (``SUSTAINED``) of the observed steps >= 1000x below the peak of their time.
  Legitimate decays only get that low in their last stretch: cosine or linear to 0 in the last ~2% (cosine:
  (1 + cos(pi t)) / 2 <= 1e-3 for t >= 0.98), OneCycleLR in its last ~1.5%, a three-cut MultiStepLR
  (ImageNet's 30/60/80 of 90 epochs) in its last ~11%. A per-epoch schedule stepped per batch gets there after
  ~E of E x B steps and stays for the rest; compounding factors after a few steps. A quarter leaves a 2x margin on
  both sides, and ``MIN_STARVED`` steps give the loss time to show it;
- the loss is not improving while the lr is that low (the newer half of the losses read since then is not 5%
  below the older half), or there are too few such losses to tell: before the fall it may well have improved;
- ReduceLROnPlateau is exempt: it cuts the lr *because* the loss stalled, as many times as it is told to;
- a run that showed neither a loss nor a gradient (a scheduler stepped in a unit test) trains nothing to stall.
"""
from __future__ import annotations

import math
from typing import Optional

from . import Diagnosis, fmt

ID = "lr-collapse"

COLLAPSED = 1e-3  # the lr now <= COLLAPSED * min(base lr, peak) ...
DECADES = 3  # (the same fall, in decades, for the steps counted below)
SUSTAINED = 0.25  # ... for at least this share of the observed steps ...
MIN_STARVED = 10  # ... and at least this many steps
MIN_STEPS = 20


def check(run) -> Optional[Diagnosis]:

    if run.step < MIN_STEPS or _explained(run) or any(s.family == "plateau" for s in run.schedules):
        return None
    if not run.losses.count and not run.grads:
        return None  # no loss and no gradient seen: steps that train nothing (a scheduler's unit test) stall nothing
    for group, track in enumerate(run.groups):
        base, lr, peak = track.base, track.lr, track.peak
        if not (base > 0 and peak > 0 and math.isfinite(lr) and 0 <= lr <= COLLAPSED * min(base, peak)):
            continue
        starved, seen = track.steps_below(DECADES, run.step), track.observed_steps(run.step)
        if starved < max(MIN_STARVED, SUSTAINED * seen):
            continue
        since = run.step - starved + 1  # where a starvation that lasts until now began
        if run.losses.stalled(since=since) is False:
            continue  # the loss still improves at this lr
        return Diagnosis(ID, "schedule-bug", _message(run, track, starved, seen, since), _fix(run), group=group)
    return None


# Findings that name a cause of a collapse without explaining the low lr away: it is reported beside them.
BESIDE = ("schedule-length", "schedule-not-applied")


def _explained(run) -> bool:
    """Has another schedule bug already explained the low lr (a lambda returning lrs, a Keras multiplier, ...)?"""
    return any(f.category == "schedule-bug" and f.id not in BESIDE for f in run.findings)


def _message(run, track, starved: int, seen: int, since: int) -> str:
    base, lr = track.base, track.lr
    drop = "to 0" if lr == 0 else f"{math.log10(base / lr):.1f} orders of magnitude below the base lr {fmt(base)}"
    halves = run.losses.halves(since=since)
    loss = f"; the loss has stopped improving ({fmt(halves[0])} -> {fmt(halves[1])})" if halves else ""
    return (
        f"the real lr fell from {fmt(track.peak)} to {fmt(lr)} by step {run.step} ({drop}) and has been 1000x or"
        f" more below its peak for {starved} of the {seen} steps so far ({starved / max(seen, 1):.0%}){loss}."
    )


def _fix(run) -> str:
    kind = run.schedules[-1].kind if run.schedules else None
    stepped = run.scheduler_steps
    if kind and stepped is not None and stepped >= 0.5 * run.step:
        epoch = run.training_epoch()
        epochs = f" in {epoch + 1} training epochs" if epoch is not None else ""
        return (f"{kind} looks stepped every batch ({stepped} scheduler steps for {run.step} optimizer steps"
                f"{epochs}): call scheduler.step() once per epoch, or size its step_size/gamma/milestones in"
                " batches.")
    return "Check that the schedule's factors do not compound and that it is stepped as often as it was designed for."
