"""The findings model: what lrguard found, as data, as a warning, and as JSON."""
from __future__ import annotations

import os
import threading
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

SCHEDULE_BUG = "schedule-bug"
VANISHING_GRADIENTS = "vanishing-gradients"

MAX_KEPT = 1000  # findings kept per process; more are counted, not stored


class LRGuardWarning(UserWarning):
    """Base class of every warning lrguard emits."""


class ScheduleBugWarning(LRGuardWarning):
    """The learning-rate schedule is broken (the lr is not what the code meant)."""


class VanishingGradientWarning(LRGuardWarning):
    """The schedule is healthy but the early layers' gradients vanish."""


for _cls in (LRGuardWarning, ScheduleBugWarning, VanishingGradientWarning):
    _cls.__module__ = "lrguard"  # where users name them (-W error::lrguard.LRGuardWarning), and tracebacks show
del _cls

WARNING_OF_CATEGORY = {SCHEDULE_BUG: ScheduleBugWarning, VANISHING_GRADIENTS: VanishingGradientWarning}


@dataclass(frozen=True)
class Finding:
    """One diagnosis: which bug, where it was built, and the numbers that show it.

    ``where``: the user's line that built the scheduler (the optimizer, for findings about no scheduler);
    ``function``/``function_where``: the user's schedule function and the line that defines it, when there is one;
    ``step``: optimizer steps so far; ``epoch``: the training epoch (from 0), None where lrguard cannot count
    epochs; ``scheduler_steps``: the scheduler's own count (PyTorch's ``last_epoch``), None without one.
    """

    id: str
    category: str
    severity: str
    framework: str
    message: str
    fix: str
    step: Optional[int] = None
    epoch: Optional[int] = None
    lr: Optional[float] = None
    base_lr: Optional[float] = None
    where: Optional[str] = None
    group: Optional[int] = None
    function: Optional[str] = None
    function_where: Optional[str] = None
    scheduler_steps: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict with every field."""
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.id}] {self.message}"


Site = Optional[Tuple[str, int]]


def site_text(site: Tuple[str, int]) -> str:
    """``path:line``, the path relative to the current folder when it is under it (as a user would type it)."""
    path = site[0]
    try:
        relative = os.path.relpath(path)
        path = path if relative.startswith("..") else relative
    except ValueError:  # another drive (Windows)
        pass
    return f"{path}:{site[1]}"


class FindingLog:
    """The process-wide list of findings; each (id, subject) is reported and warned once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: List[Finding] = []
        self._seen: set = set()
        self.dropped = 0
        self.listeners: List[Callable[[Finding], None]] = []

    def add(self, finding: Finding, subject: object, site: Site = None) -> bool:
        """Record ``finding`` about ``subject`` (a hashable key) and warn; False if already known."""
        key = (finding.id, subject)
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            if len(self._items) < MAX_KEPT:
                self._items.append(finding)
            else:
                self.dropped += 1
        for listener in list(self.listeners):
            listener(finding)
        _warn(finding, site)
        return True

    def items(self) -> List[Finding]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._seen.clear()
            self.dropped = 0


WARN = True  # False in the non-zero ranks of a distributed job under ``lrguard run``: rank 0 warns for all


def warns_here() -> bool:
    """Only rank 0 of a distributed job warns (``RANK``, else ``LOCAL_RANK``); every rank still records."""
    if not WARN:
        return False
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name, "").strip()
        if value.lstrip("-").isdigit():
            return int(value) == 0
    return True


def _warn(finding: Finding, site: Site) -> None:
    if not warns_here():
        return
    category = WARNING_OF_CATEGORY.get(finding.category, LRGuardWarning)
    filename, lineno = site if site else ("lrguard", 0)
    module = filename.rsplit("/", 1)[-1][:-3] if filename.endswith(".py") else filename
    try:
        warnings.warn_explicit(category(str(finding)), category, filename, lineno, module=module)
    except LRGuardWarning as error:
        # ``-W error::lrguard.LRGuardWarning`` (or a pytest ``error`` filter) made it an exception: the user asked
        # for it. lrguard's entry points re-raise it with lrguard's own frames cut (see ``surfaced``).
        _explain(error, finding)
        raise


def _explain(error: LRGuardWarning, finding: Finding) -> None:
    """Say, under the exception, that this is a finding about the user's code raised by their warning filter."""
    about = f" about your line {_short(finding.where)}" if finding.where else ""
    note = (f"lrguard: a finding{about}, raised as an exception here because a warning"
            " filter (-W error) turns lrguard's warnings into errors. Without that filter it is a warning and"
            " training goes on; `lrguard run --strict` lists the findings and fails the run at its end instead.")
    if hasattr(error, "add_note"):  # Python >= 3.11
        error.add_note(note)


def _short(where: str) -> str:
    path, _, line = where.rpartition(":")
    return site_text((path, int(line))) if path and line.isdigit() else where


def surfaced(error: BaseException) -> BaseException:
    """``error`` without the traceback of lrguard's frames it came through: ``raise surfaced(error)`` in an entry
    point of lrguard (a hook the framework calls) leaves the user's frames, the framework's, and that one line."""
    return error.with_traceback(None)


LOG = FindingLog()
