"""lrguard: catch broken learning-rate schedules while training runs, and tell them from vanishing gradients.

``import lrguard`` watches PyTorch (and Keras) training from then on; ``LRGUARD_DISABLE=1`` turns that off.
"""
from ._version import __version__
from .findings import Finding, LRGuardWarning, ScheduleBugWarning, VanishingGradientWarning
from .integrations.install import install, is_installed, uninstall

__all__ = [
    "Finding", "LRGuardWarning", "ScheduleBugWarning", "VanishingGradientWarning",
    "findings", "install", "is_installed", "reset", "uninstall", "__version__",
]


def findings() -> "list[Finding]":
    """The findings raised so far in this process, after a last look at every watched run."""
    from .findings import LOG, surfaced  # the module (``lrguard.findings`` is this function)
    from .integrations.install import flush

    try:
        flush()
    except LRGuardWarning as error:
        raise surfaced(error)  # a finding your warning filter (-W error) made an exception: see its note
    return LOG.items()


def reset() -> None:
    """Forget the findings raised so far (each can be raised, and warned, again)."""
    from .findings import LOG

    LOG.clear()


def _start() -> None:
    import os

    from .warnoptions import apply

    apply()  # -W error::lrguard.LRGuardWarning: Python could not import lrguard when it read it
    if os.environ.get("LRGUARD_DISABLE", "").strip().lower() in ("", "0", "false", "no"):
        install()


_start()
del _start  # the namespace holds the public API (and lrguard's submodules) only
