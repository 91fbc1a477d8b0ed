"""One training run (one optimizer): the observation stream in, findings out.

Framework adapters feed a ``TrainingRun`` plain numbers; the detectors read it. No framework is imported here.
"""
from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Deque, List, Optional, Sequence, Tuple

from ..findings import LOG, Finding
from .detectors import ALL, Diagnosis
from .history import History
from .registry import RUNS
from .series import GradSample, LossWindow, LRTrack


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


class TrainingRun:
    """Everything lrguard knows about one optimizer's training, in bounded space."""

    def __init__(self, framework: str, where: Optional[Tuple[str, int]] = None, subject: object = None) -> None:
        self.framework = framework
        self.where = where
        self.subject = subject if subject is not None else next(_SUBJECTS)  # unique, unlike id() of a dead run
        self.name = "optimizer"
        self.step = 0
        self.epoch: Optional[int] = None
        self.groups: List[LRTrack] = []
        self.schedules: List[Schedule] = []
        self.losses = LossWindow()
        self.grads: Deque[GradSample] = deque(maxlen=8)
        self.raised: set = set()
        self.findings: List[Finding] = []
        self.invalid: Optional[Tuple[int, object]] = None  # (group, value) of a non-number lr
        self.history = History()  # for the report and the plot; fed on lr changes and at checkpoints
        RUNS.add(self)

    # -- observations --------------------------------------------------------------------------
    def set_bases(self, bases: Sequence[float]) -> None:
        """The lrs the param groups started with; groups added later keep their own."""
        for index, base in enumerate(bases):
            if index < len(self.groups):
                self.groups[index].base = base
            else:
                self.groups.append(LRTrack(base=base))

    def observe_lrs(self, lrs: Sequence[Optional[float]]) -> None:
        """The real lrs at optimizer step ``self.step`` (only needed when they changed)."""
        if len(lrs) > len(self.groups):
            self.set_bases([g.base for g in self.groups] + [lr if lr is not None else math.nan for lr in lrs[len(self.groups):]])
        for index, lr in enumerate(lrs):
            if lr is None:
                self.invalid = (index, lr)
                continue
            track = self.groups[index]
            if lr != track.lr:
                track.update(lr, self.step)
        self.history.add_lrs(self.step, lrs)

    def observe_losses(self, values: List[float]) -> None:
        self.losses.extend(values, self.step)
        self.history.add_losses(self.step, values)

    def observe_grads(self, sample: GradSample) -> None:
        self.grads.append(sample)
        self.history.add_grad_ratio(sample.step, sample.grad_ratio)

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
        if diagnosis.category == "schedule-bug" and self.schedules and self.schedules[-1].where:
            where = self.schedules[-1].where
        finding = Finding(
            id=diagnosis.id,
            category=diagnosis.category,
            severity=diagnosis.severity,
            framework=self.framework,
            message=f"{diagnosis.message} {diagnosis.fix}".strip(),
            fix=diagnosis.fix,
            step=self.step,
            epoch=self.epoch,
            lr=_finite_or_none(track.lr) if track else None,
            base_lr=_finite_or_none(track.base) if track else None,
            where=f"{where[0]}:{where[1]}" if where else None,
            group=diagnosis.group,
        )
        self.findings.append(finding)
        LOG.add(finding, self.subject, where)
        return finding


_SUBJECTS = itertools.count(1)


def _finite_or_none(value: float) -> Optional[float]:
    return value if isinstance(value, float) and math.isfinite(value) else None
