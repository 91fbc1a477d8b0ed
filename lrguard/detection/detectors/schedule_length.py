"""``schedule-length``: the schedule's length does not match the run.

A schedule with a known length (``Schedule.shape``: CosineAnnealingLR's ``T_max``, OneCycleLR's ``total_steps``,
``total_iters``, the last milestone, the HF ``get_*_schedule_with_warmup`` functions' ``num_training_steps``, the
step a LambdaLR reaches 0, Keras' ``decay_steps``) counts *its own* steps, so its length means something only
together with how often it is stepped (``Schedule.stepping``) and the run's epochs (``TrainingRun.epochs``: the
DataLoader that drives the optimizer's steps). The evidence, from the earliest to the latest it can be had:

- double stepping: in a whole epoch of the training loader, the scheduler was stepped >= 2x per batch and per
  optimizer step, less one (per batch of the loader: per-micro-batch stepping under gradient accumulation is once
  per batch; per optimizer step: a loop over two loaders per epoch is not; the loader may begin its next epoch
  between a batch's optimizer step and its scheduler step), or
  2-3 times per epoch, back to back with no optimizer step in between, in each of the last two epochs;
- a cosine that turns (CosineAnnealingLR, HF's cosine): stepped past its minimum and halfway back up while the
  optimizer still trains. Only schedules that end at their minimum by design: CosineAnnealingWarmRestarts,
  CyclicLR and other cycles have no end;
- an end reached early: the schedule reached its end (the lr ~0, or held at its last value) and the run has gone on
  for at least as long again (``NEED``: 1x for a decay to ~0, 3x for one to a fraction of the peak, 9x after a last
  milestone, where a long tail at the last lr is a known recipe). An end above 0 must also have come within the
  first epoch of a schedule stepped every optimizer step (a length written in epochs); a decay to 0 never needs
  that (training at lr 0 is never meant). With a Keras ``fit`` the plan is known: its planned steps decide as soon
  as the end is reached. A run stopped early never trips this (it ends *before* the schedule does);
- never annealed: at the end of the run, a schedule sized in optimizer steps (OneCycleLR's ``total_steps``, HF's
  ``num_training_steps``: their names say so, and the length equals the steps the run took, within 5%) was stepped
  at most once per two optimizer steps (per epoch, Lightning's default ``interval``): it got through a fraction of
  its schedule. Not for a neutral length (``T_max``, ``total_iters``): a per-epoch cosine with ``T_max=30`` stopped
  early at optimizer step 30 shows the same numbers;
- any schedule that drove every group's lr to exactly 0 while the run went on for as long again (a LambdaLR or a
  Keras function that hits 0): training at lr 0 is never meant.

Nothing is decided before ``MIN_STEPS`` optimizer steps (a smoke test decides nothing), and no rule reads a
guess at the planned length of a PyTorch loop: a run that stops early by a step budget or early stopping before a
correctly sized schedule ends gives no finding.
"""
from __future__ import annotations

from typing import Optional

from . import Diagnosis, first_rule, fmt
from ..stepping import CUTS, LOW, TURNS, ZERO, Mark, snapshot

ID = "schedule-length"

MIN_STEPS = 8  # optimizer steps before anything is decided
MIN_PAST = 4  # optimizer steps past a schedule's end before it counts as passed
NEED = {ZERO: 1, LOW: 3, CUTS: 9}  # steps past the end, per step before it
END_RUN = 30  # optimizer steps a run needs before "never annealed" is decided
IN_STEPS = ("total_steps=", "num_training_steps=")  # lengths whose very name says optimizer steps
MATCH = 0.05  # a length equals the run's optimizer steps within 5% (or 2 steps)
PER_STEP = 1.8  # scheduler steps per optimizer step from which it is stepped twice per step
PER_BATCH = 0.5  # ... from which it is stepped about once per optimizer step


def check(run) -> Optional[Diagnosis]:
    if run.step < MIN_STEPS:
        return None
    return first_rule(run, (_double, _turned, _ended, _never_annealed)) or _at_zero(run)


# -- the rules -------------------------------------------------------------------------------------------------
def _double(run, schedule) -> Optional[Diagnosis]:
    stepping = schedule.stepping
    clock = run.epochs.clock()
    if stepping.follows or stepping.calls < 2 or clock is None:
        return None
    key = id(schedule)
    now = Mark(run.step, snapshot(run.schedules)) if run.final else None  # (mid-run, its last calls may be ahead)
    epochs = [e for e in clock.whole_epochs(now) if key in e.calls]
    if not epochs:
        return None
    last, batches = epochs[-1], clock.length
    calls = last.calls[key]
    if batches and batches >= 3 and calls >= 2 * batches - 1 and calls >= 2 * last.steps - 1:
        # (per batch and per optimizer step: not two loaders per epoch; an epoch's start may split a batch's calls)
        times = round(calls / batches)
        return Diagnosis(
            ID, "schedule-bug",
            f"{_named(schedule)} was stepped {calls} times in one epoch of {batches} batches ({last.steps} optimizer"
            f" steps): {_times(times)} per batch, so it runs {_times(times)} too fast{_consequence(schedule, times)}.",
            "Call scheduler.step() once per optimizer step, in one place (HF Trainer and Lightning already step the"
            " schedulers they are given: remove your own call).",
            schedule=schedule,
        )
    twice = [e for e in epochs[-2:] if 2 <= e.calls[key] <= 3 and e.repeats[key] >= e.calls[key] - 1
             and e.steps >= 4 * e.calls[key]]
    if len(epochs) >= 2 and len(twice) == 2:
        times = twice[-1].calls[key]
        return Diagnosis(
            ID, "schedule-bug",
            f"{_named(schedule)} was stepped {_times(times)} per epoch, back to back with no optimizer step in between"
            f" ({times} steps in each of the last 2 epochs of {twice[-1].steps} optimizer steps), so it runs"
            f" {_times(times)} too fast{_consequence(schedule, times)}.",
            "Call scheduler.step() once per epoch (look for a second call, e.g. in the validation code).",
            schedule=schedule,
        )
    return None


def _turned(run, schedule) -> Optional[Diagnosis]:
    shape, stepping = schedule.shape, schedule.stepping
    if shape is None or shape.ending != TURNS or stepping.turned_at is None or stepping.end_at is None:
        return None
    if run.step <= stepping.end_at:
        return None  # the optimizer did not train past the minimum (yet)
    half = max(shape.end - shape.warmup, 1)
    cycles = (stepping.position - shape.warmup) / (2 * half)
    lr = _lr_now(run)
    return Diagnosis(
        ID, "schedule-bug",
        f"{_named(schedule)} was stepped {stepping.calls} times in {run.step - stepping.built_at} optimizer steps"
        f"{_per_epoch(run, schedule)}: past {shape.end} steps its cosine turns and the lr rises again; it reached its"
        f" minimum at optimizer step {stepping.end_at} and has gone through {_cycles(cycles)} so far{lr}.",
        _fix(run, schedule),
        schedule=schedule,
    )


def _ended(run, schedule) -> Optional[Diagnosis]:
    shape, stepping = schedule.shape, schedule.stepping
    if shape is None or shape.ending not in NEED or shape.end is None:
        return None
    end_at = stepping.end_at if not stepping.follows else shape.end - stepping.offset
    if end_at is None or run.step < end_at:
        return None
    before, past = max(end_at - stepping.built_at, 0), run.step - end_at
    need = NEED[shape.ending]
    planned = run.plan is not None and stepping.follows
    if planned:
        if past < 1 or run.plan.end - end_at < max(MIN_PAST, need * before):
            return None
    elif past < max(MIN_PAST, need * before):
        return None
    if not _at_end(run, shape):
        return None  # something else sets the lr: not this schedule's end
    if shape.ending != ZERO and not _ended_in_first_epoch(run, schedule, end_at):
        return None  # a long tail at a low lr can be a plan (ImageNet's last milestone); at lr 0 it never is
    total = run.plan.end - stepping.built_at if planned else 0
    rest = (f"the fit plans {total} steps: {_share(run.plan.end - end_at, total)} of them at its end lr" if planned else
            f"the run has gone on for {past} more steps since ({_share(past, run.step - stepping.built_at)} of it)")
    return Diagnosis(
        ID, "schedule-bug",
        f"{_named(schedule)} reached its end at optimizer step {end_at}{_epoch_of(run, end_at)} and {rest},"
        f" at lr {fmt(run.groups[0].lr) if run.groups else '?'}.",
        _fix(run, schedule),
        schedule=schedule,
    )


def _ended_in_first_epoch(run, schedule, end_at: int) -> bool:
    """Stepped every optimizer step (or following them), did the schedule end within the run's first epoch? (Its
    length was then written in epochs: milestones=[30, 60] of a 90-epoch plan, Keras boundaries=[3, 6].)"""
    stepping = schedule.stepping
    if stepping.follows:
        per_epoch = run.plan.epoch_steps if run.plan is not None else None
    else:
        per_epoch = run.epochs.batches() if _rate(run, schedule) >= PER_BATCH else None
    return bool(per_epoch) and end_at - stepping.built_at < per_epoch


def _never_annealed(run, schedule) -> Optional[Diagnosis]:
    shape, stepping = schedule.shape, schedule.stepping
    if not run.final or shape is None or shape.end is None or stepping.follows:
        return None
    if not shape.name.startswith(IN_STEPS):
        return None  # T_max=30 stepped per epoch and stopped early at step 30 looks the same
    steps, length = run.step - stepping.built_at, shape.end - stepping.start
    done = stepping.position - stepping.start
    if steps < END_RUN or length <= 0 or abs(length - steps) > max(2, MATCH * steps):
        return None
    if 2 * done > length or 2 * stepping.calls > steps:
        return None
    warm = f", still inside its {shape.warmup}-step warmup" if stepping.position < shape.warmup else ""
    track = run.groups[0] if run.groups else None
    lr = ""
    if track is not None and track.peak > 0:
        below = track.lr < 0.999 * track.peak
        lr = f"; the lr is {fmt(track.lr)}" + (f", {_share(track.lr, track.peak)} of its peak {fmt(track.peak)}"
                                             if below else ", the highest it reached")
    return Diagnosis(
        ID, "schedule-bug",
        f"{_named(schedule)} is sized in optimizer steps ({length}: the {steps} steps this run took) but was stepped"
        f" {stepping.calls} times{_per_epoch(run, schedule)}: it got through {_share(done, length)} of its schedule"
        f"{warm} and never annealed{lr}.",
        "Step it after every optimizer step (Lightning: put \"interval\": \"step\" inside the \"lr_scheduler\" dict"
        " returned by configure_optimizers), or size it in epochs.",
        schedule=schedule,
    )


def _at_zero(run) -> Optional[Diagnosis]:
    """Any schedule that drove every group's lr to exactly 0 long before the run ended."""
    schedule = next((s for s in reversed(run.schedules) if s.family != "plateau"), None)
    tracks = [t for t in run.groups if t.peak > 0]
    if schedule is None or not tracks or any(t.lr != 0 for t in tracks):
        return None
    since = max(t.since for t in tracks)
    before, past = since - min(t.start for t in tracks), run.step - since
    if past < max(MIN_PAST, before) or run.losses.stalled(since=since) is False:
        return None
    return Diagnosis(
        ID, "schedule-bug",
        f"the lr reached 0 at optimizer step {since} and has stayed 0 for the {past} steps since"
        f" ({_share(past, run.step)} of the run): {schedule.kind} ended long before the training did.",
        "Size the schedule to the whole run, in the unit it is stepped in (optimizer steps when it is stepped every"
        " batch, epochs when once per epoch), so that it reaches its end when the training does.",
        schedule=schedule,
    )


# -- wording ---------------------------------------------------------------------------------------------------
def _named(schedule) -> str:
    """'CosineAnnealingLR(T_max=10)'; 'LambdaLR (its lr_lambda reaches 0 at step 96)'."""
    name = schedule.shape.name if schedule.shape is not None else ""
    if not name:
        return schedule.kind
    return f"{schedule.kind}({name})" if "=" in name else f"{schedule.kind} (its {name})"


def _parameter(shape) -> str:
    """The parameter to change: 'T_max'; for a length without one, what counts it."""
    return shape.name.split("=")[0] if "=" in shape.name else "the step at which your function ends"


def _times(times: float) -> str:
    n = round(times)
    if abs(times - n) < 0.05:
        return {1: "once", 2: "twice"}.get(n, f"{n} times")
    return f"{times:.1f} times"


def _cycles(cycles: float) -> str:
    if cycles < 1:
        return f"{cycles:.2f} of a cycle (down and back up)"
    return f"{cycles:.0f} cycles" if abs(cycles - round(cycles)) < 0.05 else f"{cycles:.1f} cycles"


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole > 0 else "?"


def _lr_now(run) -> str:
    track = run.groups[0] if run.groups else None
    if track is None or not track.peak > 0:
        return ""
    return f" (the lr is back up to {fmt(track.lr)}, {_share(track.lr, track.peak)} of its peak)"


def _consequence(schedule, times: float) -> str:
    shape = schedule.shape
    if shape is None or shape.end is None:
        return ""
    return f": it reaches its end after 1/{times:.0f} of the steps it was sized for"


def _at_end(run, shape) -> bool:
    """Is the real lr where the schedule's end puts it (not set by something else)?"""
    track = run.groups[0] if run.groups else None
    return track is not None and track.peak > 0 and track.lr <= track.peak * (shape.end_ratio * 1.1 + 1e-3)


def _rate(run, schedule) -> float:
    """Scheduler steps per optimizer step since it was first stepped."""
    stepping = schedule.stepping
    steps = run.step - (stepping.first_at if stepping.first_at is not None else stepping.built_at)
    return stepping.calls / max(steps, 1)


def _per_epoch(run, schedule) -> str:
    clock = run.epochs.clock()
    if clock is None or schedule.stepping.follows:
        return ""
    epochs = clock.whole_epochs()
    key = id(schedule)
    if not epochs or key not in epochs[-1].calls:
        return ""
    calls = epochs[-1].calls[key]
    return f" ({calls} per epoch of {epochs[-1].steps} optimizer steps)"


def _epoch_of(run, step: int) -> str:
    """Which training epoch optimizer step ``step`` fell in, when the DataLoader tells."""
    clock = run.epochs.clock()
    if clock is None:
        return " (in the first epoch of training)" if run.epochs.loaders else ""
    epochs = clock.whole_epochs()
    per = epochs[-1].steps if epochs else None
    if not per or step < clock.first_step:
        return ""
    return f" (epoch {(step - clock.first_step) // per} of training, {per} optimizer steps per epoch)"


def _fix(run, schedule) -> str:
    shape = schedule.shape
    param = _parameter(shape)
    stepping = schedule.stepping
    if stepping.follows:
        plan = run.plan
        if param == "boundaries":
            meant = f" ({[b * plan.epoch_steps for b in _listed(shape)]} if they are epochs)" if plan else ""
            return ("The boundaries count optimizer steps (batches), not epochs: multiply each by the steps per epoch"
                    f"{meant}.")
        total = f" = {plan.end - stepping.built_at}" if plan is not None else ""
        return (f"{param} counts optimizer steps (batches), not epochs: set it to the steps the whole training takes"
                f" (epochs * steps_per_epoch{total}).")
    rate = _rate(run, schedule)
    if rate >= PER_STEP:
        return (f"It is stepped {_times(rate)} per optimizer step: call scheduler.step() once per optimizer step, in"
                " one place (HF Trainer and Lightning already step the schedulers they are given).")
    counts = "counts" if param != "milestones" else "count"
    if rate >= PER_BATCH:
        batches = run.epochs.batches()
        if param == "milestones":
            meant = f" ({[m * batches for m in _listed(shape)]} if they are epochs)" if batches else ""
            return (f"The milestones count scheduler steps and it is stepped every optimizer step: step it once per"
                    f" epoch, or give the milestones in optimizer steps (each one * len(loader){meant}).")
        meant = (f" (= {shape.end}*{batches} = {shape.end * batches} if {shape.end} is the number of epochs)"
                 if batches and shape.end else "")
        return (f"{_capital(param)} {counts} scheduler steps and it is stepped every optimizer step: step it once per"
                f" epoch, or set {param} to epochs*len(loader){meant}.")
    return (f"{_capital(param)} {counts} scheduler steps, here epochs: size it to the number of epochs the run trains"
            " (or step the scheduler every optimizer step and size it in optimizer steps).")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] if not text.startswith(("T_", "num_", "total_")) else text


def _listed(shape) -> list:
    """The numbers of a length given as a list ('milestones=[3, 6]')."""
    try:
        return [int(m) for m in shape.name.split("=", 1)[1].strip("[]").split(",")]
    except ValueError:
        return []
