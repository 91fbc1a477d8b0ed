"""Post-import hooks: run a function right after a module is first imported (after wrapt's design).

``wrapt.register_post_import_hook`` does this too, but importing wrapt 2.x costs 40-60 ms (it imports asyncio),
three times lrguard's whole import budget; this is the small part of it lrguard needs. A finder placed first on
``sys.meta_path`` lets the regular machinery find a watched top-level module, wraps the loader so the hooks run
right after the module's code, and puts the original loader back on the module. Once nothing is pending, the
finder leaves ``sys.meta_path``.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Callable, Dict, List

Hook = Callable[[object], None]

_lock = threading.RLock()
_pending: Dict[str, List[Hook]] = {}


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` once top-level module ``name`` is imported: now, if it already is."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _pending.setdefault(name, []).append(hook)
            if _FINDER not in sys.meta_path:
                sys.meta_path.insert(0, _FINDER)
            return
    hook(module)


def _fire(name: str) -> None:
    with _lock:
        hooks = _pending.pop(name, [])
        if not _pending and _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
    module = sys.modules.get(name)
    if module is not None:
        for hook in hooks:
            hook(module)


class _Loader:
    """The module's own loader, plus the hooks after ``exec_module``."""

    def __init__(self, loader, name: str) -> None:
        self._loader, self._name = loader, name

    def __getattr__(self, attribute: str):
        return getattr(self._loader, attribute)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _fire(self._name)


class _Finder:
    """Finds nothing itself: it asks the other finders, then wraps the loader of a watched module."""

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in _pending or getattr(self._busy, "name", None) == fullname:
            return None
        self._busy.name = fullname
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.name = None
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, fullname)
        return spec


_FINDER = _Finder()
