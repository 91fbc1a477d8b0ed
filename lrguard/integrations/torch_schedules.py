"""PyTorch: a scheduler's length, how it is stepped, and the DataLoader epochs, for ``schedule-length`` and
``schedule-not-applied``.

- When a scheduler is built, its length parameters become its ``Shape`` (``T_max``, ``total_steps``,
  ``total_iters``, milestones, the ``num_training_steps`` of HF's ``get_*_schedule_with_warmup`` functions, the step
  at which a LambdaLR's read-ahead reaches 0).
- ``LRScheduler._update_lr`` (what ``step()`` calls once torch's own checks and warnings are done) is wrapped: each
  call records the optimizer's step count and the scheduler's own
  (``Stepping.call``), whether the optimizer trained at the lrs the schedulers had set since the last call, whether
  this call undid another writer's cut, and whether the scheduler's optimizer is one that never steps while another
  optimizer over the same parameters does. A few comparisons per call; the optimizer's step adds nothing.
- ``DataLoader.__iter__`` is wrapped: each call begins an epoch of that loader for every watched optimizer
  (``Epochs.start``), with its ``len()`` (never asked of an IterableDataset's loader: torch counts that call).

Only weak references to user objects are kept; nothing is added to them; the wrapped calls' results, errors and
warnings are untouched, and lrguard's own errors are reported once (fail-open).
"""
from __future__ import annotations

import functools
import itertools
import math
import operator
import weakref
from typing import Optional

from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, IterableDataset

from ..detection.stepping import CUTS, LOW, STOPS, TURNS, ZERO, Shape, Stepping
from ..findings import LRGuardWarning, surfaced
from .failopen import STATE, internal_error
from .torch_probe import probe_functions

BISECT_POINTS = 64  # epochs probed per round when finding where a LambdaLR reaches 0
PROBE_SECONDS = 0.02

_adapter = None  # lrguard.integrations.torch, set by patch()
_steppers: dict = {}  # id(scheduler) -> _Stepper (which holds a weak reference to it); removed when it dies
_driven: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # watch -> _Driven
_loader_keys: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # DataLoader -> int
_keys = itertools.count(1)
_lr_of = operator.itemgetter("lr")


class _Driven:
    """Per watched optimizer: the lrs its schedulers set last, and when."""

    __slots__ = ("after", "after_step", "plateau", "__weakref__")

    def __init__(self) -> None:
        self.after: Optional[list] = None  # the lrs the latest scheduler call left (None: unknown, or not floats)
        self.after_step = 0  # the optimizer's step count then
        self.plateau = False  # a ReduceLROnPlateau drives it too (its cuts may be undone)


class _Stepper:
    """Per scheduler: its Schedule, its optimizer's watch, and the lrs it set last. ``enter`` and ``leave`` run at
    every scheduler step: a few comparisons of short lists, and the details only when they differ."""

    __slots__ = ("ref", "schedule", "stepping", "watch", "driven", "last_set", "own_step", "shares")

    def __init__(self, sched, schedule, watch, own_step: bool) -> None:
        self.ref = weakref.ref(sched)
        self.schedule, self.stepping, self.watch = schedule, schedule.stepping, watch
        self.driven = _driven.get(watch) or _driven.setdefault(watch, _Driven())
        self.last_set: Optional[list] = None
        self.own_step = own_step  # its class overrides step(): what it sets after LRScheduler.step is unseen
        self.shares: dict = {}  # id(another watch) -> do they share parameters?

    def enter(self, sched) -> Optional[list]:
        """Before the call: counts an override of the lrs the schedulers set last; returns the lrs now where a
        plateau scheduler may have cut them (None otherwise)."""
        driven, watch = self.driven, self.watch
        after = driven.after
        if after is not None and watch.run.step > driven.after_step and not self.own_step and not watch.tensor_lrs:
            trained = watch.last_lrs  # the lrs of the optimizer's latest step
            if trained == after or len(trained) != len(after):
                if self.stepping.overridden:  # (a streak of overrides ends)
                    self.stepping.overridden_call(None, 0.0)
            else:
                self._overridden(trained, after)
        return list(map(_lr_of, sched.optimizer.param_groups)) if driven.plateau else None

    def _overridden(self, trained: list, after: list) -> None:
        """The optimizer stepped with other lrs than the schedulers had set: in every group that trains?"""
        if not all(type(lr) is float for lr in trained):
            return
        active = [(t, a) for t, a in zip(trained, after) if t > 0 or a > 0]
        if active and all(not _same(t, a) for t, a in active):
            self.stepping.overridden_call(*active[0])
        else:
            self.stepping.overridden_call(None, 0.0)

    def leave(self, sched, before: Optional[list]) -> None:
        """After the call: its position, the lrs it set, an undone cut, a re-created optimizer."""
        watch, driven, stepping = self.watch, self.driven, self.stepping
        run = watch.run
        position = sched.last_epoch
        if type(position) is int:
            stepping.call(run.step, position, self.schedule.shape)
        now = getattr(sched, "_last_lr", None)  # torch's own copy of the lrs it just set
        if type(now) is not list or not now or type(now[0]) is not float:
            now = _floats(sched.optimizer.param_groups)
        if now is not None:
            if self.last_set is not None and self.last_set != now:
                stepping.moved = True
            previous = driven.after
            if before is not None and previous is not None and before != previous and len(previous) == len(now):
                self._cut(previous, before, now)
            self.last_set = driven.after = now
            driven.after_step = run.step
        if not run.step and stepping.calls >= 2 and stepping.moved and stepping.replaced is None:
            self._replaced(sched)

    def _cut(self, previous: list, before: list, now: list) -> None:
        """Something lowered the lr since the schedulers set it: did this call set it back up?"""
        group = next((i for i, lr in enumerate(previous) if lr > 0), None)
        if group is not None and len(before) == len(now) and type(before[group]) is float:
            self.stepping.cut_undone(previous[group], before[group], now[group])

    def _replaced(self, sched) -> None:
        """This scheduler's optimizer never stepped: is another one over the same parameters training?"""
        opt_ref, hot = _adapter._hot
        other = opt_ref()
        if hot is None or hot is self.watch or other is None or not hot.run.step:
            return
        shares = self.shares.get(id(hot))
        if shares is None:
            mine = {id(p) for g in sched.optimizer.param_groups for p in g["params"]}
            shares = self.shares[id(hot)] = any(id(p) in mine for g in other.param_groups for p in g["params"])
        if shares:
            lrs = hot.last_lrs
            lr = lrs[0] if lrs and type(lrs[0]) is float else math.nan
            self.stepping.replaced = (hot.run.name, hot.run.step, lr)
            self.watch.run.check()  # its own optimizer never steps, so never reaches a checkpoint


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def _floats(groups) -> Optional[list]:
    """The param groups' lrs as plain floats; None when one is not (a tensor lr: never read here)."""
    lrs = [g["lr"] for g in groups]
    return lrs if all(type(lr) is float for lr in lrs) else None


# -- scheduler construction -----------------------------------------------------------------------------------
def scheduler_built(sched, schedule, watch) -> None:
    """A scheduler was read (``schedule``) for the optimizer of ``watch``: its shape, and its steps from now on."""
    start = getattr(sched, "last_epoch", 0)
    start = start if type(start) is int else 0
    run = watch.run
    schedule.shape = shape_of(sched, schedule)
    owner = next((c for c in type(sched).__mro__ if "step" in vars(c)), lr_scheduler.LRScheduler)
    own_step = owner is not lr_scheduler.LRScheduler and not _builtin(owner)
    schedule.stepping = Stepping(built_at=run.step, start=start, position=start, unseen=own_step)
    stepper = _Stepper(sched, schedule, watch, own_step)
    if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
        stepper.driven.plateau = True  # its cuts come through its own step(), not counted here
        return
    key = id(sched)
    _steppers[key] = stepper
    weakref.finalize(sched, _steppers.pop, key, None)
    stepper.last_set = _floats(sched.optimizer.param_groups)
    driven = stepper.driven
    driven.after, driven.after_step = stepper.last_set, run.step  # the lrs its construction set


def container_built(container) -> None:
    """A SequentialLR or ChainedScheduler: the schedulers inside it are stepped by it, each in its turn."""
    for sched in getattr(container, "_schedulers", ()):
        stepper = _steppers.get(id(sched))
        if stepper is not None:
            stepper.schedule.stepping.contained = True
        elif hasattr(sched, "_schedulers"):
            container_built(sched)


def _builtin(cls) -> bool:
    """A class of torch's (its own step() overrides keep the lrs they set)."""
    return cls.__module__.startswith("torch.")


def _hashable(obj) -> bool:
    return type(obj).__hash__ is not None


def shape_of(sched, schedule) -> Optional[Shape]:
    """What the scheduler's parameters say about its length; None when nothing is known."""
    L = lr_scheduler
    base = max([b for b in getattr(sched, "base_lrs", []) if type(b) is float] or [0.0])
    if isinstance(sched, L.ReduceLROnPlateau):
        return None
    if isinstance(sched, L.CosineAnnealingLR):
        t_max, eta_min = int(sched.T_max), float(sched.eta_min)
        moves = t_max > 0 and eta_min != base
        return Shape(1 if moves else None, t_max, f"T_max={t_max}", TURNS, end_ratio=eta_min / base if base else 0.0)
    if isinstance(sched, L.OneCycleLR):
        total = int(sched.total_steps)
        warmup = int(round(sched._schedule_phases[0]["end_step"])) + 1 if sched._schedule_phases else 0
        return Shape(1, total, f"total_steps={total}", STOPS, warmup=warmup, end_ratio=0.0)
    if isinstance(sched, L.PolynomialLR):
        total = int(sched.total_iters)
        return Shape(1, total, f"total_iters={total}", ZERO if sched.power > 0 else "", end_ratio=0.0)
    if isinstance(sched, L.LinearLR):
        start, end, total = float(sched.start_factor), float(sched.end_factor), int(sched.total_iters)
        first = 1 if start != end and total > 0 else None
        if end >= start:  # a warmup: it ends at its peak
            return Shape(first, total, f"total_iters={total}", "", warmup=total)
        ratio = end / start
        return Shape(first, total, f"total_iters={total}", ZERO if ratio <= 0.01 else LOW, end_ratio=ratio)
    if isinstance(sched, L.ConstantLR):
        total = int(sched.total_iters)
        first = total if sched.factor != 1 and total > getattr(sched, "last_epoch", 0) else None
        return Shape(first, total, f"total_iters={total}", "")
    if isinstance(sched, L.MultiStepLR):
        points = sorted(int(m) for m in sched.milestones.elements())
        if not points or sched.gamma == 1:
            return Shape(None)
        ratio = sched.gamma ** len(points)
        name = f"milestones={sorted(set(points))}"
        return Shape(points[0], points[-1], name, CUTS if ratio < 1 else "", end_ratio=min(ratio, 1.0))
    if isinstance(sched, L.StepLR):
        return Shape(int(sched.step_size) if sched.gamma != 1 else None)
    if isinstance(sched, L.ExponentialLR):
        return Shape(1 if sched.gamma != 1 else None)
    if isinstance(sched, (L.CyclicLR, L.CosineAnnealingWarmRestarts)):
        return Shape(1)  # cycles by design: no end
    if schedule.family in ("lambda", "custom", "multiplicative"):
        return _shape_from_probes(sched, schedule)
    return None


def _shape_from_probes(sched, schedule) -> Optional[Shape]:
    """A LambdaLR (or a custom scheduler read ahead): its first change, where it reaches 0 and stays there, and
    the parameters HF's ``get_*_schedule_with_warmup`` gave its function."""
    epochs, probes = schedule.probe_epochs, schedule.probes
    if not epochs or not probes or not probes[0]:
        return None
    values = probes[0]
    if schedule.family == "multiplicative":  # factors: the lr changes where a factor (from epoch 1) is not 1
        first = next((e for e, v in zip(epochs, values) if e >= 1 and v != 1), None)
        return Shape(first)
    first = next((e for e, v in zip(epochs, values) if e >= 1 and v != values[0]), None)
    shape = Shape(first)
    peak = max(values)
    if not (peak > 0 and math.isfinite(peak)):
        return shape
    zero = next((i for i in range(1, len(values)) if all(v == 0 for v in values[i:])), None)  # an exponential never is
    if zero is not None and zero < len(values) - 1:  # reaches 0 and stays there (over at least two probes)
        functions = getattr(sched, "lr_lambdas", None)
        end = _bisect_zero(functions[0], epochs[zero - 1], epochs[zero]) if functions else epochs[zero]
        shape.end, shape.ending, shape.end_ratio = end, ZERO, 0.0
        shape.name = f"lr_lambda reaches 0 at step {end}"
    _hf_parameters(sched, shape)
    return shape


def _bisect_zero(fn, low: int, high: int) -> int:
    """The first epoch in (low, high] where ``fn`` is 0 (``fn(low)`` is not, ``fn(high)`` is)."""
    for _ in range(3):
        if high - low <= 1:
            break
        span = high - low
        points = sorted({low + max(1, span * k // BISECT_POINTS) for k in range(1, BISECT_POINTS + 1)} - {high})
        got, (values, *_) = probe_functions([fn], points, PROBE_SECONDS)
        if len(got) < len(points):
            break
        for epoch, value in zip(got, values):
            if value == 0:
                high = epoch
                break
            low = epoch
    return high


def _hf_parameters(sched, shape: Shape) -> None:
    """HF's ``get_*_schedule_with_warmup`` build LambdaLR(partial(f, num_warmup_steps=..., num_training_steps=...)):
    the length is the one the user gave."""
    functions = getattr(sched, "lr_lambdas", None) or []
    fn = functions[0] if functions else None
    if not isinstance(fn, functools.partial) or "num_training_steps" not in fn.keywords:
        return
    keywords, name = fn.keywords, getattr(fn.func, "__name__", "")
    try:
        total, warmup = int(keywords["num_training_steps"]), int(keywords.get("num_warmup_steps") or 0)
    except (TypeError, ValueError):
        return
    shape.name, shape.warmup = f"num_training_steps={total}", warmup
    if "cosine" in name and "restarts" not in name and keywords.get("num_cycles", 0.5) == 0.5:
        shape.end, shape.ending = total, TURNS  # past num_training_steps the cosine rises again
        shape.end_ratio = float(keywords.get("min_lr_rate") or 0.0)
    elif "polynomial" in name:  # it holds lr_end (1e-7 by default) past num_training_steps
        try:
            ratio = float(keywords["lr_end"]) / float(keywords["lr_init"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return
        shape.end, shape.ending, shape.end_ratio = total, ZERO if ratio <= 0.01 else LOW, ratio
    elif shape.ending == ZERO:
        shape.end = total


# -- wrappers -----------------------------------------------------------------------------------------------
def lrguard_observes_scheduler_step(wrapped, instance, args, kwargs):
    """``LRScheduler._update_lr`` (the part of ``step()`` that sets the lrs, after torch's own checks and warnings,
    which keep pointing at the user's line), and ``CosineAnnealingWarmRestarts.step``: how often the scheduler is
    stepped, against the optimizer's steps."""
    stepper = _steppers.get(id(instance))
    if stepper is None or STATE.stopped or stepper.ref() is not instance:
        return wrapped(*args, **kwargs)
    try:
        before = stepper.enter(instance)
    except Exception as exc:
        internal_error("the PyTorch scheduler-step hook", exc)
        stepper = None
    result = wrapped(*args, **kwargs)
    if stepper is not None and not STATE.stopped:
        try:
            stepper.leave(instance, before)
        except LRGuardWarning as error:
            raise surfaced(error)  # a finding your warning filter (-W error) made an exception
        except Exception as exc:
            internal_error("the PyTorch scheduler-step hook", exc)
    return result


def lrguard_observes_loader_epoch(wrapped, instance, args, kwargs):
    """``DataLoader.__iter__``: an epoch of this loader begins."""
    result = wrapped(*args, **kwargs)
    if not STATE.stopped:
        try:
            _epoch_began(instance)
        except Exception as exc:
            internal_error("the PyTorch DataLoader hook", exc)
    return result


def _epoch_began(loader) -> None:
    if not _hashable(loader):
        return
    key = _loader_keys.get(loader)
    if key is None:
        key = _loader_keys[loader] = next(_keys)
    length = _length(loader)
    for watch in list(_adapter._watches.values()):  # decided at their next checkpoint, as ever
        run = watch.run
        run.epochs.start(key, length, run.step, run.schedules)


def _length(loader) -> Optional[int]:
    """``len(loader)``, never for an IterableDataset (torch remembers that call, to warn about it later)."""
    if isinstance(getattr(loader, "dataset", None), IterableDataset):
        return None
    try:
        length = len(loader)
    except Exception:
        return None
    return length if type(length) is int and length > 0 else None


def patch(patches, adapter) -> None:
    global _adapter
    _adapter = adapter
    base = lr_scheduler.LRScheduler
    patches.wrap(base, "_update_lr" if "_update_lr" in vars(base) else "step", lrguard_observes_scheduler_step)
    # torch's schedulers whose own step() sets the lrs itself (containers step the ones inside them)
    patches.wrap(lr_scheduler.CosineAnnealingWarmRestarts, "step", lrguard_observes_scheduler_step)
    patches.wrap(DataLoader, "__iter__", lrguard_observes_loader_epoch)
