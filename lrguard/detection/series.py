"""Bounded summaries of the observation stream: one learning-rate track per param group, a loss window.

Nothing here grows with the number of steps, and nothing imports a framework.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Deque, List, Optional

DECADES = 16  # LRTrack.depth_steps buckets: 0 .. 15+ decades below the peak


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
    start: int = 0  # the first observed step
    # depth_steps[k]: the steps spent k whole decades below the peak so far (the last bucket: that far or more,
    # or 0); for how long a schedule kept the lr far below where it had been, in DECADES ints.
    depth_steps: List[int] = field(default_factory=lambda: [0] * DECADES)

    def update(self, lr: float, step: int) -> None:
        """The group's lr is ``lr`` from ``step`` on."""
        if self.since or not math.isnan(self.lr):  # not the first update (which may come at step 0: Keras)
            self.integral += self.lr * (step - self.since)
            self.depth_steps[self.depth()] += step - self.since
            self.changes += 1
            self.changes_after_peak += 1
        else:
            self.first, self.start = lr, step
        self.lr, self.since = lr, step
        if lr > self.peak:
            self.peak, self.changes_after_peak = lr, 0
        if lr < self.low:
            self.low = lr

    def mean_lr(self, step: int) -> float:
        """The mean lr over steps 1..step."""
        total = self.integral + self.lr * (step + 1 - self.since)
        return total / max(step, 1)

    def depth(self) -> int:
        """How many whole decades the lr now is below the peak so far (0 at or above it, or when unknown)."""
        if not (0 < self.peak < math.inf and self.lr < self.peak):
            return 0
        if not self.lr > 0:
            return DECADES - 1
        return min(DECADES - 1, int(math.log10(self.peak / self.lr) + 1e-9))

    def steps_below(self, decades: int, step: int) -> int:
        """Of the observed steps up to ``step`` (inclusive), how many had an lr >= ``decades`` decades below the
        peak of their time (the peak may rise later: a warmup's first steps do not count as far below it)."""
        past = sum(self.depth_steps[max(decades, 0):])
        if math.isnan(self.lr) or self.depth() < decades:
            return past
        return past + max(step - self.since + 1, 0)

    def observed_steps(self, step: int) -> int:
        """The steps from the first observed one up to ``step``, inclusive."""
        return 0 if math.isnan(self.first) and not self.since else max(step - self.start + 1, 0)


@dataclass
class LossWindow:
    """The first losses seen and a sliding window of the latest ones."""

    head_size: int = 16
    recent: Deque[float] = field(default_factory=lambda: deque(maxlen=64))
    head: List[float] = field(default_factory=list)
    count: int = 0
    # The step of each value in ``recent`` (-1: unknown). Values read together at ``step`` were sampled since the
    # previous read, in order: they are spread evenly over the steps in between.
    steps: Deque[int] = field(default_factory=deque)
    last_step: int = 0

    def __post_init__(self) -> None:
        self.steps = deque(self.steps, maxlen=self.recent.maxlen)

    def extend(self, values: List[float], step: Optional[int] = None) -> None:
        start = min(self.last_step, step) if step is not None else 0
        n = len(values)
        for index, value in enumerate(values):
            if not math.isfinite(value):
                continue
            self.count += 1
            if len(self.head) < self.head_size:
                self.head.append(value)
            self.recent.append(value)
            self.steps.append(-1 if step is None else start + round((step - start) * (index + 1) / n))
        if step is not None:
            self.last_step = step

    MIN_HALVES = 16  # losses needed before the window says anything

    def initial(self) -> Optional[float]:
        return sum(self.head) / len(self.head) if self.head else None

    def halves(self, since: Optional[int] = None) -> Optional[tuple]:
        """(mean of the older half, mean of the newer half) of the recent window (only the values of step ``since``
        or later, if given), once it has enough."""
        values = list(self.recent)
        if since is not None:
            values = [v for v, step in zip(values, self.steps) if step >= since]
        if len(values) < self.MIN_HALVES:
            return None
        half = len(values) // 2
        return sum(values[:half]) / half, sum(values[half:]) / (len(values) - half)

    def stalled(self, tolerance: float = 0.05, since: Optional[int] = None) -> Optional[bool]:
        """True when the newer half of the window improves on the older half by less than ``tolerance``
        (None: not enough values, of step ``since`` or later)."""
        halves = self.halves(since)
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
