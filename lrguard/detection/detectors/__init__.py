"""Detectors: pure functions of a ``TrainingRun`` that return a ``Diagnosis`` or ``None``.

The contract: each detector module has an ``ID`` and a ``check(run)`` that reads the run's observations (its lr
tracks, schedules, losses, gradient samples) and returns a ``Diagnosis`` (a finding without the run's context) or
``None``. Order matters: a schedule bug, once found, silences the detectors that would explain the same symptoms
differently.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Diagnosis:
    """What a detector returns: a finding without the run's context."""

    id: str
    category: str
    message: str
    fix: str
    group: Optional[int] = None
    severity: str = "error"


def fmt(value: float) -> str:
    """A number the way a user writes it: 0.001, 1e-06, 0.9."""
    return f"{value:.4g}"


from . import absolute_lr, collapse, invalid, keras_multiplier, vanishing  # noqa: E402  (they use fmt)

ALL = (invalid, absolute_lr, keras_multiplier, collapse, vanishing)
