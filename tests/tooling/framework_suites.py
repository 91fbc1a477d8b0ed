"""Run the frameworks' own test suites twice, plain and with ``import lrguard`` first, and compare.

    .venv/bin/python tests/tooling/framework_suites.py [--torch-suite PATH] [--suites torch,keras]

- PyTorch: ``test/optim/test_lrscheduler.py`` of the pytorch repository, matching the installed torch. It is not
  part of the wheel and must never be committed here: put a copy under /tmp (default
  ``/tmp/lrguard_suites/torch/test_lrscheduler.py``, or ``--torch-suite``/``LRGUARD_TORCH_SUITE``), e.g.
  ``git -C <pytorch clone> show HEAD:test/optim/test_lrscheduler.py > /tmp/.../test_lrscheduler.py``. It needs
  ``torch.testing._internal`` (in the wheel) and ``expecttest`` (requirements-test.txt).
- Keras: the callback tests shipped in the keras wheel (``keras/src/callbacks/*_test.py``), copied to a scratch
  folder with a small stand-in for the keras repository's ``conftest.py`` (markers, ``skip_if_backend``).

Each suite runs in a fresh pytest process per mode, in a scratch folder (no ini file of this repository, no
bytecode, no cache, lrguard's own pytest plugin disabled). A probe plugin (``-p``) records every test's outcome
and every warning pytest captures; in the lrguard mode it imports lrguard before pytest imports any test module,
and checks that no framework was imported before it. The comparison: the same outcome for every test, and the
same framework warnings (pytest's captured list, lrguard's own ``LRGuardWarning``s set apart and listed). lrguard's
findings are printed too (a diagnostic that finds bugs in a test suite's deliberately odd schedules is doing its
job; they are not differences in what the frameworks do). Exit status 0 when every suite run is identical both
ways, 1 when one differs, 2 when a suite could not be run.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Tuple

DEFAULT_TORCH_SUITE = "/tmp/lrguard_suites/torch/test_lrscheduler.py"
LRGUARD_CATEGORIES = ("LRGuardWarning", "ScheduleBugWarning", "VanishingGradientWarning")
REPO = Path(__file__).resolve().parents[2]

PROBE = r'''
"""pytest plugin written by tests/tooling/framework_suites.py: outcomes and warnings, and lrguard first."""
import json
import os
import sys

MODE = os.environ["LRGUARD_SUITE_MODE"]
BEFORE = sorted(m for m in ("torch", "keras", "tensorflow", "tf_keras") if m in sys.modules)
if MODE == "lrguard":
    import lrguard  # before pytest imports any test module (and so any framework)

_outcomes = {}
_warnings = []
_collect_errors = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            _outcomes[report.nodeid] = "xfailed" if report.skipped else "xpassed"
        else:
            _outcomes[report.nodeid] = report.outcome
    elif report.failed:
        _outcomes[report.nodeid] = "error"
    elif report.skipped and report.when == "setup":
        _outcomes[report.nodeid] = "xfailed" if hasattr(report, "wasxfail") else "skipped"


def pytest_collectreport(report):
    if report.failed:
        _collect_errors.append(report.nodeid)


def pytest_warning_recorded(warning_message, when, nodeid, location):
    category = warning_message.category
    _warnings.append({
        "nodeid": nodeid, "when": when,
        "category": getattr(category, "__module__", "") + "." + getattr(category, "__qualname__", str(category)),
        "message": str(warning_message.message),
        "where": os.path.basename(str(warning_message.filename)) + ":" + str(warning_message.lineno),
    })


def pytest_sessionfinish(session, exitstatus):
    info = {"mode": MODE, "frameworks_before_probe": BEFORE, "exitstatus": int(exitstatus),
            "outcomes": _outcomes, "warnings": _warnings, "collect_errors": _collect_errors}
    if MODE == "lrguard":
        import lrguard.integrations.install
        from lrguard.findings import LOG

        info["lrguard_installed"] = lrguard.integrations.install.is_installed()
        info["lrguard_active"] = lrguard.integrations.install.active()
        info["lrguard_findings"] = [f.to_dict() for f in LOG.items()]  # no flush: nothing more is decided here
    with open(os.environ["LRGUARD_SUITE_REPORT"], "w", encoding="utf-8") as file:
        json.dump(info, file)
'''

KERAS_CONFTEST = '''
"""Stand-in for the keras repository's conftest.py (the wheel's tests import ``skip_if_backend`` from it)."""
import pytest
from keras.src.backend import backend


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_trainable_backend: needs a backend that trains")
    config.addinivalue_line("markers", "multi_device: needs several devices")


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skipif(backend() == "numpy", reason="the numpy backend does not train")
    for item in items:
        if "requires_trainable_backend" in item.keywords:
            item.add_marker(skip)


def skip_if_backend(given_backend, reason):
    return pytest.mark.skipif(backend() == given_backend, reason=reason)
'''


# -- preparing the suites ---------------------------------------------------------------------------
def prepare_torch(work: Path, suite: Optional[str]) -> Tuple[Optional[Path], str]:
    path = Path(suite or os.environ.get("LRGUARD_TORCH_SUITE") or DEFAULT_TORCH_SUITE)
    if not path.is_file():
        return None, (f"{path} not found: copy test/optim/test_lrscheduler.py of the pytorch repository (the version"
                      " of the installed torch) there, outside this repository")
    if importlib.util.find_spec("expecttest") is None:
        return None, "torch.testing._internal needs expecttest (pip install expecttest, see requirements-test.txt)"
    folder = work / "torch"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    import torch  # noqa: F401  (only its version, in this process)

    return folder, f"PyTorch {torch.__version__}: {path.name} ({path})"


def prepare_keras(work: Path) -> Tuple[Optional[Path], str]:
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        return None, "keras is not installed"
    source = Path(list(spec.submodule_search_locations)[0]) / "src" / "callbacks"
    tests = sorted(source.glob("*_test.py"))
    if not tests:
        return None, f"no *_test.py in {source}"
    folder = work / "keras"
    folder.mkdir()
    for test in tests:
        shutil.copy(test, folder / test.name)
    (folder / "conftest.py").write_text(textwrap.dedent(KERAS_CONFTEST).lstrip())
    from importlib.metadata import version

    return folder, f"Keras {version('keras')}: {len(tests)} files keras/src/callbacks/*_test.py ({source})"


# -- running ------------------------------------------------------------------------------------------
def run_suite(folder: Path, mode: str, plugin_dir: Path, extra: List[str], timeout: float) -> dict:
    report = folder.parent / f"{folder.name}-{mode}.json"
    env = {
        **os.environ,
        "LRGUARD_SUITE_MODE": mode,
        "LRGUARD_SUITE_REPORT": str(report),
        "PYTHONPATH": os.pathsep.join([str(plugin_dir)] + [
            p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    env.pop("LRGUARD_DISABLE", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:lrguard",
               "-p", "lrguard_suite_probe", "-c", str(folder / "pytest.ini"), "--rootdir", str(folder), *extra, "."]
    (folder / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    if not report.exists():
        raise RuntimeError(f"pytest wrote no report ({mode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    info = json.loads(report.read_text())
    info["stdout"], info["stderr"] = proc.stdout, proc.stderr
    return info


def normalize(message: str, folder: Path) -> str:
    """Strip what differs between two runs of the same code: addresses, scratch paths, timings."""
    message = message.replace(str(folder.parent), "<work>")
    message = re.sub(r"0x[0-9a-fA-F]+", "0x?", message)
    message = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+", "<pytest-tmp>", message)
    message = re.sub(r"\d+\.\d+\s*(?:s|ms|sec|seconds)\b", "<time>", message)
    return message


def split_warnings(info: dict, folder: Path):
    framework, ours = [], []
    for w in info["warnings"]:
        key = (w["nodeid"], w["when"], w["category"], normalize(w["message"], folder), w["where"])
        (ours if w["category"].rsplit(".", 1)[-1] in LRGUARD_CATEGORIES else framework).append(key)
    return framework, ours


def exit_warnings(info: dict) -> List[str]:
    """lrguard warnings printed after the session (optimizers collected at interpreter exit)."""
    return [line for line in info["stderr"].splitlines()
            if any(f"{c}: [" in line for c in LRGUARD_CATEGORIES)]


def counts(info: dict) -> Dict[str, int]:
    tally = collections.Counter(info["outcomes"].values())
    return {k: tally.get(k, 0) for k in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")}


def compare(name: str, folder: Path, plain: dict, guarded: dict) -> bool:
    """Print the table and the differences; True when the frameworks behaved the same both ways."""
    print(f"\n{name}")
    header = (f"  {'mode':16s}" + "".join(f"{k:>9s}" for k in counts(plain))
              + f"{'warnings':>10s}  lrguard's own warnings")
    print(header)
    rows = []
    for label, info in (("plain", plain), ("lrguard first", guarded)):
        framework, ours = split_warnings(info, folder)
        at_exit = exit_warnings(info)
        own = "-" if info is plain else f"{len(ours)} in tests, {len(at_exit)} at exit"
        print(f"  {label:16s}" + "".join(f"{v:9d}" for v in counts(info).values()) + f"{len(framework):10d}  {own}")
        rows.append((framework, ours, at_exit))
    same = True
    if plain["collect_errors"] != guarded["collect_errors"]:
        same = False
        print(f"  DIFFERENT collection errors: plain {plain['collect_errors']}, lrguard {guarded['collect_errors']}")
    diff = {t for t in set(plain["outcomes"]) | set(guarded["outcomes"])
            if plain["outcomes"].get(t) != guarded["outcomes"].get(t)}
    print(f"  outcomes identical: {'yes' if not diff else 'NO'} ({len(plain['outcomes'])} tests)")
    for test in sorted(diff):
        same = False
        print(f"    {test}: plain {plain['outcomes'].get(test)}, lrguard {guarded['outcomes'].get(test)}")
    extra = collections.Counter(rows[1][0]) - collections.Counter(rows[0][0])
    missing = collections.Counter(rows[0][0]) - collections.Counter(rows[1][0])
    print(f"  framework warnings identical: {'yes' if not (extra or missing) else 'NO'} ({len(rows[0][0])} warnings)")
    for label, bag in (("only with lrguard", extra), ("only without lrguard", missing)):
        for key, n in sorted(bag.items()):
            same = False
            print(f"    {label} (x{n}): {key[0]} [{key[1]}] {key[2]}: {key[3][:200]} ({key[4]})")
    if plain["exitstatus"] != guarded["exitstatus"]:
        same = False
        print(f"  DIFFERENT pytest exit status: plain {plain['exitstatus']}, lrguard {guarded['exitstatus']}")
    problems = []
    if guarded["frameworks_before_probe"]:
        problems.append(f"frameworks imported before lrguard: {guarded['frameworks_before_probe']}")
    if not guarded.get("lrguard_installed"):
        problems.append("lrguard was not installed during the run")
    output = guarded["stdout"].splitlines() + guarded["stderr"].splitlines()
    internal = [line for line in output if "lrguard: internal error" in line]
    problems += [f"lrguard internal error: {l.strip()}" for l in internal]
    print(f"  lrguard: imported first, watching {guarded.get('lrguard_active')}; internal errors: {len(internal)}")
    for problem in problems:
        same = False
        print(f"  PROBLEM: {problem}")
    findings = guarded.get("lrguard_findings") or []
    ids = collections.Counter(f["id"] for f in findings)
    if findings or rows[1][1] or rows[1][2]:
        print(f"  lrguard's findings during the suite: {dict(ids) or 'none'}; warned in tests {len(rows[1][1])},"
              f" at exit {len(rows[1][2])}")
        for key in rows[1][1][:8]:
            print(f"    {key[0]}: {key[3][:160]}")
        for line in rows[1][2][:8]:
            print(f"    at exit: {line.strip()[:200]}")
    return same


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", default="torch,keras", help="comma-separated: torch, keras")
    parser.add_argument("--torch-suite", help=f"test_lrscheduler.py (default {DEFAULT_TORCH_SUITE})")
    parser.add_argument("--workdir", help="scratch folder (default: a new temporary folder, removed afterwards)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per pytest run")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lrguard-suites-"))
    work.mkdir(parents=True, exist_ok=True)
    plugin_dir = work / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "lrguard_suite_probe.py").write_text(PROBE.lstrip())
    status = 0
    try:
        for suite in [s.strip() for s in args.suites.split(",") if s.strip()]:
            if suite == "torch":
                folder, title = prepare_torch(work, args.torch_suite)
            elif suite == "keras":
                folder, title = prepare_keras(work)
            else:
                parser.error(f"unknown suite {suite!r}")
            if folder is None:
                print(f"\n{suite}: NOT RUN: {title}")
                status = max(status, 2)
                continue
            plain = run_suite(folder, "plain", plugin_dir, args.pytest_args, args.timeout)
            guarded = run_suite(folder, "lrguard", plugin_dir, args.pytest_args, args.timeout)
            if not compare(title, folder, plain, guarded):
                status = max(status, 1)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print("\nresult:", {0: "identical both ways", 1: "DIFFERENCES (see above)", 2: "a suite could not be run"}[status])
    return status


if __name__ == "__main__":
    sys.exit(main())
