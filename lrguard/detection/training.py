"""One training run (one optimizer): the observation stream in, findings out.

Framework adapters feed a ``TrainingRun`` plain numbers; the detectors read it. No framework is imported here.
"""
from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Deque, List, NamedTuple, Optional, Sequence, Tuple, Union

from ..findings import LOG, Finding, site_text
from .detectors import ALL, Diagnosis
from .history import History
from .plateau import PlateauTrace
from .registry import RUNS
from .resume import FitResume, Restore
from .series import GradSample, LossWindow, LRTrack
from .stepping import Epochs, Plan, Shape, Stepping


LR_BUFFER = 256  # lr changes recorded (at most one a step) before they are folded into the tracks


class FunctionSite(NamedTuple):
    """A user's schedule function: its name as code (``def warmup``, ``lambda epoch: ...``) and its definition's
    (filename, line), for findings that point at it."""

    name: str
    where: Optional[Tuple[str, int]] = None


@dataclass
class Schedule:
    """What lrguard learned about one scheduler when it was built."""

    kind: str  # the class name: "LambdaLR", "StepLR", "LearningRateScheduler", ...
    family: str  # "lambda" | "multiplicative" | "absolute" (Keras) | "plateau" | "builtin" | "custom"
    last_epoch: int = -1
    # The values its user functions return at ``probe_epochs``, one list per param group
    # (LambdaLR multipliers, MultiplicativeLR factors, Keras learning rates).
    probe_epochs: List[int] = field(default_factory=list)
    probes: List[List[float]] = field(default_factory=list)
    where: Optional[Tuple[str, int]] = None
    # The expression its one-expression user function returns, as source text (e.g. "(10 - epoch) / 10"),
    # for fixes that quote the user's code; None when unknown.
    source: Optional[str] = None
    # The user's schedule function of each param group (one entry serves every group), [] when none is known.
    functions: List[Optional[FunctionSite]] = field(default_factory=list)
    # A ReduceLROnPlateau's evaluations: the values it watched and its cuts (None for other schedules).
    plateau: Optional[PlateauTrace] = None
    # A phase of a SequentialLR that hands over to the next scheduler at a milestone: ``within`` names the
    # sequence, ``span`` is how many of its own epochs (from 0) this schedule drives the lr; the probes then
    # cover those epochs and the one after them (where a ramp written as ``s / span`` ends). None: to the end.
    within: Optional[str] = None
    span: Optional[int] = None
    # Its length as its parameters give it (T_max, total_steps, num_training_steps, ...), None when unknown, and
    # how it has been stepped (PyTorch schedulers; Keras schedule objects follow the optimizer's steps).
    shape: Optional[Shape] = None
    stepping: Optional[Stepping] = None

    def function(self, group: Optional[int]) -> Optional[FunctionSite]:
        """The user's function behind param group ``group`` (None: the first), if known."""
        functions = self.functions
        if len(functions) == 1:
            return functions[0]
        index = group or 0
        return functions[index] if index < len(functions) else None


class TrainingRun:
    """Everything lrguard knows about one optimizer's training, in bounded space."""

    def __init__(self, framework: str, where: Optional[Tuple[str, int]] = None, subject: object = None) -> None:
        self.framework = framework
        self.where = where
        self.subject = subject if subject is not None else next(_SUBJECTS)  # unique, unlike id() of a dead run
        self.name = "optimizer"
        self.step = 0
        self.epoch: Optional[int] = None  # the training epoch (from 0) the adapter last saw; None when unknown
        self.scheduler_steps: Optional[int] = None  # the latest scheduler's own count (PyTorch's last_epoch)
        self._groups: List[LRTrack] = []  # read through ``groups``
        # The lr changes recorded since the last fold (``record_lrs``): their steps, and the lrs then.
        self._lr_steps: List[int] = []
        self._lr_changes: List[Sequence[Optional[float]]] = []
        self.schedules: List[Schedule] = []
        self.losses = LossWindow()
        self.grads: Deque[GradSample] = deque(maxlen=8)
        self.raised: set = set()
        self.findings: List[Finding] = []
        self.invalid: Optional[Tuple[int, object]] = None  # (group, value) of a non-number lr
        self._history = History()  # read through ``history``
        self.restore: Optional[Restore] = None  # the optimizer's state loaded from a checkpoint (PyTorch)
        self.fit_resume: Optional[FitResume] = None  # how the latest Keras fit began (its counters)
        self.epochs = Epochs()  # the DataLoader epochs begun while it trained (PyTorch)
        self.plan: Optional[Plan] = None  # what the current Keras fit plans (where it ends, its epochs' steps)
        self.final = False  # True during the check at the end of the run (lrguard.findings(), the optimizer's end)
        RUNS.add(self)

    @property
    def groups(self) -> List[LRTrack]:
        """One ``LRTrack`` per param group, up to date: the lr changes recorded since are folded in first."""
        if self._lr_steps:
            self._fold_lrs()
        return self._groups

    @property
    def history(self) -> History:
        """The run's history for the report and the plot, up to date (see ``groups``)."""
        if self._lr_steps:
            self._fold_lrs()
        return self._history

    # -- observations --------------------------------------------------------------------------
    def set_bases(self, bases: Sequence[float]) -> None:
        """The lrs the param groups started with; groups added later keep their own."""
        groups = self.groups
        for index, base in enumerate(bases):
            if index < len(groups):
                groups[index].base = base
            else:
                groups.append(LRTrack(base=base))

    def observe_lrs(self, lrs: Sequence[Optional[float]]) -> None:
        """The real lrs at optimizer step ``self.step`` (only needed when they changed; None: not a number)."""
        self.record_lrs(lrs)
        self._fold_lrs()

    def record_lrs(self, lrs: Union[float, Sequence[Optional[float]]]) -> None:
        """``observe_lrs`` for the hot path (an lr that changes every step): ``lrs`` (a float: the lr of the one
        param group) is kept as it is, and folded into the tracks and the history when those are next read, or every
        ``LR_BUFFER`` changes. The caller must not change a sequence it passed afterwards."""
        steps = self._lr_steps
        steps.append(self.step)
        self._lr_changes.append(lrs)
        if len(steps) >= LR_BUFFER:
            self._fold_lrs()

    def _fold_lrs(self) -> None:
        """The recorded changes into the tracks and the history, exactly as one ``observe_lrs`` call each."""
        steps, changes = self._lr_steps, self._lr_changes
        if not steps:
            return
        self._lr_steps, self._lr_changes = [], []
        groups = self._groups
        if groups and {*map(type, changes)} == {float}:  # one param group's lrs: the hot path's record
            groups[0].extend(steps, changes)
            self._history.add_lr_changes(steps, changes)
            return
        changes = [(lrs,) if type(lrs) is float else lrs for lrs in changes]
        width = max(map(len, changes))
        for index in range(len(groups), width):  # a new group's base: its first lr (NaN: not a number)
            first = next(lrs[index] for lrs in changes if len(lrs) > index)
            groups.append(LRTrack(base=first if first is not None else math.nan))
        unknown = False
        for index in range(width):
            column = [lrs[index] if len(lrs) > index else None for lrs in changes]
            if None in column:  # not a number, or a group not there yet: no update
                unknown = True
                groups[index].extend([s for s, lr in zip(steps, column) if lr is not None],
                                     [lr for lr in column if lr is not None])
            else:
                groups[index].extend(steps, column)
        if unknown:
            for lrs in reversed(changes):  # the last non-number lr seen
                if None in lrs:
                    self.invalid = (max(i for i, lr in enumerate(lrs) if lr is None), None)
                    break
        self._history.add_lr_changes(steps, changes)

    def observe_losses(self, values: List[float]) -> None:
        self.losses.extend(values, self.step)
        self._history.add_losses(self.step, values)

    def observe_grads(self, sample: GradSample) -> None:
        self.grads.append(sample)
        self._history.add_grad_ratio(sample.step, sample.grad_ratio)

    def add_schedule(self, schedule: Schedule) -> None:
        self.schedules.append(schedule)
        del self.schedules[:-4]  # a run rebuilt with many schedulers keeps the latest few

    def summary(self) -> dict:
        """A plain, JSON-ready dict: the optimizer, its steps, each group's lrs, the loss, findings, history."""
        from ..report import run_summary

        return run_summary(self)

    # -- decisions -----------------------------------------------------------------------------
    @property
    def has_schedule_bug(self) -> bool:
        return any(f.category == "schedule-bug" for f in self.findings)

    def training_epoch(self) -> Optional[int]:
        """The training epoch now, from 0: the adapter's (Keras' callbacks), else the count of the DataLoader that
        drives the steps (PyTorch, known from its second epoch on); None when unknown, never a scheduler's count."""
        if self.epoch is not None:
            return self.epoch
        clock = self.epochs.clock()
        return clock.starts - 1 if clock is not None else None

    def check(self, detectors: Sequence = ()) -> List[Finding]:
        """Run the detectors and report what they find; returns the new findings."""
        new = []
        for detector in detectors or ALL:
            if detector.ID in self.raised:
                continue
            diagnosis = detector.check(self)
            if diagnosis is not None:
                new.append(self.report(diagnosis))
        return new

    def report(self, diagnosis: Diagnosis) -> Finding:
        self.raised.add(diagnosis.id)
        group = diagnosis.group if diagnosis.group is not None else 0
        track = self.groups[group] if group < len(self.groups) else None
        where = self.where
        function = None
        if diagnosis.category == "schedule-bug":
            schedule = diagnosis.schedule if diagnosis.schedule is not None else (
                self.schedules[-1] if self.schedules else None)
            if schedule is not None:
                where = schedule.where or where
                function = schedule.function(diagnosis.group)
        message = diagnosis.message
        if function is not None:
            at = f" at {site_text(function.where)}" if function.where else ""
            message += f" The schedule function is `{function.name}`{at}."
        finding = Finding(
            id=diagnosis.id,
            category=diagnosis.category,
            severity=diagnosis.severity,
            framework=self.framework,
            message=f"{message} {diagnosis.fix}".strip(),
            fix=diagnosis.fix,
            step=self.step,
            epoch=self.training_epoch(),
            lr=_finite_or_none(track.lr) if track else None,
            base_lr=_finite_or_none(track.base) if track else None,
            where=f"{where[0]}:{where[1]}" if where else None,
            group=diagnosis.group,
            function=function.name if function else None,
            function_where=f"{function.where[0]}:{function.where[1]}" if function and function.where else None,
            scheduler_steps=self.scheduler_steps,
        )
        self.findings.append(finding)
        LOG.add(finding, self.subject, where)
        return finding


_SUBJECTS = itertools.count(1)


def _finite_or_none(value: float) -> Optional[float]:
    return value if isinstance(value, float) and math.isfinite(value) else None
