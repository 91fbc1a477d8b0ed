"""Vanishing gradients through time in vanilla RNNs (``nn.RNN``), measured at lrguard's gradient-sampling steps.

The first/last-layer gradient ratio cannot see them: the same weights serve every time step, so their gradients
look normal while the gradient reaching the early time steps is ~0. What shows them is the recurrence itself.
For ``h_t = act(W_ih x_t + W_hh h_{t-1} + b)``, ``dL/dh_{t-1} = W_hh^T (act'_t * dL/dh_t)``, with
``act'_t = 1 - h_t**2`` (tanh) or ``[h_t > 0]`` (relu). Along the hidden states of one training batch (the RNN's
output: its top layer), lrguard carries a unit vector back from the last time step to the first, renormalising as
it goes, and records by how many decades it shrank: the largest gain over a few sequences (the most favourable
case), as a 0-dim tensor read at the next checkpoint with the other sampled norms.

Cost: nothing on the steps lrguard does not sample, and nothing while no ``nn.RNN`` was built. At a gradient-
sampling step, the watched optimizer's RNNs are armed: a global forward hook (``register_module_forward_hook``:
global, so that nothing is added to the user's modules, which may be pickled meanwhile) measures each RNN at its
next forward with grad enabled, then lrguard takes the hook off again (at the latest one step later). The
measurement is a chain of small products on at most ``SEQUENCES`` sequences, under ``no_grad`` in float32, on the
RNN's device, without a host read. It returns nothing: the model's outputs and autograd graph are unchanged.
Bidirectional RNNs, packed sequences, LSTM and GRU (gated: their cell state carries gradients across time) are
not measured; nor is anything once torch.compile has compiled a graph in the process (a global hook would make
Dynamo recompile).
"""
from __future__ import annotations

import contextlib
import math
import sys
import weakref
from typing import List, Optional, Tuple

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook

from .failopen import STATE, internal_error

SEQUENCES = 8  # sequences of the batch measured
MAX_STEPS = 512  # time steps followed back from the last one, at most
RENORM = 8  # the chain's vector is renormalised every RENORM time steps
DRIFT_LIMIT = 1 << 22  # weights larger than this (elements) are not copied to measure their drift

_rnns: "weakref.WeakSet[nn.RNN]" = weakref.WeakSet()  # every vanilla RNN built since install
_targets: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # armed RNN -> weak reference to its watch
_measured: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # watch -> (time steps, log10 gain tensor)
_previous: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # watch -> (step, [first, last weight copies])
_hook = None  # the global forward hook's handle while armed
_expiry: tuple = (lambda: None, 0)  # (weak reference to the watch armed last, the step after which it expires)


def lrguard_observes_rnn_init(wrapped, instance, args, kwargs):
    """``nn.RNN.__init__``, then lrguard remembers the RNN (weakly) for its gradient samples."""
    wrapped(*args, **kwargs)
    if not STATE.stopped and type(instance).__hash__ is not None:  # weak sets need hashable keys
        try:
            _rnns.add(instance)
        except Exception as exc:
            internal_error("watching a new RNN", exc)


def _recurrent_weight(rnn) -> Optional[torch.Tensor]:
    """The top layer's ``weight_hh`` of a measurable RNN (one direction, tanh or relu), else None."""
    if getattr(rnn, "mode", None) not in ("RNN_TANH", "RNN_RELU") or getattr(rnn, "bidirectional", True):
        return None
    weight = getattr(rnn, f"weight_hh_l{int(getattr(rnn, 'num_layers', 1)) - 1}", None)
    return weight if isinstance(weight, torch.Tensor) and weight.dim() == 2 else None


def dynamo_compiled() -> bool:
    """Has torch.compile compiled anything in this process? (Then no global hook: Dynamo guards on them.)"""
    utils = sys.modules.get("torch._dynamo.utils")
    stats = utils.counters.get("stats") if utils is not None else None
    return bool(stats and stats.get("unique_graphs"))


def arm(watch, opt) -> None:
    """At a gradient-sampling step: measure the optimizer's RNNs at their next training forward."""
    global _hook, _expiry
    if not _rnns or dynamo_compiled():
        return
    params = {id(p) for group in opt.param_groups for p in group["params"]}
    for rnn in list(_rnns):
        weight = _recurrent_weight(rnn)
        if weight is not None and id(weight) in params:
            _targets[rnn] = weakref.ref(watch)
    if _targets:
        _expiry = (weakref.ref(watch), watch.run.step + 1)
        if _hook is None:
            _hook = register_module_forward_hook(_forward)


def sample(watch, step: int, weights) -> Optional[Tuple[Tuple[int, int], list]]:
    """At a gradient sample (``weights``: the first and last weights, after the step): what lrguard measured of the
    watch's RNNs since the last sample, as ((time steps, drift steps), values read with the sample's norms): the
    log10 gain through time (a 0-dim tensor), then how far the first and last weights went since the previous such
    sample, ``drift steps`` ago (0-dim tensors, -1 for a weight too large to keep a copy of; none at the first
    sample). None when no RNN was measured: nothing else is done then."""
    measured = _measured.pop(watch, None) if _measured else None
    if measured is None:
        return None
    time_steps, gain = measured
    values: list = [gain]
    previous = _previous.pop(watch, None)
    drift_steps = 0
    if previous is not None:
        drift_steps = step - previous[0]
        values += [torch.dist(w, old) if old is not None and old.shape == w.shape else w.new_full((), -1.0)
                   for w, old in zip(weights, previous[1])]
    _previous[watch] = (step, [w.detach().clone() if w.numel() <= DRIFT_LIMIT else None for w in weights])
    return (time_steps, drift_steps), values


def drift(walked: List[float], moved: List[float], steps: int) -> Optional[float]:
    """The smaller of the first and last weights' net distance since the previous sample (``walked``) over
    ``steps`` x this step's update (``moved``; -1.0: unknown): ~1 while a weight drifts one way (it learns
    something, however slowly), ~1/sqrt(steps) while it wanders (its gradients are noise)."""
    ratios = [w / (steps * m) for w, m in zip(walked, moved) if w >= 0 and m > 0]
    return min(ratios) if steps > 0 and ratios else None


def disarm() -> None:
    """Forget the armed RNNs and take the global hook off."""
    global _hook
    _targets.clear()
    if _hook is not None:
        _hook.remove()
        _hook = None


class Disarm:
    """Takes the hook off on uninstall (``Patches.keep``)."""

    def remove(self) -> None:
        disarm()
        _measured.clear()
        _previous.clear()


def _forward(module, args, output) -> None:
    """The global forward hook while armed: every module's forward passes here, and only an armed RNN's is used."""
    try:
        armed = isinstance(module, nn.RNN) and type(module).__hash__ is not None and module in _targets
        if not armed:
            watch = _expiry[0]()
            if watch is None or watch.run.step > _expiry[1] or STATE.stopped:
                disarm()  # the armed RNNs did not run in the step after the sample: measured after the next one
            return
        if not torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return  # an evaluation pass, or a trace that must not record lrguard's ops: wait for a training forward
        ref = _targets.pop(module, None)
        if not _targets:
            disarm()
        watch = ref() if ref is not None else None
        measured = _measure(module, output) if watch is not None else None
        if measured is not None:
            _measured[watch] = measured
    except Exception as exc:
        disarm()
        internal_error("the PyTorch RNN measurement", exc)


def _measure(rnn, output) -> Optional[Tuple[int, torch.Tensor]]:
    """(time steps followed, log10 of the largest gain from the last to the first of them), or None."""
    weight = _recurrent_weight(rnn)
    out = output[0] if isinstance(output, tuple) and output else None
    if weight is None or type(out) is not torch.Tensor or out.dim() not in (2, 3) or out.shape[-1] != weight.shape[0]:
        return None  # a PackedSequence, or an RNN subclass returning something else
    if out.dim() == 2:
        out = out.unsqueeze(1)  # unbatched (T, H)
    elif rnn.batch_first:
        out = out.transpose(0, 1)  # (T, B, H)
    steps = min(out.shape[0] - 1, MAX_STEPS)
    if steps < 1 or out.shape[1] < 1:
        return None
    device = out.device.type
    autocast = torch.autocast(device, enabled=False) if device in ("cpu", "cuda") else contextlib.nullcontext()
    with torch.no_grad(), autocast:
        h = out[-steps:, :SEQUENCES].detach().float()  # the states whose derivative the chain passes through
        w = weight.detach().float()
        slope = 1 - h * h if rnn.mode == "RNN_TANH" else (h > 0).float()
        g = torch.full((h.shape[1], w.shape[0]), 1 / math.sqrt(w.shape[0]), dtype=torch.float32, device=h.device)
        logs = torch.zeros(h.shape[1], dtype=torch.float32, device=h.device)
        for t in range(steps - 1, -1, -1):
            g = (g * slope[t]) @ w  # dL/dh_{t-1} (row vectors) from dL/dh_t
            if t % RENORM == 0:  # every few steps: float32 neither underflows nor overflows in between
                norm = torch.linalg.vector_norm(g, dim=1, keepdim=True).clamp_min(1e-30)
                logs += norm.squeeze(1).log()
                g = g / norm
        return steps + 1, logs.max() / math.log(10)
