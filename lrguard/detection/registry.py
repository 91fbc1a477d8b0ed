"""The runs this process has watched, for the end-of-run report, in bounded space.

A ``TrainingRun`` holds plain numbers only (never the optimizer), so a run outlives its optimizer here.
"""
from __future__ import annotations

import threading
from typing import Any, List

MAX_RUNS = 64  # runs kept per process; older runs without findings go first


class RunRegistry:
    """The latest ``MAX_RUNS`` runs, in creation order; runs with findings are dropped last."""

    def __init__(self, limit: int = MAX_RUNS) -> None:
        self._lock = threading.Lock()
        self._runs: List[Any] = []
        self.limit = limit
        self.dropped = 0

    def add(self, run: Any) -> None:
        with self._lock:
            if len(self._runs) >= self.limit:
                index = next((i for i, r in enumerate(self._runs) if not getattr(r, "findings", None)), 0)
                del self._runs[index]
                self.dropped += 1
            self._runs.append(run)

    def runs(self) -> List[Any]:
        with self._lock:
            return list(self._runs)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self.dropped = 0


RUNS = RunRegistry()
