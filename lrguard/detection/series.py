"""Bounded summaries of the observation stream: one learning-rate track per param group, a loss window.

Nothing here grows with the number of steps, and nothing imports a framework.
"""
from __future__ import annotations

import math
import operator
from collections import deque
from functools import reduce
from itertools import islice
from dataclasses import dataclass, field
from typing import Deque, List, Optional, Sequence

DECADES = 16  # LRTrack.depth_steps buckets: 0 .. 15+ decades below the peak
_INF, _log10, _eq, _lt, _add = math.inf, math.log10, operator.eq, operator.lt, operator.add


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
        self.extend((step,), (lr,), changes_only=False)

    def extend(self, steps: Sequence[int], lrs: Sequence[float], changes_only: bool = True) -> None:
        """``update(lrs[i], steps[i])`` for each i in order, in one pass (the per-step changes a training run
        recorded since the last checkpoint); with ``changes_only``, an lr equal to the current one is skipped."""
        if changes_only and len(steps) > 1 and self._extend_batch(steps, lrs):
            return
        lr, since, peak, low = self.lr, self.since, self.peak, self.low
        integral, changes, after_peak = self.integral, self.changes, self.changes_after_peak
        depth_steps = self.depth_steps
        for step, new in zip(steps, lrs):
            if changes_only and not new != lr:
                continue
            if since or not math.isnan(lr):  # not the first update (which may come at step 0: Keras)
                integral += lr * (step - since)
                # _depth(lr, peak), inlined: this loop runs once per lr change, every step for a per-batch schedule
                if lr < peak < _INF and peak > 0 and not lr * 9.99 > peak:  # (within 9.99x of the peak: 0)
                    depth = min(DECADES - 1, int(_log10(peak / lr) + 1e-9)) if lr > 0 else DECADES - 1
                else:
                    depth = 0
                depth_steps[depth] += step - since
                changes += 1
                after_peak += 1
            else:
                self.first, self.start = new, step
            lr, since = new, step
            if lr > peak:
                peak, after_peak = lr, 0
            if lr < low:
                low = lr
        self.lr, self.since, self.peak, self.low = lr, since, peak, low
        self.integral, self.changes, self.changes_after_peak = integral, changes, after_peak

    def _extend_batch(self, steps: Sequence[int], lrs: Sequence[float]) -> bool:
        """``extend`` of a schedule stepped every batch, in a few passes of builtins: an lr that changed at each of
        consecutive steps, either rising to a new peak at each (a warmup), or never above the peak with every lr held
        in the batch (the current one and each new one but the last) the same whole number of decades below it
        (``_depth`` does not rise as the lr does: the lowest and the highest of them tell). False (nothing done) for
        anything else."""
        lr, peak, n = self.lr, self.peak, len(steps)
        if steps[-1] - steps[0] != n - 1 or math.isnan(lr) and not self.since:
            return False
        last, held = lrs[-1], lrs[:-1]
        if lrs[0] > peak:  # a new peak at every change (rising, none equal): the lrs held after the first are peaks
            if not (last < _INF and all(map(_lt, lrs, islice(lrs, 1, None)))):
                return False
            depth, low = _depth(lr, peak), lrs[0]
        else:
            low, high = min(held), max(held)
            if not (0 < peak < _INF and max(high, last) <= peak and last == last) or lrs[0] == lr:
                return False
            depth = _depth(min(low, lr), peak)
            if _depth(max(high, lr), peak) != depth or any(map(_eq, lrs, islice(lrs, 1, None))):  # (a repeat)
                return False
        # each lr holds one step; the sum runs in the order ``extend`` adds (the same float)
        integral = reduce(_add, held, self.integral + lr * (steps[0] - self.since))
        if integral != integral:
            return False  # a NaN among them
        self.integral = integral
        self.changes += n
        if last > peak:
            self.depth_steps[depth] += steps[0] - self.since
            self.depth_steps[0] += steps[-1] - steps[0]
            self.peak, self.changes_after_peak = last, 0
        else:
            self.depth_steps[depth] += steps[-1] - self.since
            self.changes_after_peak += n
        self.lr, self.since, self.low = last, steps[-1], min(self.low, low, last)
        return True

    def mean_lr(self, step: int) -> float:
        """The mean lr over steps 1..step."""
        total = self.integral + self.lr * (step + 1 - self.since)
        return total / max(step, 1)

    def depth(self) -> int:
        """How many whole decades the lr now is below the peak so far (0 at or above it, or when unknown)."""
        return _depth(self.lr, self.peak)

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


def _depth(lr: float, peak: float) -> int:
    """How many whole decades ``lr`` is below ``peak`` (0 at or above it, or when unknown)."""
    if not (0 < peak < math.inf and lr < peak):
        return 0
    if not lr > 0:
        return DECADES - 1
    return min(DECADES - 1, int(math.log10(peak / lr) + 1e-9))


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
        n = len(values)
        isfinite = math.isfinite
        kept = [i for i, value in enumerate(values, 1) if isfinite(value)]  # (index + 1) of the finite values
        if len(kept) < n:
            values = [values[i - 1] for i in kept]
        self.count += len(kept)
        room = self.head_size - len(self.head)
        if room > 0:
            self.head.extend(values[:room])
        self.recent.extend(values)
        if step is None:
            self.steps.extend([-1] * len(kept))
        else:
            start = min(self.last_step, step)
            self.steps.extend([start + round((step - start) * i / n) for i in kept])
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
    # Through time, in a recurrent layer (vanilla RNN): over ``time_steps`` time steps of a sequence, the gradient
    # reaching the first step's hidden state is ``time_gain`` x the one at the last (backpropagated through the
    # recurrence along the hidden states of a recent training batch); None when not measured.
    time_steps: Optional[int] = None
    time_gain: Optional[float] = None
    # With it, over the ``drift_steps`` steps since the previous such sample: the first and last weights' net
    # displacement over the path walked at this step's pace (the smaller of the two): ~1 while the weights drift one
    # way (something is learned, however slowly), ~1/sqrt(steps) while they wander (their gradients are noise).
    drift: Optional[float] = None
    drift_steps: Optional[int] = None

    @property
    def grad_ratio(self) -> float:
        """first/last gradient norm: tiny when the early layers' gradients vanish."""
        return self.first_grad / self.last_grad if self.last_grad > 0 else math.inf
