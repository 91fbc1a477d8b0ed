"""Wrap methods of framework classes in place with wrapt, and put the original objects back on ``restore()``.

A wrapper has wrapt's signature, ``wrapper(wrapped, instance, args, kwargs)``: it calls ``wrapped(*args,
**kwargs)`` (the original, already bound to ``instance``) and returns what it returns. ``wrapt.FunctionWrapper``
binds correctly for functions, methods, classmethods and staticmethods, and keeps the original's ``__name__``,
``__qualname__``, ``__doc__``, ``__module__``, ``__wrapped__`` and ``inspect.signature``. Name each wrapper for
what lrguard does there (``lrguard_observes_...``): it is the one frame lrguard adds to a traceback raised
inside the wrapped call (``hide_inner_wrappers`` where wrapped calls nest).
"""
from __future__ import annotations

from typing import Any, Callable, List, Tuple

import wrapt

Wrapper = Callable[[Callable, Any, tuple, dict], Any]

_WRAPPER_CODES: set = set()  # the code of every wrapper ever applied (see hide_inner_wrappers)


class Patches:
    """The wrappers one adapter applied, and the hook handles it keeps, until ``restore()``."""

    def __init__(self) -> None:
        self._applied: List[Tuple[type, str, Any, bool]] = []
        self._handles: List[Any] = []

    def wrap(self, owner: type, name: str, wrapper: Wrapper) -> None:
        """Replace ``owner.name`` by a ``wrapt.FunctionWrapper`` of it that calls ``wrapper``.

        The original is the raw class attribute (a function, ``classmethod`` or ``staticmethod`` object), found
        on ``owner`` or the first base class that defines it, as Python's attribute lookup does.
        """
        own = name in owner.__dict__
        for cls in owner.__mro__:
            if name in cls.__dict__:
                original = cls.__dict__[name]
                break
        else:
            raise AttributeError(f"{owner.__qualname__} has no attribute {name!r}")
        setattr(owner, name, wrapt.FunctionWrapper(original, wrapper))
        code = getattr(wrapper, "__code__", None)
        if code is not None:
            _WRAPPER_CODES.add(code)
        self._applied.append((owner, name, original, own))

    def keep(self, handle: Any) -> None:
        """Keep a removable hook handle (anything with ``.remove()``) to remove on ``restore()``."""
        self._handles.append(handle)

    def restore(self) -> None:
        """Remove every kept handle and put every original back: an inherited attribute is deleted again."""
        for handle in reversed(self._handles):
            handle.remove()
        self._handles.clear()
        for owner, name, original, own in reversed(self._applied):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self._applied.clear()


def argument(args: tuple, kwargs: dict, position: int, name: str, default: Any = None) -> Any:
    """The wrapped call's argument ``name`` (at ``position`` after ``self``), as the original will bind it."""
    return args[position] if len(args) > position else kwargs.get(name, default)


def hide_inner_wrappers(exc: BaseException) -> None:
    """Unlink the frames of lrguard's wrappers below the current one from the traceback of ``exc``.

    For a wrapper whose wrapped call runs other wrapped calls (a scheduler's ``__init__`` runs its first
    ``step()``): ``except BaseException as exc: hide_inner_wrappers(exc); raise`` leaves one frame of lrguard's in
    the user's traceback, this wrapper's own. Never raises.
    """
    try:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            if tb.tb_next.tb_frame.f_code in _WRAPPER_CODES:
                tb.tb_next = tb.tb_next.tb_next
            else:
                tb = tb.tb_next
    except Exception:  # a traceback Python would not let lrguard edit: left as it is
        pass
