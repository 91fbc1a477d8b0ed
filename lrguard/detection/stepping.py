"""How a scheduler is stepped against the optimizer it drives, what its parameters say about its length, and the
epochs of the DataLoaders the training iterates.

Fed with a PyTorch scheduler's ``step()`` calls (counted at the optimizer's next step and at the other events lrguard
sees), when a DataLoader begins an epoch and when a Keras ``fit`` begins; read by the ``schedule-length`` and
``schedule-not-applied`` detectors. Plain numbers only, in bounded space; no framework is imported here.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple

# What a schedule does once its own step count reaches ``Shape.end``:
ZERO = "zero"  # the lr ends at ~0 and stays there (linear and polynomial decays, a LambdaLR reaching 0)
LOW = "low"  # it ends at a fraction of its peak and stays there (LinearLR's end_factor, Keras' alpha)
CUTS = "cuts"  # its last milestone: the lr was cut there and holds (MultiStepLR, PiecewiseConstantDecay)
TURNS = "turns"  # a cosine at its minimum: stepped further it rises again (CosineAnnealingLR, HF's cosine)
STOPS = "stops"  # stepped past its end it raises (OneCycleLR)
UNDONE_KEPT = 8  # undone cuts kept per schedule, for the message
_INFINITE = float("inf")


@dataclass
class Shape:
    """What a scheduler's parameters say about the lr it sets, counted in its own steps (PyTorch's last_epoch)."""

    first_change: Optional[int] = None  # the first step whose lr differs from the one before; None: never
    end: Optional[int] = None  # the step where the schedule ends (see the endings above); None: no end known
    name: str = ""  # the parameter that sets ``end``, as the user wrote it: "T_max=10", "num_training_steps=30"
    ending: str = ""  # one of the endings above, or "" (a schedule that ends at its peak: a warmup, ConstantLR)
    warmup: int = 0  # the steps of its warmup (0: none)
    end_ratio: float = 1.0  # the lr at its end / its peak


@dataclass
class Stepping:
    """How one scheduler has been stepped since it was built: in its own steps and in optimizer steps."""

    built_at: int = 0  # the optimizer's step count when the scheduler was built
    start: int = 0  # the scheduler's own count (last_epoch) then
    calls: int = 0  # step() calls since
    position: int = 0  # its own count after the latest call
    first_at: Optional[int] = None  # the optimizer's step count at the first call
    last_at: int = 0  # ... at the latest call
    repeats: int = 0  # calls with no optimizer step since the call before (back-to-back scheduler steps)
    end_at: Optional[int] = None  # the optimizer's step count when ``position`` reached the shape's end
    turned_at: Optional[int] = None  # ... when a cosine ("turns") had risen halfway back up after its end
    follows: bool = False  # its position is the optimizer's own step count plus ``offset`` (Keras schedules)
    offset: int = 0
    # schedule-not-applied evidence
    moved: bool = False  # a call set lrs different from those the call before had set (not a constant schedule)
    contained: bool = False  # a SequentialLR/ChainedScheduler drives it (its own calls may not come until a milestone)
    unseen: bool = False  # its class has its own step(), whose calls may bypass the one lrguard counts
    overridden: int = 0  # consecutive calls before which the optimizer stepped with lrs no scheduler had set
    override: Optional[Tuple[float, float]] = None  # (lr the optimizer stepped with, lr the schedulers had set)
    diverged: int = 0  # calls of the streak at which the two lrs' ratio changed (not a constant scaling)
    undone: List[Tuple[float, float, float]] = field(default_factory=list)  # (lr it set, cut lr found, lr it set)
    replaced: Optional[Tuple[str, int, float]] = None  # (name, steps, lr) of an optimizer of the same parameters
    # that trains while this scheduler's optimizer never steps
    next_mark: float = 0  # the next position at which ``call`` looks closer (its end, a cosine's turn)

    def call(self, opt_step: int, position: int, shape: Optional[Shape], calls: int = 1) -> None:
        """``calls`` ``step()`` calls at optimizer step ``opt_step``, after which the scheduler's own count is
        ``position``."""
        if opt_step == self.last_at and self.calls:
            self.repeats += calls
        else:
            if self.first_at is None:
                self.first_at = opt_step
            self.repeats += calls - 1
        self.calls += calls
        self.position, self.last_at = position, opt_step
        if position >= self.next_mark:  # (the common case is below it: nothing more to do)
            self._marked(opt_step, position, shape)

    def _marked(self, opt_step: int, position: int, shape: Optional[Shape]) -> None:
        """At or past ``next_mark``: has it reached its end (``end_at``), or risen halfway back up after a cosine's
        minimum (``turned_at``)? Sets the next mark."""
        end = shape.end if shape is not None else None
        self.next_mark = _INFINITE
        if end is None:
            return
        turn = end + (end - shape.warmup) / 2
        if self.end_at is None:
            if position < end:
                self.next_mark = end
                return
            self.end_at = opt_step
        if shape.ending == TURNS and self.turned_at is None:
            if position < turn:
                self.next_mark = turn
                return
            self.turned_at = opt_step

    def overridden_call(self, trained: Optional[float], scheduled: float) -> None:
        """Before this call the optimizer stepped with lr ``trained`` where the schedulers had set ``scheduled``
        (``trained`` None: it stepped with theirs). A streak of such calls in which the ratio of the two keeps
        changing is an override; a constant ratio is the schedule scaled (per-layer factors applied on top)."""
        if trained is None:
            self.overridden = self.diverged = 0
            self.override = None
            return
        last = self.override
        if last is not None and scheduled > 0 and last[1] > 0 and not _close(trained / scheduled, last[0] / last[1]):
            self.diverged += 1
        self.overridden += 1
        self.override = (trained, scheduled)

    def cut_undone(self, before: float, found: float, after: float) -> bool:
        """This scheduler had set ``before``; another writer cut it to ``found``; this call set ``after``. True
        (and kept) when the call undid the cut: the lr went back up most of the way."""
        if not (0 < found <= 0.9 * before and after >= 1.5 * found and after >= 0.5 * before):
            return False
        if len(self.undone) < UNDONE_KEPT:
            self.undone.append((before, found, after))
        return True


class Plan(NamedTuple):
    """What a Keras ``fit`` plans: it ends at optimizer step ``end``, after epochs of ``epoch_steps`` steps."""

    end: int
    epoch_steps: int


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))


Snapshot = Dict[int, Tuple[int, int]]  # id(schedule) -> (its calls, its repeats)


@dataclass
class Mark:
    """A DataLoader began an epoch at optimizer step ``step``; ``schedules``: their calls and repeats then."""

    step: int
    schedules: Snapshot


@dataclass
class Epoch:
    """One whole epoch of the training loader: optimizer steps, and per schedule its calls and repeats."""

    steps: int
    calls: Dict[int, int]
    repeats: Dict[int, int]


@dataclass
class LoaderTrack:
    """The epochs one DataLoader began (while this optimizer trained)."""

    key: int
    length: Optional[int]  # its batches per epoch (len(loader)); None: unknown (an IterableDataset)
    starts: int = 0
    first_step: int = 0  # the optimizer step of its first epoch's start
    epochs: int = 0  # whole epochs: starts that came after optimizer steps since the start before (not a peek)
    marks: Deque[Mark] = field(default_factory=lambda: deque(maxlen=3))

    def whole_epochs(self, now: Optional[Mark] = None) -> List[Epoch]:
        """Its latest whole epochs (at most 3), oldest first: between consecutive starts, and from the latest start
        to ``now`` when as many optimizer steps have passed as in the epoch before."""
        marks = list(self.marks)
        epochs = [_epoch(a, b) for a, b in zip(marks, marks[1:])]
        if now is not None and marks and epochs and now.step - marks[-1].step == epochs[-1].steps:
            epochs.append(_epoch(marks[-1], now))
        return epochs[-3:]

    def epoch_steps(self) -> int:
        """Optimizer steps in its latest whole epoch (0: none yet)."""
        return self.marks[-1].step - self.marks[-2].step if len(self.marks) >= 2 else 0

    def trains(self) -> bool:
        """Could it be the training loader: in its latest epoch the optimizer stepped once per batch, or once per k
        batches (gradient accumulation, k <= 16), give or take the batch an epoch's start may split? A validation
        loader iterated every N steps mid-epoch has no such relation between its length and its epochs."""
        steps = self.epoch_steps()
        if steps < 2:
            return False
        return self.length is None or any(abs(self.length - k * steps) <= k for k in range(1, 17))


def _epoch(a: Mark, b: Mark) -> Epoch:
    """The epoch from ``a`` to ``b``; a schedule built meanwhile counts from 0 (Lightning builds it after the first
    epoch's loader has begun)."""
    calls = {k: v[0] - a.schedules.get(k, (0, 0))[0] for k, v in b.schedules.items()}
    repeats = {k: v[1] - a.schedules.get(k, (0, 0))[1] for k, v in b.schedules.items()}
    return Epoch(b.step - a.step, calls, repeats)


class Epochs:
    """The DataLoaders iterated while an optimizer trained; the one that drives its steps is its epoch clock."""

    MAX_LOADERS = 4

    def __init__(self) -> None:
        self.loaders: List[LoaderTrack] = []

    def start(self, key: int, length: Optional[int], step: int, schedules: Sequence) -> None:
        """DataLoader ``key`` (of ``length`` batches) began an epoch at optimizer step ``step``."""
        track = next((t for t in self.loaders if t.key == key), None)
        if track is None:
            if len(self.loaders) >= self.MAX_LOADERS:
                self.loaders.remove(min(self.loaders, key=lambda t: t.starts))
            track = LoaderTrack(key, length, first_step=step)
            self.loaders.append(track)
        if track.marks and step > track.marks[-1].step:
            track.epochs += 1
        track.starts += 1
        track.length = length
        track.marks.append(Mark(step, snapshot(schedules)))

    def batches(self) -> Optional[int]:
        """Batches per epoch of the training loader: the clock's, or in the first epoch the first loader's."""
        clock = self.clock()
        if clock is not None:
            return clock.length
        return self.loaders[0].length if self.loaders else None

    def clock(self) -> Optional[LoaderTrack]:
        """The training loader: among those that could be, the one with the longest epochs (fewest epochs: never a
        loader iterated several times per epoch), then the one that began the most."""
        tracks = [t for t in self.loaders if t.trains()]
        return max(tracks, key=lambda t: (t.epoch_steps(), t.starts)) if tracks else None


def snapshot(schedules: Sequence) -> Snapshot:
    return {id(s): (s.stepping.calls, s.stepping.repeats) for s in schedules if s.stepping is not None}
