"""lrguard: catch broken learning-rate schedules while training runs, and tell them from vanishing gradients.

``import lrguard`` watches PyTorch (and Keras) training from then on; ``LRGUARD_DISABLE=1`` turns that off.
"""
from __future__ import annotations

import os
from typing import List

from ._version import __version__
from .findings import LOG, Finding, LRGuardWarning, ScheduleBugWarning, VanishingGradientWarning
from .integrations.install import install, is_installed, uninstall

__all__ = [
    "Finding", "LRGuardWarning", "ScheduleBugWarning", "VanishingGradientWarning",
    "findings", "install", "is_installed", "reset", "uninstall", "__version__",
]


def findings() -> List[Finding]:
    """The findings raised so far in this process, after a last look at every watched run."""
    from .integrations.install import flush

    flush()
    return LOG.items()


def reset() -> None:
    """Forget the findings raised so far (each can be raised, and warned, again)."""
    LOG.clear()


from .warnoptions import apply as _apply_warning_options  # noqa: E402

_apply_warning_options()  # -W error::lrguard.LRGuardWarning: Python could not import lrguard when it read it

if os.environ.get("LRGUARD_DISABLE", "").strip().lower() in ("", "0", "false", "no"):
    install()
