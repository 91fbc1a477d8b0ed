"""Child Python processes under ``lrguard run``: watched too, and their findings and runs sent to the parent.

The way ``ddtrace-run`` does it: the parent prepends ``lrguard/_boot`` (a ``sitecustomize.py``) to the
``PYTHONPATH`` its children inherit and names a folder in ``LRGUARD_RUN_DIR``. A new interpreter (a
``subprocess``, a ``spawn``/``forkserver`` worker, a ``torch.distributed.run`` rank) imports lrguard at start-up
through that ``sitecustomize`` (which then runs any ``sitecustomize`` it shadows); a forked child (``fork``
workers) inherits lrguard from its parent. Each child writes ``child-<pid>.json`` in the folder when a finding
is raised and when it exits; the parent merges those into its report. In a distributed job only rank 0 warns
(``RANK``/``LOCAL_RANK``); every rank still reports.
"""
from __future__ import annotations

import atexit
import os
import threading
from typing import Dict, List, MutableMapping, Optional

import wrapt

ENV_DIR = "LRGUARD_RUN_DIR"
BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot")


class _State:
    main_pid: Optional[int] = None  # the ``lrguard run`` process: it merges, it does not write a part
    run_dir: Optional[str] = None
    baseline_runs: Dict[object, int] = {}  # a forked child's inherited runs -> their step at the fork
    baseline_findings: List[object] = []  # a forked child's inherited findings
    forks_hooked = False
    writing = threading.Lock()


STATE = _State()


def child_environ(run_dir: str, environ: MutableMapping[str, str]) -> None:
    """Set up ``environ`` so that the Python processes started with it are watched and report to ``run_dir``."""
    paths = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != BOOT_DIR]
    environ["PYTHONPATH"] = os.pathsep.join([BOOT_DIR] + paths)
    environ[ENV_DIR] = run_dir


def start_main(run_dir: str) -> None:
    """In the ``lrguard run`` process: children report to ``run_dir``; this process merges."""
    STATE.main_pid = os.getpid()
    STATE.run_dir = run_dir
    child_environ(run_dir, os.environ)
    _hook_forks()


def start_child() -> None:
    """In a new interpreter started under ``lrguard run`` (from ``sitecustomize``): watch, report at exit."""
    if os.environ.get("LRGUARD_DISABLE", "").strip().lower() not in ("", "0", "false", "no"):
        return
    STATE.run_dir = os.environ.get(ENV_DIR) or None
    if not STATE.run_dir:
        return
    import importlib

    import lrguard  # noqa: F401  (arms the post-import hooks)

    rank = _rank()
    if rank is not None and rank != 0:
        # the module, not ``lrguard.findings()``, the function that shadows its name in the package
        importlib.import_module("lrguard.findings").WARN = False
    _listen()
    atexit.register(flush_and_write)
    _hook_forks()


def _rank() -> Optional[int]:
    from .report import rank

    return rank()


# -- forks ------------------------------------------------------------------------------------------
def _hook_forks() -> None:
    if STATE.forks_hooked or not hasattr(os, "register_at_fork"):
        return
    STATE.forks_hooked = True
    os.register_at_fork(after_in_child=_forked)
    wrapt.register_post_import_hook(_hook_multiprocessing, "multiprocessing")


def _hook_multiprocessing(_module) -> None:
    # A multiprocessing child leaves through os._exit(): atexit handlers do not run, its finalizers do.
    import multiprocessing.util as util

    util.register_after_fork(STATE, _register_finalizer)


def _register_finalizer(_state) -> None:
    import multiprocessing.util as util

    util.Finalize(None, flush_and_write, exitpriority=-100)  # after the child's own children are joined


def _forked() -> None:
    """In a forked child: report only what happens from now on."""
    try:
        from .findings import LOG
        from .detection.registry import RUNS

        # Only the forking thread lives on in the child: a lock another thread held at the fork stays held forever.
        STATE.writing = threading.Lock()
        RUNS._lock = threading.Lock()
        LOG._lock = threading.Lock()
        STATE.baseline_runs = {run: run.step for run in RUNS.runs()}
        STATE.baseline_findings = LOG.items()
        STATE.run_dir = os.environ.get(ENV_DIR) or STATE.run_dir
        if STATE.run_dir:
            _listen()
            atexit.unregister(flush_and_write)
            atexit.register(flush_and_write)
    except Exception:
        pass


def _listen() -> None:
    from .findings import LOG

    if _on_finding not in LOG.listeners:
        LOG.listeners.append(_on_finding)


def _on_finding(_finding) -> None:
    # A child may be killed rather than exit (a multiprocessing pool's terminate()): write at each finding too.
    write_part()


# -- the part a child writes ----------------------------------------------------------------------
def write_part() -> None:
    """Write this child's findings and runs to ``LRGUARD_RUN_DIR/child-<pid>.json``. Never raises."""
    try:
        if not STATE.run_dir or os.getpid() == STATE.main_pid or not os.path.isdir(STATE.run_dir):
            return
        from .findings import LOG
        from .detection.registry import RUNS
        from .report import process_part, to_json, write_atomic

        known = {id(f) for f in STATE.baseline_findings}
        findings = [f for f in LOG.items() if id(f) not in known]
        runs = [r for r in RUNS.runs() if STATE.baseline_runs.get(r, -1) != r.step]
        if not findings and not any(r.step for r in runs):
            return
        with STATE.writing:
            part = process_part(runs, findings, main=False)
            write_atomic(os.path.join(STATE.run_dir, f"child-{os.getpid()}.json"), to_json(part))
    except Exception:
        pass  # a child's report is best-effort: it must never disturb the child


def flush_and_write() -> None:
    """At a child's exit: final decisions on every live optimizer, then write the part."""
    try:
        if STATE.run_dir and os.getpid() != STATE.main_pid and _stepped():
            flush_quietly()
    except Exception:
        pass
    write_part()


def _stepped() -> bool:
    """Did this process step an optimizer (a forked child: since the fork)? Else there is nothing to decide."""
    from .detection.registry import RUNS

    return any(STATE.baseline_runs.get(r, -1) != r.step for r in RUNS.runs())


def flush_quietly() -> None:
    from .findings import LRGuardWarning
    from .integrations.install import flush

    for _ in range(16):  # each finding raises once under ``-W error``; there is nobody left to raise to
        try:
            flush()
            return
        except LRGuardWarning:
            continue
        except Exception:
            return
