"""``plateau-mode``: ReduceLROnPlateau watches its value in the wrong direction.

PyTorch's ReduceLROnPlateau defaults to ``mode='min'``; given an accuracy it takes every improvement for a worse
value and cuts the lr every ``patience + 1`` evaluations while the model is still learning (ViS4mer#4,
fairseq#2205). Keras' callback in ``mode='auto'`` guessed the direction from the name (tf.keras: only names with
"acc" are maximized, so ``val_auc`` or ``val_f1`` are minimized: keras#11964). The evidence (``PlateauTrace``):

- the lr was cut (at least ``MIN_CUTS``; one when the name says so, below), and the value never got better than it
  was at the first evaluation (the second, when the name says so): a wrong-direction metric moves "worse" from the
  very first evaluations, in step with training. A validation loss that rises from overfitting first improves (its
  best is in the middle: a legitimate cut), and a genuine plateau's tiny improvements move the best too;
- it moved "worse" steadily: at ``MIN_WORSE`` evaluations or more, at least ``STEADY`` x as often as it moved the
  other way, by ``MIN_MOVE`` of its size or more overall, the other way's moves summing to at most
  ``BACKTRACK`` of that;
- training progressed meanwhile: the training loss fell by ``PROGRESS`` or more between the first evaluation and
  the last (a diverging run's loss rises with its validation loss: cutting is right). Without a training loss,
  only a name that says the direction decides;
- the name (Keras' ``monitor``, the expression given to ``step()``, a trainer's monitor) must not say the value is
  meant the way ``mode`` takes it (``val_loss`` under 'min' is never judged); a name that says the opposite (``acc``,
  ``auc``, ``f1`` ... under 'min'; ``loss``, ``err`` ... under 'max') lowers the bar to one cut. A negated
  expression (``-val_acc``, ``1 - f1``) says the opposite of its name.
"""
from __future__ import annotations

import re
from typing import List, Optional

from . import Diagnosis, fmt

ID = "plateau-mode"

MIN_CUTS = 2  # cuts needed when the name does not say the direction
MIN_WORSE = 3  # evaluations that moved the value "worse" (2 when the name says so)
STEADY = 2.0  # "worse" moves at least this many times as frequent as "better" ones
BACKTRACK = 0.25  # the "better" moves sum to at most this share of the overall move
MIN_MOVE = 0.05  # the overall move, relative to the value's size
PROGRESS = 0.01  # the training loss fell at least this much (relative)

# Words in a name that say which way the value improves.
MAXIMIZE = frozenset({
    "acc", "accuracy", "accuracies", "top1", "top5", "auc", "auroc", "auprc", "roc", "f1", "fscore", "fmeasure",
    "iou", "miou", "dice", "map", "precision", "recall", "bleu", "rouge", "meteor", "psnr", "ssim", "r2", "score",
    "correct", "ndcg", "mrr", "hits", "kappa", "mcc", "spearman", "pearson", "jaccard", "sensitivity",
    "specificity", "reward", "return", "sharpe",
})
MINIMIZE = frozenset({
    "loss", "losses", "err", "error", "errors", "mse", "mae", "rmse", "mape", "nll", "ppl", "perplexity", "wer",
    "cer", "ter", "cost", "fid", "kl", "divergence", "bpd", "regret", "distance",
})
_WHAT = {"max": "a metric to maximize", "min": "a value to minimize"}


def direction_of(name: Optional[str]) -> Optional[str]:
    """'max' or 'min' when the name says how the value improves ('val_acc', "metrics['f1']" -> 'max';
    'val_loss' -> 'min'; '-val_acc' -> 'min'), else None."""
    if not name:
        return None
    text = name.strip()
    negated = bool(re.match(r"^(-|\(?\s*-|[0-9.]+\s*-)", text))
    words = set()
    for token in re.findall(r"[A-Za-z][A-Za-z0-9]*", text):
        for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", token):  # camelCase and snake_case
            words.add(part.lower())
        words.add(token.lower())
    up, down = bool(words & MAXIMIZE), bool(words & MINIMIZE)
    if up == down:
        return None  # neither, or both ('acc_loss'): the name does not say
    direction = "max" if up else "min"
    if negated:
        direction = "min" if direction == "max" else "max"
    return direction


def check(run) -> Optional[Diagnosis]:
    for schedule in run.schedules:
        trace = schedule.plateau
        if trace is not None and trace.cuts:
            diagnosis = _judge(trace, schedule)
            if diagnosis is not None:
                return diagnosis
    return None


def _judge(trace, schedule) -> Optional[Diagnosis]:
    mode = trace.mode
    if mode not in ("min", "max"):
        return None
    named = direction_of(trace.name)
    if named == mode:
        return None  # the name says the value is meant the way mode takes it
    hinted = named is not None  # the name says the opposite of mode
    if len(trace.cuts) < (1 if hinted else MIN_CUTS):
        return None
    sign = 1.0 if mode == "min" else -1.0
    badness = [sign * v for v in trace.values]  # larger: worse, as mode sees it
    best = badness.index(min(badness))
    if best > (1 if hinted else 0):
        return None  # it improved after the start: a plateau, or overfitting after a good stretch
    moves = [b - a for a, b in zip(badness[best:], badness[best + 1:])]
    worse = [m for m in moves if m > 0]
    better = [-m for m in moves if m < 0]
    total = badness[-1] - badness[best]
    size = max(abs(trace.values[best]), abs(trace.values[-1]))
    if len(worse) < (MIN_WORSE - 1 if hinted else MIN_WORSE) or len(worse) < STEADY * len(better):
        return None
    if not total > 0 or total < MIN_MOVE * size or sum(better) > BACKTRACK * total:
        return None
    if not _trained(trace, best):
        if not hinted or any(loss is not None for loss in trace.train_losses):
            return None  # no training progress seen (or none to see, and no name to go by)
    return _diagnosis(trace, schedule, best, len(worse), len(moves), named)


def _trained(trace, best: int) -> bool:
    """Did the training loss fall between the best evaluation and the last?"""
    losses: List[float] = [loss for loss in trace.train_losses[best:] if loss is not None]
    return len(losses) >= 2 and losses[-1] <= (1 - PROGRESS) * losses[0]


def _diagnosis(trace, schedule, best: int, worse: int, moves: int, named: Optional[str]) -> Diagnosis:
    mode = trace.mode
    other = "max" if mode == "min" else "min"
    values = trace.values
    verb = "rose" if mode == "min" else "fell"
    watched = f" ({trace.name})" if trace.name else ""
    steady = f"{worse} evaluations in a row" if worse == moves else f"at {worse} of {moves} evaluations"
    lrs = [lr for lr in trace.lrs if lr is not None]
    lr = f" ({fmt(trace.first_lr)} -> {fmt(lrs[-1])})" if trace.first_lr is not None and lrs else ""
    cuts = len(trace.cuts)
    times = "once" if cuts == 1 else f"{cuts} times"
    kind = f"{schedule.kind}(mode='{mode}')"
    if trace.mode_given == "auto":
        kind = f"{schedule.kind}(mode='auto'), which took '{trace.name}' for a value to {mode}imize,"
    guess = f"it looks like {_WHAT[other]}"
    if named == other:
        guess += f" (its name says so: {trace.name})"
    elif mode == "min":
        guess += " (an accuracy or a score)"
    else:
        guess += " (a loss)"
    message = (f"{kind} cut the lr {times}{lr} while the value it watches{watched} {verb} {steady}"
               f" ({fmt(values[best])} -> {fmt(values[-1])}), never better than at evaluation {best + 1}: {guess}.")
    if trace.mode_given == "auto":
        fix = f"Pass mode='{other}' explicitly (mode='auto' guesses the direction from the metric's name)."
    else:
        better = "the validation loss" if other == "max" else "a metric to maximize"
        fix = f"Use mode='{other}' for this value (or watch {better} with mode='{mode}')."
    return Diagnosis(ID, "schedule-bug", message, fix, schedule=schedule)
