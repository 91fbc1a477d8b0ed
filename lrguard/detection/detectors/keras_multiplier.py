"""``keras-multiplier``: a Keras schedule returns PyTorch-style multipliers where Keras wants the lr itself.

Keras' ``LearningRateScheduler`` sets the optimizer's lr to whatever ``schedule(epoch)`` (or
``schedule(epoch, lr)``) returns, so a multiplier such as ``(10 - epoch) / 10`` turns an lr of 0.001 into 1.0
and training blows up. The evidence is the schedule's outputs (``Schedule.probes`` of family "absolute",
recorded as Keras applies them), so the verdict comes in the first epoch, before any batch.

A value is a multiplier, not an lr, when it is ~1 (0.5 to 1.0) and at least 10x the optimizer's own lr, or when
it jumps >= 100x over that lr to a value no lr of that optimizer would take (>= 0.1). Warmups from a tiny
optimizer lr (1e-6 -> 1e-3) stay below that; an optimizer built with lr >= 0.5 is left alone.
"""
from __future__ import annotations

import ast
import math
from typing import List, Optional

from . import Diagnosis, fmt

ID = "keras-multiplier"

MULTIPLIER_LOW, MULTIPLIER_HIGH = 0.5, 1.0  # ~1: what a multiplier looks like at its peak
OVER_BASE = 10.0  # ... and that many times the optimizer's lr
JUMP = 100.0  # or this many times the optimizer's lr ...
JUMP_FLOOR = 0.1  # ... up to a value at least this large
BIG_BASE = 0.5  # an optimizer built with an lr this large is not judged


def looks_multiplier(value: float, base: float) -> bool:
    """Is ``value``, set as the lr of an optimizer built with ``base``, a multiplier rather than an lr?"""
    if not (math.isfinite(value) and value > 0 and 0 < base < BIG_BASE):
        return False
    near_one = MULTIPLIER_LOW <= value <= MULTIPLIER_HIGH * (1 + 1e-6) and value >= OVER_BASE * base
    return near_one or (value >= JUMP * base and value >= JUMP_FLOOR)


def check(run) -> Optional[Diagnosis]:

    for schedule in run.schedules:
        if schedule.family != "absolute" or not schedule.probes:
            continue
        for group, values in enumerate(schedule.probes[: len(run.groups)]):
            base = run.groups[group].base
            hit = next((i for i, v in enumerate(values) if looks_multiplier(v, base)), None)
            if hit is None:
                continue
            epoch = schedule.probe_epochs[hit] if hit < len(schedule.probe_epochs) else hit
            value = values[hit]
            groups = f" (optimizer {group})" if len(run.groups) > 1 else ""
            return Diagnosis(
                ID, "schedule-bug",
                f"{schedule.kind}'s schedule returns multipliers (schedule({epoch}) = {_num(value)}) but Keras uses"
                f" the value as the learning rate itself: the optimizer's lr{groups} went from {fmt(base)} to"
                f" {_num(value)}.",
                f"Return the lr (e.g. {_example(schedule.source, base, values, schedule.probe_epochs)}).",
                group=group, schedule=schedule,
            )
    return None


def _num(value: float) -> str:
    """1.0 stays '1.0' (it reads as the multiplier it is); others as ``fmt``."""
    text = fmt(value)
    return text if any(c in text for c in ".en") else text + ".0"


def _example(source: Optional[str], base: float, values: List[float], epochs: List[int]) -> str:
    scaled = _scaled(source, base) if source else None
    if scaled:
        return scaled
    shown = ", ".join(fmt(base * v) for v in values[:3])
    return f"{fmt(base)} * the multiplier: {shown}, ..."


def _scaled(source: str, base: float) -> Optional[str]:
    """``source`` times the base lr, written the way a user would: '0.001 * (10 - epoch) / 10'."""
    try:
        expr = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    # Put the base lr at the left end of a product/quotient chain: a * b / c -> base * a * b / c
    # (a leading number is scaled instead: 1.0 * (10 - epoch) / 10 -> 0.001 * (10 - epoch) / 10).
    parent, node = None, expr
    while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        parent, node = node, node.left
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        left = ast.Constant(float(fmt(base * node.value)))
    else:
        left = ast.BinOp(ast.Constant(float(fmt(base))), ast.Mult(), node)
    if parent is None:
        return ast.unparse(left)
    parent.left = left
    return ast.unparse(expr)
