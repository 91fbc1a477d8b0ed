"""Reading a PyTorch schedule ahead of time, without touching the user's objects or the program's state.

A LambdaLR's functions are called at a few epochs; a custom ``LRScheduler``'s ``get_lr`` runs on a *shadow*: a
new instance of its class with a shallow copy of its state and copies of the param groups, stepped as ``step()``
would (so closed forms and chainable forms both read right). Only code that looks free of side effects is run:
no stores to globals, closures, attributes or items, no in-place tensor ops, no logging, no random draws (a probe
must not consume the user's RNG stream), checked in the function's bytecode and, a few levels deep, in the Python
functions it calls. Whatever is not clearly safe is not probed (the detectors then wait for the real lrs).
``print`` is allowed (a Keras habit: the schedule prints the lr it returns) where the probe can silence stdout
for its few milliseconds: while it is the only Python thread.
"""
from __future__ import annotations

import builtins
import contextlib
import dis
import io
import math
import sys
import threading
import time
import types
import warnings
from functools import partial
from typing import List, Optional, Tuple

_STORES = {"STORE_GLOBAL", "DELETE_GLOBAL", "STORE_ATTR", "DELETE_ATTR", "STORE_SUBSCR", "DELETE_SUBSCR",
           "STORE_SLICE", "DELETE_SLICE", "SETUP_WITH", "BEFORE_WITH"}
# Names whose use means output, state changes or random draws (attribute and global names alike).
_EFFECTS = {
    "input", "open", "exec", "eval", "compile", "setattr", "delattr", "globals", "vars", "__import__",
    "breakpoint", "next", "send", "throw", "sleep",
    "append", "extend", "insert", "pop", "popleft", "popitem", "remove", "clear", "update", "add", "discard",
    "setdefault", "appendleft", "sort", "reverse", "write", "writelines", "flush", "put", "put_nowait",
    "info", "debug", "warning", "warn", "error", "exception", "critical", "add_scalar", "add_scalars",
    "step", "zero_grad", "backward", "load_state_dict", "save", "load", "dump",
    "random", "rand", "randn", "randint", "randrange", "uniform", "gauss", "choice", "choices", "shuffle",
    "seed", "manual_seed", "permutation", "default_rng", "bernoulli", "multinomial",
}
DEPTH = 3  # how deep the check follows the Python functions a function calls
SHADOW_STEPS = 4096  # a shadow scheduler is stepped one epoch at a time: at most this far (~10 ms)


def _code_pure(code: types.CodeType, free: frozenset, prints: bool = False) -> bool:
    if any(name in _EFFECTS or (name.endswith("_") and not name.startswith("_")) for name in code.co_names):
        return False  # an effect by name; a trailing underscore is an in-place tensor op (add_, mul_)
    if "print" in code.co_names and (not prints or any(isinstance(c, tuple) and "file" in c for c in code.co_consts)):
        return False  # output (print(..., file=f) writes where silencing stdout does not reach)
    for ins in dis.get_instructions(code):
        if ins.opname in _STORES:
            return False
        if ins.opname == "IMPORT_NAME" and ins.argval not in sys.modules:
            return False  # importing a module for the first time runs it
        if ins.opname in ("STORE_DEREF", "DELETE_DEREF") and ins.argval in code.co_freevars:
            return False  # assigns a variable of an enclosing function (``nonlocal``)
    return all(_code_pure(c, free, prints) for c in code.co_consts if isinstance(c, types.CodeType))


def pure(fn, owner: Optional[type] = None, depth: int = DEPTH, _seen: Optional[set] = None,
         prints: bool = False) -> bool:
    """Does calling ``fn`` look free of side effects? ``owner``: a class whose methods ``fn`` may call;
    ``prints``: printing to stdout does not count (the caller silences it)."""
    seen = _seen if _seen is not None else set()
    while isinstance(fn, partial):
        if not all(_plain_value(a) for a in (*fn.args, *fn.keywords.values())):
            return False
        fn = fn.func
    if isinstance(fn, types.MethodType):
        owner = owner or type(fn.__self__)
        fn = fn.__func__
    if isinstance(fn, types.BuiltinFunctionType):
        return fn.__name__ not in _EFFECTS
    if not isinstance(fn, types.FunctionType):
        return False
    if fn in seen:
        return True
    seen.add(fn)
    code = fn.__code__
    if code.co_flags & (0x20 | 0x80 | 0x200):  # generator, coroutine, async generator
        return False
    if not _code_pure(code, frozenset(code.co_freevars), prints):
        return False
    if depth <= 0:
        return True
    # The Python functions it may call: globals, closure cells, and the owner's methods, by the names it uses.
    scope = dict(zip(code.co_freevars, (_cell(c) for c in fn.__closure__ or ())))
    for name in _all_names(code):
        target = scope.get(name, fn.__globals__.get(name, getattr(builtins, name, None)))
        if target is None and owner is not None:
            target = getattr(owner, name, None)
        if isinstance(target, (types.FunctionType, types.MethodType, partial)) and not pure(
            target, owner, depth - 1, seen, prints
        ):
            return False
    return True


def _callable_pure(value, depth: int = DEPTH, prints: bool = False) -> bool:
    """Is calling ``value`` (a function, or an object with a ``__call__``, as detectron2's multipliers are)
    free of side effects, as far as the bytecode shows? Non-callables are data: True."""
    if isinstance(value, (list, tuple)):
        return depth > 0 and all(_callable_pure(v, depth - 1, prints) for v in value)
    if not callable(value) or isinstance(value, type):
        return True
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType, partial)):
        return pure(value, prints=prints)
    call = getattr(type(value), "__call__", None)
    attributes = getattr(value, "__dict__", None)
    if depth <= 0 or not isinstance(call, types.FunctionType) or attributes is None:
        return False  # a callable lrguard cannot read (a C extension type, a module with hooks)
    return pure(call, owner=type(value), prints=prints) and all(
        _callable_pure(v, depth - 1, prints) for v in attributes.values()
    )


def _all_names(code: types.CodeType) -> set:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _all_names(const)
    return names


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _plain_value(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def number(value) -> Optional[float]:
    """A float, or None for a non-number."""
    if type(value) is float:
        return value
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


_QUIET = threading.Lock()


@contextlib.contextmanager
def quiet(stdout: bool = False):
    """Silence the warnings a probe's calls may raise without touching other threads' warnings: the process-wide
    filters are swapped (``warnings.catch_warnings``, which is not thread-safe) only while this is the only Python
    thread, or where warnings are context-local (Python 3.14's ``context_aware_warnings``); numpy's floating-point
    warnings (``np.errstate``, context-local) are silenced always. ``stdout``: also silence stdout, only while
    this is the only Python thread. Yields whether stdout is silenced."""
    with contextlib.ExitStack() as stack:
        numpy = sys.modules.get("numpy")
        if numpy is not None and hasattr(numpy, "errstate"):
            stack.enter_context(numpy.errstate(all="ignore"))
        alone = threading.active_count() == 1 or getattr(sys.flags, "context_aware_warnings", False)
        silenced = False
        if alone and _QUIET.acquire(blocking=False):
            stack.callback(_QUIET.release)
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore")
            if stdout and threading.active_count() == 1:
                stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
                silenced = True
        yield silenced


def probe_functions(functions, epochs: List[int], seconds: float) -> Tuple[List[int], List[List[float]]]:
    """Each function's values at ``epochs`` (as far as each answers quickly, with numbers), if all look pure."""
    if not functions or not all(pure(f, prints=True) for f in functions):
        return [], []
    prints = not all(pure(f) for f in functions)
    tables = []
    deadline = time.perf_counter() + seconds
    with quiet(stdout=prints) as silenced:
        if prints and not silenced:
            return [], []
        for fn in functions:
            values = []
            for epoch in epochs:
                try:
                    value = number(fn(epoch))
                except Exception:
                    break
                if value is None or time.perf_counter() > deadline:
                    break
                values.append(value)
            tables.append(values)
    n = min(len(t) for t in tables)
    return epochs[:n], [t[:n] for t in tables]


def phase_epochs(epochs: List[int], span: int) -> List[int]:
    """The probe epochs of a schedule that drives the lr for ``span`` epochs (a SequentialLR phase): ``epochs``
    before its end, its last epoch, and the first epoch after it (where a ramp written as ``s / span`` ends)."""
    return sorted({e for e in epochs if e < span} | {max(span - 1, 0), max(span, 0)})


class _ShadowOptimizer:
    """What a ``get_lr`` may read of its optimizer: copies of the param groups, the defaults."""

    def __init__(self, param_groups: list, defaults: dict) -> None:
        self.param_groups = param_groups
        self.defaults = defaults


def probe_scheduler(sched, base_class: type, epochs: List[int], seconds: float) -> Tuple[List[int], List[List[float]]]:
    """A custom scheduler's lr / base_lr per param group at ``epochs`` (counted from its current epoch), from a
    shadow stepped up to ``max(epochs)`` (at most ``SHADOW_STEPS``) times; ([], []) where that is not clearly safe."""
    cls = type(sched)
    get_lr = getattr(cls, "get_lr", None)
    state = getattr(sched, "__dict__", None)
    if (get_lr is None or get_lr is getattr(base_class, "get_lr", None) or getattr(cls, "step", None)
            is not getattr(base_class, "step", None) or state is None or "__slots__" in vars(cls)):
        return [], []  # no closed per-epoch rule to read, or a step() of its own
    others = [v for k, v in state.items() if k != "optimizer"]  # what get_lr may call through self
    if not (pure(get_lr, owner=cls, prints=True) and _callable_pure(others, prints=True)):
        return [], []
    prints = not (pure(get_lr, owner=cls) and _callable_pure(others))
    optimizer = state.get("optimizer")
    groups = getattr(optimizer, "param_groups", None)
    bases = [number(b) for b in state.get("base_lrs") or ()]
    if not groups or len(bases) != len(groups) or not all(b is not None and b > 0 for b in bases):
        return [], []
    if not all(type(g.get("lr")) in (float, int) for g in groups):
        return [], []  # tensor lrs: a copy would share them
    shadow = object.__new__(cls)
    shadow.__dict__.update(state)
    shadow_groups = [dict(g) for g in groups]
    shadow.optimizer = _ShadowOptimizer(shadow_groups, dict(getattr(optimizer, "defaults", {})))
    shadow._get_lr_called_within_step = True
    start = int(state.get("last_epoch", 0))
    wanted = set(epochs)
    tables: List[List[float]] = [[number(g["lr"]) / b for g, b in zip(groups, bases)]]
    kept = [0]
    deadline = time.perf_counter() + seconds
    with quiet(stdout=prints) as silenced:
        if prints and not silenced:
            return [], []
        for offset in range(1, min(max(epochs), SHADOW_STEPS) + 1):
            shadow.last_epoch = start + offset
            shadow._step_count = state.get("_step_count", 0) + offset
            try:
                values = list(shadow.get_lr())
            except Exception:
                break
            numbers = [number(v) for v in values]
            if len(values) != len(groups) or any(v is None for v in numbers) or time.perf_counter() > deadline:
                break
            for group, value in zip(shadow_groups, values):
                group["lr"] = value
            shadow._last_lr = list(values)
            if offset in wanted:
                tables.append([v / b for v, b in zip(numbers, bases)])
                kept.append(offset)
            if any(not math.isfinite(v) or v < 0 for v in numbers):
                break
    by_group = [[row[g] for row in tables] for g in range(len(groups))]
    return [start + k for k in kept], by_group
