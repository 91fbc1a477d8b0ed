"""PyTorch adapter: optimizer steps, schedulers, losses and gradients become observations of a ``Run``.

Hot path (every optimizer step): one global post-step hook reads the param groups' lrs and compares them with
the last ones. Device values (losses, gradient norms) are sampled, queued, and read in batches at checkpoints:
on CUDA through a non-blocking copy that is only read once its event has completed, so steady-state steps add no
host-device synchronisation. lrguard keeps weak references to optimizers and schedulers, and adds no attribute.
"""
from __future__ import annotations

import math
import threading
import time
import types
import warnings
import weakref
from functools import partial
from typing import List, Optional

import torch
from torch.optim import Optimizer, lr_scheduler
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from ..callsite import user_site
from ..findings import LRGuardWarning
from ..guard import STATE, internal_error
from ..patching import Patches
from ..run import Run, Schedule
from ..series import GradSample

LOSS_DENSE_STEPS = 32  # every step's loss is sampled up to here, then every LOSS_EVERY-th
LOSS_EVERY = 4
GRAD_EVERY = 16  # gradient statistics at steps 2, 4, 8, 16, then every GRAD_EVERY-th
CHECK_EVERY = 64  # checkpoints at steps 1, 2, 4, ..., 64, then every CHECK_EVERY-th
CLONE_LIMIT = 1 << 22  # weights larger than this (elements) get no update/weight ratio
PROBE_EPOCHS = list(range(17)) + [24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096, 8192,
                                  16384, 32768, 65536]
PROBE_SECONDS = 0.05

_watches: "weakref.WeakKeyDictionary[Optimizer, _Watch]" = weakref.WeakKeyDictionary()
_schedulers_seen: "weakref.WeakSet" = weakref.WeakSet()
_local = threading.local()  # .loss: the tensor backward() was last called on in this thread


def _number(value) -> Optional[float]:
    """A float for an lr, or None for a non-number. Reads a tensor (a sync on GPU): checkpoints only."""
    if type(value) is float:
        return value
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


class _Watch:
    """The adapter-side state of one watched optimizer; its ``Run`` holds the framework-free part."""

    __slots__ = ("run", "last_lrs", "tensor_lrs", "schedulers", "losses", "grads", "before", "pending",
                 "next_loss", "next_grad", "next_check", "__weakref__")

    def __init__(self, opt: Optimizer, where=None) -> None:
        self.run = Run("torch", where)
        self.run.name = type(opt).__name__
        self.run.set_bases([_number(g.get("initial_lr", g["lr"])) or 0.0 for g in opt.param_groups])
        self.last_lrs: list = []
        self.tensor_lrs = False
        self.schedulers: List[weakref.ref] = []
        self.losses: list = []  # detached scalar tensors not read yet
        self.grads: list = []  # (step, stacked stats tensor) not read yet
        self.before = None  # (step, first, last, first clone, last clone) between pre- and post-step
        self.pending = None  # (values tensor on host, event, losses count, grads meta) of a CUDA read in flight
        self.next_loss, self.next_grad = 1, 2
        self.next_check = 1

    # -- per step ----------------------------------------------------------------------------------
    def lrs_changed(self, lrs: list) -> None:
        self.last_lrs = lrs
        if any(isinstance(lr, torch.Tensor) for lr in lrs):
            self.tensor_lrs = True  # read at checkpoints only
            return
        values = [_number(lr) for lr in lrs]
        self.run.observe_lrs(values)
        if any(v is None or not v >= 0 or math.isinf(v) for v in values):
            self.run.check()

    def take_loss(self, loss) -> None:
        step = self.run.step
        self.next_loss = step + (1 if step < LOSS_DENSE_STEPS else LOSS_EVERY)
        if isinstance(loss, torch.Tensor) and loss.numel() == 1 and (loss.is_floating_point() or loss.is_complex()):
            self.losses.append(loss.detach().reshape(()).float())

    # -- gradient statistics (sampled) -------------------------------------------------------------
    def before_step(self, opt: Optimizer) -> None:
        weights = [p for g in opt.param_groups for p in g["params"] if p.grad is not None and p.dim() >= 2]
        if not weights:
            self.next_grad = self.run.step + 1 + GRAD_EVERY
            return
        first, last = weights[0], weights[-1]
        with torch.no_grad():
            clones = [p.detach().clone() if p.numel() <= CLONE_LIMIT else None for p in (first, last)]
        self.before = (self.run.step + 1, first, last, clones)

    def after_step(self) -> None:
        step, first, last, clones = self.before
        self.before = None
        self.next_grad = step + (step if step < GRAD_EVERY else GRAD_EVERY)
        norm = torch.linalg.vector_norm
        with torch.no_grad():
            stats = [norm(first.grad), norm(last.grad), norm(first), norm(last)]
            for p, old in zip((first, last), clones):
                stats.append(norm(p - old) / norm(old).clamp_min(1e-30) if old is not None else torch.full_like(stats[0], -1.0))
            device = stats[0].device
            self.grads.append((step, torch.stack([s.float().to(device) for s in stats])))

    # -- checkpoints ---------------------------------------------------------------------------------
    def checkpoint(self, opt: Optional[Optimizer], final: bool = False) -> None:
        run = self.run
        if run.step < CHECK_EVERY:
            self.next_check = max(run.step * 2, run.step + 1)
        else:
            self.next_check = run.step + CHECK_EVERY
        self._read(final)
        if self.tensor_lrs and opt is not None:
            values = [_number(g["lr"]) for g in opt.param_groups]
            run.observe_lrs(values)
        epochs = [s.last_epoch for s in (ref() for ref in self.schedulers) if s is not None]
        if epochs:
            run.epoch = max(epochs)
        run.check()

    def _read(self, final: bool) -> None:
        """Read the queued device values: now on CPU, once their copy has landed on CUDA."""
        if self.pending is not None:
            host, event, n_losses, meta = self.pending
            if final:
                event.synchronize()
            if final or event.query():
                self.pending = None
                self._observe(host.tolist(), n_losses, meta)
        if not (self.losses or self.grads):
            return
        losses, grads, self.losses, self.grads = self.losses, self.grads, [], []
        meta = [step for step, _ in grads]
        parts = losses + [stats for _, stats in grads]
        device = parts[0].device
        values = torch.cat([p.reshape(-1).to(device) for p in parts])
        if device.type == "cuda" and self.pending is None and not final:
            host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
            host.copy_(values, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self.pending = (host, event, len(losses), meta)
        else:
            self._observe(values.tolist(), len(losses), meta)

    def _observe(self, values: List[float], n_losses: int, meta: List[int]) -> None:
        run = self.run
        run.observe_losses(values[:n_losses])
        stats = values[n_losses:]
        for i, step in enumerate(meta):
            g_first, g_last, w_first, w_last, u_first, u_last = stats[6 * i: 6 * i + 6]
            run.observe_grads(GradSample(step, g_first, g_last, w_first, w_last,
                                         u_first if u_first >= 0 else None, u_last if u_last >= 0 else None))


# -- observation entry points (all fail-open) ---------------------------------------------------------
def _watch(opt: Optimizer, where=None) -> _Watch:
    watch = _watches.get(opt)
    if watch is None:
        watch = _watches[opt] = _Watch(opt, where)
        weakref.finalize(opt, _final_check, watch)
    return watch


def _final_check(watch: _Watch) -> None:
    if STATE.stopped:
        return
    try:
        watch.checkpoint(None, final=True)
    except LRGuardWarning:
        pass  # at garbage collection there is no caller left to raise to
    except Exception as exc:
        internal_error("the PyTorch final check", exc)


def _pre_step(opt, args, kwargs) -> None:
    if STATE.stopped:
        return
    watch = _watches.get(opt)
    if watch is not None and watch.run.step + 1 >= watch.next_grad:
        try:
            watch.before_step(opt)
        except Exception as exc:
            internal_error("the PyTorch pre-step hook", exc)


def _post_step(opt, args, kwargs) -> None:
    if STATE.stopped:
        return
    loss = getattr(_local, "loss", None)
    _local.loss = None
    try:
        watch = _watches.get(opt) or _watch(opt)
        run = watch.run
        step = run.step = run.step + 1
        lrs = [group["lr"] for group in opt.param_groups]
        if lrs != watch.last_lrs:
            watch.lrs_changed(lrs)
        if watch.before is not None:
            watch.after_step()
        if step >= watch.next_loss and loss is not None:
            watch.take_loss(loss)
        if step >= watch.next_check:
            watch.checkpoint(opt)
    except LRGuardWarning:
        raise
    except Exception as exc:
        internal_error("the PyTorch optimizer-step hook", exc)


def _optimizer_built(opt: Optimizer) -> None:
    try:
        watch = _watch(opt)
        watch.run.where = watch.run.where or user_site()
    except Exception as exc:
        internal_error("watching a new optimizer", exc)


def _family(sched) -> str:
    if isinstance(sched, lr_scheduler.LambdaLR):
        return "lambda"
    if isinstance(sched, lr_scheduler.MultiplicativeLR):
        return "multiplicative"
    if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
        return "plateau"
    return "builtin" if type(sched).__module__.startswith("torch.") else "custom"


def _probeable(fn) -> bool:
    """Plain functions (and partials or methods of them) are safe to call ahead of time; other callables may hold state."""
    while isinstance(fn, partial):
        fn = fn.func
    return isinstance(fn, (types.FunctionType, types.MethodType, types.BuiltinFunctionType))


def _probe(functions) -> tuple:
    """Each function's values at PROBE_EPOCHS (as far as it answers quickly, with finite numbers)."""
    if not functions or not all(_probeable(f) for f in functions):
        return [], []
    tables = []
    deadline = time.perf_counter() + PROBE_SECONDS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in functions:
            values = []
            for epoch in PROBE_EPOCHS:
                try:
                    value = _number(fn(epoch))
                except Exception:
                    break
                if value is None or time.perf_counter() > deadline:
                    break
                values.append(value)
            tables.append(values)
    n = min(len(t) for t in tables)
    return PROBE_EPOCHS[:n], [t[:n] for t in tables]


def _scheduler_built(sched) -> None:
    try:
        if sched in _schedulers_seen or not isinstance(getattr(sched, "optimizer", None), Optimizer):
            return
        _schedulers_seen.add(sched)
        watch = _watch(sched.optimizer)
        family = _family(sched)
        schedule = Schedule(type(sched).__name__, family, getattr(sched, "last_epoch", -1), where=user_site())
        if family in ("lambda", "multiplicative"):
            schedule.probe_epochs, schedule.probes = _probe(getattr(sched, "lr_lambdas", None))
        bases = getattr(sched, "base_lrs", None)
        if bases is not None and family != "plateau":
            watch.run.set_bases([_number(b) or 0.0 for b in bases])
        watch.run.add_schedule(schedule)
        watch.schedulers.append(weakref.ref(sched))
        watch.next_check = min(watch.next_check, watch.run.step + 1)
    except Exception as exc:
        internal_error("watching a new scheduler", exc)


# -- patching ---------------------------------------------------------------------------------------
def _after_init(observe):
    def make(original):
        def __init__(self, *args, **kwargs):
            original(self, *args, **kwargs)
            if not STATE.stopped:
                observe(self)
        return __init__
    return make


def _backward(original):
    def backward(self, *args, **kwargs):
        _local.loss = self
        return original(self, *args, **kwargs)
    return backward


def patch() -> Patches:
    patches = Patches()
    patches.wrap(Optimizer, "__init__", _after_init(_optimizer_built))
    patches.wrap(lr_scheduler.LRScheduler, "__init__", _after_init(_scheduler_built))
    if "__init__" in lr_scheduler.ReduceLROnPlateau.__dict__:
        patches.wrap(lr_scheduler.ReduceLROnPlateau, "__init__", _after_init(_scheduler_built))
    patches.wrap(torch.Tensor, "backward", _backward)
    patches.keep(register_optimizer_step_pre_hook(_pre_step))
    patches.keep(register_optimizer_step_post_hook(_post_step))
    return patches


def flush() -> None:
    """Final decisions for every live optimizer (called by ``lrguard.findings()``)."""
    _local.loss = None
    for opt, watch in list(_watches.items()):
        watch.checkpoint(opt, final=True)
