"""Name a user's schedule function and find where it is defined, so that a finding can point at it.

``def warmup`` at ``train.py:5``, ``lambda epoch: ...`` at the lambda's own line, a ``functools.partial``'s
function, a bound method (``def Trainer.lr_at``), a callable object (its class's ``__call__``). Only attributes
are read (statically: no ``__getattr__`` of a user's class runs), the function is never called. Functions that
belong to a framework (transformers' own warmup lambdas, detectron2's multipliers) are not named: the line that
builds the scheduler is the user's code there.
"""
from __future__ import annotations

import inspect
import types
from functools import partial
from typing import Iterable, List, Optional

from ..detection.training import FunctionSite
from .callsite import FRAMEWORKS

UNWRAP = 8  # partials / __wrapped__ layers followed at most


def function_site(fn: object) -> Optional[FunctionSite]:
    """How to name ``fn`` and where it is defined; None for what is not a user's Python function. Never raises."""
    try:
        return _site(fn)
    except Exception:
        return None


def function_sites(functions: Optional[Iterable[object]]) -> List[Optional[FunctionSite]]:
    """``function_site`` of each function (one per param group); [] when none is a user's function."""
    try:
        sites = [function_site(f) for f in list(functions or ())]
    except Exception:
        return []
    return sites if any(sites) else []


def method_site(obj: object, name: str) -> Optional[FunctionSite]:
    """The site of ``type(obj).name`` (e.g. a custom scheduler's ``get_lr``) when a user's class defines it."""
    try:
        method = inspect.getattr_static(type(obj), name, None)
        if isinstance(method, types.FunctionType):
            return _site(types.MethodType(method, obj))
    except Exception:
        pass
    return None


def _site(fn: object) -> Optional[FunctionSite]:
    via = ""
    for _ in range(UNWRAP):
        if isinstance(fn, partial):
            fn, via = fn.func, " (in a functools.partial)"
        elif isinstance(fn, types.FunctionType) and "__wrapped__" in fn.__dict__:
            fn = fn.__dict__["__wrapped__"]  # a functools.wraps decorator: the user's function inside
        else:
            break
    owner = None
    if isinstance(fn, types.MethodType):
        owner, fn = type(fn.__self__), fn.__func__
    elif not isinstance(fn, types.FunctionType) and callable(fn) and not isinstance(fn, type):
        call = inspect.getattr_static(type(fn), "__call__", None)  # a callable object: its class's __call__
        if not isinstance(call, types.FunctionType):
            return None
        owner, fn = type(fn), call
    if not isinstance(fn, types.FunctionType) or _framework(fn):
        return None
    code = fn.__code__
    if fn.__name__ == "<lambda>":
        arguments = ", ".join(code.co_varnames[: code.co_argcount])
        name = f"lambda {arguments}: ..." if arguments else "lambda: ..."
    else:
        name = "def " + _qualified(fn, owner)
    return FunctionSite(name + via, (code.co_filename, code.co_firstlineno))


def _qualified(fn: types.FunctionType, owner: Optional[type]) -> str:
    qualname = str(getattr(fn, "__qualname__", "") or fn.__name__)
    qualname = qualname.rpartition("<locals>.")[2]  # a function defined inside a function: its own name
    if owner is not None and "." not in qualname:
        qualname = f"{owner.__name__}.{qualname}"
    return qualname


def _framework(fn: types.FunctionType) -> bool:
    module = fn.__globals__.get("__name__") or getattr(fn, "__module__", None) or ""
    return str(module).partition(".")[0] in FRAMEWORKS
