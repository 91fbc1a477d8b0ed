"""A run's history for the report and the plot: (step, value) points in bounded space.

Each series keeps at most ``capacity`` points: when it is full, every other point goes and the spacing between
the points it accepts doubles, so a long run keeps an even, coarser picture of itself. It is fed only where
lrguard already does work (an lr change, a checkpoint's batch of losses, a gradient sample), never per step.
"""
from __future__ import annotations

import math
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

LR_POINTS = 1024
LOSS_POINTS = 512
GRAD_POINTS = 256  # ~1800 points per run in all


class Series:
    """(step, value) points, at most ``capacity``; the latest point is always kept."""

    __slots__ = ("capacity", "points", "spacing", "last")

    def __init__(self, capacity: int) -> None:
        self.capacity = max(2, capacity)
        self.points: List[Tuple[int, Any]] = []
        self.spacing = 1  # the fewest steps between two kept points
        self.last: Optional[Tuple[int, Any]] = None

    def add(self, step: int, value: Any) -> None:
        self.last = (step, value)
        points = self.points
        if points and step - points[-1][0] < self.spacing:
            return
        if len(points) >= self.capacity:
            del points[1::2]
            self.spacing *= 2
            if step - points[-1][0] < self.spacing:
                return
        points.append((step, value))

    def extend(self, steps: Sequence[int], values: Sequence[Any],
               convert: Optional[Callable[[Any], Any]] = None) -> None:
        """``add(step, convert(value))`` (or ``add(step, value)``) for each pair in order; ``convert`` runs only for
        the points kept."""
        points, spacing = self.points, self.spacing
        kept = points[-1][0] if points else None  # the step of the latest point kept
        n = len(steps)
        if n and steps[-1] - steps[0] == n - 1:  # consecutive steps (an lr changed every step): every spacing-th
            first = 0 if kept is None else max(0, kept + spacing - steps[0])
            if len(range(first, n, spacing)) <= self.capacity - len(points):  # (no halving on the way)
                taken = values[first::spacing]
                points += zip(steps[first::spacing], taken if convert is None else map(convert, taken))
                self.last = (steps[-1], values[-1] if convert is None else convert(values[-1]))
                return
        for step, value in zip(steps, values):
            if kept is not None and step - kept < spacing:
                continue
            if len(points) >= self.capacity:
                del points[1::2]
                spacing = self.spacing = spacing * 2
                if step - points[-1][0] < spacing:
                    kept = points[-1][0]
                    continue
            points.append((step, value if convert is None else convert(value)))
            kept = step
        if steps:
            self.last = (steps[-1], values[-1] if convert is None else convert(values[-1]))

    def items(self) -> List[Tuple[int, Any]]:
        """The kept points, in step order, ending with the latest one."""
        points = list(self.points)
        if self.last is not None and (not points or points[-1] != self.last):
            points.append(self.last)
        return points

    def __len__(self) -> int:
        return len(self.points)


class History:
    """The real lr of every param group, the loss and the first/last gradient ratio over a run's steps."""

    __slots__ = ("lr", "loss", "grad_ratio", "loss_step")

    def __init__(self) -> None:
        self.lr = Series(LR_POINTS)  # value: the lr of each param group (None: not a number)
        self.loss = Series(LOSS_POINTS)
        self.grad_ratio = Series(GRAD_POINTS)
        self.loss_step = 0  # the step of the latest loss added

    def add_lrs(self, step: int, lrs: Sequence[Optional[float]]) -> None:
        self.lr.add(step, tuple(lrs))

    def add_lr_changes(self, steps: Sequence[int], lrs: Sequence[Union[float, Sequence[Optional[float]]]]) -> None:
        """``add_lrs(steps[i], lrs[i])`` for each i (a float: one param group's lr): the lr changes a run recorded
        since its last checkpoint."""
        self.lr.extend(steps, lrs, _lr_tuple)

    def add_losses(self, step: int, values: Sequence[float]) -> None:
        """Losses sampled since the last batch, read at ``step``: spread evenly over the steps in between."""
        values = [v for v in values if math.isfinite(v)]
        if not values:
            return
        start = min(self.loss_step, step)
        span, n = step - start, len(values)
        self.loss.extend([start + round(span * i / n) for i in range(1, n + 1)], values)
        self.loss_step = step

    def add_grad_ratio(self, step: int, ratio: float) -> None:
        self.grad_ratio.add(step, ratio)

    def to_dict(self) -> dict:
        """JSON-ready lists: ``lr`` as [step, [lr per group]], ``loss`` and ``grad_ratio`` as [step, value]."""
        return {
            "lr": [[step, [_json_number(v) for v in lrs]] for step, lrs in self.lr.items()],
            "loss": [[step, _json_number(v)] for step, v in self.loss.items()],
            "grad_ratio": [[step, _json_number(v)] for step, v in self.grad_ratio.items()],
        }


def _lr_tuple(lrs: Union[float, Sequence[Optional[float]]]) -> Tuple[Optional[float], ...]:
    return (lrs,) if type(lrs) is float else tuple(lrs)


def _json_number(value: Any) -> Optional[float]:
    """A finite float, or None (JSON has no NaN or infinity)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
