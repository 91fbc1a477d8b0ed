"""``vanishing-gradients``: the loss is flat while the lr is healthy, and the early layers get no signal.

AUTOTRAINER's rule is the reference: first/last gradient-norm ratio < 1e-3 and first-layer gradient norm < 1e-4.
lrguard keeps the ratio test as it is and asks for it on ``SAMPLES`` gradient samples in a row. The absolute norm
depends on the loss's scale (a sum-reduced loss, a large target range), so lrguard also accepts, instead of it,
the direct evidence that the first layer does not learn: its update/weight ratio per step is < 1e-3 of the last
layer's (``FROZEN``) — with SGD that is the gradient ratio again, rescaled by the weights' norms; with Adam it stays
~1 unless the first layer's gradients sink under Adam's epsilon, which is when Adam cannot rescue the layer either.

Calibration (real PyTorch runs on CPU, first and last weight matrices; the 38 scenarios of tests/scenarios/torch
and more nets): healthy runs and schedule-bug runs show gradient ratios >= 0.04 (784-128-10 MLPs: 0.3-4; small
CNNs: 0.05-0.3; OneCycleLR: 0.04-0.8; a 10-layer default-init ReLU MLP, the weakest: 5e-3-1e-2), whatever the
lr does (the ratio does not depend on the lr), and first/last update ratios >= 0.04 while the lr is healthy (a
collapsed lr can round a large layer's update to 0 in float32: hence the ratio test first). Genuine vanishing
nets: 5-layer sigmoid + SGD 3e-4-6e-4; 6-layer 2e-5-5e-5; 8-layer 2e-7-2e-6; 10- and 12-layer 1e-10-2e-8 (first-
layer norms 1e-10-3e-4); 20-layer tanh 5e-4. A 4-layer sigmoid MLP (2e-3) and a 5-layer one under Adam (6e-4
rising to 3e-3 as Adam pulls it out, update ratio ~2) are left alone. The 1e-3 threshold leaves a 40x margin to
every healthy or schedule-bug run measured, 5x to the weakest healthy-looking net.

Through time (a vanilla RNN: the same weights serve every time step, so the layer ratio looks normal): the adapter
measures how much of a gradient at a sequence's last time step reaches its first (``GradSample.time_gain``). It is
tiny for any default-initialised tanh RNN over a long sequence (T=100: 1e-26-1e-13; T=30: 1e-7-1e-6; T=20: ~5e-5,
which Adam still learns from after ~200 steps; T=10: 1e-2), whatever the task, so the gain alone proves nothing:
``TIME_GAIN`` = 1e-6 on ``SAMPLES`` samples, and a loss that is flat *and* still within 5% of the run's first losses
(``AT_START``: a short-memory task is learned from the last steps within a few dozen steps), and weights that
wander rather than drift (``GradSample.drift`` < ``WANDER`` = 0.9 over >= 16 steps). The drift tells a gradient
that carries no signal (measured 0.14-0.83 at 16-64 steps, with SGD, momentum, Adam, RMSprop) from a signal followed
too slowly (an lr too small to move the loss: 0.97-1.05): the latter is not a vanishing gradient. A vanilla RNN on
random labels looks like the former, and is reported too.

Besides the gradients: the loss must be flat (the newer half of the recent losses within 2% of the older half),
and the lr healthy: every group's lr > 0 and >= 1/100 of min(its base lr, its peak so far) (so never while the lr
itself is starved). Never while a schedule bug explains the flat loss (``TrainingRun.has_schedule_bug``: the schedule
detectors run first).
"""
from __future__ import annotations

from typing import Optional

from . import Diagnosis, fmt

ID = "vanishing-gradients"

SAMPLES = 3  # consecutive gradient samples that must agree
RATIO = 1e-3  # first/last gradient-norm ratio (AUTOTRAINER)
FIRST_NORM = 1e-4  # first-layer gradient norm (AUTOTRAINER) ...
FROZEN = 1e-3  # ... or first-layer update/weight per step < FROZEN x the last layer's
HEALTHY_LR = 1e-2  # lr now >= min(base lr, peak) * HEALTHY_LR
FLAT = 0.02  # the loss improves by less than this (relative) between the older and newer halves of the window
TIME_GAIN = 1e-6  # through time: the gradient reaching a sequence's first step < this x the one at its last ...
AT_START = 0.05  # ... and the loss no more than this (relative) below the first losses of the run ...
WANDER = 0.9  # ... and the weights wander (drift < this) rather than drift one way ...
DRIFT_STEPS = 16  # ... over at least this many steps


def vanishing(sample) -> bool:
    """Does this gradient sample show vanishing gradients?"""
    if not sample.grad_ratio < RATIO:
        return False
    frozen = (
        sample.first_update is not None and sample.last_update is not None and sample.last_update > 0
        and sample.first_update < FROZEN * sample.last_update
    )
    return sample.first_grad < FIRST_NORM or frozen


def _healthy_lr(run) -> bool:
    return bool(run.groups) and all(
        t.lr > 0 and t.lr >= HEALTHY_LR * min(t.base, t.peak) for t in run.groups
    )


def check(run) -> Optional[Diagnosis]:

    samples = list(run.grads)[-SAMPLES:]
    if len(samples) < SAMPLES or run.has_schedule_bug:
        return None
    if not all(vanishing(s) for s in samples):
        return _through_time(run, samples)
    if not _healthy_lr(run):
        return None
    if run.losses.stalled(tolerance=FLAT) is not True:
        return None
    last = samples[-1]
    update = ""
    if last.first_update == 0:
        update = "; a step leaves the first layer's weights unchanged"
    elif last.first_update is not None:
        update = f"; each step moves the first layer's weights by {_short(last.first_update)} of their norm"
    older, newer = run.losses.halves()
    return Diagnosis(
        ID, "vanishing-gradients",
        f"the loss is flat ({fmt(older)} -> {fmt(newer)}) while the lr is healthy ({fmt(run.groups[0].lr)}): the"
        f" first layer's gradients are {_short(last.grad_ratio)} x the last layer's (gradient norms"
        f" {_short(last.first_grad)} vs {_short(last.last_grad)}{update}), so the early layers barely learn."
        " This is not a schedule problem.",
        "Use ReLU-family activations, residual connections or normalization layers, and a suited initialization"
        " (He/Xavier).",
        severity="warning",
    )


def _short(value: float) -> str:
    """Two significant digits, read at a glance: 3.4e-12, 0.23, 1.5."""
    return f"{value:.2g}"


def vanishing_in_time(sample) -> bool:
    """Does this gradient sample show the gradient vanishing through time in a recurrent layer?"""
    return sample.time_gain is not None and sample.time_gain < TIME_GAIN


def _through_time(run, samples) -> Optional[Diagnosis]:
    """A vanilla RNN whose gradient no longer reaches the start of its sequences, and a loss still where it began."""
    if not all(vanishing_in_time(s) for s in samples) or not _healthy_lr(run):
        return None
    losses = run.losses
    if losses.count < 2 * losses.head_size or losses.stalled(tolerance=FLAT) is not True:
        return None  # too few losses to tell the first ones from the recent ones, or still improving
    start, (_, newer) = losses.initial(), losses.halves()
    if newer < start - AT_START * abs(start):
        return None  # it learned something (what the recent steps of a sequence tell)
    last = samples[-1]
    if last.drift is None or last.drift_steps is None or last.drift_steps < DRIFT_STEPS or not last.drift < WANDER:
        return None  # the weights move one way: a signal, learned slowly (a small lr), not a gradient that is lost
    return Diagnosis(
        ID, "vanishing-gradients",
        f"the loss is flat where it started ({fmt(start)} -> {fmt(newer)}) while the lr is healthy"
        f" ({fmt(run.groups[0].lr)}): through time, the gradient reaching the first of {last.time_steps} time steps"
        f" of the recurrent layer is {_short(last.time_gain)} x the one at the last, so nothing the model should"
        " learn from the start of a sequence reaches its weights. This is not a schedule problem.",
        "Use nn.LSTM or nn.GRU (their gated state carries the gradient across time steps), or shorter sequences"
        " (truncated backpropagation through time, with the signal within reach); an orthogonal or identity"
        " initialization of weight_hh helps a vanilla RNN. Gradient clipping does not: it caps exploding"
        " gradients and cannot restore vanished ones.",
        severity="warning",
    )
