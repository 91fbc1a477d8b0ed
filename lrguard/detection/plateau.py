"""What one ReduceLROnPlateau was given and did, evaluation by evaluation (bounded; no framework)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

MAX_EVALUATIONS = 512  # evaluations kept per scheduler (one per epoch, usually); later ones are counted only


@dataclass
class PlateauTrace:
    """The values a ReduceLROnPlateau (PyTorch's, or Keras' callback) watched, and when it cut the lr."""

    mode: str  # the direction it takes for better, as resolved: "min" | "max"
    patience: int = 0
    cooldown: int = 0
    mode_given: Optional[str] = None  # the mode as the user wrote it ("auto": Keras resolved it from the name)
    name: Optional[str] = None  # what it watches: Keras' ``monitor``, the expression given to ``step()``, a trainer's
    values: List[float] = field(default_factory=list)
    cuts: List[int] = field(default_factory=list)  # indices of the evaluations that lowered the lr
    train_losses: List[Optional[float]] = field(default_factory=list)  # the training loss at each evaluation
    lrs: List[Optional[float]] = field(default_factory=list)  # param group 0's lr after each evaluation
    first_lr: Optional[float] = None  # its lr before the first evaluation
    evaluations: int = 0

    def add(self, value: float, cut: bool, train_loss: Optional[float], lr: Optional[float]) -> None:
        """One evaluation: the value given, whether the lr was cut, the training loss and the lr then."""
        self.evaluations += 1
        if len(self.values) >= MAX_EVALUATIONS:
            return
        if cut:
            self.cuts.append(len(self.values))
        self.values.append(value)
        self.train_losses.append(train_loss)
        self.lrs.append(lr)
