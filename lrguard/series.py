"""Bounded summaries of the observation stream: one learning-rate track per param group, a loss window.

Nothing here grows with the number of steps, and nothing imports a framework.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Deque, List, Optional


@dataclass
class LRTrack:
    """The real learning rate of one param group over time, in O(1) space."""

    base: float  # the lr the group started with ('initial_lr'): what the code asked for
    lr: float = math.nan  # the lr now
    first: float = math.nan  # the lr at the first observed step
    peak: float = -math.inf
    low: float = math.inf
    since: int = 0  # the step from which `lr` holds
    integral: float = 0.0  # sum of the lr over the steps before `since`
    changes: int = 0
    changes_after_peak: int = 0

    def update(self, lr: float, step: int) -> None:
        """The group's lr is ``lr`` from ``step`` on."""
        if self.since:
            self.integral += self.lr * (step - self.since)
            self.changes += 1
            self.changes_after_peak += 1
        else:
            self.first = lr
        self.lr, self.since = lr, step
        if lr > self.peak:
            self.peak, self.changes_after_peak = lr, 0
        if lr < self.low:
            self.low = lr

    def mean_lr(self, step: int) -> float:
        """The mean lr over steps 1..step."""
        total = self.integral + self.lr * (step + 1 - self.since)
        return total / max(step, 1)


@dataclass
class LossWindow:
    """The first losses seen and a sliding window of the latest ones."""

    head_size: int = 16
    recent: Deque[float] = field(default_factory=lambda: deque(maxlen=64))
    head: List[float] = field(default_factory=list)
    count: int = 0

    def extend(self, values: List[float]) -> None:
        for value in values:
            if not math.isfinite(value):
                continue
            self.count += 1
            if len(self.head) < self.head_size:
                self.head.append(value)
            self.recent.append(value)

    MIN_HALVES = 16  # losses needed before the window says anything

    def initial(self) -> Optional[float]:
        return sum(self.head) / len(self.head) if self.head else None

    def halves(self) -> Optional[tuple]:
        """(mean of the older half, mean of the newer half) of the recent window, once it has enough."""
        if len(self.recent) < self.MIN_HALVES:
            return None
        values = list(self.recent)
        half = len(values) // 2
        return sum(values[:half]) / half, sum(values[half:]) / (len(values) - half)

    def stalled(self, tolerance: float = 0.05) -> Optional[bool]:
        """True when the newer half of the window improves on the older half by less than ``tolerance``."""
        halves = self.halves()
        if halves is None:
            return None
        older, newer = halves
        return newer >= older - tolerance * abs(older)


@dataclass(frozen=True)
class GradSample:
    """Gradient statistics of the first and last weight tensors at one optimizer step."""

    step: int
    first_grad: float  # L2 norm of the first layer's gradient
    last_grad: float
    first_weight: float
    last_weight: float
    first_update: Optional[float] = None  # ||w_after - w_before|| / ||w_before|| of the first layer
    last_update: Optional[float] = None

    @property
    def grad_ratio(self) -> float:
        """first/last gradient norm: tiny when the early layers' gradients vanish."""
        return self.first_grad / self.last_grad if self.last_grad > 0 else math.inf
