"""Run a training script the way the acceptance harness does, and return lrguard's findings.

``python -c "import lrguard; runpy.run_path(script)"`` in a fresh interpreter, then ``lrguard.findings()``.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"

_CODE = (
    "import json, runpy, sys, lrguard\n"
    "runpy.run_path(sys.argv.pop(1))\n"  # the script then sees sys.argv == ['-c'], as under the acceptance harness
    "print('LRGUARD-FINDINGS' + json.dumps([f.to_dict() for f in lrguard.findings()]))\n"
)


def expected(script: Path) -> set:
    """The ids a scenario declares in its docstring: ``expect: id[, id]`` or ``expect: none``."""
    match = re.search(r"^expect:\s*(.+)$", script.read_text(), re.M)
    assert match, f"{script} declares no 'expect:' line"
    ids = {part.strip() for part in match.group(1).split(",")}
    return set() if ids == {"none"} else ids


def run_scenario(script: Path, timeout: float = 300, env: dict = None):
    """(findings as dicts, the completed process)."""
    proc = subprocess.run(
        [sys.executable, "-c", _CODE, str(script)], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}, cwd=script.parent,
    )
    line = next((l for l in proc.stdout.splitlines() if l.startswith("LRGUARD-FINDINGS")), None)
    assert proc.returncode == 0 and line, f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(line[len("LRGUARD-FINDINGS"):]), proc


def category_of(finding_id: str) -> str:
    return "vanishing-gradients" if finding_id == "vanishing-gradients" else "schedule-bug"
