"""PyTorch resumes: what ``Optimizer.load_state_dict`` restored, which schedulers' state was loaded too, and where
the optimizer's schedulers are at its first step after the restore (a ``Restore`` on its run).

``Optimizer.load_state_dict(state_dict)``: from the dict it was given, the lr of each param group when saved and
what shows that the optimizer had trained (Adam's ``state["step"]``, momentum buffers, or an lr its schedule had
moved away from ``initial_lr``). ``load_state_dict`` of the schedulers: which were restored. The optimizer's next
step is a checkpoint of its watch, which calls ``first_step_after_restore``. Nothing here runs per optimizer step.
"""
from __future__ import annotations

import weakref

from torch.optim import Optimizer, lr_scheduler

from ..detection.detectors import fmt
from ..detection.resume import Restore, SchedulerAt
from .failopen import STATE, internal_error
from .patches import Patches, argument
from . import torch as adapter, torch_schedules

MAX_STATES = 8  # parameter states read for a step count (they share it)
_restored: "weakref.WeakSet" = weakref.WeakSet()  # schedulers whose state was loaded


def lrguard_observes_optimizer_restore(wrapped, instance, args, kwargs):
    """``Optimizer.load_state_dict(state_dict)``: what the restored optimizer had done."""
    before = None
    if not STATE.stopped:
        try:
            # read in place: state_dict() would run the user's state-dict hooks
            before = _progress({"param_groups": instance.param_groups, "state": instance.state}) \
                if isinstance(instance, Optimizer) else None
        except Exception as exc:
            internal_error("the Optimizer.load_state_dict hook", exc)
    result = wrapped(*args, **kwargs)
    if not STATE.stopped:
        try:
            _optimizer_restored(instance, argument(args, kwargs, 0, "state_dict"), before)
        except Exception as exc:
            internal_error("the Optimizer.load_state_dict hook", exc)
    return result


def lrguard_observes_scheduler_restore(wrapped, instance, args, kwargs):
    """``LRScheduler.load_state_dict(state_dict)`` (and the subclasses' own): this schedule was restored (its
    count of calls with it)."""
    if not STATE.stopped:
        try:
            for sched in _with_inner(instance):
                torch_schedules.look_at(sched)  # its calls before the load
        except Exception as exc:
            internal_error("the LRScheduler.load_state_dict hook", exc)
    result = wrapped(*args, **kwargs)
    if not STATE.stopped:
        try:
            for sched in _with_inner(instance):
                if adapter._hashable(sched):
                    _restored.add(sched)
                    torch_schedules.restored(sched)
        except Exception as exc:
            internal_error("the LRScheduler.load_state_dict hook", exc)
    return result


def _with_inner(sched) -> list:
    """The scheduler, and a container's own (SequentialLR, ChainedScheduler)."""
    return [sched, *(getattr(sched, "_schedulers", None) or ())]


def _progress(state_dict) -> tuple:
    """(lr, initial_lr of each group; step counts and buffer names of the first parameter states) of a state dict."""
    groups = [g for g in state_dict.get("param_groups") or () if isinstance(g, dict)]
    saved = [adapter._number(g.get("lr")) for g in groups]
    initial = [adapter._number(g.get("initial_lr")) for g in groups]
    state = state_dict.get("state")
    steps, buffers = [], set()
    for index, entry in enumerate(state.values() if isinstance(state, dict) else ()):
        if index >= MAX_STATES:
            break
        if isinstance(entry, dict):
            step = adapter._number(entry.get("step")) if "step" in entry else None
            if step is not None:
                steps.append(step)
            buffers.update(key for key in entry if key != "step" and isinstance(key, str))
    return saved, initial, steps, buffers


def _optimizer_restored(opt, state_dict, before=None) -> None:
    """``before``: the optimizer's own progress just before the load. Loading what it already had (accelerate's
    ``AcceleratedOptimizer`` reloads the optimizer's own state dict to move it to the device; a round trip through a
    checkpoint of this very process) resumes nothing."""
    if not isinstance(state_dict, dict) or not isinstance(opt, Optimizer) or not adapter._hashable(opt):
        return
    saved, initial, steps, buffers = progress = _progress(state_dict)
    if before is not None and progress[0] == before[0] and progress[2] == before[2]:
        return
    moved = [(lr, base) for lr, base in zip(saved, initial) if lr is not None and base is not None and lr != base]
    if steps:
        what = "its step count"
    elif buffers:
        what = "momentum buffers" if "momentum_buffer" in buffers else ", ".join(sorted(buffers)[:3])
    elif moved:
        what = f"its lr {fmt(moved[0][0])}, moved from its initial_lr {fmt(moved[0][1])}"
    else:
        return  # the state of an optimizer that never stepped: nothing was resumed
    watch = adapter._watch(opt)
    run = watch.run
    run.restore = Restore(step=run.step, optimizer=type(opt).__name__,
                          optimizer_step=int(max(steps)) if steps else None, state=what, saved_lrs=saved,
                          saved_initial_lrs=initial)
    watch.check_soon()  # its next step records where the schedulers are


def first_step_after_restore(watch) -> None:
    """At the watch's first checkpoint after the restore: its schedulers' positions and the lrs of that step."""
    run = watch.run
    restore = run.restore
    if restore is None or restore.schedulers is not None or run.step <= restore.step:
        return
    schedulers = []
    for ref in watch.schedulers:
        sched = ref()
        if sched is None or isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            continue  # ReduceLROnPlateau has no position: it cuts the lr it finds
        position = getattr(sched, "last_epoch", None)
        if type(position) is not int:
            continue
        count = getattr(sched, "_step_count", None)
        # built with last_epoch=k: at k + 1 after one (initial) step of its own
        built_to_resume = type(count) is int and position - (count - 1) >= 1
        restored = built_to_resume or (adapter._hashable(sched) and sched in _restored)
        schedule = adapter._schedule_of.get(sched) if adapter._hashable(sched) else None
        schedulers.append(SchedulerAt(type(sched).__name__, position, restored, getattr(schedule, "within", None)))
    restore.schedulers = schedulers
    restore.first_lrs = [track.lr for track in run.groups]


def patch(patches: Patches) -> None:
    patches.wrap(Optimizer, "load_state_dict", lrguard_observes_optimizer_restore)
    for cls in vars(lr_scheduler).values():
        if isinstance(cls, type) and issubclass(cls, lr_scheduler.LRScheduler) and "load_state_dict" in vars(cls) \
                and cls is not lr_scheduler.ReduceLROnPlateau:
            patches.wrap(cls, "load_state_dict", lrguard_observes_scheduler_restore)
