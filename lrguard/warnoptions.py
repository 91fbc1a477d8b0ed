"""Apply ``-W``/``PYTHONWARNINGS`` options that name lrguard's warnings, which Python itself has to ignore.

Python reads those options before site-packages is on ``sys.path``, so ``-W error::lrguard.LRGuardWarning``
finds no ``lrguard`` module then (it prints "Invalid -W option ignored: invalid module name: 'lrguard'").
``import lrguard`` applies them, as Python would have: the same parsing, each at the front of the filters.
"""
from __future__ import annotations

import importlib
import re
import sys
import warnings

ACTIONS = ("default", "always", "ignore", "module", "once", "error")

_applied = False


def apply() -> None:
    """Install the filters of the warning options that name an ``lrguard.`` category. Once per process."""
    global _applied
    if _applied:
        return
    _applied = True
    for option in list(getattr(sys, "warnoptions", [])):
        try:
            _apply_one(option)
        except Exception:
            pass  # what Python could parse it already did, and it already said what it could not


def _apply_one(option: str) -> None:
    parts = option.split(":")
    if len(parts) > 5:
        return
    parts += [""] * (5 - len(parts))
    action, message, category, module, lineno = (part.strip() for part in parts)
    if not category.startswith("lrguard."):
        return
    action = next((a for a in ACTIONS if a.startswith(action)), None) if action else "default"
    if action is None:
        return
    owner, _, name = category.rpartition(".")
    cls = getattr(sys.modules.get(owner) or importlib.import_module(owner), name, None)
    if not (isinstance(cls, type) and issubclass(cls, Warning)):
        return
    line = int(lineno) if lineno else 0
    if line < 0:
        return
    warnings.filterwarnings(action, re.escape(message), cls, re.escape(module) + r"\Z" if module else "", line)
