"""Detectors: pure functions of a ``TrainingRun`` that return a ``Diagnosis`` or ``None``.

The contract: each detector module has an ``ID`` and a ``check(run)`` that reads the run's observations (its lr
tracks, schedules, losses, gradient samples) and returns a ``Diagnosis`` (a finding without the run's context) or
``None``. Order matters: a schedule bug, once found, silences the detectors that would explain the same symptoms
differently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence


@dataclass(frozen=True)
class Diagnosis:
    """What a detector returns: a finding without the run's context."""

    id: str
    category: str
    message: str
    fix: str
    group: Optional[int] = None
    severity: str = "error"
    # The ``Schedule`` at fault, when the detector knows which (else the run's latest): the finding points at the
    # line that built it and names its user function (``Schedule.functions``).
    schedule: Any = field(default=None, compare=False, repr=False)


def fmt(value: float) -> str:
    """A number the way a user writes it: 0.001, 1e-06, 0.9."""
    return f"{value:.4g}"


def first_rule(run, rules: Sequence[Callable[[Any, Any], Optional[Diagnosis]]]) -> Optional[Diagnosis]:
    """The first diagnosis of ``rule(run, schedule)`` over the run's schedules that have been stepped (the latest
    schedule first, the rules in their order), or None."""
    for schedule in reversed(run.schedules):
        if schedule.stepping is None:
            continue
        for rule in rules:
            diagnosis = rule(run, schedule)
            if diagnosis is not None:
                return diagnosis
    return None


from . import absolute_lr, collapse, invalid, keras_multiplier, vanishing  # noqa: E402  (they use what is above)
from . import plateau_mode, resume_mismatch  # noqa: E402
from . import schedule_length, schedule_not_applied  # noqa: E402

ALL = (invalid, absolute_lr, keras_multiplier, resume_mismatch, plateau_mode, schedule_length, schedule_not_applied,
       collapse, vanishing)
