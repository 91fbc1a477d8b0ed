"""``lrguard run --plot``: a PNG of each watched run from the report: the real lr per param group (log axis)
against the lr the code asked for, the loss, the first/last-layer gradient ratio, and each finding where it was
raised. Needs matplotlib (``pip install 'lrguard[plot]'``); pyplot's global state is left alone.
"""
from __future__ import annotations

import importlib.util
import io
from typing import Any, Dict, List, Optional

MISSING = "--plot needs matplotlib, which is not installed: pip install 'lrguard[plot]' (or: pip install matplotlib)"
MAX_RUNS = 8  # runs drawn; a report with more draws those with findings first, then the longest


def available() -> bool:
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def _label(run: Dict[str, Any], many: bool) -> str:
    where = str(run.get("where") or "").rsplit("/", 1)[-1]
    label = f"{run.get('optimizer')}" + (f" @ {where}" if where else "")
    if run.get("rank") is not None:
        label += f" rank {run['rank']}"
    elif many and run.get("pid") is not None:
        label += f" pid {run['pid']}"
    return label


def _chosen(runs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    runs = [r for r in runs if r.get("steps")]
    ranked = sorted(runs, key=lambda r: (not r.get("findings"), -int(r.get("steps") or 0)))
    keep = {id(r) for r in ranked[:MAX_RUNS]}
    return [r for r in runs if id(r) in keep]


def render(report: Dict[str, Any], title: Optional[str] = None) -> bytes:
    """The PNG bytes of the report's plot. Raises ImportError if matplotlib is missing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = _chosen(report.get("runs", []))
    fig = Figure(figsize=(10, 9), dpi=100)
    FigureCanvasAgg(fig)
    ax_lr, ax_loss, ax_grad = fig.subplots(3, 1, sharex=True)
    colors = [f"C{i}" for i in range(10)]
    color_index = 0
    many = len({r.get("pid") for r in runs}) > 1
    marked = set()  # (id, step): a finding several ranks raised is marked once
    for run in runs:
        history = run.get("history") or {}
        last_step = int(run.get("steps") or 0)
        label = _label(run, many)
        groups = run.get("groups") or []
        lr_points = history.get("lr") or []
        n_groups = max([len(lrs) for _, lrs in lr_points] + [len(groups)] + [0])
        run_colors = []
        for g in range(n_groups):
            color = colors[color_index % len(colors)]
            color_index += 1
            run_colors.append(color)
            steps, values = [], []
            for step, lrs in lr_points:
                value = lrs[g] if g < len(lrs) else None
                steps.append(max(step, 1))
                values.append(value if value is not None and value > 0 else float("nan"))
            if steps and last_step > steps[-1]:
                steps.append(last_step)
                values.append(values[-1])
            group_label = f"{label} group {g}" if n_groups > 1 else label
            if steps:
                ax_lr.plot(steps, values, drawstyle="steps-post", color=color, label=f"{group_label}: real lr")
            base = groups[g].get("base_lr") if g < len(groups) else None
            if base and base > 0:
                ax_lr.axhline(base, color=color, linestyle=":", linewidth=1, label=f"{group_label}: base lr (asked for)")
        color = run_colors[0] if run_colors else colors[color_index % len(colors)]
        loss = [(s, v) for s, v in history.get("loss") or [] if v is not None]
        if loss:
            ax_loss.plot([s for s, _ in loss], [v for _, v in loss], color=color, linewidth=1, label=label)
        grad = [(s, v) for s, v in history.get("grad_ratio") or [] if v is not None and v > 0]
        if grad:
            ax_grad.plot([s for s, _ in grad], [v for _, v in grad], color=color, marker=".", label=label)
        for finding in run.get("findings") or []:
            step = finding.get("step")
            if step is None or (finding.get("id"), step) in marked:
                continue
            marked.add((finding.get("id"), step))
            for ax in (ax_lr, ax_loss, ax_grad):
                ax.axvline(step, color="crimson", linestyle="--", linewidth=1)
            ax_lr.annotate(f"{finding.get('id')} (step {step})", xy=(step, 1), xycoords=("data", "axes fraction"),
                           xytext=(3, -3), textcoords="offset points", va="top", ha="left", fontsize=8,
                           color="crimson", rotation=0)
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate (log)")
    ax_loss.set_ylabel("loss")
    ratios = [v for line in ax_grad.get_lines() for v in line.get_ydata() if v > 0]
    if ratios and max(ratios) / min(ratios) > 20:
        ax_grad.set_yscale("log")
    ax_grad.set_ylabel("grad norm ratio\nfirst / last layer")
    ax_grad.set_xlabel("optimizer step")
    for ax in (ax_lr, ax_loss, ax_grad):
        if ax.get_yscale() == "linear":
            ax.ticklabel_format(axis="y", useOffset=False)  # a flat loss shows as the numbers it is
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    if not runs:
        ax_lr.text(0.5, 0.5, "no optimizer step was watched", transform=ax_lr.transAxes, ha="center")
    findings = report.get("findings") or []
    ids = ", ".join(sorted({str(f.get("id")) for f in findings})) or "no findings"
    fig.suptitle(title or f"lrguard: {ids}", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
