"""The report's framework-free parts: the bounded history, the run registry, run summaries, merging, JSON, text."""
import json
import math
import os
import random
import sys
import warnings

import pytest

from lrguard.findings import Finding
from lrguard.detection.history import History, Series
from lrguard.detection.registry import RunRegistry
from lrguard.report import merge, process_part, read_parts, run_summary, summary_text, to_json, write_atomic
from lrguard.detection.training import TrainingRun
from lrguard.detection.series import GradSample


def test_series_stays_bounded_and_even():
    series = Series(capacity=100)
    for step in range(1, 100_001):
        series.add(step, float(step))
    points = series.items()
    assert len(series) <= 100
    assert points[0][0] == 1 and points[-1] == (100_000, 100_000.0)  # the first and the latest are kept
    gaps = {b[0] - a[0] for a, b in zip(points[:-2], points[1:-1])}
    assert len(gaps) == 1, gaps  # even spacing after every halving


def test_series_keeps_sparse_changes_exactly():
    series = Series(capacity=100)
    for step in (1, 65, 129, 193):
        series.add(step, step)
    assert series.items() == [(1, 1), (65, 65), (129, 129), (193, 193)]


@pytest.mark.parametrize("gaps", [False, True], ids=["consecutive steps", "steps with gaps"])
def test_series_extend_is_add_after_add(gaps):
    """A batch (e.g. an lr changed every step, folded at a checkpoint) keeps the points adding one by one keeps,
    across halvings, with and without a conversion."""
    rng = random.Random(3)
    batched, reference = Series(capacity=16), Series(capacity=16)
    step = 0
    for _ in range(300):
        steps = []
        for _ in range(rng.choice([1, 2, 7, 40, 256])):
            step += rng.choice([1, 1, 3]) if gaps else 1
            steps.append(step)
        values = [s * 0.5 for s in steps]
        convert = rng.choice([None, lambda v: (v,)])
        batched.extend(steps, values, convert=convert)
        for s, v in zip(steps, values):
            reference.add(s, v if convert is None else convert(v))
        assert (batched.items(), batched.spacing) == (reference.items(), reference.spacing)
        step += rng.choice([0, 0, 5])  # now and then a gap between two batches


def test_history_spreads_a_checkpoint_batch_of_losses_over_its_steps():
    history = History()
    history.add_losses(1, [2.0])
    history.add_losses(9, [1.0, float("nan"), 0.5, 0.25, 0.125])
    assert [s for s, _ in history.loss.items()] == [1, 3, 5, 7, 9]
    data = history.to_dict()
    json.dumps(data, allow_nan=False)


def test_history_json_has_no_nan():
    history = History()
    history.add_lrs(1, [1e-3, float("nan"), None])
    history.add_grad_ratio(2, math.inf)
    data = history.to_dict()
    assert data["lr"] == [[1, [1e-3, None, None]]]
    assert data["grad_ratio"] == [[2, None]]


def test_registry_is_bounded_and_keeps_runs_with_findings():
    registry = RunRegistry(limit=3)

    class R:
        def __init__(self, findings=()):
            self.findings = list(findings)

    flagged = R(["x"])
    registry.add(flagged)
    runs = [R() for _ in range(10)]
    for run in runs:
        registry.add(run)
    kept = registry.runs()
    assert len(kept) == 3 and flagged in kept and kept[-1] is runs[-1]
    assert registry.dropped == 8


def _run_with_a_life() -> TrainingRun:
    run = TrainingRun("torch", ("/tmp/train.py", 12))
    run.name = "Adam"
    run.set_bases([1e-3, 1e-2])
    for step in range(1, 201):
        run.step = step
        if step == 1 or step % 50 == 0:
            run.observe_lrs([1e-6 * 0.5 ** (step // 50), 1e-5])
        if step % 20 == 0:
            run.observe_losses([2.3 - step * 1e-4] * 4)
            run.observe_grads(GradSample(step, 1.0, 2.0, 1.0, 1.0))
    return run


def test_run_summary_is_plain_json():
    run = _run_with_a_life()
    summary = run.summary()
    json.dumps(summary, allow_nan=False)
    assert summary["optimizer"] == "Adam" and summary["framework"] == "torch"
    assert summary["where"] == "/tmp/train.py:12" and summary["steps"] == 200
    g0, g1 = summary["groups"]
    assert g0["base_lr"] == 1e-3 and g0["first"] == 1e-6 and g0["max"] == 1e-6
    assert g0["min"] == pytest.approx(1e-6 / 16) and g0["last"] == pytest.approx(1e-6 / 16)
    assert g1["min"] == g1["max"] == g1["last"] == 1e-5
    assert summary["loss"]["first"] == pytest.approx(2.298) and summary["loss"]["last"] == pytest.approx(2.28)
    assert summary["history"]["lr"][0] == [1, [1e-6, 1e-5]]
    assert summary["history"]["grad_ratio"][0] == [20, 0.5]
    assert run_summary(run) == summary


def test_a_run_outlives_its_optimizer_in_the_registry():
    torch = pytest.importorskip("torch")
    import gc

    import lrguard
    from lrguard.detection.registry import RUNS

    lrguard.install()
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(torch.ones(4, 2)).sum().backward()
        opt.step()
    run = RUNS.runs()[-1]
    del opt, model
    gc.collect()
    assert run in RUNS.runs() and run.summary()["steps"] == 3 and run.summary()["optimizer"] == "SGD"


def _finding(id_="lambda-absolute-lr", where="/tmp/train.py:14", group=0, step=1) -> Finding:
    return Finding(id=id_, category="schedule-bug", severity="error", framework="torch",
                   message="The real lr is 1e-06. Return a multiplier.", fix="Return a multiplier.",
                   step=step, epoch=0, lr=1e-6, base_lr=1e-3, where=where, group=group)


def test_merge_deduplicates_findings_across_processes_and_keeps_every_run():
    run = _run_with_a_life()
    part = process_part([run], [_finding()], main=True)
    child = {**process_part([run], [_finding(step=3)], main=False), "pid": 99999, "rank": 1}
    report = merge([part, child], command=["train.py"], exit_status=0)
    assert report["version"] == 1 and report["command"] == ["train.py"] and report["exit_status"] == 0
    assert len(report["findings"]) == 1 and Finding(**report["findings"][0]) == _finding()
    assert [(r["pid"], r["rank"]) for r in report["runs"]] == [(os.getpid(), part["rank"]), (99999, 1)]
    assert [p["main"] for p in report["processes"]] == [True, False]
    json.loads(to_json(report))


def test_read_parts_skips_what_it_cannot_read(tmp_path):
    good = process_part([], [_finding()], main=False)
    (tmp_path / "child-1.json").write_bytes(to_json(good))
    (tmp_path / "child-2.json").write_text("{not json")
    (tmp_path / "other.json").write_text("{}")
    parts = read_parts(str(tmp_path))
    assert len(parts) == 1 and parts[0]["findings"][0]["id"] == "lambda-absolute-lr"
    assert read_parts(str(tmp_path / "missing")) == []


def test_summary_text_gives_each_finding_with_its_fix():
    report = merge([process_part([_run_with_a_life()], [_finding()])])
    text = summary_text(report)
    assert text.startswith("lrguard: 1 finding (watched 1 optimizer (torch), 200 steps):")
    assert "[lambda-absolute-lr]" in text and "step 1" in text
    assert "    The real lr is 1e-06." in text and "    fix: Return a multiplier." in text


def test_summary_text_without_findings_says_what_was_watched():
    report = merge([process_part([_run_with_a_life()], [])])
    assert summary_text(report) == "lrguard: watched 1 optimizer (torch), 200 steps: no findings\n"
    empty = merge([process_part([], [])])
    assert summary_text(empty).startswith("lrguard: watched no optimizer")


def test_write_atomic_replaces_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    write_atomic(str(path), b'{"version": 1}\n')
    assert path.read_text() == '{"version": 1}\n'
    assert os.listdir(tmp_path) == ["report.json"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_warning_options_naming_lrguard_are_applied(monkeypatch):
    """Python ignores -W error::lrguard.LRGuardWarning (it reads -W before site-packages); import lrguard applies it."""
    import lrguard
    from lrguard import warnoptions

    monkeypatch.setattr(sys, "warnoptions", ["error::lrguard.LRGuardWarning", "ignore::DeprecationWarning",
                                             "bogus:::", "i::lrguard.NoSuchWarning"])
    monkeypatch.setattr(warnoptions, "_applied", False)
    with warnings.catch_warnings():
        warnoptions.apply()
        assert warnings.filters[0][:3] == ("error", None, lrguard.LRGuardWarning)
        assert not any(f[2] is DeprecationWarning and f[0] == "ignore" for f in warnings.filters[:1])
        with pytest.raises(lrguard.ScheduleBugWarning):
            warnings.warn("x", lrguard.ScheduleBugWarning)


def test_the_plot_draws_groups_gaps_and_findings():
    pytest.importorskip("matplotlib")
    from lrguard.plot import render

    run = _run_with_a_life()
    run.observe_lrs([float("nan"), 1e-5])  # a gap in group 0
    run.findings.append(_finding(step=50))
    report = merge([process_part([run], [_finding(step=50)])])
    png = render(report)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    empty = render(merge([process_part([], [])]))
    assert empty[:8] == b"\x89PNG\r\n\x1a\n"
