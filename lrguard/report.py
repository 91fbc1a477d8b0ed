"""The end-of-run report: per-run summaries, the parts of every watched process merged, JSON, and the text summary.

Schema (``version`` 1), documented in the README::

    {"version": 1, "lrguard": "0.1.0", "command": [...], "exit_status": 0,
     "findings": [Finding.to_dict(), ...],          # de-duplicated across processes (id, where, group)
     "runs": [run summary + {"pid", "rank"}, ...],  # one per watched optimizer, every process
     "processes": [{"pid", "rank", "main", "runs", "findings"}, ...]}
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import textwrap
from typing import Any, Dict, Iterable, List, Optional

from ._version import __version__
from .findings import LOG
from .detection.registry import RUNS

VERSION = 1


# -- one run ----------------------------------------------------------------------------------------
def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _site(where: Any) -> Optional[str]:
    if where is None:
        return None
    if isinstance(where, str):
        return where
    return f"{where[0]}:{where[1]}"


def run_summary(run: Any) -> Dict[str, Any]:
    """``TrainingRun.summary()``: a plain, JSON-ready dict (no NaN: a number that is not finite is ``None``)."""
    groups = []
    for index, track in enumerate(run.groups):
        groups.append({
            "group": index,
            "base_lr": _number(track.base),
            "first": _number(track.first),
            "min": _number(track.low),
            "max": _number(track.peak),
            "last": _number(track.lr),
        })
    losses = run.losses
    return {
        "framework": run.framework,
        "optimizer": run.name,
        "where": _site(run.where),
        "steps": run.step,
        "epoch": run.training_epoch(),
        "scheduler_steps": run.scheduler_steps,
        "schedulers": [s.kind for s in run.schedules],
        "groups": groups,
        "loss": {
            "first": _number(losses.head[0]) if losses.head else None,
            "last": _number(losses.recent[-1]) if losses.recent else None,
            "samples": losses.count,
        },
        "findings": [{"id": f.id, "where": f.where, "step": f.step, "epoch": f.epoch,
                      "scheduler_steps": f.scheduler_steps, "group": f.group} for f in run.findings],
        "history": run.history.to_dict(),
    }


# -- one process ------------------------------------------------------------------------------------
def rank() -> Optional[int]:
    """This process's rank in a distributed job (``RANK``, else ``LOCAL_RANK``), or None."""
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name, "").strip()
        if value.lstrip("-").isdigit():
            return int(value)
    return None


def process_part(runs: Optional[Iterable[Any]] = None, findings: Optional[Iterable[Any]] = None,
                 main: bool = True) -> Dict[str, Any]:
    """What this process watched: its findings and run summaries (all of them unless given)."""
    runs = RUNS.runs() if runs is None else list(runs)
    findings = LOG.items() if findings is None else list(findings)
    return {
        "pid": os.getpid(),
        "rank": rank(),
        "main": main,
        "argv": [str(a) for a in sys.argv[:16]],
        "findings": [f.to_dict() for f in findings],
        "runs": [run_summary(r) for r in runs],
        "dropped": {"runs": RUNS.dropped, "findings": LOG.dropped},
    }


# -- the whole job ----------------------------------------------------------------------------------
def merge(parts: List[Dict[str, Any]], command: Optional[List[str]] = None,
          exit_status: Optional[int] = None) -> Dict[str, Any]:
    """One report from the parts of every process (the main process first)."""
    findings: List[Dict[str, Any]] = []
    seen = set()
    runs: List[Dict[str, Any]] = []
    processes = []
    for part in parts:
        for finding in part.get("findings", []):
            key = (finding.get("id"), finding.get("where"), finding.get("group"))
            if key not in seen:
                seen.add(key)
                findings.append(finding)
        for run in part.get("runs", []):
            runs.append({**run, "pid": part.get("pid"), "rank": part.get("rank")})
        processes.append({
            "pid": part.get("pid"), "rank": part.get("rank"), "main": bool(part.get("main")),
            "runs": len(part.get("runs", [])), "findings": len(part.get("findings", [])),
        })
    return {
        "version": VERSION,
        "lrguard": __version__,
        "command": list(command or []),
        "exit_status": exit_status,
        "findings": findings,
        "runs": runs,
        "processes": processes,
    }


def read_parts(directory: Optional[str]) -> List[Dict[str, Any]]:
    """The parts child processes left in ``directory`` (unreadable ones are skipped)."""
    parts = []
    if not directory or not os.path.isdir(directory):
        return parts
    for name in sorted(os.listdir(directory)):
        if not (name.startswith("child-") and name.endswith(".json")):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as file:
                part = json.load(file)
        except (OSError, ValueError):
            continue
        if isinstance(part, dict):
            part["main"] = False
            parts.append(part)
    parts.sort(key=lambda p: (p.get("rank") is None, p.get("rank") or 0, p.get("pid") or 0))
    return parts


# -- files ----------------------------------------------------------------------------------------
def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def to_json(report: Dict[str, Any]) -> bytes:
    return (json.dumps(report, indent=2, allow_nan=False, default=str) + "\n").encode("utf-8")


# -- text -----------------------------------------------------------------------------------------
def short_path(path: Optional[str]) -> str:
    """``where`` relative to the current folder when it is under it."""
    if not path:
        return "?"
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def watched_line(report: Dict[str, Any]) -> str:
    """'1 optimizer (torch), 640 steps' or 'no optimizer'."""
    runs = report.get("runs", [])
    if not runs:
        return "no optimizer (no PyTorch or Keras training was seen)"
    frameworks = sorted({str(r.get("framework")) for r in runs})
    steps = sum(int(r.get("steps") or 0) for r in runs)
    processes = {r.get("pid") for r in runs}
    where = f" in {len(processes)} processes" if len(processes) > 1 else ""
    return f"{_plural(len(runs), 'optimizer')} ({', '.join(frameworks)}){where}, {_plural(steps, 'step')}"


def summary_text(report: Dict[str, Any], width: int = 100) -> str:
    """The end-of-run summary: each finding with its fix, or one line saying what was watched."""
    findings = report.get("findings", [])
    if not findings:
        return f"lrguard: watched {watched_line(report)}: no findings\n"
    lines = [f"lrguard: {_plural(len(findings), 'finding')} (watched {watched_line(report)}):"]
    for finding in findings:
        message, fix = str(finding.get("message") or ""), str(finding.get("fix") or "")
        if fix and message.endswith(fix):
            message = message[: -len(fix)].rstrip()
        at = [short_path(finding.get("where"))]
        if finding.get("step") is not None:
            at.append(f"step {finding['step']}")
        if finding.get("epoch") is not None:
            at.append(f"epoch {finding['epoch']}")
        steps = finding.get("scheduler_steps")
        if steps and steps != finding.get("epoch"):  # the scheduler's own count, by its name
            at.append(f"scheduler step {steps}")
        key = (finding.get("id"), finding.get("where"), finding.get("group"))
        pids = {r.get("pid") for r in report.get("runs", [])
                for f in r.get("findings", []) if (f.get("id"), f.get("where"), f.get("group")) == key}
        if len(pids) > 1:
            at.append(f"in {len(pids)} processes")
        lines.append(f"  [{finding.get('id')}] {', '.join(at)}")
        lines.extend(textwrap.wrap(message, width, initial_indent="    ", subsequent_indent="    "))
        if fix:
            lines.extend(textwrap.wrap(fix, width, initial_indent="    fix: ", subsequent_indent="         "))
    return "\n".join(lines) + "\n"
