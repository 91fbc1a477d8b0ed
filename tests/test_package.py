"""The package as a user meets it: its public namespace and its metadata (what ``pip show lrguard`` prints)."""
import importlib.metadata
import json
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"Finding", "LRGuardWarning", "ScheduleBugWarning", "VanishingGradientWarning", "findings", "install",
          "is_installed", "reset", "uninstall", "__version__"}


def test_the_namespace_is_the_public_api_and_the_submodules():
    code = ("import json, types, lrguard\n"
            "print(json.dumps({'all': lrguard.__all__, 'names': [n for n in dir(lrguard) if not n.startswith('__')],"
            " 'modules': [n for n in dir(lrguard) if isinstance(getattr(lrguard, n), types.ModuleType)]}))\n"
            "exec('from lrguard import *'); print(json.dumps(sorted(k for k in dir() if not k.startswith('__'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen, star = map(json.loads, proc.stdout.splitlines())
    assert set(seen["all"]) == PUBLIC
    assert set(seen["names"]) - set(seen["modules"]) == PUBLIC - {"__version__"}  # no List, os, LOG, annotations
    assert set(star) == PUBLIC - {"__version__"} | {"json", "types", "lrguard"}


def test_what_the_readme_uses_is_importable():
    import lrguard

    for name in PUBLIC:
        assert hasattr(lrguard, name), name
    assert isinstance(lrguard.findings(), list) and isinstance(lrguard.__version__, str)
    import lrguard.report  # noqa: F401  (README: ``lrguard.report`` builds the whole report)

    assert isinstance(lrguard.report, types.ModuleType)


def test_the_license_is_in_the_field_every_pip_reads():
    """pip 23's ``pip show`` reads only ``License`` (not ``License-Expression``)."""
    metadata = importlib.metadata.metadata("lrguard")
    assert metadata["License"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
