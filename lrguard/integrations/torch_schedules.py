"""PyTorch: a scheduler's length, how it is stepped, and the DataLoader epochs, for ``schedule-length`` and
``schedule-not-applied``.

- When a scheduler is built, its length parameters become its ``Shape`` (``T_max``, ``total_steps``,
  ``total_iters``, milestones, the ``num_training_steps`` of HF's ``get_*_schedule_with_warmup`` functions, the step
  at which a LambdaLR's read-ahead reaches 0).
- Each scheduler's ``step()`` calls are counted from torch's own record of them, with no wrapper on the scheduler:
  its ``_step_count`` (which ``step()`` increments) and its ``_last_lr`` (a new list at every call, also where
  SequentialLR sets a milestone without ``step()``), read at the optimizer's next step and at every other event
  lrguard sees (a DataLoader epoch, a ReduceLROnPlateau step, a checkpoint, the end of the run). The calls found are
  recorded at the optimizer's step count they were made at (``Stepping.call``), with whether the optimizer trained
  at the lrs the schedulers had set, whether they undid a plateau's cut, and whether the scheduler's optimizer is one
  that never steps while another optimizer over the same parameters does. Per optimizer step that is two attribute
  reads per scheduler, and a few comparisons of short lists when it was stepped; the only scheduler of a one-group
  optimizer stepped once per optimizer step is followed with a few reads a step and its calls recorded in one go
  (``_Stepper.settle``). CosineAnnealingWarmRestarts, whose own ``step()`` counts nothing, is wrapped instead.
- ``DataLoader.__iter__`` is wrapped: each call begins an epoch of that loader for every watched optimizer
  (``Epochs.start``), with its ``len()`` (never asked of an IterableDataset's loader: torch counts that call).

Only weak references to user objects are kept; nothing is added to them; the wrapped calls' results, errors and
warnings are untouched, and lrguard's own errors are reported once (fail-open).
"""
from __future__ import annotations

import functools
import itertools
import math
import weakref
from typing import Optional

from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, IterableDataset

from ..detection.stepping import CUTS, LOW, STOPS, TURNS, ZERO, Shape, Stepping
from ..findings import LRGuardWarning, surfaced
from .failopen import STATE, internal_error
from .torch_probe import probe_functions

BISECT_POINTS = 64  # epochs probed per round when finding where a LambdaLR reaches 0
FOLLOW = True  # a scheduler stepped once per optimizer step is followed from the post-step hook (see _Stepper)
PROBE_SECONDS = 0.02

_adapter = None  # lrguard.integrations.torch, set by patch()
_steppers: dict = {}  # id(scheduler) -> _Stepper (which holds a weak reference to it); removed when it dies
_driven: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # watch -> _Driven
_loader_keys: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # DataLoader -> int
_keys = itertools.count(1)


class _Driven:
    """Per watched optimizer: the lrs its schedulers set last, and when."""

    __slots__ = ("after", "after_step", "plateau", "cut", "__weakref__")

    def __init__(self) -> None:
        self.after: Optional[list] = None  # the lrs the latest scheduler call left (None: unknown, or not floats)
        self.after_step = 0  # the optimizer's step count then
        self.plateau = False  # a ReduceLROnPlateau drives it too (its cuts may be undone)
        self.cut: Optional[list] = None  # the lrs a plateau cut left, until a scheduler is next found stepped


class _Stepper:
    """Per scheduler: its Schedule, its optimizer's watch, the lrs it set last, and torch's count of its calls when
    lrguard last looked. ``look`` runs at the optimizer's step after a call (once a step at most for a scheduler
    stepped every batch): a few comparisons, and the details (``called``) only when they differ.

    A scheduler stepped once per optimizer step goes on in ``look``'s common case step after step. Once ``look`` has
    found it so, the only scheduler of a one-group optimizer is *followed* (``lag`` set): the post-step hook then only
    checks that the pattern holds (torch's count and the scheduler's position each a constant ahead of the optimizer's
    step count, the group trained at the very lr object the scheduler set, no mark reached), and the calls it checked
    are recorded in one go (``settle``) when anything else looks, or when the pattern breaks."""

    __slots__ = ("ref", "schedule", "stepping", "watch", "driven", "last_set", "own_step", "shares", "seen",
                 "seen_lrs", "lag", "pos_lag", "until")

    def __init__(self, sched, schedule, watch, own_step: bool) -> None:
        self.ref = weakref.ref(sched)
        self.schedule, self.stepping, self.watch = schedule, schedule.stepping, watch
        self.driven = _driven.get(watch) or _driven.setdefault(watch, _Driven())
        self.last_set: Optional[list] = None
        self.own_step = own_step  # its class overrides step(): what it sets after LRScheduler.step is unseen
        self.shares: dict = {}  # id(another watch) -> do they share parameters?
        self.resync(sched)

    def resync(self, sched) -> None:
        """Count its calls from now on (when built, and when its state, counts included, was loaded): ``seen`` and
        ``seen_lrs`` are torch's count of its step() calls and its ``_last_lr`` when lrguard last looked."""
        self.seen, self.seen_lrs = getattr(sched, "_step_count", 0), getattr(sched, "_last_lr", None)
        self.lag = self.pos_lag = None  # followed: torch's count and its position minus the optimizer's step count
        self.until = 0  # followed while the optimizer's step count is below this (its position below the next mark)

    def look(self, sched) -> None:
        """Record the calls made since lrguard last looked (``_post_step`` inlines the test for none). The common
        case is counted here: one call since the optimizer's latest step, which trained at the lrs this scheduler had
        set (what ``called`` would find, without its comparisons)."""
        if self.lag is not None:
            self.settle()
        count, lrs = sched._step_count, sched._last_lr
        if count == self.seen and lrs is self.seen_lrs:
            return
        # (a count that went down was reset: SequentialLR re-runs its first scheduler's initial step)
        calls = count - self.seen if count >= self.seen else count
        self.seen, self.seen_lrs = count, lrs
        driven, stepping, position, step = self.driven, self.stepping, sched.last_epoch, self.watch.run.step
        if (calls == 1 and driven.after is self.last_set is not None and step > stepping.last_at and stepping.calls
                and stepping.moved and not stepping.overridden and not driven.plateau and type(position) is int
                and position < stepping.next_mark and self.watch.last_lrs == self.last_set
                and type(lrs) is list and lrs and type(lrs[0]) is float):
            stepping.calls += 1
            stepping.position, stepping.last_at = position, step
            self.last_set = driven.after = lrs
            driven.after_step = step
            if FOLLOW and len(lrs) == 1 and self.watch.steppers == (self,):  # follow it from the post-step hook
                self.lag, self.pos_lag = count - step, position - step
                self.until = stepping.next_mark - self.pos_lag
        else:
            self.called(sched, max(calls, 1))

    def settle(self) -> None:
        """Stop following: record the calls the post-step hook checked since ``look`` last ran, one per optimizer
        step, as ``look`` would have recorded each (the last at the optimizer's step before the latest one)."""
        lag, self.lag = self.lag, None
        watch = self.watch
        at = watch.run.step - 1  # the step the latest checked call was made after
        count = lag + at
        if count <= self.seen:
            return
        stepping, driven, sched = self.stepping, self.driven, self.ref()
        stepping.calls += count - self.seen
        if sched is not None and sched._step_count == count:  # no call since: its own record
            stepping.position, lrs = sched.last_epoch, sched._last_lr
        else:  # the lrs of the step after it: that call's (the post-step hook checked they are the same objects)
            stepping.position, lrs = at + self.pos_lag, [*watch.last_lrs]
        stepping.last_at = driven.after_step = at
        self.seen, self.seen_lrs = count, lrs
        self.last_set = driven.after = lrs

    def called(self, sched, calls: int) -> None:
        """The scheduler was stepped ``calls`` times since the optimizer's latest step (``run.step``): an override
        of the lrs the schedulers had set, its position, the lrs it set, an undone cut, a re-created optimizer."""
        watch, driven, stepping = self.watch, self.driven, self.stepping
        run = watch.run
        trained, after = watch.last_lrs, driven.after  # the lrs of the optimizer's latest step; the schedulers' then
        if after is not None and run.step > driven.after_step and not self.own_step and not watch.tensor_lrs:
            if trained == after or len(trained) != len(after):
                if stepping.overridden:  # (a streak of overrides ends)
                    stepping.overridden_call(None, 0.0)
            else:
                self._overridden(trained, after)
        position = sched.last_epoch
        if type(position) is int:
            stepping.call(run.step, position, self.schedule.shape, calls)
        now = getattr(sched, "_last_lr", None)  # torch's own copy of the lrs it set
        if type(now) is not list or not now or type(now[0]) is not float:
            now = _floats(sched.optimizer.param_groups)
        if now is not None:
            if self.last_set is not None and self.last_set != now:
                stepping.moved = True
            if driven.plateau:  # the lrs before the call: those a plateau cut left, or those the optimizer trained at
                before, driven.cut = driven.cut or trained, None
                if after is not None and before != after and len(after) == len(now):
                    self._cut(after, before, now)
            self.last_set = driven.after = now
            driven.after_step = run.step
        if not run.step and stepping.calls >= 2 and stepping.moved and stepping.replaced is None:
            self._replaced(sched)

    def _overridden(self, trained: list, after: list) -> None:
        """The optimizer stepped with other lrs than the schedulers had set: in every group that trains?"""
        if not all(type(lr) is float for lr in trained):
            return
        active = [(t, a) for t, a in zip(trained, after) if t > 0 or a > 0]
        if active and all(not _same(t, a) for t, a in active):
            self.stepping.overridden_call(*active[0])
        else:
            self.stepping.overridden_call(None, 0.0)

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


def settle(watch) -> None:
    """Record the calls of the schedulers of ``watch``'s optimizer that the post-step hook followed (before what
    reads them, or changes what they compare with)."""
    for stepper in watch.steppers:
        if stepper.lag is not None:
            stepper.settle()


def look(watch) -> None:
    """Record the scheduler calls made since lrguard last looked, for the schedulers of ``watch``'s optimizer."""
    for stepper in watch.steppers:
        sched = stepper.ref()
        if sched is not None:
            stepper.look(sched)
        elif stepper.lag is not None:  # (gone since the post-step hook last checked it)
            stepper.settle()


def look_idle() -> None:
    """``look`` for the optimizers that never stepped (at another one's checkpoint): a scheduler stepped on an
    optimizer that does not train is found while the one that does trains."""
    for watch in list(_adapter._watches.values()):
        if watch.steppers and not watch.run.step:
            look(watch)


def plateau_cut(watch, lrs: list) -> None:
    """A ReduceLROnPlateau cut the lrs of ``watch``'s optimizer to ``lrs`` (the schedulers' calls before it were
    looked at first)."""
    driven = _driven.get(watch)
    if driven is not None:
        driven.cut = lrs


def restored(sched) -> None:
    """The scheduler's state was loaded (its counts with it): what it has done since counts from here."""
    stepper = _steppers.get(id(sched))
    if stepper is not None and stepper.ref() is sched:
        stepper.resync(sched)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def _floats(groups) -> Optional[list]:
    """The param groups' lrs as plain floats; None when one is not (a tensor lr: never read here)."""
    lrs = [g["lr"] for g in groups]
    return lrs if all(type(lr) is float for lr in lrs) else None


# -- scheduler construction -----------------------------------------------------------------------------------
def scheduler_built(sched, schedule, watch) -> None:
    """A scheduler was read (``schedule``) for the optimizer of ``watch``: its shape, and its steps from now on."""
    settle(watch)  # a followed scheduler is the only one of its optimizer, and the lrs it set are about to change
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
    if isinstance(sched, lr_scheduler.CosineAnnealingWarmRestarts):
        return  # its step() is wrapped (see the top)
    if type(getattr(sched, "_step_count", None)) is int and hasattr(sched, "_last_lr"):
        watch.steppers = (*watch.steppers, stepper)
    else:  # a scheduler that keeps no count of its calls: they go unseen
        stepper.stepping.unseen = True


def look_at(sched) -> None:
    """``look`` for the optimizer of ``sched`` (before its state is loaded)."""
    stepper = _steppers.get(id(sched))
    if stepper is not None and stepper.ref() is sched:
        look(stepper.watch)


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
def lrguard_observes_warm_restarts_step(wrapped, instance, args, kwargs):
    """``CosineAnnealingWarmRestarts.step`` (which counts nothing of its own): one call of the scheduler."""
    stepper = _steppers.get(id(instance))
    result = wrapped(*args, **kwargs)
    if stepper is not None and not STATE.stopped and stepper.ref() is instance:
        try:
            look(stepper.watch)  # the other schedulers' calls before this one
            stepper.called(instance, 1)
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
        if watch.steppers:
            look(watch)  # the calls before this epoch belong to the one before
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
    patches.wrap(lr_scheduler.CosineAnnealingWarmRestarts, "step", lrguard_observes_warm_restarts_step)
    patches.wrap(DataLoader, "__iter__", lrguard_observes_loader_epoch)
