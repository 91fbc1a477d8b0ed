"""The part of the Keras adapters that Keras 3 (every backend) and legacy Keras 2 (``tf_keras``) share.

One ``_Watch`` per optimizer feeds a ``TrainingRun``. Two sources of observations:

- ``fit``: the callback list's train hooks (``on_train_begin``, ``on_epoch_begin/end``, ``on_train_batch_end``,
  ``on_train_end``) see every batch whatever sets the lr. The loss comes from the batch logs (Keras reports the
  epoch's running mean; consecutive means are differenced back into per-batch losses), lrs are read at epoch
  boundaries and at checkpoints, gradient statistics come from the optimizer's ``apply`` (computed in the traced
  step under ``tf.function``, read at sampled batches).
- custom loops: the optimizer's ``apply``/``apply_gradients`` called eagerly counts the steps; the loss is the
  target of the last eager ``GradientTape.gradient`` (TensorFlow) or ``backward()`` (torch backend).

Device values are kept as tensors when sampled and read together at checkpoints. ``LearningRateScheduler``'s
outputs become the probes of a Schedule of family "absolute" (the value is the lr itself). Backend specifics
(reading a value, norms, tracing) live in a ``KerasOps`` subclass; nothing here imports a framework.
"""
from __future__ import annotations

import math
import threading
import weakref
from typing import Any, List, Optional, Sequence, Tuple

from .callsite import user_site
from ..findings import LRGuardWarning, surfaced
from .failopen import STATE, internal_error
from ..detection.training import Schedule, TrainingRun
from ..detection.series import GradSample
from .keras_source import returned_expression
from . import keras_resume, keras_schedules
from .schedule_functions import function_site
from .patches import argument

LOSS_DENSE_STEPS = 32  # every batch's loss is sampled up to here, then every LOSS_EVERY-th ...
LOSS_EVERY = 4
LOSS_WINDOW_EPOCHS = 2  # ... or, in fit, often enough that the loss window (64) spans the last ~2 epochs
GRAD_EVERY = 8  # gradient statistics at steps 2, 4, then every GRAD_EVERY-th
CHECK_EVERY = 64  # checkpoints at steps 1, 2, 4, ..., 64, then every CHECK_EVERY-th, and at epoch ends
MAX_PROBES = 64  # schedule outputs kept per LearningRateScheduler

_watches: "weakref.WeakKeyDictionary[Any, _Watch]" = weakref.WeakKeyDictionary()  # optimizer -> watch
_fits: "weakref.WeakKeyDictionary[Any, _Fit]" = weakref.WeakKeyDictionary()  # callback list -> fit in progress
_sites: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()  # optimizer/callback -> user line
_schedules: "weakref.WeakKeyDictionary[Any, Schedule]" = weakref.WeakKeyDictionary()  # callback/schedule -> Schedule
_local = threading.local()  # .loss: the target of the last eager GradientTape.gradient in this thread


def _next_grad(step: int) -> int:
    """The next step whose gradient statistics are sampled, after ``step``: 2, 4, then every GRAD_EVERY-th."""
    return 4 if step < 4 else (step // GRAD_EVERY + 1) * GRAD_EVERY


def _get(table: weakref.WeakKeyDictionary, key):
    """``table.get(key)``; None for an object that cannot be a key (unhashable: a class with ``__eq__`` only)."""
    try:
        return table.get(key)
    except TypeError:
        return None


class KerasOps:
    """What differs between Keras 3 backends and tf_keras. Subclasses override what they support."""

    lr_scheduler_types: tuple = ()
    plateau_types: tuple = ()
    schedule_types: tuple = ()  # LearningRateSchedule base classes
    watches_apply = False  # can the optimizer's apply be watched (gradients, custom loops) on this backend?

    def value(self, x) -> Optional[float]:
        """A float from a scalar tensor, variable or number (a device read: checkpoints only)."""
        if type(x) is float:
            return x
        try:
            return float(x)
        except Exception:
            return None

    def raw_lr(self, opt):
        return opt.learning_rate

    def read_lrs(self, opt) -> List[Optional[float]]:
        subs = self.sub_optimizers(opt)
        return [self.read_lr(o) for o in subs] if subs else [self.read_lr(opt)]

    def read_lr(self, opt) -> Optional[float]:
        try:
            lr = self.raw_lr(opt)
            if callable(lr) and not hasattr(lr, "shape"):
                lr = lr(opt.iterations) if isinstance(lr, self.schedule_types) else lr()
            return self.value(lr)
        except Exception:
            return None

    def sub_optimizers(self, opt) -> Optional[list]:
        subs = getattr(opt, "optimizers", None)
        return list(subs) if isinstance(subs, (list, tuple)) and subs else None

    def inner(self, opt):
        """The optimizer that really applies the updates (a loss-scale wrapper's inner optimizer)."""
        return getattr(opt, "inner_optimizer", None) or opt

    def lr_schedule(self, opt):
        """The LearningRateSchedule object the optimizer was built with, if any."""
        lr = getattr(opt, "_learning_rate", None)
        return lr if self.schedule_types and isinstance(lr, self.schedule_types) else None

    def graph_mode(self) -> bool:
        """True while a step function is being traced/compiled (no per-step Python then)."""
        return False

    def norms(self, grads: Sequence, weights: Sequence):
        """A 1-d tensor [||g_first||, ||g_last||, ||w_first||, ||w_last||] (eager), or None."""
        return None

    def instrument(self, watch: "_Watch", opt, grads: Sequence, weights: Sequence) -> None:
        """While tracing: make the traced step store the same statistics in a side variable (TF only)."""

    def snapshot(self, slot):
        """A copy of the side variable's current value (no host read)."""
        return None

    def floats(self, tensor) -> List[float]:
        """The values of a 1-d tensor, as floats (one device read)."""
        return [float(v) for v in tensor.tolist()]

    def eager_loss(self):
        """The scalar loss of the last eager backward pass in this thread (custom loops), if known."""
        loss = getattr(_local, "loss", None)
        _local.loss = None
        return loss


class _Watch:
    """The adapter-side state of one watched optimizer; its ``TrainingRun`` holds the framework-free part."""

    __slots__ = ("ops", "opt", "run", "based", "last_lrs", "fit", "losses", "grads", "slot", "slot_iteration",
                 "kernels", "loss_every", "next_loss", "next_grad", "next_check", "__weakref__")

    def __init__(self, opt, ops: KerasOps, where=None) -> None:
        self.ops = ops
        self.opt = weakref.ref(opt)
        self.run = TrainingRun("keras", where)
        self.run.name = type(opt).__name__
        self.based = False  # bases are set from the first lrs read (never while tracing)
        self.last_lrs: list = []
        self.fit: Optional[weakref.ref] = None  # the callback list of the fit in progress
        self.losses: list = []  # (batch count, running mean or loss, previous count, previous mean): not read yet
        self.grads: list = []  # (step, statistics tensor, from the side variable?) not read yet
        self.slot = None  # the side variable a traced step writes its gradient statistics to
        self.slot_iteration = -1.0
        self.kernels: Optional[Tuple[int, int, int]] = None  # (number of variables, first, last kernel index)
        self.loss_every = LOSS_EVERY
        self.next_loss, self.next_grad, self.next_check = 1, 2, 1

    # -- observations --------------------------------------------------------------------------------
    def set_bases(self, lrs: List[Optional[float]]) -> None:
        """The optimizer's own lrs, before any step (only the first call counts).

        Not an observation of the real lr: a scheduler may replace it before the first step, and an lr no step
        used must not become the track's peak (a warmup from 1e-6 would look like a collapse from 1e-3).
        """
        if not self.based and lrs and not all(lr is None for lr in lrs):
            self.based = True
            self.run.set_bases([lr if lr is not None and math.isfinite(lr) and lr >= 0 else 0.0 for lr in lrs])

    def observe_lrs(self, lrs: List[Optional[float]]) -> None:
        """The real lrs from the next step on."""
        if not lrs or all(lr is None for lr in lrs):
            return  # unreadable (e.g. while tracing): keep what we know
        self.set_bases(lrs)
        run = self.run
        if lrs == self.last_lrs:
            return
        self.last_lrs = lrs
        known = [lr if lr is not None else (run.groups[i].lr if i < len(run.groups) else 0.0)
                 for i, lr in enumerate(lrs)]
        run.observe_lrs(known)

    def read_lrs(self) -> None:
        opt = self.opt()
        if opt is not None:
            self.observe_lrs(self.ops.read_lrs(opt))

    def in_fit(self) -> bool:
        return self.fit is not None and self.fit() is not None

    def kernel_indices(self, weights: Sequence) -> Optional[Tuple[int, int]]:
        """Indices of the first and last weight matrices (rank >= 2) among the optimizer's variables."""
        n = len(weights)
        if self.kernels is None or self.kernels[0] != n:
            ranks = [i for i, w in enumerate(weights) if len(getattr(w, "shape", ()) or ()) >= 2]
            self.kernels = (n, ranks[0], ranks[-1]) if len(ranks) >= 2 else (n, -1, -1)
        _, first, last = self.kernels
        return (first, last) if first >= 0 else None

    # -- gradient statistics ---------------------------------------------------------------------------
    def before_apply(self, opt, grads, weights, graph: bool) -> None:
        """The optimizer is about to apply ``grads`` to ``weights`` (``graph``: while tracing): sample them."""
        step = self.run.step + 1
        if not graph and step < self.next_grad:
            return  # the common case: nothing to do at this step
        if grads is None or weights is None or not isinstance(grads, (list, tuple)):
            return
        weights = list(weights)
        pair = self.kernel_indices(weights)
        if pair is None or len(grads) != len(weights):
            return
        first, last = pair
        g = [grads[first], grads[last]]
        if g[0] is None or g[1] is None:
            return
        if graph:
            self.ops.instrument(self, opt, g, [weights[first], weights[last]])
            return
        self.next_grad = _next_grad(step)
        stats = self.ops.norms(g, [weights[first], weights[last]])
        if stats is not None:
            self.grads.append((step, stats, False))

    def sample_slot(self, step: int) -> None:
        """A fit batch ended at a sampled step: keep a copy of the traced step's statistics."""
        self.next_grad = _next_grad(step)
        if self.slot is not None:
            copy = self.ops.snapshot(self.slot)
            if copy is not None:
                self.grads.append((step, copy, True))

    # -- checkpoints -----------------------------------------------------------------------------------
    def checkpoint(self, final: bool = False) -> None:
        run = self.run
        self.next_check = max(run.step * 2, run.step + 1) if run.step < CHECK_EVERY else run.step + CHECK_EVERY
        self.read_lrs()
        self._read()
        run.final = final
        run.check()

    def _read(self) -> None:
        ops, run = self.ops, self.run
        if self.losses:
            losses, self.losses = self.losses, []
            values = []
            for count, mean, previous_count, previous in losses:
                m = ops.value(mean)
                if m is None:
                    continue
                p = ops.value(previous) if previous is not None else None
                if p is not None and count > previous_count > 0:
                    m = (count * m - previous_count * p) / (count - previous_count)  # the batch's own loss
                values.append(m)
            run.observe_losses(values)
        if self.grads:
            grads, self.grads = self.grads, []
            for step, stats, from_slot in grads:
                values = ops.floats(stats)
                if from_slot:
                    if values[4] < 0 or values[4] == self.slot_iteration:
                        continue  # not written yet, or already seen
                    self.slot_iteration = values[4]
                if all(math.isfinite(v) for v in values[:4]):
                    run.observe_grads(GradSample(step, values[0], values[1], values[2], values[3]))


class _Fit:
    """One ``fit`` in progress (one callback list)."""

    __slots__ = ("watch", "last_batch", "previous", "previous_count", "difference", "__weakref__")

    def __init__(self, watch: _Watch, difference: bool) -> None:
        self.watch = watch
        self.last_batch = -1
        self.previous = None  # the last batch's logged loss (a running mean when ``difference``)
        self.previous_count = 0
        self.difference = difference


# -- watches -------------------------------------------------------------------------------------------
def watch_of(opt, ops: KerasOps) -> Optional[_Watch]:
    """The optimizer's watch, made on first sight; None for an optimizer that cannot be watched (unhashable)."""
    try:
        watch = _watches.get(opt)
    except TypeError:
        return None
    if watch is None:
        watch = _watches[opt] = _Watch(opt, ops, _get(_sites, opt) or user_site())
    return watch


def optimizer_built(opt) -> None:
    """An optimizer's ``__init__`` ran: remember the user's line."""
    if STATE.stopped:
        return
    try:
        if _get(_sites, opt) is None:
            site = user_site()
            if site is not None:
                _sites[opt] = site
    except TypeError:
        pass  # unhashable: not watched
    except Exception as exc:
        internal_error("watching a new Keras optimizer", exc)


def callback_built(callback) -> None:
    """A LearningRateScheduler's ``__init__`` ran: remember the user's line."""
    if STATE.stopped:
        return
    try:
        site = user_site()
        if site is not None:
            _sites[callback] = site
    except TypeError:
        pass  # unhashable: its findings point at the optimizer's line
    except Exception as exc:
        internal_error("watching a new Keras callback", exc)


def _schedule_of(key, kind: str, family: str, where) -> Schedule:
    schedule = _get(_schedules, key)
    if schedule is None:
        schedule = Schedule(kind, family, where=where)
        if family in ("absolute", "custom"):  # a LearningRateScheduler's function; a user's schedule object
            site = function_site(getattr(key, "schedule", None) if family == "absolute" else key)
            schedule.functions = [site] if site else []
        try:
            _schedules[key] = schedule
        except TypeError:
            pass  # unhashable: a new Schedule each time
    return schedule


def _attach(run: TrainingRun, schedule: Schedule, last: bool = False) -> None:
    """Put ``schedule`` on the run (once); ``last`` keeps it the one schedule bugs are attributed to."""
    present = any(s is schedule for s in run.schedules)
    if present and not last:
        return
    run.schedules[:] = [s for s in run.schedules if s is not schedule][-3:]
    run.schedules.append(schedule)


def _model_optimizer(holder):
    model = getattr(holder, "model", None)
    return model, getattr(model, "optimizer", None)


# -- fit (callback list hooks) -------------------------------------------------------------------------
def train_begin(callbacks, ops: KerasOps) -> None:
    model, opt = _model_optimizer(callbacks)
    if opt is None:
        return
    watch = watch_of(ops.inner(opt), ops)
    if watch is None:
        return
    run = watch.run
    step_fn = getattr(type(model), "train_step", None)
    stock = getattr(step_fn, "__module__", "").startswith(("keras.", "tf_keras."))
    try:
        _fits[callbacks] = _Fit(watch, difference=stock)
    except TypeError:
        return  # an unhashable callback list (a user subclass): not watched
    watch.fit = weakref.ref(callbacks)
    steps = (getattr(callbacks, "params", None) or {}).get("steps")
    if isinstance(steps, int) and steps > 0:
        window = run.losses.recent.maxlen or 64
        watch.loss_every = max(1, min(16, steps * LOSS_WINDOW_EPOCHS // window))
    absolute = []
    schedule = ops.lr_schedule(ops.inner(opt))
    if schedule is not None:
        family = "builtin" if type(schedule).__module__.startswith(("keras.", "tf_keras.")) else "custom"
        attached = _schedule_of(schedule, type(schedule).__name__, family, run.where)
        _attach(run, attached)
        iterations = ops.value(getattr(ops.inner(opt), "_iterations", None))
        keras_schedules.fit_began(run, attached, schedule, iterations)  # its length, in optimizer steps
    for callback in list(getattr(callbacks, "callbacks", None) or ()):
        if isinstance(callback, ops.lr_scheduler_types):
            absolute.append(_schedule_of(callback, type(callback).__name__, "absolute", _get(_sites, callback)))
        elif isinstance(callback, ops.plateau_types):
            _attach(run, _schedule_of(callback, type(callback).__name__, "plateau", _get(_sites, callback)))
    for schedule in absolute:
        _attach(run, schedule, last=True)
    watch.set_bases(ops.read_lrs(opt))  # observed from the first epoch on, once the callbacks have set it
    watch.next_check = min(watch.next_check, run.step + 1)
    keras_resume.fit_began(watch, ops, ops.inner(opt), getattr(callbacks, "params", None))


def epoch_begin(callbacks, epoch) -> None:
    fit = _get(_fits, callbacks)
    if fit is None:
        return
    fit.last_batch, fit.previous, fit.previous_count = -1, None, 0
    watch = fit.watch
    if isinstance(epoch, int):
        watch.run.epoch = epoch
    keras_resume.epoch_began(watch, epoch)
    keras_schedules.epoch_began(watch.run, getattr(callbacks, "params", None), epoch)  # the steps the fit plans
    watch.read_lrs()
    watch.run.check()


def batch_end(callbacks, batch, logs) -> None:
    """Every training batch of ``fit`` (the hot path: counters and references only)."""
    try:
        fit = _fits.get(callbacks)
    except TypeError:
        return
    if fit is None or type(batch) is not int:
        return
    watch = fit.watch
    run = watch.run
    step = run.step = run.step + (batch - fit.last_batch if batch > fit.last_batch else batch + 1)
    fit.last_batch = batch
    loss = logs.get("loss") if type(logs) is dict else None
    if loss is not None:
        if step >= watch.next_loss:
            watch.next_loss = step + (1 if step < LOSS_DENSE_STEPS else watch.loss_every)
            if fit.difference:
                watch.losses.append((batch + 1, loss, fit.previous_count, fit.previous))
            else:
                watch.losses.append((0, loss, 0, None))
        fit.previous, fit.previous_count = loss, batch + 1
    if step >= watch.next_grad:
        watch.sample_slot(step)
    if step >= watch.next_check:
        watch.checkpoint()


def epoch_end(callbacks) -> None:
    fit = _get(_fits, callbacks)
    if fit is not None:
        fit.watch.checkpoint()  # after the callbacks: ReduceLROnPlateau's cut is seen here


def train_end(callbacks) -> None:
    fit = _get(_fits, callbacks)
    if fit is not None:
        del _fits[callbacks]
    if fit is not None:
        fit.watch.fit = None
        fit.watch.checkpoint(final=True)


# -- LearningRateScheduler -----------------------------------------------------------------------------
def before_schedule(callback, ops: KerasOps) -> None:
    """Before the scheduler sets this epoch's lr: make sure the optimizer's own lr is known (its base)."""
    _, opt = _model_optimizer(callback)
    watch = watch_of(ops.inner(opt), ops) if opt is not None else None
    if watch is not None:
        if not watch.based:
            watch.set_bases(ops.read_lrs(opt))
        keras_schedules.before_scheduled(callback, (ops.read_lrs(opt) or [None])[0])


def scheduled(callback, ops: KerasOps, epoch, value, optimizer=None) -> None:
    """The scheduler set ``value`` (None: read it) as the lr of ``optimizer`` (None: the model's) at ``epoch``."""
    _, opt = _model_optimizer(callback)
    if opt is None or not isinstance(epoch, int):
        return
    watch = watch_of(ops.inner(opt), ops)
    if watch is None:
        return
    run = watch.run
    schedule = _schedule_of(callback, type(callback).__name__, "absolute", _get(_sites, callback))
    _attach(run, schedule, last=True)
    subs = ops.sub_optimizers(opt)
    group = 0
    if subs and optimizer is not None:
        group = next((i for i, o in enumerate(subs) if o is optimizer), 0)
    if value is None or type(value) is not float:
        value = ops.value(value) if value is not None else None
        if value is None:
            lrs = ops.read_lrs(opt)
            value = lrs[group] if group < len(lrs) else None
    if value is not None:
        if not schedule.probes:
            schedule.source = returned_expression(getattr(callback, "schedule", None))
        while len(schedule.probes) <= group:
            schedule.probes.append([])
        if group == 0 and len(schedule.probe_epochs) < MAX_PROBES:
            schedule.probe_epochs.append(epoch)
        if len(schedule.probes[group]) < min(MAX_PROBES, len(schedule.probe_epochs)):
            schedule.probes[group].append(value)
        schedule.last_epoch = epoch
        if group == 0:
            keras_schedules.scheduled(callback, schedule, value)  # did it undo a ReduceLROnPlateau cut?
    run.epoch = epoch
    watch.observe_lrs(ops.read_lrs(opt))
    run.check()


# -- optimizer apply (gradients; custom loops) ---------------------------------------------------------
def before_apply(opt, ops: KerasOps, grads, weights) -> Optional[_Watch]:
    """Returns the watch when this apply is a custom loop's step (to count after it), else None."""
    if not ops.watches_apply:
        return None  # e.g. JAX: apply runs traced inside jit, with no eager step to count
    watch = watch_of(opt, ops)  # its lrs are read later, never while tracing
    if watch is None:
        return None
    graph = ops.graph_mode()
    watch.before_apply(opt, grads, weights, graph)
    if graph or watch.in_fit():
        return None
    return watch


def after_apply(watch: _Watch) -> None:
    """A custom loop's step is done."""
    run = watch.run
    step = run.step = run.step + 1
    loss = watch.ops.eager_loss()
    if loss is not None and step >= watch.next_loss:
        watch.next_loss = step + (1 if step < LOSS_DENSE_STEPS else LOSS_EVERY)
        watch.losses.append((0, loss, 0, None))
    if step >= watch.next_check:
        watch.checkpoint()


def tape_target(target, eager: bool) -> None:
    """``GradientTape.gradient(target, ...)`` was called: an eager scalar target is a custom loop's loss."""
    if eager:
        try:
            scalar = len(target.shape) == 0
        except Exception:
            return  # not a tensor (a list of targets, ...)
        if scalar:
            _local.loss = target


def flush() -> None:
    """Final decisions for every live watched optimizer (``lrguard.findings()``)."""
    for ref in _watches.keyrefs():  # a snapshot: another thread may build an optimizer meanwhile
        opt = ref()
        watch = _watches.get(opt) if opt is not None else None
        if watch is not None:
            watch.checkpoint(final=True)


# -- guarded entry points for the adapters' wrappers ---------------------------------------------------
def guarded(where: str, fn, *args, **kwargs) -> Any:
    """Call an observation function fail-open; an LRGuardWarning raised as an error propagates."""
    if STATE.stopped:
        return None
    try:
        return fn(*args, **kwargs)
    except LRGuardWarning as error:
        raise surfaced(error)  # a finding your warning filter (-W error) made an exception: see its note
    except Exception as exc:
        internal_error(where, exc)
        return None


def after(observe, where: str):
    """A wrapper (see patches.py): the wrapped call first, then ``observe(instance, *args, **kwargs)`` (fail-open)."""
    def lrguard_observes(wrapped, instance, args, kwargs):
        result = wrapped(*args, **kwargs)
        if not STATE.stopped:
            guarded(where, observe, instance, *args, **kwargs)
        return result
    return lrguard_observes


def built(observe):
    """An ``after`` observer that only needs the new object."""
    return lambda obj, *args, **kwargs: observe(obj)


def batch_end_hook(where: str):
    """A wrapper for ``CallbackList.on_train_batch_end(batch, logs=None)``: observe the batch, then Keras' own
    callbacks."""
    def lrguard_observes_batch_end(wrapped, instance, args, kwargs):
        if not STATE.stopped and (args or "batch" in kwargs):  # the hot path: no extra call layer
            try:
                batch_end(instance, argument(args, kwargs, 0, "batch"), argument(args, kwargs, 1, "logs"))
            except LRGuardWarning as error:
                raise surfaced(error)  # a finding your warning filter (-W error) made an exception: see its note
            except Exception as exc:
                internal_error(where, exc)
        return wrapped(*args, **kwargs)
    return lrguard_observes_batch_end
