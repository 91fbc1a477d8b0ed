"""``install()`` / ``uninstall()``: wrapt's post-import hooks arm the framework adapters; nothing is imported early.

Each adapter module has ``patch(patches)`` (called once its framework is imported; it applies its patches to
``patches``, which are all restored if it fails half-way) and ``flush()``
(final decisions on everything it watches). Patching happens at most once per install.
"""
from __future__ import annotations

import importlib
import sys
import threading
from typing import Dict, List

import wrapt

from ..findings import LRGuardWarning
from .failopen import STATE, internal_error
from .patches import Patches

# framework module -> lrguard adapter module
ADAPTERS: Dict[str, str] = {
    "torch": "lrguard.integrations.torch",
    "keras": "lrguard.integrations.keras",  # Keras 3 (and tf.keras in TF >= 2.16), every backend
    "tf_keras": "lrguard.integrations.keras_legacy",  # legacy Keras 2 (TF_USE_LEGACY_KERAS=1)
}

_lock = threading.RLock()
_registered: set = set()
_active: Dict[str, Patches] = {}
_loaded: Dict[str, object] = {}
_deferred: Dict[str, object] = {}  # adapter -> its framework module, whose import ran while the adapter was half-built
_installed = False


def install() -> None:
    """Watch every supported framework, now if it is imported, else as soon as it is. Idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        STATE.stopped = False
        for target in ADAPTERS:
            if target not in _registered:
                _registered.add(target)
                wrapt.register_post_import_hook(_on_import, target)  # runs at once if already imported
            elif target in sys.modules:
                _on_import(sys.modules[target])


def uninstall() -> None:
    """Restore every patched method and remove every hook; ``install()`` re-arms."""
    global _installed
    with _lock:
        _installed = False
        for patches in _active.values():
            patches.restore()
        _active.clear()


def is_installed() -> bool:
    return _installed


def active() -> List[str]:
    """The frameworks lrguard is watching now."""
    return [target for target, adapter in ADAPTERS.items() if adapter in _active]


def flush() -> None:
    """Let every adapter read what it has pending and decide."""
    for adapter in list(_loaded.values()):
        try:
            adapter.flush()
        except LRGuardWarning:
            raise  # ``-W error::lrguard.LRGuardWarning``: the user asked for an exception
        except Exception as exc:
            internal_error(f"{adapter.__name__}.flush", exc)


def _on_import(module) -> None:
    with _lock:
        name = ADAPTERS.get(module.__name__)
        if not _installed or name is None or name in _active or STATE.stopped:
            return
        try:
            if name not in _loaded and _initializing(name):
                _deferred[name] = module  # the adapter's own import of its framework got here: see adapter_ready
                return
            adapter = _loaded.get(name) or importlib.import_module(name)
            _loaded[name] = adapter
            patches = Patches()
            try:
                adapter.patch(patches)
            except BaseException:
                patches.restore()  # half a patch is worse than none: nothing would ever restore it
                raise
            _active[name] = patches
        except Exception as exc:
            internal_error(f"installing {name}", exc)


def _initializing(name: str) -> bool:
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def adapter_ready(name: str) -> None:
    """Called by an adapter module as its last statement. ``import lrguard.integrations.torch`` before
    ``import torch`` runs torch's import hook from inside the adapter's own ``import torch``, while the adapter is
    half-built; the patching waits until here."""
    module = _deferred.pop(name, None)
    if module is not None:
        with _lock:
            _loaded[name] = sys.modules[name]
        _on_import(module)
