"""PyTorch adapter: optimizer steps, schedulers, losses and gradients become observations of a ``TrainingRun``.

Hot path (every optimizer step): one global post-step hook counts the step, reads the param groups' lrs and
compares them with the last ones; an lr that changed is recorded as it is (``TrainingRun.record_lrs``: two list
appends) and folded into the run's tracks when they are next read (at checkpoints); the schedulers' calls since the
last step are counted from torch's own counters (``torch_schedules``). There is no pre-step hook: the weights a
gradient sample compares with are copied at the step before it, and lrguard's wrapper of ``torch.autograd.backward``
(what ``loss.backward()`` calls) is in place only before a step that samples the loss (``_LossTap``). Device values
(losses, gradient norms) are sampled, queued, and read in batches at checkpoints, a sixteenth as often in a long run's
steady state as in its first 2048 steps (see ``check_period``): on CUDA through a non-blocking copy that is only read
once its event has completed, so steady-state steps add no host-device synchronisation. lrguard keeps weak references
to optimizers and schedulers, and adds no attribute.
"""
from __future__ import annotations

import math
import operator
import sys
import threading
import types
import weakref
from typing import List, Optional

import torch
import wrapt
from torch.amp.grad_scaler import GradScaler
from torch.optim import Optimizer, lr_scheduler
from torch.optim.optimizer import register_optimizer_step_post_hook

from .callsite import user_site
from ..findings import LRGuardWarning, surfaced
from .failopen import STATE, internal_error
from .patches import Patches, hide_inner_wrappers
from ..detection.training import Schedule, TrainingRun
from ..detection.series import GradSample
from . import torch_recurrent as through_time
from .torch_phases import is_container, phases
from .torch_probe import phase_epochs, probe_functions, probe_scheduler
from . import torch_schedules
from .schedule_functions import function_sites, method_site

# Sampling cadence. Checkpoints (a batch read of the queued device values, then the detectors) at steps 1, 2, 4, ...,
# 64, then every CHECK_EVERY-th; from step 2048 on, every 1/16 of the steps so far (rounded down to a power of two),
# at most every CHECK_MAX-th (from step 16384): a long run's steady state samples a sixteenth as often as its start,
# and what happens late in a run is read within 1/16 of the steps so far.
# Gradient statistics at steps 2, 4, 8, ..., 64, then at the checkpoints; the loss of every step up to
# LOSS_DENSE_STEPS, then LOSS_PER_CHECK per checkpoint period (every 4th step, ..., every 64th): from step 2048
# on, in bursts of LOSS_BURST consecutive steps (the last at a multiple of LOSS_BURST periods, so one ends at each
# checkpoint): the same losses per period with a quarter of the wrapper swaps and fewer sampling steps.
LOSS_DENSE_STEPS = 32
LOSS_PER_CHECK = 16
LOSS_BURST = 4
CHECK_EVERY = 64
CHECK_MAX = 1024
CLONE_LIMIT = 1 << 22  # weights larger than this (elements) get no update/weight ratio
DEFER_LIMIT = 256  # values queued while a CUDA read is in flight, before lrguard reads them synchronously
PROBE_EPOCHS = list(range(17)) + [24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096, 8192,
                                  16384, 32768, 65536]
PROBE_SECONDS = 0.05

_watches: "weakref.WeakKeyDictionary[Optimizer, _Watch]" = weakref.WeakKeyDictionary()
_schedulers_seen: "weakref.WeakSet" = weakref.WeakSet()
_schedule_of: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # scheduler -> its Schedule
_local = threading.local()  # .loss: the tensor backward() was last called on in this thread


def check_period(step: int) -> int:
    """Steps from a checkpoint (and gradient sample) at ``step`` (>= CHECK_EVERY) to the next one."""
    return min(CHECK_MAX, max(CHECK_EVERY, 1 << ((step // 16).bit_length() - 1))) if step >= 16 else CHECK_EVERY


def loss_period(step: int) -> int:
    """Steps per loss sample, on average, from ``step`` on."""
    return 1 if step < LOSS_DENSE_STEPS else check_period(step) // LOSS_PER_CHECK


def next_loss_step(step: int) -> int:
    """The step that samples the loss after a sample at ``step``."""
    period = loss_period(step)
    if period < 2 * LOSS_BURST:
        return step + period
    window = LOSS_BURST * period  # bursts: the last LOSS_BURST steps up to each multiple of ``window``
    after = step + 1
    if after % window == 0 or after % window > window - LOSS_BURST:
        return after
    return (step // window + 1) * window - LOSS_BURST + 1


def _number(value) -> Optional[float]:
    """A float for an lr, or None for a non-number. Reads a tensor (a sync on GPU): checkpoints only."""
    if type(value) is float:
        return value
    if isinstance(value, (str, bytes)):
        return None  # float("0.1") would pass it off as a number
    try:
        return float(value)
    except OverflowError:  # an int (or Fraction) beyond a float: as good as infinite
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError, RuntimeError):
        return None


_cuda = torch.cuda  # its ``_initialized`` flag: one attribute read a step (``_capturing`` checks it all)
_INF = math.inf


def _capturing() -> bool:
    """Is this thread's CUDA stream being captured into a CUDA graph? (Then lrguard must not run a single op:
    a read would invalidate the capture.) Never initializes CUDA."""
    return torch.cuda.is_initialized() and torch.cuda.is_current_stream_capturing()


def _hashable(obj) -> bool:
    """Weak dictionaries need hashable keys; an optimizer or scheduler class defining ``__eq__`` alone is not."""
    return type(obj).__hash__ is not None


class _Watch:
    """The adapter-side state of one watched optimizer; its ``TrainingRun`` holds the framework-free part."""

    __slots__ = ("run", "last_lrs", "tensor_lrs", "schedulers", "steppers", "losses", "grads", "before", "pending",
                 "next_loss", "next_grad", "next_check", "next_event", "__weakref__")

    def __init__(self, opt: Optimizer, where=None) -> None:
        self.run = TrainingRun("torch", where)
        self.run.name = type(opt).__name__
        self.run.set_bases([_number(g.get("initial_lr", g["lr"])) or 0.0 for g in opt.param_groups])
        self.last_lrs: list = []
        self.tensor_lrs = False
        self.schedulers: List[weakref.ref] = []
        self.steppers: tuple = ()  # its schedulers whose calls are counted (torch_schedules._Stepper)
        self.losses: list = []  # detached scalar tensors not read yet
        self.grads: list = []  # (step, (first kept, last kept), norms, RNN measurement meta or None) not read yet
        self.before = None  # (step, first, last weight (weak), their clones) from the step before a gradient sample
        self.pending = None  # (values tensor on host, event, losses count, grads meta) of a CUDA read in flight
        self.next_loss, self.next_grad = 1, 2
        self.next_check = 1
        self.next_event = 1  # the first of the three: the post-step hook looks no closer before it

    def check_soon(self) -> None:
        """Run a checkpoint at the next optimizer step."""
        self.next_check = min(self.next_check, self.run.step + 1)
        self.next_event = min(self.next_event, self.next_check)

    def sampling_step(self, opt: Optimizer, step: int) -> None:
        """At ``next_event`` (the post-step hook of ``step``): the gradient sample this step took, the loss sample it
        takes, what the next step samples, the checkpoint."""
        if self.before is not None:
            self.after_step(opt)
        if step + 1 >= self.next_grad:  # the next step samples gradients: its weights before it are these
            self.before_step(opt)
        if step >= self.next_loss:
            loss = getattr(_local, "loss", None)  # (detached loss, GradScaler scale or None) of the last backward()
            if loss is not None:
                _local.loss = None
                self.take_loss(*loss)
        if step + 1 >= self.next_loss:  # tell backward() to keep its loss for the next step
            _loss_tap.want(self)
        else:
            _loss_tap.drop(self)
        if step >= self.next_check:
            self.checkpoint(opt)
        self.next_event = min(self.next_grad, self.next_loss, self.next_check)

    # -- per step ----------------------------------------------------------------------------------
    def lrs_changed(self, lrs: list) -> None:
        """The lrs differ from the last step's. Plain floats in [0, inf) (the common case, also for an lr that
        changes every step) are recorded as they are, and folded into the run's tracks when it next reads them."""
        self.last_lrs = lrs
        for lr in lrs:
            if type(lr) is not float or not 0.0 <= lr < _INF:
                return self.unusual_lrs(lrs)
        # one group's lr as a float: a one-element ``last_lrs`` is updated in place by _post_step
        self.run.record_lrs(lrs[0] if len(lrs) == 1 else lrs)

    def unusual_lrs(self, lrs: list) -> None:
        """Tensors (read at checkpoints only), or lrs that are not numbers in [0, inf): judged now."""
        torch_schedules.settle(self)  # (a followed scheduler sets floats)
        if any(isinstance(lr, torch.Tensor) for lr in lrs):
            self.tensor_lrs = True  # read at checkpoints only
            return
        values = [_number(lr) for lr in lrs]
        self.run.observe_lrs(values)
        for v in values:
            if v is None or not 0 <= v < math.inf:  # NaN, negative, infinite or not a number: judged now
                self.run.check()
                break

    def take_loss(self, loss, scale=None) -> None:
        """``loss``: the detached one-element tensor of the last ``backward()``; ``scale``: the GradScaler scale
        it was multiplied by, if it was."""
        step = self.run.step
        self.next_loss = next_loss_step(step)
        if loss.is_floating_point() or loss.is_complex():
            if isinstance(scale, torch.Tensor):
                value = loss.reshape(()).float()
                value = value / scale.reshape(()).to(value.device)  # the loss GradScaler.scale multiplied
            else:
                value = loss  # one dispatch: reshaped and converted with the others at the checkpoint
            self.losses.append(value)

    # -- gradient statistics (sampled) -------------------------------------------------------------
    def before_step(self, opt: Optimizer) -> None:
        """The step after this one samples gradients: copy the first and last weights it will move."""
        groups = opt.param_groups
        first = next((p for g in groups for p in g["params"] if p.grad is not None and p.dim() >= 2), None)
        if first is None:
            self.next_grad = self.run.step + 1 + check_period(self.run.step + 1)
            return
        last = next(p for g in reversed(groups) for p in reversed(g["params"]) if p.grad is not None and p.dim() >= 2)
        clones = [p.detach().clone() if p.numel() <= CLONE_LIMIT else None for p in (first, last)]
        self.before = (self.run.step + 1, weakref.ref(first), weakref.ref(last), clones)

    def after_step(self, opt: Optimizer) -> None:
        """Queue the sample's norms (0-dim tensors, read with the losses in one batch): the first and last
        weights' gradients, the weights, and how far the step moved each weight that was cloned."""
        step, first, last, clones = self.before
        self.before = None
        self.next_grad = step + (step if step < CHECK_EVERY else check_period(step))
        first, last = first(), last()
        if first is None or last is None or first.grad is None or last.grad is None:
            return  # a weight gone, or without a gradient at this step: no sample
        weights = (first.detach(), last.detach())
        kept = tuple(old is not None for old in clones)
        if weights[0].is_cuda:  # fused: one kernel for all the norms
            olds = [old for old in clones if old is not None]
            moved = torch._foreach_sub([w for w, k in zip(weights, kept) if k], olds) if olds else []
            norms = list(torch._foreach_norm([first.grad, last.grad, *weights, *moved]))
        else:  # on the CPU a dispatch costs more than the arithmetic: as few ops as possible
            norm = torch.linalg.vector_norm
            norms = [norm(first.grad), norm(last.grad), norm(weights[0]), norm(weights[1])]
            norms += [torch.dist(w, old) for w, old in zip(weights, clones) if old is not None]
        timed = through_time.sample(self, step, weights)  # an RNN measured since the last sample: its numbers
        if timed is not None:
            norms += timed[1]
        self.grads.append((step, kept, norms, timed and timed[0]))
        through_time.arm(self, opt)  # its vanilla RNNs are measured at their next training forward

    # -- checkpoints ---------------------------------------------------------------------------------
    def checkpoint(self, opt: Optional[Optimizer], final: bool = False) -> None:
        run = self.run
        step = run.step
        self.next_check = max(step * 2, step + 1) if step < CHECK_EVERY else step + check_period(step)
        if self.steppers:
            torch_schedules.look(self)
        torch_schedules.look_idle()  # a scheduler stepped on an optimizer that never steps, while this one does
        self._read(final)
        if self.tensor_lrs and opt is not None:
            values = [_number(g["lr"]) for g in opt.param_groups]
            run.observe_lrs(values)
        epochs = [s.last_epoch for s in (ref() for ref in self.schedulers) if s is not None]
        if epochs:
            run.scheduler_steps = max(epochs)  # the scheduler's own count, not the training epoch
        if run.restore is not None and run.restore.schedulers is None:  # the first step after a restore
            from .torch_resume import first_step_after_restore

            first_step_after_restore(self)
        run.final = final
        run.check()

    def _read(self, final: bool) -> None:
        """Read the queued device values: now on CPU, once their copy has landed on CUDA (while a copy is in
        flight, the values queued since wait for the next checkpoint rather than for the device)."""
        if self.pending is not None:
            host, event, n_losses, meta = self.pending
            if final:
                event.synchronize()
            if final or event.query():
                self.pending = None
                self._observe(host.tolist(), n_losses, meta)
        if not (self.losses or self.grads):
            return
        if self.pending is not None and len(self.losses) + len(self.grads) < DEFER_LIMIT:
            return
        losses, grads, self.losses, self.grads = self.losses, self.grads, [], []
        meta = [(step, kept, timed) for step, kept, _, timed in grads]
        values = _stacked(losses + [n for _, _, norms, _ in grads for n in norms])
        if values.device.type == "cuda" and self.pending is None and not final:
            host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
            host.copy_(values, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self.pending = (host, event, len(losses), meta)
        else:
            self._observe(values.tolist(), len(losses), meta)

    def _observe(self, values: List[float], n_losses: int, meta: list) -> None:
        """``values``: the losses, then per gradient sample the norms of the first and last gradients, of the
        first and last weights, of the kept weights' updates, then, if an RNN was measured, its log10 gain through
        time and the weights' distances from the previous such sample; ``meta``: (step, which weights were kept,
        None or (time steps, steps since the previous RNN sample))."""
        run = self.run
        run.observe_losses(values[:n_losses])
        at = n_losses
        for step, kept, timed in meta:
            g_first, g_last, w_first, w_last = values[at: at + 4]
            moved = iter(values[at + 4: at + 4 + sum(kept)])
            updates = [next(moved) if k else -1.0 for k in kept]  # how far the step moved each weight (-1: unknown)
            at += 4 + sum(kept)
            time_steps, time_gain, drift, drift_steps = None, None, None, None
            if timed:
                time_steps, drift_steps = timed
                time_gain, at = 10.0 ** max(values[at], -300.0), at + 1
                if drift_steps:
                    drift, at = through_time.drift(values[at: at + 2], updates, drift_steps), at + 2
            # update / weight: the weight's norm after the step stands for its norm before (they differ by the update)
            u_first, u_last = (u / max(w, 1e-30) if u >= 0 else -1.0 for u, w in zip(updates, (w_first, w_last)))
            run.observe_grads(GradSample(step, g_first, g_last, w_first, w_last,
                                         u_first if u_first >= 0 else None, u_last if u_last >= 0 else None,
                                         time_steps, time_gain, drift, drift_steps or None))


def _stacked(tensors: list) -> "torch.Tensor":
    """The queued scalar tensors as one float32 vector: one dispatch when they share a shape and a device."""
    try:
        values = torch.stack(tensors)
    except RuntimeError:
        device = tensors[0].device
        values = torch.stack([t.reshape(()).to(device) for t in tensors])
    values = values.reshape(-1)
    return values if values.dtype == torch.float32 else values.float()


# -- observation entry points (all fail-open) ---------------------------------------------------------
def _watch(opt: Optimizer, where=None) -> _Watch:
    watch = _watches.get(opt)
    if watch is None:
        watch = _watches[opt] = _Watch(opt, where)
        weakref.finalize(opt, _final_check, watch)
        _loss_tap.want(watch)  # its first step samples the loss
    return watch


def _final_check(watch: _Watch) -> None:
    watch.before = None  # the weights copied for a gradient sample that did not come
    _loss_tap.drop(watch)
    from .install import is_installed

    if STATE.stopped or not is_installed():
        return  # after uninstall(), an optimizer collected later raises nothing
    try:
        watch.checkpoint(None, final=True)
    except LRGuardWarning:
        pass  # at garbage collection there is no caller left to raise to
    except Exception as exc:
        internal_error("the PyTorch final check", exc)


_hot: tuple = (lambda: None, None)  # (weak reference to the optimizer that stepped last, its watch)
_scaling = False  # True once GradScaler.scale has run: only then does backward() look for a scaled loss
_lr_of = operator.itemgetter("lr")
_wanting: set = set()  # the watches whose next step samples the loss (see _LossTap)


def _hot_watch(opt: Optimizer) -> Optional[_Watch]:
    """The optimizer's watch (None for an unhashable one: not watched); the last one is cached so that a step
    skips the weak-dictionary lookup."""
    global _hot
    ref, watch = _hot
    if ref() is not opt:
        if not _hashable(opt):
            return None
        watch = _watches.get(opt) or _watch(opt)
        _hot = (weakref.ref(opt), watch)
    return watch


def _replaced(lrs: list, last: list) -> bool:
    """Tensor lrs are compared by identity: ``==`` on tensors, then ``bool()``, would read the device."""
    return len(lrs) != len(last) or any(map(operator.is_not, lrs, last))


def _post_step(opt, args, kwargs) -> None:
    """Every step: count it, compare the lrs with the last ones; the rest only at sampling steps."""
    if STATE.stopped:
        return
    try:
        ref, watch = _hot
        if ref() is not opt:
            watch = _hot_watch(opt)
            if watch is None:
                return
        if _cuda._initialized and _capturing():
            return  # a step captured into a CUDA graph: its replays are not seen, and nothing may run now
        run = watch.run
        step, groups = run.step, opt.param_groups
        for stepper in watch.steppers:  # its schedulers' calls since its last step (torch_schedules._Stepper, inlined)
            sched = stepper.ref()
            if sched is None:
                continue
            if stepper.lag is None:  # anything new?
                if sched._step_count != stepper.seen or sched._last_lr is not stepper.seen_lrs:
                    stepper.look(sched)
            elif (sched._step_count - step != stepper.lag or sched.last_epoch - step != stepper.pos_lag
                  or step >= stepper.until or len(groups) != 1 or sched._last_lr[0] is not groups[0]["lr"]):
                stepper.look(sched)  # followed, and no longer one call a step at the lr it set: look closer
        step = run.step = step + 1
        last = watch.last_lrs
        if len(groups) == 1 == len(last):  # one param group, the common case: nothing is built, nothing called
            lr = groups[0]["lr"]
            if lr is not last[0] and (watch.tensor_lrs or lr != last[0]):
                last[0] = lr
                if type(lr) is float and 0.0 <= lr < _INF:
                    run.record_lrs(lr)  # an lr that changes every step: folded into the run at its next read
                else:
                    watch.unusual_lrs(last)
        else:
            lrs = [*map(_lr_of, groups)]
            if lrs != last if not watch.tensor_lrs else _replaced(lrs, last):
                watch.lrs_changed(lrs)
        if step + 1 >= watch.next_event:  # this step or the next samples something, or a checkpoint is due
            watch.sampling_step(opt, step)
    except LRGuardWarning as error:
        raise surfaced(error)  # a finding your warning filter (-W error) made an exception: see its note
    except Exception as exc:
        internal_error("the PyTorch optimizer-step hook", exc)


def _optimizer_built(opt: Optimizer) -> None:
    try:
        if not _hashable(opt):
            return  # not watched (see _hashable)
        watch = _watch(opt)
        watch.run.where = watch.run.where or user_site(built=opt)
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


def _unwrap(opt: Optimizer) -> Optimizer:
    """The optimizer that really steps, under wrappers that share its param groups (accelerate's
    AcceleratedOptimizer)."""
    for _ in range(4):
        inner = vars(opt).get("optimizer") if hasattr(opt, "__dict__") else None
        if not isinstance(inner, Optimizer) or inner is opt or opt.param_groups is not inner.param_groups:
            break
        opt = inner
    return opt


def _scheduler_built(sched) -> None:
    try:
        if not _hashable(sched) or not isinstance(getattr(sched, "optimizer", None), Optimizer):
            return
        if sched in _schedulers_seen or not _hashable(_unwrap(sched.optimizer)):
            return
        _schedulers_seen.add(sched)
        watch = _watch(_unwrap(sched.optimizer))
        if is_container(sched):  # SequentialLR, ChainedScheduler: the schedulers inside were read when built
            torch_schedules.container_built(sched)
            _container_built(watch, sched)
            return
        family = _family(sched)
        start = getattr(sched, "last_epoch", -1)
        schedule = Schedule(type(sched).__name__, family, start, where=user_site(built=sched))
        if family in ("lambda", "multiplicative"):
            functions = getattr(sched, "lr_lambdas", None)
            schedule.probe_epochs, schedule.probes = probe_functions(functions, PROBE_EPOCHS, PROBE_SECONDS)
            schedule.functions = function_sites(functions)
        elif family == "custom":
            base = lr_scheduler.LRScheduler
            schedule.probe_epochs, schedule.probes = probe_scheduler(sched, base, PROBE_EPOCHS, PROBE_SECONDS)
            site = method_site(sched, "get_lr")
            schedule.functions = [site] if site else []
        bases = getattr(sched, "base_lrs", None)
        if bases is not None and family != "plateau":
            watch.run.set_bases([_number(b) or 0.0 for b in bases])
        watch.run.add_schedule(schedule)
        _schedule_of[sched] = schedule
        torch_schedules.scheduler_built(sched, schedule, watch)  # its length, and its steps from now on
        watch.schedulers.append(weakref.ref(sched))
        watch.check_soon()
    except Exception as exc:
        internal_error("watching a new scheduler", exc)


def _container_built(watch: _Watch, container) -> None:
    """A SequentialLR hands the lr from one scheduler to the next at its milestones: each one's schedule is read
    again on the epochs it drives (a warmup of W steps is judged on its W steps, whatever follows it)."""
    for sched, span in phases(container):
        schedule = _schedule_of.get(sched) if _hashable(sched) else None
        if schedule is None or span is None:
            continue  # not read when built, or driving the lr until the end: read as built
        schedule.within, schedule.span = type(container).__name__, span
        if schedule.family in ("lambda", "multiplicative"):
            epochs = phase_epochs(PROBE_EPOCHS, span)
            schedule.probe_epochs, schedule.probes = probe_functions(sched.lr_lambdas, epochs, PROBE_SECONDS)
    watch.check_soon()


# -- patching ---------------------------------------------------------------------------------------
# wrapt wrappers (see patches.py), named for what lrguard does there: each is the one frame lrguard adds to a
# traceback raised inside the framework call it wraps.
def lrguard_observes_optimizer_init(wrapped, instance, args, kwargs):
    """``Optimizer.__init__``, then lrguard watches the new optimizer."""
    wrapped(*args, **kwargs)
    if not STATE.stopped:
        _optimizer_built(instance)


def lrguard_observes_scheduler_init(wrapped, instance, args, kwargs):
    """``LRScheduler.__init__`` (and those of ``ReduceLROnPlateau``, ``SequentialLR``, ``ChainedScheduler``),
    then lrguard reads the new scheduler."""
    try:
        wrapped(*args, **kwargs)
    except BaseException as exc:  # the user's error (e.g. in an lr_lambda, from the first step() run inside)
        hide_inner_wrappers(exc)
        raise
    if not STATE.stopped:
        _scheduler_built(instance)


def lrguard_observes_grad_scaler(wrapped, instance, args, kwargs):
    """``GradScaler.scale``: remember (scaled loss, scale) so that the loss lrguard samples is the real one."""
    result = wrapped(*args, **kwargs)
    if not STATE.stopped and isinstance(result, torch.Tensor) and result is not (
            args[0] if args else kwargs.get("outputs")):
        try:
            _scaled(instance, result)
        except Exception as exc:
            internal_error("the PyTorch GradScaler hook", exc)
    return result


def _scaled(scaler, result) -> None:
    global _scaling
    _scaling = True
    _local.scaled = (weakref.ref(result), getattr(scaler, "_scale", None))  # weak: the loss holds its graph


class _LossTap:
    """``torch.autograd.backward`` (what ``loss.backward()`` calls) is lrguard's wrapper only while a watched
    optimizer samples the loss at its next step (``_wanting`` is not empty); on the other steps it is torch's own
    function, and their ``backward()`` runs no code of lrguard's (a wrapt wrapper left in place that only tested
    wrapt's ``enabled`` flag still cost ~0.5% of the tiny step of ``benchmarks/overhead_tiny.py``, timed step by step).
    Swapping a module's attribute changes no type, so no method cache is invalidated and no code is re-specialized.
    Only lrguard's own two objects are ever swapped: a patch another tool put there stays (with lrguard's wrapper
    inside it, or without: then the loss goes unsampled). Once ``torch.compile`` has compiled a graph, the wrapper
    stays in place (a compiled frame that calls ``torch.autograd.backward`` itself guards on the object: swapping it
    would recompile). ``uninstall()`` puts the original back."""

    def __init__(self) -> None:
        self.wrapper = self.original = None  # while installed

    def arm(self, wrapper) -> None:
        """``wrapper``: what ``Patches.wrap`` just put in place of the original (its ``__wrapped__``)."""
        self.wrapper, self.original = wrapper, wrapper.__wrapped__
        torch.autograd.backward = wrapper if _wanting else self.original

    def want(self, watch: _Watch) -> None:
        _wanting.add(watch)
        if torch.autograd.backward is self.original:  # (never another tool's patch; never after uninstall: None)
            torch.autograd.backward = self.wrapper

    def drop(self, watch: _Watch) -> None:
        _wanting.discard(watch)
        if not _wanting and torch.autograd.backward is self.wrapper:
            if not through_time.dynamo_compiled():  # (a compiled frame calling it may guard on it: left as it is)
                torch.autograd.backward = self.original

    def remove(self) -> None:
        """On uninstall (``Patches.keep``), before the original is put back."""
        self.wrapper = self.original = None


_loss_tap = _LossTap()


def lrguard_observes_backward(wrapped, instance, args, kwargs):
    """``torch.autograd.backward`` (what ``loss.backward()`` calls), while a watched optimizer samples the loss at its
    next step (see ``_LossTap``): keep the loss for it."""
    result = wrapped(*args, **kwargs)
    if _wanting and not STATE.stopped:
        try:
            _took_backward(args[0] if args else kwargs.get("tensors"))
        except Exception as exc:
            internal_error("the PyTorch backward hook", exc)
    return result


def _took_backward(loss) -> None:
    """Keep the loss for the next step: detached (its graph, and through it the model's weights, must not outlive
    the user's own references) and only a one-element one (a detached view keeps its storage alive)."""
    local = _local
    if type(loss) in (list, tuple) and len(loss) == 1:  # torch.autograd.backward([loss])
        loss = loss[0]
    if not _wanting or not isinstance(loss, torch.Tensor) or loss.numel() != 1:  # no step samples it, or not a scalar
        local.loss = None
        if _scaling:
            local.scaled = None
        return
    scale = None
    if _scaling:
        scaled = getattr(local, "scaled", None)
        if scaled is not None:
            local.scaled = None
            if scaled[0]() is loss:
                scale = scaled[1]
    local.loss = (loss.detach(), scale)


def patch(patches: Patches) -> None:
    patches.wrap(Optimizer, "__init__", lrguard_observes_optimizer_init)
    patches.wrap(lr_scheduler.LRScheduler, "__init__", lrguard_observes_scheduler_init)
    for name in ("ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"):  # those not calling LRScheduler's
        cls = getattr(lr_scheduler, name, None)
        if cls is not None and "__init__" in cls.__dict__:
            patches.wrap(cls, "__init__", lrguard_observes_scheduler_init)
    patches.wrap(torch.autograd, "backward", lrguard_observes_backward)  # a module's function: nothing bound per call
    _loss_tap.arm(torch.autograd.backward)  # in place only while a step samples the loss
    patches.keep(_loss_tap)
    patches.wrap(torch.nn.RNN, "__init__", through_time.lrguard_observes_rnn_init)
    patches.keep(through_time.Disarm())
    patches.wrap(GradScaler, "scale", lrguard_observes_grad_scaler)
    patches.keep(register_optimizer_step_post_hook(_post_step))
    patches.keep(_DynamoSkip.arm())
    from . import torch_plateau, torch_resume  # (they import this module)

    torch_resume.patch(patches)
    torch_plateau.patch(patches)
    torch_schedules.patch(patches, sys.modules[__name__])  # scheduler steps and DataLoader epochs


def _wrapt_compiled() -> bool:
    """Whether wrapt's wrappers are its C extension's (no Python frame of wrapt's own on a wrapped call)."""
    return not isinstance(wrapt.FunctionWrapper.__call__, types.FunctionType)


class _DynamoSkip:
    """torch.compile must not trace lrguard's own frames (its hooks run inside compiled training steps: traced,
    they would add graphs and graph breaks). Once ``torch._dynamo`` is imported, lrguard's files join Dynamo's skip
    list; ``remove()`` (on uninstall) takes them out again. ``import torch`` alone does not import Dynamo."""

    current: Optional["_DynamoSkip"] = None
    hooked = False

    def __init__(self) -> None:
        self.added: list = []
        self.active = True

    @classmethod
    def arm(cls) -> "_DynamoSkip":
        cls.current = skip = cls()
        if not cls.hooked:
            cls.hooked = True
            wrapt.register_post_import_hook(cls._on_dynamo, "torch._dynamo")  # at once if already imported
        elif "torch._dynamo" in sys.modules:
            skip.apply()
        return skip

    @classmethod
    def _on_dynamo(cls, module) -> None:
        if cls.current is not None:
            cls.current.apply()

    def apply(self) -> None:
        if not self.active or self.added:
            return
        try:
            from torch._dynamo import trace_rules

            before = list(trace_rules.SKIP_DIRS)
            trace_rules.add(__name__.partition(".")[0])
            if not _wrapt_compiled():  # wrapt's pure-Python wrappers: their frames call lrguard's (wrapt's C ones
                trace_rules.add("wrapt")  # have no frame, and wrapt stays traced as without lrguard)
            self.added = [d for d in trace_rules.SKIP_DIRS if d not in before]
        except Exception:  # a torch without this rule list: Dynamo traces lrguard's hooks, nothing else changes
            pass

    def remove(self) -> None:
        self.active = False
        if not self.added:
            return
        try:
            from torch._dynamo import trace_rules

            for d in self.added:
                if d in trace_rules.SKIP_DIRS:
                    trace_rules.SKIP_DIRS.remove(d)
            trace_rules._recompile_re()
        except Exception:
            pass
        self.added = []


def flush() -> None:
    """Final decisions for every live optimizer (called by ``lrguard.findings()``)."""
    _local.loss = _local.scaled = None
    for ref in _watches.keyrefs():  # a snapshot: another thread may build an optimizer meanwhile
        opt = ref()
        watch = _watches.get(opt) if opt is not None else None
        if watch is not None:
            watch.checkpoint(opt, final=True)



from .install import adapter_ready  # noqa: E402  (last: see adapter_ready)

adapter_ready(__name__)
