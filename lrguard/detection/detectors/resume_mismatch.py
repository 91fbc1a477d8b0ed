"""``resume-mismatch``: training resumed from a checkpoint, but its schedule started over.

A resume must bring back the optimizer *and* the schedule's position. Restoring the optimizer alone (Adam's moments,
its step count) and building a new scheduler restarts the warmup and the decay: the lr jumps back to the warmup's
start or to the peak, far from where the saved run was (the_well PR#63, speculators PR#900). In Keras a step-based
``LearningRateSchedule`` reads the optimizer's ``iterations``, which ``fit(initial_epoch=...)`` does not move: on a
new optimizer the schedule restarts from step 0 (tensorflow#49208); and an epoch-based ``LearningRateScheduler``
starts over at epoch 0 when a restored optimizer is fit without ``initial_epoch``.

The evidence, all of it needed (a guess at the user's plan is never enough):

- PyTorch: ``optimizer.load_state_dict`` restored an optimizer that had trained (``Restore``: Adam's step count of
  at least ``MIN_RESTORED_STEPS``, momentum buffers, or an lr its schedule had moved), and at its first step after
  that every scheduler of it is new: not restored (``load_state_dict``), not built with ``last_epoch=...``, at
  ``last_epoch`` <= ``FRESH`` (not fast-forwarded). Units do not matter: a new scheduler is at 0 whether it counts
  epochs or batches, and any restore or fast-forward moves it past 1.
- and the lr stream shows the restart: an lr of the first ``WINDOW`` scheduler steps after the resume is
  ``JUMP`` x away from the lr the checkpoint was saved with (a warmup restarting from ~0, a decay back at its peak);
  or, for a chainable schedule that goes on from the restored lr but counts its decay from 0 again
  (``CosineAnnealingLR``, ``StepLR``: no jump, a stretched or shifted decay), the saved lr was ``JUMP`` x away from
  the saved ``initial_lr`` (the saved run was part-way through its schedule) and the new scheduler then stepped on
  from its start (by at most ``WINDOW``: a ``step(epoch)`` that catches up is a resume). A constant schedule, or a
  memoryless one (``ExponentialLR``: its next lr does not depend on its count), restarts nothing.
- Keras, new optimizer: ``fit(initial_epoch=E)`` with E > 0, the optimizer's iterations at most half of
  E x steps_per_epoch, and the schedule object's lr at its iterations ``JUMP`` x away from its lr at E x steps.
- Keras, restored optimizer: iterations loaded with it (more than this process counted), at least twice
  E x steps_per_epoch, and a ``LearningRateScheduler`` whose lr for epoch E is ``JUMP`` x away from the restored lr.

Never on: fine-tuning that loads the model's weights only (a new optimizer: re-warming up is right), a resume that
restores the scheduler too or passes ``last_epoch``/``initial_epoch``, a second ``fit`` in the same process.
"""
from __future__ import annotations

import math
from typing import List, Optional

from . import Diagnosis, fmt

ID = "resume-mismatch"

MIN_RESTORED_STEPS = 8  # a restored step count below this is no evidence of a run far ahead
FRESH = 1  # a scheduler at last_epoch <= FRESH at the first step after the restore starts over
WINDOW = 3  # scheduler steps after the resume within which the lr shows the restart
JUMP = 1.25  # the lr is this many times above or below the saved one
MEMORYLESS = frozenset({"ExponentialLR", "MultiplicativeLR"})  # their next lr does not depend on their position


def _jump(before: Optional[float], after: Optional[float]) -> bool:
    """Is ``after`` at least JUMP x away from ``before`` (either way; 0 against a positive lr counts)?"""
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)):
        return False
    if before < 0 or after < 0:
        return False  # invalid lrs are the invalid-lr detector's business
    low, high = sorted((before, after))
    return high > 0 and high >= JUMP * low


def check(run) -> Optional[Diagnosis]:
    if run.restore is not None:
        diagnosis = _restored_optimizer(run, run.restore)
        if diagnosis is not None:
            return diagnosis
    if run.fit_resume is not None and run.fit_resume.initial_epoch is not None:
        return _keras_fit(run, run.fit_resume)
    return None


# -- PyTorch: Optimizer.load_state_dict, a new scheduler --------------------------------------------------------
def _restored_optimizer(run, restore) -> Optional[Diagnosis]:
    schedulers = restore.schedulers
    if not schedulers or restore.first_lrs is None:
        return None  # no first step since the restore yet, or no scheduler to start over
    if restore.optimizer_step is not None and restore.optimizer_step < MIN_RESTORED_STEPS:
        return None
    if any(s.restored or s.position > FRESH for s in schedulers):
        return None  # restored, built with last_epoch=..., or fast-forwarded: the schedule goes on
    start = max(s.position for s in schedulers)
    position = run.scheduler_steps
    stepped = position is not None and start < position <= start + WINDOW  # stepped on, not caught up
    seen: List[List[float]] = [restore.first_lrs]
    if stepped or position == start:
        seen.append([t.lr for t in run.groups])
    for lrs in seen:
        for group, (saved, lr) in enumerate(zip(restore.saved_lrs, lrs)):
            if _jump(saved, lr):
                first = next(s for s in schedulers if s.position == start)
                return _restored_diagnosis(run, restore, first, group, start, saved, lr)
    # A chainable schedule (CosineAnnealingLR, StepLR, LinearLR) goes on from the restored lr, counting its
    # decay from 0 again: the saved run was part-way through its schedule, and the new one stepped on from 0.
    positional = [s for s in schedulers if s.kind not in MEMORYLESS]
    if stepped and positional:
        for group, (saved, initial) in enumerate(zip(restore.saved_lrs, restore.saved_initial_lrs)):
            if _jump(initial, saved):
                return _restored_diagnosis(run, restore, positional[-1], group, start, saved, None, initial)
    return None


def _restored_diagnosis(run, restore, scheduler, group, start, saved, lr, initial=None) -> Diagnosis:
    if restore.optimizer_step is not None:
        state = f"{restore.optimizer}'s restored state is at step {restore.optimizer_step}"
    else:
        state = f"{restore.optimizer}'s state was restored ({restore.state})"
    groups = f" of param group {group}" if len(run.groups) > 1 else ""
    if lr is not None:
        direction = "back up to" if lr > saved else "down to"
        what = (f"the schedule restarted its warmup/decay, and the lr{groups} went from {fmt(saved)} (when the"
                f" checkpoint was saved) {direction} {fmt(lr)}")
    else:
        what = (f"the schedule started over: the saved run was part-way through it (lr{groups} {fmt(saved)}, from"
                f" {fmt(initial)}), and it now counts its decay again from step 0")
    schedule = next((s for s in reversed(run.schedules) if s.kind == scheduler.kind), None)
    name = f"{scheduler.within}'s {scheduler.kind}" if scheduler.within else scheduler.kind
    return Diagnosis(
        ID, "schedule-bug",
        f"{state} but {name} starts at last_epoch {start}: {what}.",
        "Restore it too: scheduler.load_state_dict(checkpoint['scheduler']) (save scheduler.state_dict() beside the"
        " optimizer's), or build it with last_epoch=<scheduler steps done>; with the HF Trainer, pass"
        " trainer.train(resume_from_checkpoint=...); with Lightning, trainer.fit(..., ckpt_path=...).",
        group=group, schedule=schedule,
    )


# -- Keras: fit(initial_epoch=...) against the optimizer's iterations ------------------------------------------
def _keras_fit(run, fit) -> Optional[Diagnosis]:
    epoch, steps = fit.initial_epoch, fit.steps_per_epoch
    resumed_at = epoch * steps if steps else epoch  # optimizer steps done before this fit, by its epochs
    if epoch > 0 and fit.schedule and fit.iterations * 2 <= resumed_at and _jump(fit.schedule_lr_resumed,
                                                                                fit.schedule_lr):
        at = f" (step {resumed_at} at {steps} steps per epoch)" if steps else ""
        return Diagnosis(
            ID, "schedule-bug",
            f"fit(initial_epoch={epoch}) resumes at epoch {epoch}{at}, but the optimizer's iterations are"
            f" {fit.iterations}: {fit.schedule} counts optimizer iterations, not epochs, so it restarted (lr"
            f" {fmt(fit.schedule_lr)} instead of {fmt(fit.schedule_lr_resumed)}).",
            "Restore the optimizer with the model (keras.models.load_model, or a checkpoint that includes the"
            f" optimizer), or set optimizer.iterations.assign({resumed_at if steps else 'initial_epoch * steps'})"
            " before fit.",
            schedule=next((s for s in run.schedules if s.kind == fit.schedule), None),
        )
    if not fit.restored or fit.iterations < max(steps or 1, MIN_RESTORED_STEPS) or fit.iterations < 2 * resumed_at:
        return None
    scheduler = next((s for s in reversed(run.schedules) if s.family == "absolute" and s.probes and s.probes[0]
                      and s.probe_epochs and s.probe_epochs[0] == epoch), None)
    restored_lr = fit.lrs[0] if fit.lrs else None
    if scheduler is None or not _jump(restored_lr, scheduler.probes[0][0]):
        return None
    lr = scheduler.probes[0][0]
    done = f" ({fit.iterations / steps:.3g} epochs of {steps} steps)" if steps else ""
    return Diagnosis(
        ID, "schedule-bug",
        f"the optimizer was restored with {fit.iterations} iterations{done} but fit started at epoch {epoch}:"
        f" {scheduler.kind}'s schedule restarted, and the lr went from {fmt(restored_lr)} (restored) to"
        f" {fmt(lr)}.",
        f"Pass fit(initial_epoch=<epochs done>){f' (here {fit.iterations // steps})' if steps else ''} so that the"
        " schedule goes on where it was.",
        schedule=scheduler,
    )
