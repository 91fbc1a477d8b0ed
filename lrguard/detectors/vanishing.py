"""``vanishing-gradients``: the loss is flat while the lr is healthy, and the early layers get no signal.

AUTOTRAINER's rule is the reference (first/last gradient-norm ratio < 1e-3 and first-layer gradient norm < 1e-4);
lrguard asks for that picture on several samples in a row, and also accepts the direct evidence of an update that
does not move the first layer (update/weight ratio), which catches the vanishing layers that an adaptive optimizer
rescales. Never while a schedule bug explains the flat loss, never while the lr itself is starved.
"""
from __future__ import annotations

from typing import Optional

from . import fmt

ID = "vanishing-gradients"

SAMPLES = 3  # consecutive gradient samples that must agree
RATIO = 1e-3  # first/last gradient-norm ratio
FIRST_NORM = 1e-4  # first-layer gradient norm
FROZEN_UPDATE = 1e-6  # first-layer ||update|| / ||weight|| per step
HEALTHY_LR = 1e-2  # lr now >= base lr * HEALTHY_LR


def _vanishing(sample) -> bool:
    by_grad = sample.grad_ratio < RATIO and sample.first_grad < FIRST_NORM
    by_update = (
        sample.first_update is not None and sample.last_update is not None and sample.first_update < FROZEN_UPDATE
        and sample.last_update > 100 * sample.first_update and sample.grad_ratio < 10 * RATIO
    )
    return by_grad or by_update


def check(run) -> Optional["Diagnosis"]:
    from ..run import Diagnosis

    samples = list(run.grads)[-SAMPLES:]
    if len(samples) < SAMPLES or run.has_schedule_bug:
        return None
    if not all(_vanishing(s) for s in samples):
        return None
    if not all(t.base > 0 and t.lr >= t.base * HEALTHY_LR for t in run.groups):
        return None
    if run.losses.stalled(tolerance=0.02) is not True:
        return None
    last = samples[-1]
    update = f", first-layer update/weight {fmt(last.first_update)} per step" if last.first_update is not None else ""
    older, newer = run.losses.halves()
    return Diagnosis(
        ID, "vanishing-gradients",
        f"the loss is flat ({fmt(older)} -> {fmt(newer)}) while the lr is healthy ({fmt(run.groups[0].lr)}), and the"
        f" first layer's gradient norm is {fmt(last.first_grad)}, {fmt(last.grad_ratio)} of the last layer's"
        f" ({fmt(last.last_grad)}){update}. This is not a schedule problem.",
        "Use ReLU-family activations, residual connections or normalization layers, and a suited initialization"
        " (He/Xavier).",
        severity="warning",
    )
