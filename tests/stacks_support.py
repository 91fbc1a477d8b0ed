"""Shared by the training-stack tests (HF Trainer, Lightning, AMP, accumulation, GAN, compile, custom schedulers).

They train in the pytest process: ``guard`` installs lrguard, forgets what earlier tests left, records every warning
of the test, and checks afterwards that lrguard did not stop on an internal error.
"""
from __future__ import annotations

import gc
import inspect
import warnings
from dataclasses import dataclass
from typing import List

import pytest


@dataclass
class Guarded:
    caught: list  # every warning of the test (warnings.catch_warnings(record=True))

    def findings(self) -> List:
        import lrguard

        return lrguard.findings()

    def lrguard_warnings(self) -> List[str]:
        import lrguard

        return [str(w.message) for w in self.caught if issubclass(w.category, lrguard.LRGuardWarning)]


@pytest.fixture
def guard(capfd):
    import lrguard
    from lrguard.integrations.failopen import STATE

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the machine is shared
    lrguard.install()
    gc.collect()
    lrguard.findings()  # earlier tests' optimizers decide now, then are forgotten
    lrguard.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield Guarded(caught)
    torch.set_num_threads(threads)
    gc.collect()
    assert not STATE.stopped, "lrguard stopped on an internal error"
    assert "lrguard: internal error" not in capfd.readouterr().err


def run_of(opt):
    """The lrguard run that watched ``opt`` (white-box: what lrguard observed)."""
    from lrguard.integrations.torch import _watches

    return _watches[opt].run


def line_of(obj, marker: str) -> str:
    """``file:line`` of the line of ``obj``'s source that holds ``marker`` (where a finding must point)."""
    lines, start = inspect.getsourcelines(obj)
    hits = [start + i for i, line in enumerate(lines) if marker in line and "line_of(" not in line]
    assert len(hits) == 1, f"{marker!r} found {len(hits)} times"
    return f"{inspect.getsourcefile(obj)}:{hits[0]}"


def ids(findings) -> List[str]:
    return sorted(f.id for f in findings)
