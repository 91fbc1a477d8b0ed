"""Batched updates equal one-at-a-time ones (pure, no framework): the hot path's lr record (changes recorded every
step, folded in later) gives exactly the tracks, the history and the findings that observing each change at once
gives, and a checkpoint's batch of losses fills the loss window and the history as adding them one by one did."""
import math
import random
import warnings

import pytest

from lrguard.detection.history import History
from lrguard.detection.series import DECADES, LossWindow, LRTrack
from lrguard.detection.training import LR_BUFFER, TrainingRun

FIELDS = ("base", "lr", "first", "peak", "low", "since", "integral", "changes", "changes_after_peak", "start",
          "depth_steps")


def _reference_depth(track: LRTrack) -> int:
    if not (0 < track.peak < math.inf and track.lr < track.peak):
        return 0
    if not track.lr > 0:
        return DECADES - 1
    return min(DECADES - 1, int(math.log10(track.peak / track.lr) + 1e-9))


def _reference_update(track: LRTrack, lr: float, step: int) -> None:
    """``LRTrack.update`` as it was written before the batched ``extend``: one change at a time."""
    if track.since or not math.isnan(track.lr):
        track.integral += track.lr * (step - track.since)
        track.depth_steps[_reference_depth(track)] += step - track.since
        track.changes += 1
        track.changes_after_peak += 1
    else:
        track.first, track.start = lr, step
    track.lr, track.since = lr, step
    if lr > track.peak:
        track.peak, track.changes_after_peak = lr, 0
    if lr < track.low:
        track.low = lr


def _state(track: LRTrack) -> tuple:
    return tuple(repr(getattr(track, name)) for name in FIELDS)  # repr: NaN equals NaN


def _schedules(rng: random.Random):
    """lr sequences (one value per step) of the kinds the detectors judge: warmup, decay, collapse, steps."""
    n = 700
    yield [1e-3 * min(1.0, (s + 1) / 100) for s in range(n)]  # linear warmup, then steady
    yield [1e-3 * (s + 1) / n for s in range(n)]  # a long warmup: a new peak at every step
    yield [1e-3 * min((s + 1) / 300, 0.999 ** (s - 300)) for s in range(n)]  # warmup, then a decay
    # rising cycles, each above the last one's peak, from a dip decades below it
    yield [1e-7 if s % 128 == 127 else 1e-3 * 2 ** (s // 128) * (1 + s % 128 / 128) for s in range(n)]
    yield [0.1 * 0.97 ** s for s in range(n)]  # exponential decay through many decades
    yield [1e-3 * (1 + math.cos(math.pi * s / n)) / 2 for s in range(n)]  # cosine to 0
    yield [0.05 if s < 300 else 0.005 if s < 500 else 0.0005 for s in range(n)]  # step decay
    yield [rng.choice([0.1, 0.01, 1e-6, 0.0, 0.1]) for _ in range(n)]  # jumps, zeros and repeats
    yield [math.nan if s == 50 else 1e-3 for s in range(n)]  # a NaN once
    yield [1e-3 * (1 - s / 2000) for s in range(n)]  # a slow decay: every change within 9.99x of the peak
    yield [1e-3 * (1 - s / 2000) if s != 400 else math.nan for s in range(n)]  # ... with a NaN inside a batch


class _Counted(LRTrack):
    """An LRTrack that counts the batches its builtin-only path (``_extend_batch``) took."""

    batched = 0

    def _extend_batch(self, steps, lrs) -> bool:
        taken = super()._extend_batch(steps, lrs)
        _Counted.batched += taken
        return taken


@pytest.mark.parametrize("consecutive", [False, True], ids=["a change now and then", "a change every step"])
def test_extend_is_update_after_update(consecutive):
    rng = random.Random(0)
    _Counted.batched = 0
    for lrs in _schedules(rng):
        steps = list(range(1, len(lrs) + 1)) if consecutive else sorted(rng.sample(range(1, 5000), len(lrs)))
        batched, reference = _Counted(base=lrs[0]), LRTrack(base=lrs[0])
        for start in range(0, len(lrs), 64):
            batched.extend(steps[start:start + 64], lrs[start:start + 64])
        for step, lr in zip(steps, lrs):
            if lr != reference.lr:
                _reference_update(reference, lr, step)
        assert _state(batched) == _state(reference)
        for step in (steps[-1], steps[-1] + 100):
            for decades in (1, 3, 5):
                assert batched.steps_below(decades, step) == reference.steps_below(decades, step)
            assert repr(batched.mean_lr(step)) == repr(reference.mean_lr(step))
    assert (_Counted.batched > 20) == consecutive  # a schedule stepped every batch takes the builtin-only path


def _runs(changes):
    """A run fed per-step lrs through ``record_lrs`` (folded when read; one group's lr as a float), and the
    reference: the tracks and the history each change makes at once, the way ``observe_lrs`` worked before the
    record."""
    run, tracks, history, invalid = TrainingRun("test"), [LRTrack(base=1e-3)], History(), None
    run.set_bases([1e-3])
    last = None
    for step, lrs in enumerate(changes, start=1):
        run.step = step
        if lrs == last:
            continue
        run.record_lrs(lrs[0] if len(lrs) == 1 and lrs[0] is not None else lrs)  # as the PyTorch adapter records
        last = lrs
        tracks += [LRTrack(base=lr if lr is not None else math.nan) for lr in lrs[len(tracks):]]
        for index, lr in enumerate(lrs):
            if lr is None:
                invalid = (index, lr)
            elif lr != tracks[index].lr:
                _reference_update(tracks[index], lr, step)
        history.add_lrs(step, lrs)
    return run, tracks, history, invalid


def test_recorded_changes_fold_into_the_same_tracks_history_and_findings():
    rng = random.Random(1)
    cases = [[[lr] for lr in lrs] for lrs in _schedules(rng)]
    # several groups, a group added later, and values that are not numbers (None) in between
    cases.append([[1e-3 * 0.99 ** s, 1e-4] if s > 40 else [1e-3 * 0.99 ** s] for s in range(600)])
    cases.append([[None if s in (10, 11, 300) else 0.01 / (s + 1), 0.02 / (s + 1)] for s in range(600)])
    ids = set()
    for changes in cases:
        run, tracks, history, invalid = _runs(changes)
        assert len(run._lr_steps) < LR_BUFFER  # bounded while nothing reads it
        assert [_state(t) for t in run.groups] == [_state(t) for t in tracks]
        assert run.invalid == invalid
        assert run.history.to_dict() == history.to_dict()
        observed = TrainingRun("test")  # the same changes observed one by one: the same findings
        observed.set_bases([1e-3])
        for step, (lrs, previous) in enumerate(zip(changes, [None] + changes), start=1):
            observed.step = step
            if lrs != previous:
                observed.observe_lrs(lrs)
        found = []
        for each in (run, observed):
            each.observe_losses([1.0] * 32)  # a flat loss: a collapsed lr is judged
            with warnings.catch_warnings(record=True) as caught:  # findings warn: the same ones, once each
                warnings.simplefilter("always")
                found.append(([(f.id, f.step, f.lr) for f in each.check()], [str(w.message) for w in caught]))
        assert found[0] == found[1]
        assert len(found[0][1]) == len(found[0][0])
        ids.update(f[0] for f in found[0][0])
    assert {"lr-collapse", "invalid-lr"} <= ids  # the cases reach decisions


def test_a_fold_happens_before_every_read():
    run = TrainingRun("test")
    run.set_bases([0.1])
    for step in range(1, 11):
        run.step = step
        run.record_lrs([0.1 / step])
    assert run.groups[0].lr == 0.01 and run.groups[0].changes == 9
    run.step = 11
    run.record_lrs([0.5])
    run.set_bases([0.2])  # set_bases folds first: the recorded change keeps its place
    assert run.groups[0].base == 0.2 and run.groups[0].peak == 0.5
    assert run.history.to_dict()["lr"][-1] == [11, [0.5]]


def _reference_window_extend(window: LossWindow, values, step) -> None:
    """``LossWindow.extend`` as it was written before it was batched."""
    start = min(window.last_step, step) if step is not None else 0
    n = len(values)
    for index, value in enumerate(values):
        if not math.isfinite(value):
            continue
        window.count += 1
        if len(window.head) < window.head_size:
            window.head.append(value)
        window.recent.append(value)
        window.steps.append(-1 if step is None else start + round((step - start) * (index + 1) / n))
    if step is not None:
        window.last_step = step


def _reference_add_losses(history: History, step, values) -> None:
    """``History.add_losses`` as it was written before it was batched: one ``Series.add`` per loss."""
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return
    start = min(history.loss_step, step)
    for i, value in enumerate(values):
        history.loss.add(start + round((step - start) * (i + 1) / len(values)), value)
    history.loss_step = step


def test_a_batch_of_losses_lands_as_one_by_one():
    rng = random.Random(2)
    window, reference = LossWindow(), LossWindow()
    history, reference_history = History(), History()
    step = 0
    for batch in range(400):  # past the window's and the history's capacities (the history halves itself)
        values = [rng.choice([math.nan, math.inf, -math.inf]) if rng.random() < 0.05 else rng.uniform(0, 3)
                  for _ in range(rng.choice([1, 3, 16, 17]))]
        step += rng.choice([1, 2, 64])
        at = None if batch % 50 == 7 else step  # now and then a batch of unknown step
        window.extend(values, at)
        _reference_window_extend(reference, values, at)
        if at is not None:
            history.add_losses(at, values)
            _reference_add_losses(reference_history, at, values)
    assert (window.count, window.head, list(window.recent), list(window.steps), window.last_step) == (
        reference.count, reference.head, list(reference.recent), list(reference.steps), reference.last_step)
    assert history.loss.items() == reference_history.loss.items() and len(history.loss) > 256
