"""SIGTERM under ``lrguard run``: say what was seen and clean up, then end by SIGTERM, as Python ends by it.

Python's default for SIGTERM ends the process at once: no ``finally`` block, no atexit handler runs. ``lrguard run``
puts a handler in place of that default (only where it is the default) that runs ``on_term`` (the summary, the
files asked for, the temporary folder) on a helper thread, for at most ``LIMIT_S`` seconds (the program stopped
mid-step, maybe inside lrguard's code, holding a lock), then restores the default and sends SIGTERM to itself
again. The program's own code never resumes: as under plain Python, no ``finally``, no atexit handler.

- A program that installs its own SIGTERM handler replaces lrguard's. One that chains to the handler it replaced
  (Lightning's does) finds lrguard's: called that way it does nothing, as the default (not callable) would have.
- A forked child gets the default back (``os.register_at_fork``): a worker its pool terminates dies at once.
  SIGTERM is blocked in the forking thread across the fork, so that one sent to the child before it has the
  default back waits for it (CPython drops the signals its handlers caught before its after-fork code ran).
- A second SIGTERM while ``on_term`` runs ends the process at once.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable, Optional

LIMIT_S = 10.0  # the longest lrguard delays the end (schedulers send SIGKILL after a grace period, often 30 s)
STATUS = 128 + int(getattr(signal, "SIGTERM", 15))  # the status a shell shows, and the report's exit_status


class _State:
    pid: Optional[int] = None  # the process that armed the handler
    on_term: Optional[Callable[[], None]] = None
    fork_hooked = False
    forking = threading.local()  # .mask: the forking thread's signal mask before the fork, if SIGTERM was blocked


STATE = _State()


def arm(on_term: Callable[[], None]) -> bool:
    """On SIGTERM, run ``on_term`` and end by SIGTERM; False (and nothing changed) where SIGTERM is not the default
    or this is not the main thread of a POSIX process."""
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    STATE.pid, STATE.on_term = os.getpid(), on_term
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not STATE.fork_hooked:
        STATE.fork_hooked = True
        os.register_at_fork(before=_block, after_in_parent=_unblock, after_in_child=_default_in_child)
    return True


def set_action(on_term: Callable[[], None]) -> None:
    """What SIGTERM does from now on (the program has ended: only the clean-up is left)."""
    STATE.on_term = on_term


def _on_sigterm(signum: int, frame) -> None:
    if os.getpid() != STATE.pid:  # a forked child, before its at-fork reset
        _die(signum)
    if signal.getsignal(signum) is not _on_sigterm:  # the program's own handler chains to this one
        return
    on_term, STATE.on_term = STATE.on_term, None
    if on_term is not None:
        helper = threading.Thread(target=_quietly, args=(on_term,), name="lrguard-sigterm", daemon=True)
        helper.start()
        helper.join(LIMIT_S)
    _die(signum)


def _quietly(action: Callable[[], None]) -> None:
    try:
        action()
    except BaseException:  # noqa: B036  (the end is near: nothing may stop it)
        pass


def _die(signum: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # not reached: the default disposition ends the process


def _block() -> None:
    STATE.forking.mask = None
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            STATE.forking.mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except Exception:
        pass


def _unblock() -> None:
    mask, STATE.forking.mask = getattr(STATE.forking, "mask", None), None
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _default_in_child() -> None:
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except Exception:
        pass
    finally:
        _unblock()  # a SIGTERM sent meanwhile arrives now
