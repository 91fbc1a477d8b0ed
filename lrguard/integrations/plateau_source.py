"""What a ReduceLROnPlateau watches, by name: the expression the user's code passes to ``step()``
(``scheduler.step(val_acc)`` gives ``"val_acc"``), or the monitor a trainer passes it (Lightning's ``monitor``, the
HF Trainer's ``metric_for_best_model``, found among the locals of the trainer's frame that calls ``step``).

Read once per scheduler, at its first ``step``: the source is parsed (``ast``), never evaluated. Never raises.
"""
from __future__ import annotations

import ast
import linecache
from typing import Optional

from .callsite import FRAMEWORKS
from ..detection.detectors.plateau_mode import direction_of

MAX_FRAMES = 16
MAX_LENGTH = 80
MONITOR_LOCALS = ("monitor_key", "monitor", "metric_to_check", "metric_for_best_model")
_OURS = frozenset({"lrguard", "wrapt"})


def watched_name(frame) -> Optional[str]:
    """The name of the value given to ``step()``, from the frame that called it outward; None when unknown.

    The innermost name that says a direction wins (a user's ``def lr_step(self, metric): self.sched.step(metric)``
    is passed for its caller's trainer monitor); else the innermost name found.
    """
    first = None
    linked = True  # this frame's call passes the value on (the caller of step, or of a user function passing it)
    parameter = None  # (index, name) of the parameter the last user frame passed on to ``step``
    try:
        for _ in range(MAX_FRAMES):
            if frame is None:
                break
            top = (frame.f_globals.get("__name__") or "").partition(".")[0]
            name = None
            if top in FRAMEWORKS and top not in _OURS:
                name, linked = _monitor_local(frame), False
            elif top not in _OURS and linked:
                node = _argument(_call_of(frame), parameter)
                name = _text(node)
                parameter = _parameter_of(frame, node)
                linked = parameter is not None
            if name:
                if direction_of(name):
                    return name
                first = first or name
            frame = frame.f_back
    except Exception:
        pass
    return first


def _monitor_local(frame) -> Optional[str]:
    local = frame.f_locals
    for key in MONITOR_LOCALS:
        value = local.get(key)
        if isinstance(value, str) and value:
            return value[:MAX_LENGTH]
    return None


def _call_of(frame) -> Optional[ast.Call]:
    """The call this frame is making, parsed from its source (the exact span on Python >= 3.11)."""
    code = frame.f_code
    positions = getattr(code, "co_positions", None)
    if positions is not None and frame.f_lasti >= 0:
        for index, position in enumerate(positions()):
            if index == frame.f_lasti // 2:
                node = _call_at(code.co_filename, *position)
                if node is not None:
                    return node
                break
    return _step_call_on_line(code.co_filename, frame.f_lineno)


def _argument(call: Optional[ast.Call], parameter=None) -> Optional[ast.expr]:
    """The value ``step`` was given (its first argument), or, for a user function that passed its own parameter
    on to ``step``, what its caller gave for that parameter."""
    if call is None:
        return None
    if parameter is None:
        return call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "metrics"), None)
    index, name = parameter
    keyword = next((k.value for k in call.keywords if k.arg == name), None)
    if keyword is not None:
        return keyword
    if isinstance(call.func, ast.Attribute) and index > 0:
        index -= 1  # a method called on an object: ``self`` is not among the call's arguments
    return call.args[index] if index < len(call.args) and not any(
        isinstance(a, ast.Starred) for a in call.args[: index + 1]) else None


def _parameter_of(frame, node: Optional[ast.expr]):
    """(index, name) when ``node`` is one of this frame's function's own parameters, by name; else None."""
    if not isinstance(node, ast.Name):
        return None
    code = frame.f_code
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return (names.index(node.id), node.id) if node.id in names else None


def _text(node: Optional[ast.expr]) -> Optional[str]:
    if node is None:
        return None
    text = ast.unparse(node)
    return text if len(text) <= MAX_LENGTH else None


def _call_at(filename: str, line, end_line, column, end_column) -> Optional[ast.Call]:
    if None in (line, end_line, column, end_column):
        return None
    lines = linecache.getlines(filename)[line - 1: end_line]
    if not lines:
        return None
    if len(lines) == 1:
        text = lines[0].encode()[column:end_column].decode(errors="replace")
    else:
        text = lines[0].encode()[column:].decode(errors="replace") + "".join(lines[1:-1]) + \
            lines[-1].encode()[:end_column].decode(errors="replace")
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        try:
            node = ast.parse("(" + text.strip() + ")", mode="eval").body
        except SyntaxError:
            return None
    return node if isinstance(node, ast.Call) else None


def _step_call_on_line(filename: str, lineno: int) -> Optional[ast.Call]:
    """The one ``....step(x)`` call on the line (older Pythons, without instruction positions)."""
    line = linecache.getline(filename, lineno).strip()
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "step" and (n.args or n.keywords)]
    return calls[0] if len(calls) == 1 else None
