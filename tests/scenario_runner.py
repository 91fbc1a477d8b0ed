"""Run training scripts the way the acceptance harness does, and score lrguard's findings.

The harness: ``python -c "import lrguard, runpy; runpy.run_path(script)"`` in a fresh interpreter, then
``lrguard.findings()``. ``run_scenario`` does exactly that. ``run_batch`` runs several scripts one after the other in
one interpreter, as the harness would run each (its folder as the working directory, ``sys.argv == ['-c']``), with
lrguard reset and the previous script's objects collected in between: the framework is imported once for all of
them. ``assert_scored`` scores a script's findings against the ``expect:`` line of its docstring.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

SCENARIOS = Path(__file__).parent / "scenarios"

_CODE = (
    "import json, runpy, sys, lrguard\n"
    "runpy.run_path(sys.argv.pop(1))\n"  # the script then sees sys.argv == ['-c'], as under the acceptance harness
    "print('LRGUARD-FINDINGS' + json.dumps([f.to_dict() for f in lrguard.findings()]))\n"
)

_BATCH = """
import gc, json, os, runpy, sys, traceback
{preamble}
import lrguard
results = {{}}
for script in sys.argv[1:]:
    lrguard.reset()
    os.chdir(os.path.dirname(script))
    sys.argv = ["-c"]
    print("LRGUARD-SCRIPT " + script, file=sys.stderr, flush=True)
    try:
        runpy.run_path(script)
        results[script] = {{"findings": [f.to_dict() for f in lrguard.findings()]}}
    except BaseException:  # SystemExit included: the harness would see this script fail, not the others
        results[script] = {{"error": traceback.format_exc()}}
    gc.collect()  # the script's optimizers and schedulers die here, before the next script's reset
    sys.stderr.flush()
print("LRGUARD-BATCH" + json.dumps(results))
"""


def _env(env: Optional[dict], tmp: str) -> dict:
    """The test's environment, quiet TensorFlow, and a temporary folder for what the scripts save (checkpoints)."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": tmp, **(env or {})}


def expected(script: Path) -> set:
    """The ids a scenario declares in its docstring: ``expect: id[, id]`` or ``expect: none``."""
    match = re.search(r"^expect:\s*(.+)$", script.read_text(), re.M)
    assert match, f"{script} declares no 'expect:' line"
    ids = {part.strip() for part in match.group(1).split(",")}
    return set() if ids == {"none"} else ids


def run_scenario(script: Path, timeout: float = 300, env: Optional[dict] = None):
    """One script in a fresh interpreter: (findings as dicts, the completed process)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", _CODE, str(script)], capture_output=True, text=True,
                              timeout=timeout, env=_env(env, tmp), cwd=script.parent)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("LRGUARD-FINDINGS")), None)
    assert proc.returncode == 0 and line, f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(line[len("LRGUARD-FINDINGS"):]), proc


def run_batch(scripts: Sequence[Path], env: Optional[dict] = None, preamble: str = "",
              timeout: float = 900) -> Dict[Path, Tuple[Optional[list], str]]:
    """Scripts one after the other in one interpreter: {script: (findings or None if it raised, its stderr)}.

    ``preamble`` runs first (e.g. a framework imported before lrguard). A script that raises gets its traceback as
    its stderr and ``None`` as findings; the others still run.
    """
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", _BATCH.format(preamble=preamble), *map(str, scripts)],
                              capture_output=True, text=True, timeout=timeout, env=_env(env, tmp))
    line = next((l for l in proc.stdout.splitlines() if l.startswith("LRGUARD-BATCH")), None)
    assert proc.returncode == 0 and line, f"the batch failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(line[len("LRGUARD-BATCH"):])
    stderr = {part.split("\n", 1)[0]: part for part in proc.stderr.split("LRGUARD-SCRIPT ")[1:]}
    out = {}
    for script in scripts:
        result = results[str(script)]
        out[script] = (result.get("findings"), stderr[str(script)] + result.get("error", ""))
    return out


_done: Dict[tuple, Dict[Path, Tuple[Optional[list], str]]] = {}


def batch_result(script: Path, batch: Sequence[Path], env: Optional[dict] = None, preamble: str = ""):
    """``script``'s (findings, stderr) from ``run_batch(batch, ...)``, the batch run once per test process."""
    key = (tuple(batch), tuple(sorted((env or {}).items())), preamble)
    if key not in _done:
        _done[key] = run_batch(batch, env, preamble)
    findings, stderr = _done[key][script]
    assert findings is not None, f"{script.name} raised:\n{stderr[-3000:]}"
    return findings, stderr


def split(scripts: Sequence[Path], size: int) -> List[List[Path]]:
    """``scripts`` dealt round-robin into batches of at most ``size``."""
    count = math.ceil(len(scripts) / size)
    return [list(scripts[i::count]) for i in range(count)]


def category_of(finding_id: str) -> str:
    return "vanishing-gradients" if finding_id == "vanishing-gradients" else "schedule-bug"


def assert_scored(script: Path, findings: list, stderr: str, framework: Optional[str] = None) -> None:
    """Scored as the acceptance set scores it: each expected id found, no finding of the other category, nothing
    at all on a healthy run; each finding points at the script and was shown as a warning."""
    want = expected(script)
    got = {f["id"] for f in findings}
    messages = [f["message"] for f in findings]
    if not want:
        assert not findings, f"{script.name}: healthy run produced findings: {messages}"
        return
    assert want <= got, f"{script.name}: expected {want}, got {got}: {messages}"
    wrong = {category_of(i) for i in got} - {category_of(i) for i in want}
    assert not wrong, f"{script.name}: finding of the wrong category: {got}"
    for finding in findings:
        assert finding["where"] and finding["where"].split(":")[0].endswith(script.name), finding["where"]
        if framework is not None:
            assert finding["framework"] == framework, finding
        assert f"[{finding['id']}]" in stderr, f"{script.name}: {finding['id']} was not shown as a warning"
