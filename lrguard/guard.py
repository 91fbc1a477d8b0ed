"""Fail-open: an internal error is reported once, lrguard stops watching, and the training goes on."""
from __future__ import annotations

import os
import sys


class _State:
    stopped = False  # set by the first internal error; every hook checks it first


STATE = _State()


def internal_error(where: str, exc: BaseException) -> None:
    """Report an lrguard bug once and stop watching. Never raises."""
    if os.environ.get("LRGUARD_DEBUG"):
        raise exc
    if STATE.stopped:
        return
    STATE.stopped = True
    try:
        sys.stderr.write(
            f"lrguard: internal error in {where} ({type(exc).__name__}: {exc}); lrguard stopped watching this"
            " process. Your training is not affected.\n"
        )
    except Exception:  # a closed stderr must not matter either
        pass
