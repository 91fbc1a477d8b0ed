"""The expression a small schedule function returns, as source text, so that a fix can quote the user's code.

``lambda epoch: (10 - epoch) / 10`` gives ``"(10 - epoch) / 10"``; a ``def`` whose body is a few assignments and
one ``return`` gives the returned expression. Anything else (branches, loops, callables without source) gives
None. The source is parsed (``ast``), never evaluated.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from typing import Optional

MAX_LENGTH = 80  # longer expressions are not quoted
LOOK_BACK, LOOK_AHEAD = 4, 10  # lines around a lambda searched for the statement that holds it


def returned_expression(fn) -> Optional[str]:
    """The source text of what ``fn`` returns, if it is one short expression; else None. Never raises."""
    try:
        code = getattr(fn, "__code__", None)
        if code is None or not isinstance(getattr(fn, "__name__", None), str):
            return None
        node = _lambda_body(code) if fn.__name__ == "<lambda>" else _def_return(fn)
        if node is None:
            return None
        text = ast.unparse(node)
        return text if len(text) <= MAX_LENGTH else None
    except Exception:
        return None


def _lambda_body(code) -> Optional[ast.expr]:
    lines = linecache.getlines(code.co_filename)
    first = code.co_firstlineno
    if not lines or first > len(lines):
        return None
    names = list(code.co_varnames[: code.co_argcount])
    for start in range(first, max(first - LOOK_BACK, 1) - 1, -1):
        for end in range(first, min(first + LOOK_AHEAD, len(lines)) + 1):
            tree = _parse("".join(lines[start - 1: end]))
            if tree is None:
                continue
            found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno + start - 1 == first
                     and [a.arg for a in n.args.args] == names]
            if len(found) == 1:
                return found[0].body
            if found:
                return None  # two lambdas alike on one line: do not guess
    return None


def _parse(text: str) -> Optional[ast.Module]:
    for candidate in (textwrap.dedent(text), "(\n" + text.strip() + "\n)"):
        try:
            return ast.parse(candidate)
        except SyntaxError:
            continue
    return None


def _def_return(fn) -> Optional[ast.expr]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs:
        return None
    body = list(defs[0].body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the docstring
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        return None
    if not all(isinstance(s, (ast.Assign, ast.AnnAssign)) for s in body[:-1]):
        return None
    return body[-1].value
