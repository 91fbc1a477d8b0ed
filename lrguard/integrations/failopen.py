"""Fail-open: an internal error is reported once, lrguard stops watching, and the training goes on."""
from __future__ import annotations

import os
import sys
import threading


class _State:
    __slots__ = ("stopped", "lock")  # (a slot: the one attribute read every hook reads first, at every call)

    def __init__(self) -> None:
        self.stopped = False  # set by the first internal error; every hook checks it first
        self.lock = threading.Lock()  # two threads failing at once still print one message


STATE = _State()


def internal_error(where: str, exc: BaseException) -> None:
    """Report an lrguard bug once and stop watching. Never raises."""
    if os.environ.get("LRGUARD_DEBUG"):
        raise exc
    with STATE.lock:
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
