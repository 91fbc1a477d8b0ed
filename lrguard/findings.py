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


WARNING_OF_CATEGORY = {SCHEDULE_BUG: ScheduleBugWarning, VANISHING_GRADIENTS: VanishingGradientWarning}


@dataclass(frozen=True)
class Finding:
    """One diagnosis: which bug, where it was built, and the numbers that show it."""

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

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict with every field."""
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.id}] {self.message}"


Site = Optional[Tuple[str, int]]


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
    # Under ``-W error::lrguard.LRGuardWarning`` this raises, on purpose: the user asked for it.
    warnings.warn_explicit(category(str(finding)), category, filename, lineno, module=module)


LOG = FindingLog()
