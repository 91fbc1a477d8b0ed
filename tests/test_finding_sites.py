"""A finding points at the bug and names it: the schedule function and its own line beside the scheduler's line,
the training epoch beside the scheduler's own count, messages read at a glance, and ``-W error`` raising at the
user's line rather than deep inside lrguard."""
import functools
import json
import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import lrguard
from lrguard.detection.detectors import Diagnosis, collapse, vanishing
from lrguard.detection.series import GradSample
from lrguard.detection.training import FunctionSite, Schedule, TrainingRun
from lrguard.findings import Finding, site_text
from lrguard.integrations.schedule_functions import function_site, function_sites, method_site
from lrguard.report import merge, process_part, summary_text

PACKAGE = Path(lrguard.__file__).resolve().parent
HERE = __file__


# -- naming a schedule function --------------------------------------------------------------------------
def keras_style_schedule(epoch, initial=1e-3):
    return initial * (10 - epoch) / 10


class Warmup:
    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / 5)

    def at(self, epoch):
        return 1.0


def _line(fn) -> int:
    return fn.__code__.co_firstlineno


def test_functions_are_named_as_code_at_their_own_line():
    schedule = lambda epoch: 0.9 ** epoch  # noqa: E731
    lam_line = sys._getframe().f_lineno - 1

    def nested(step):
        return 1.0

    @functools.wraps(keras_style_schedule)
    def decorated(*args, **kwargs):
        return keras_style_schedule(*args, **kwargs)

    assert function_site(keras_style_schedule) == FunctionSite(
        "def keras_style_schedule", (HERE, _line(keras_style_schedule)))
    assert function_site(schedule) == FunctionSite("lambda epoch: ...", (HERE, lam_line))
    assert function_site(lambda epoch, lr: lr).name == "lambda epoch, lr: ..."
    assert function_site(nested).name == "def nested"  # not test_...<locals>.nested
    assert function_site(functools.partial(keras_style_schedule, initial=0.1)) == FunctionSite(
        "def keras_style_schedule (in a functools.partial)", (HERE, _line(keras_style_schedule)))
    assert function_site(decorated).where == (HERE, _line(keras_style_schedule))  # the function it wraps
    assert function_site(Warmup().at) == FunctionSite("def Warmup.at", (HERE, _line(Warmup.at)))
    assert function_site(Warmup()) == FunctionSite("def Warmup.__call__", (HERE, _line(Warmup.__call__)))


def test_what_is_not_a_users_python_function_is_not_named():
    assert function_site(math.exp) is None  # a builtin: no source line
    assert function_site(Warmup) is None  # a class is not a schedule function
    assert function_site(None) is None and function_site(3) is None
    assert function_site(site_text) is None  # a framework's own function (lrguard counts as one)
    assert function_sites([math.exp, None]) == []
    assert function_sites([keras_style_schedule, math.exp])[1] is None  # per param group
    assert method_site(Warmup(), "at").name == "def Warmup.at" and method_site(Warmup(), "missing") is None


# -- the finding names it, beside the scheduler's line ---------------------------------------------------
def _run_with_two_functions() -> TrainingRun:
    run = TrainingRun("torch", ("/work/train.py", 10))
    run.set_bases([1e-3, 1e-3])
    run.step = 1
    run.observe_lrs([1e-3, 1e-6])
    schedule = Schedule("LambdaLR", "lambda", where=("/work/train.py", 12), functions=[
        FunctionSite("def healthy", ("/work/schedules.py", 3)),
        FunctionSite("lambda epoch: ...", ("/work/train.py", 11)),
    ])
    run.add_schedule(schedule)
    run.add_schedule(Schedule("StepLR", "builtin", where=("/work/train.py", 13)))  # built later
    return run, schedule


def test_a_finding_names_the_function_of_its_group_and_keeps_the_schedulers_line():
    run, schedule = _run_with_two_functions()
    lrguard.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        finding = run.report(Diagnosis("lambda-absolute-lr", "schedule-bug", "It returns lrs.", "Fix it.",
                                       group=1, schedule=schedule))
    lrguard.reset()
    assert (finding.where, finding.group) == ("/work/train.py:12", 1)  # the scheduler at fault, not the latest
    assert (finding.function, finding.function_where) == ("lambda epoch: ...", "/work/train.py:11")
    assert finding.message == (
        f"It returns lrs. The schedule function is `lambda epoch: ...` at {site_text(('/work/train.py', 11))}."
        " Fix it.")
    [warning] = caught
    assert (warning.filename, warning.lineno) == ("/work/train.py", 12)  # the warning stays at the scheduler's line
    assert "`lambda epoch: ...` at" in str(warning.message)


def test_a_finding_about_no_function_is_unchanged():
    run = TrainingRun("torch", ("/work/train.py", 10))
    run.set_bases([0.1])
    run.add_schedule(Schedule("StepLR", "builtin", where=("/work/train.py", 13)))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        finding = run.report(Diagnosis("lr-collapse", "schedule-bug", "It fell.", "Step per epoch."))
    lrguard.reset()
    assert finding.message == "It fell. Step per epoch." and finding.function is None
    assert finding.where == "/work/train.py:13" and finding.function_where is None


def test_finding_dicts_round_trip_old_and_new():
    new = Finding("lambda-absolute-lr", "schedule-bug", "error", "torch", "m", "f", step=1, epoch=0,
                  where="/w/t.py:12", group=0, function="def s", function_where="/w/s.py:3", scheduler_steps=0)
    assert Finding(**json.loads(json.dumps(new.to_dict()))) == new
    old = {k: v for k, v in new.to_dict().items() if k not in ("function", "function_where", "scheduler_steps")}
    assert Finding(**old).function is None and Finding(**old).scheduler_steps is None  # a report from before


# -- epochs: the training's, and the scheduler's own count by its name -------------------------------------
def test_summary_shows_the_training_epoch_and_the_schedulers_count_by_name():
    finding = Finding("lr-collapse", "schedule-bug", "error", "torch", "It fell. Fix.", "Fix.", step=124, epoch=3,
                      where=os.path.abspath("train.py") + ":20", group=0, scheduler_steps=31)
    text = summary_text(merge([process_part(runs=[], findings=[finding])]))
    assert "[lr-collapse] train.py:20, step 124, epoch 3, scheduler step 31" in text
    unknown = Finding(**{**finding.to_dict(), "epoch": None})
    text = summary_text(merge([process_part(runs=[], findings=[unknown])]))
    assert "step 124, scheduler step 31\n" in text and "epoch" not in text  # never the scheduler's count as an epoch


def test_the_training_epoch_comes_from_the_adapter_or_the_training_dataloader():
    run = TrainingRun("torch")
    assert run.training_epoch() is None  # no loader seen: unknown, not the scheduler's count
    run.scheduler_steps = 31
    for step in (0, 8, 16, 24):  # a DataLoader of 8 batches began 4 epochs, one optimizer step a batch
        run.epochs.start(key=1, length=8, step=step, schedules=[])
    assert run.training_epoch() == 3
    run.epoch = 5  # an adapter that knows (Keras' callbacks) has the last word
    assert run.training_epoch() == 5


def test_collapse_fix_counts_scheduler_steps_apart_from_epochs():
    run = TrainingRun("torch")
    run.set_bases([0.1])
    run.add_schedule(Schedule("StepLR", "builtin"))
    run.step, run.epoch, run.scheduler_steps = 124, 3, 124
    assert collapse._fix(run).startswith(
        "StepLR looks stepped every batch (124 scheduler steps for 124 optimizer steps in 4 training epochs)")
    run.scheduler_steps = 3  # stepped once per epoch: not the per-batch fix
    assert "stepped every batch" not in collapse._fix(run)


def test_vanishing_message_reads_at_a_glance():
    run = TrainingRun("torch")
    run.set_bases([0.01])
    run.step = 64
    run.observe_lrs([0.01])
    run.observe_losses([2.303 + 1e-4 * math.sin(i) for i in range(64)])
    for step in (16, 32, 64):
        run.observe_grads(GradSample(step, 7.7e-13, 0.2262, 5.0, 1.5, 1.2e-14, 3e-3))
    found = vanishing.check(run)
    assert "the first layer's gradients are 3.4e-12 x the last layer's (gradient norms 7.7e-13 vs 0.23;" in (
        found.message)
    assert "each step moves the first layer's weights by 1.2e-14 of their norm" in found.message
    run.observe_grads(GradSample(80, 7.7e-13, 0.2262, 5.0, 1.5, 0.0, 3e-3))  # float32 rounded the update away
    assert "a step leaves the first layer's weights unchanged" in vanishing.check(run).message


# -- the whole path, as a user runs it ---------------------------------------------------------------------
SCHEDULES = '''
def keras_style_schedule(epoch):
    return 1e-3 * (10 - epoch) / 10
'''

TRAIN = '''
import lrguard  # noqa: F401
import sys
import torch
from torch import nn
from schedules import keras_style_schedule


def fit(opt, params, scheduler, steps=8, per_batch=False):
    X, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    model = params
    for step in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()  # THE STEP
        if per_batch or step % 4 == 3:
            scheduler.step()


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


m = model()
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
fit(opt, m, torch.optim.lr_scheduler.LambdaLR(opt, keras_style_schedule))  # SCHEDULER A
if "--first-only" in sys.argv:
    sys.exit(0)

m = model()
opt = torch.optim.Adam([{"params": m[0].parameters()}, {"params": m[2].parameters()}], lr=1e-3)
healthy = lambda epoch: 0.9 ** epoch
absolute = (
    lambda epoch: 1e-3 * 0.9 ** epoch)  # ABSOLUTE LAMBDA
fit(opt, m, torch.optim.lr_scheduler.LambdaLR(opt, [healthy, absolute]))  # SCHEDULER B

m = model()
opt = torch.optim.SGD(m.parameters(), lr=0.1)
fit(opt, m, torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1), steps=48, per_batch=True)
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("project")
    (folder / "schedules.py").write_text(SCHEDULES)
    (folder / "train.py").write_text(TRAIN)
    return folder


def _line_of(path: Path, marker: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "default"}


def test_lrguard_run_names_each_function_at_its_line_in_warnings_summary_and_report(project):
    proc = subprocess.run([sys.executable, "-m", "lrguard", "run", "--report-json", "report.json", "train.py"],
                          cwd=project, capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    train, schedules = project / "train.py", project / "schedules.py"
    report = json.loads((project / "report.json").read_text())
    assert report["version"] == 1
    a, b, c = report["findings"]
    assert [a["id"], b["id"], c["id"]] == ["lambda-absolute-lr", "lambda-absolute-lr", "lr-collapse"]

    # A: a def in another module, named at its own line; the finding stays at the scheduler's line
    assert a["where"] == f"{train}:{_line_of(train, 'SCHEDULER A')}"
    assert (a["function"], a["function_where"]) == ("def keras_style_schedule", f"{schedules}:2")
    assert "The schedule function is `def keras_style_schedule` at schedules.py:2." in a["message"]
    summary = proc.stderr[proc.stderr.index("lrguard: 3 findings"):].replace("\n    ", " ")  # unwrapped
    assert "The schedule function is `def keras_style_schedule` at schedules.py:2." in summary
    assert f"train.py:{_line_of(train, 'SCHEDULER A')}: ScheduleBugWarning" in proc.stderr

    # B: two param groups, two lambdas: the finding names the group's own lambda, at the lambda's line
    assert b["group"] == 1 and b["function"] == "lambda epoch: ..."
    assert b["function_where"] == f"{train}:{_line_of(train, 'ABSOLUTE LAMBDA')}"

    # C: a per-epoch StepLR stepped every batch: the scheduler's count is not passed off as an epoch
    assert c["function"] is None and c["scheduler_steps"] >= 24
    assert c["epoch"] is None or c["epoch"] == 0  # the training epoch, or nothing where lrguard cannot count it
    assert f"scheduler step {c['scheduler_steps']}" in proc.stderr
    assert f"epoch {c['scheduler_steps']}" not in summary
    assert f"({c['scheduler_steps']} scheduler steps for {c['step']} optimizer steps" in c["fix"]
    assert all(Finding(**entry).to_dict() == entry for entry in report["findings"])


def test_w_error_raises_at_the_users_line_not_deep_inside_lrguard(project):
    proc = subprocess.run([sys.executable, "-W", "error::lrguard.LRGuardWarning", "train.py", "--first-only"],
                          cwd=project, capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == "Invalid -W option ignored: invalid module name: 'lrguard'"  # CPython's, documented
    frames = [line.strip() for line in lines if line.strip().startswith('File "')]
    files = [(project / f.split('"')[1]).resolve() for f in frames]
    user = max(i for i, f in enumerate(files) if f == (project / "train.py").resolve())
    source = {line.strip(): lines[i + 1] for i, line in enumerate(lines[:-1])}  # a frame -> its source line
    assert "# THE STEP" in source[frames[user]]
    below = files[user + 1:]
    ours = [f for f in below if PACKAGE in f.parents]
    assert len(ours) == 1 and below[-1] == ours[0], frames  # one line of lrguard's, the last, after torch's own
    assert all("torch" in f.parts for f in below[:-1]), frames
    assert "warn_explicit" not in proc.stderr
    error = next(i for i, line in enumerate(lines) if line.startswith("lrguard.ScheduleBugWarning: "))
    assert "[lambda-absolute-lr]" in lines[error] and "`def keras_style_schedule` at schedules.py:2" in lines[error]
    assert lines[error + 1].startswith(f"lrguard: a finding about your line train.py:{_line_of(project / 'train.py', 'SCHEDULER A')}")
    assert "--strict" in lines[error + 1]


def test_w_error_from_lrguard_findings_shows_only_the_callers_line():
    torch = pytest.importorskip("torch")
    lrguard.install()
    lrguard.reset()
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    X = torch.randn(8, 4)
    for _ in range(24):  # decided at the end (the last checkpoint was at step 16, before MIN_STEPS)
        opt.zero_grad()
        model(X).pow(2).mean().backward()
        opt.step()
        sched.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error", lrguard.LRGuardWarning)
        with pytest.raises(lrguard.ScheduleBugWarning, match="lr-collapse") as raised:
            lrguard.findings()
    lrguard.reset()
    tb, frames = raised.value.__traceback__, []
    while tb is not None:
        frames.append(Path(tb.tb_frame.f_code.co_filename).resolve())
        tb = tb.tb_next
    assert frames == [Path(HERE).resolve(), PACKAGE / "__init__.py"]  # the caller, then lrguard.findings itself
