"""The schedulers inside a PyTorch ``SequentialLR`` or ``ChainedScheduler``, and which epochs each one drives.

torch builds the inner schedulers first, each through its own ``__init__`` (lrguard reads each one then, like a
top-level scheduler), and the container last. A ``ChainedScheduler`` steps all of them at every step: each one
drives the lr for the whole run. A ``SequentialLR`` resets the lr and the inner schedulers' epochs, then hands
the lr from one inner scheduler to the next at its milestones, the next one counting its own epochs from 0 there:
so each inner scheduler drives the lr for ``milestone[i] - milestone[i - 1]`` of its own epochs (the last one:
until the run ends), and must be judged on those epochs alone. No framework import: containers are recognised
by the attributes torch gives them (``_schedulers``, and ``_milestones`` for a sequence).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

NESTING = 4  # containers inside containers followed this deep


def is_container(sched) -> bool:
    """Is this a SequentialLR or ChainedScheduler (a scheduler made of schedulers)?"""
    return isinstance(getattr(sched, "_schedulers", None), (list, tuple))


def phases(sched, limit: Optional[int] = None, depth: int = NESTING) -> List[Tuple[object, Optional[int]]]:
    """(inner scheduler, span) for each scheduler inside ``sched``, nested containers flattened: ``span`` is how
    many of its own epochs, from 0, it drives the lr (None: until the run ends); ``limit``: the span of ``sched``
    itself within an outer sequence."""
    inner = getattr(sched, "_schedulers", None)
    if not isinstance(inner, (list, tuple)) or depth <= 0:
        return []
    milestones = getattr(sched, "_milestones", None)
    if milestones is None:  # a ChainedScheduler: every scheduler at every step
        spans = [limit] * len(inner)
    else:
        try:
            starts = [0, *(int(m) for m in milestones)]
        except (TypeError, ValueError):
            return []
        spans = []
        for index in range(len(inner)):
            end = starts[index + 1] if index + 1 < len(starts) else None
            if limit is not None:
                end = limit if end is None else min(end, limit)
            spans.append(None if end is None else max(end - starts[index], 0))
    found: List[Tuple[object, Optional[int]]] = []
    for scheduler, span in zip(inner, spans):
        if is_container(scheduler):
            found += phases(scheduler, span, depth - 1)
        else:
            found.append((scheduler, span))
    return found
