"""Wrap methods of framework classes in place with wrapt, and put the original objects back on ``restore()``.

A wrapper has wrapt's signature, ``wrapper(wrapped, instance, args, kwargs)``: it calls ``wrapped(*args,
**kwargs)`` (the original, already bound to ``instance``) and returns what it returns. ``wrapt.FunctionWrapper``
binds correctly for functions, methods, classmethods and staticmethods, and keeps the original's ``__name__``,
``__qualname__``, ``__doc__``, ``__module__``, ``__wrapped__`` and ``inspect.signature``. Name each wrapper for
what lrguard does there (``lrguard_observes_...``): it is the one frame lrguard adds to a traceback raised
inside the wrapped call (``hide_inner_wrappers`` where wrapped calls nest). A wrapper around a method that warns with
``stacklevel=2`` (its caller's line) runs the original through ``from_callers_line()``, so that the warning still
names the caller's line, not the wrapper.
"""
from __future__ import annotations

import copy
import os
import sys
import types
import weakref
from functools import lru_cache
from typing import Any, Callable, List, Tuple, Union

import wrapt

Wrapper = Callable[[Callable, Any, tuple, dict], Any]

_WRAPPER_CODES: set = set()  # the code of every wrapper ever applied (see hide_inner_wrappers)
_CALLER_LINES: "weakref.WeakSet[types.CodeType]" = weakref.WeakSet()  # codes made by from_callers_line
_WRAPT_DIR = os.path.dirname(wrapt.__file__) + os.sep  # as imported: the prefix of its code's file names
_CALL = (lambda wrapped, args, kwargs: wrapped(*args, **kwargs)).__code__  # one line: read at co_firstlineno


class _BoundWrapper(wrapt.BoundFunctionWrapper):
    """A wrapped method read on an instance or a class: pickled, copied and deep-copied as Python does a bound method
    (``getattr(instance, name)``) or a function read on its class (a reference): wrapt's proxies refuse all three."""

    __slots__ = ()

    def __reduce_ex__(self, protocol):
        instance = self._self_instance
        return getattr, (self._self_owner if instance is None else instance, self.__name__)

    def __reduce__(self):
        return self.__reduce_ex__(2)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        instance = self._self_instance
        return self if instance is None else getattr(copy.deepcopy(instance, memo), self.__name__)


class _Wrapper(wrapt.FunctionWrapper):
    """What ``Patches.wrap`` sets on a class or a module; pickled as a reference to ``owner.name``, as the original."""

    __slots__ = ()
    __bound_function_wrapper__ = _BoundWrapper

    def __reduce_ex__(self, protocol):
        owner = self._self_lrguard_owner
        if isinstance(owner, types.ModuleType):
            return self.__qualname__  # a module's function: pickled by its name, as Python pickles the original
        return getattr, (owner, self.__name__)

    def __reduce__(self):
        return self.__reduce_ex__(2)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class Patches:
    """The wrappers one adapter applied, and the hook handles it keeps, until ``restore()``."""

    def __init__(self) -> None:
        self._applied: List[Tuple[type, str, Any, bool]] = []
        self._handles: List[Any] = []

    def wrap(self, owner: Union[type, types.ModuleType], name: str, wrapper: Wrapper) -> None:
        """Replace ``owner.name`` by a ``wrapt.FunctionWrapper`` of it (``_Wrapper``) that calls ``wrapper``.

        For a class, the original is the raw class attribute (a function, ``classmethod`` or ``staticmethod``
        object), found on ``owner`` or the first base class that defines it, as Python's attribute lookup does; for
        a module, its function (called unbound: no wrapper is bound per call).
        """
        own = name in owner.__dict__
        for space in getattr(owner, "__mro__", (owner,)):
            if name in space.__dict__:
                original = space.__dict__[name]
                break
        else:
            raise AttributeError(f"{owner.__qualname__} has no attribute {name!r}")
        wrapped = _Wrapper(original, wrapper)
        wrapped._self_lrguard_owner = owner  # (on wrapt's proxy itself, for pickling: see _Wrapper)
        setattr(owner, name, wrapped)
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
            code = tb.tb_next.tb_frame.f_code
            if code in _WRAPPER_CODES or code in _CALLER_LINES:
                tb.tb_next = tb.tb_next.tb_next
            else:
                tb = tb.tb_next
    except Exception:  # a traceback Python would not let lrguard edit: left as it is
        pass


def from_callers_line() -> Callable[[Callable, tuple, dict], Any]:
    """``call(wrapped, args, kwargs)``, for the wrapper that calls this, to run its original from a frame that reads
    as the line that called the wrapper: that line's file, number and module globals.

    A ``warnings.warn(..., stacklevel=2)`` inside the original then names the user's line, and is filtered and
    de-duplicated for the user's module, exactly as without lrguard (called directly, it would name the wrapper).
    Call it in the wrapper itself (``from_callers_line()(wrapped, args, kwargs)``); ``hide_inner_wrappers`` leaves
    the frame it adds out of tracebacks.
    """
    try:
        caller = sys._getframe(2)  # 0: here, 1: the wrapper; wrapt's C wrappers add no frame, its Python ones do
        while caller.f_back is not None and caller.f_code.co_filename.startswith(_WRAPT_DIR):
            caller = caller.f_back
        return types.FunctionType(_call_at(caller.f_code.co_filename, caller.f_lineno), caller.f_globals)
    except Exception:  # no Python caller (called from C at the bottom of a thread): a plain call
        return _plain_call


def _plain_call(wrapped, args, kwargs):
    return wrapped(*args, **kwargs)


@lru_cache(maxsize=1024)
def _call_at(filename: str, lineno: int) -> types.CodeType:
    code = _CALL.replace(co_filename=filename, co_firstlineno=lineno, co_name="lrguard_calls_from_your_line")
    _CALLER_LINES.add(code)
    return code
