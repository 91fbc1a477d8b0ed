"""What a resumed training showed lrguard: the restored optimizer's counters and lrs, and where its schedule was.

Plain numbers, no framework. Two ways to resume, two records:

- ``Restore`` (PyTorch): ``optimizer.load_state_dict(...)`` brought back an optimizer that had trained (Adam's
  ``state["step"]``, momentum buffers, an lr its schedule had moved); at its first step after that, each of its
  schedulers was at some ``last_epoch``, its own state restored or not (``SchedulerAt``).
- ``FitResume`` (Keras): ``fit`` began at ``initial_epoch`` with the optimizer's ``iterations`` where they were
  (restored with the optimizer, or 0 for a fresh one), and a step-based ``LearningRateSchedule`` reads those.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass(frozen=True)
class SchedulerAt:
    """A scheduler of the restored optimizer, at the optimizer's first step after the restore."""

    kind: str  # its class name
    position: int  # its last_epoch then (0: where a new scheduler starts)
    restored: bool  # its state was loaded (load_state_dict) or it was built to resume (last_epoch=...)
    within: Optional[str] = None  # the container it runs in (SequentialLR, ChainedScheduler), by class name


@dataclass
class Restore:
    """An optimizer's state loaded from a checkpoint (PyTorch ``Optimizer.load_state_dict``)."""

    step: int  # the run's optimizer steps when it was loaded
    optimizer: str  # the optimizer's class name
    optimizer_step: Optional[int]  # its restored step count (Adam's state["step"]); None when its state has none
    state: str  # what shows it trained before, for the message: "momentum buffers", "an lr its schedule had moved"
    saved_lrs: List[Optional[float]]  # each param group's lr when the checkpoint was saved
    # each group's ``initial_lr`` then (a scheduler's base lr; None without one): saved_lrs away from it show that
    # the saved run was part-way through its schedule
    saved_initial_lrs: List[Optional[float]] = field(default_factory=list)
    # At the first optimizer step after the load (None until then): its schedulers, and the lrs of that step.
    schedulers: Optional[List[SchedulerAt]] = None
    first_lrs: Optional[List[float]] = None


@dataclass
class FitResume:
    """A Keras ``fit`` as it began: the optimizer's counters, and (once its first epoch begins) where it starts."""

    iterations: int  # the optimizer's iterations when fit began
    restored: bool  # iterations this process did not count: the optimizer was loaded with them
    steps_per_epoch: Optional[int]
    lrs: List[Optional[float]] = field(default_factory=list)  # the optimizer's lrs when fit began (before callbacks)
    initial_epoch: Optional[int] = None  # the first epoch of this fit; None until it begins
    schedule: Optional[str] = None  # the step-based LearningRateSchedule the optimizer reads, by class name
    schedule_lr: Optional[float] = None  # its lr at ``iterations``
    schedule_lr_resumed: Optional[float] = None  # its lr at ``initial_epoch * steps_per_epoch``
