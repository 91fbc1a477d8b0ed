"""``lrguard run``: the program runs exactly as under ``python``; the summary, --report-json, --plot, --strict."""
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LRGUARD = [sys.executable, "-m", "lrguard"]
CONSOLE_SCRIPT = Path(sys.executable).with_name("lrguard")

TINY_TRAINING = '''
import sys
import torch
from torch import nn


def train(absolute=True, steps=40):
    torch.manual_seed(0)
    X, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    schedule = (lambda epoch: 1e-3 * 0.9 ** epoch) if absolute else (lambda epoch: 0.9 ** epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    for step in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        if step % 10 == 9:
            scheduler.step()


if __name__ == "__main__":
    train(absolute="--healthy" not in sys.argv)
    print("trained", flush=True)
    if "--exit" in sys.argv:
        sys.exit(int(sys.argv[sys.argv.index("--exit") + 1]))
'''

INTROSPECT = '''
import json, sys


def annotated(x: int): pass


main = sys.modules["__main__"]
print(json.dumps({
    "name": __name__, "argv": sys.argv, "path0": sys.path[0], "file": __file__, "spec": __spec__ and [__spec__.name, __spec__.origin, __spec__.parent],
    "package": __package__, "main_is_module": main.__dict__ is globals(), "annotations": repr(annotated.__annotations__),
    "loader": type(__loader__).__name__, "cached": globals().get("__cached__"),
}))
'''


def run(args, cwd, env=None, timeout=240, python=False):
    command = [sys.executable, *args] if python else [*LRGUARD, *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def scripts(tmp_path):
    (tmp_path / "tiny_train.py").write_text(TINY_TRAINING)
    (tmp_path / "introspect.py").write_text(INTROSPECT)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(INTROSPECT)
    (pkg / "__main__.py").write_text(INTROSPECT)
    return tmp_path


def test_a_script_runs_exactly_as_under_python(scripts):
    work = scripts / "elsewhere"
    work.mkdir()
    args = ["../introspect.py", "a", "--strict", "-q", "--report-json", "x"]  # options after SCRIPT are its own
    plain = run(args, work, python=True)
    guarded = run(["run", *args], work)
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert json.loads(guarded.stdout) == json.loads(plain.stdout)
    seen = json.loads(guarded.stdout)
    assert seen["argv"] == args and seen["name"] == "__main__" and seen["main_is_module"]
    assert seen["path0"] == str(scripts) and seen["file"] == os.path.join(str(work), "../introspect.py")
    assert seen["annotations"] == "{'x': <class 'int'>}"  # lrguard's own __future__ imports do not leak
    assert not (work / "x").exists()


@pytest.mark.parametrize("module", ["pkg.mod", "pkg"])
def test_a_module_runs_exactly_as_under_python_m(scripts, module):
    plain = run(["-m", module, "a", "-q", "--plot", "p.png"], scripts, python=True)
    guarded = run(["run", "-m", module, "a", "-q", "--plot", "p.png"], scripts)
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert json.loads(guarded.stdout) == json.loads(plain.stdout)
    seen = json.loads(guarded.stdout)
    assert seen["path0"] == str(scripts) and seen["argv"][1:] == ["a", "-q", "--plot", "p.png"]
    assert seen["package"] == "pkg" and seen["name"] == "__main__"
    assert not (scripts / "p.png").exists()


def test_exit_status_message_and_traceback_are_pythons(scripts):
    (scripts / "exit3.py").write_text("import sys\nsys.exit(3)\n")
    (scripts / "exit_message.py").write_text("import sys\nsys.exit('bye now')\n")
    (scripts / "boom.py").write_text("def inner():\n    raise ValueError('boom')\n\n\ninner()\n")
    assert run(["run", "exit3.py"], scripts).returncode == 3
    message = run(["run", "exit_message.py"], scripts)
    assert message.returncode == 1 and message.stderr.startswith("bye now\n")
    plain = run(["boom.py"], scripts, python=True)
    guarded = run(["run", "boom.py"], scripts)
    assert plain.returncode == guarded.returncode == 1
    assert guarded.stderr.startswith(plain.stderr), guarded.stderr  # then lrguard's one-line summary
    assert "lrguard" not in plain.stderr and "click" not in guarded.stderr and "pyrunner.py" not in guarded.stderr


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_ends_the_process_by_sigint_after_the_atexit_handlers(scripts):
    (scripts / "interrupted.py").write_text(textwrap.dedent("""
        import atexit, os, signal, time
        atexit.register(lambda: print("atexit ran", flush=True))
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    """))
    plain = run(["interrupted.py"], scripts, python=True)
    guarded = run(["run", "interrupted.py"], scripts)
    assert plain.returncode == guarded.returncode == -signal.SIGINT
    assert guarded.stdout == plain.stdout == "atexit ran\n"
    assert guarded.stderr.startswith(plain.stderr) and "KeyboardInterrupt" in plain.stderr
    assert "lrguard: watched no optimizer" in guarded.stderr


def test_what_cannot_be_run(scripts):
    missing = run(["run", "missing.py"], scripts)
    assert missing.returncode == 2 and "can't open file" in missing.stderr and "missing.py" in missing.stderr
    no_module = run(["run", "-m", "no_such_module_here"], scripts)
    assert no_module.returncode == 1 and "No module named no_such_module_here" in no_module.stderr
    assert "lrguard: watched" not in no_module.stderr  # the program did not run: no summary
    usage = run(["run"], scripts)
    assert usage.returncode == 2 and "Missing SCRIPT" in usage.stderr
    folder = run(["run", "--report-json", "no/such/folder/r.json", "introspect.py"], scripts)
    assert folder.returncode == 2 and "does not exist" in folder.stderr and folder.stdout == ""


def test_version_help_and_the_console_script(scripts):
    from lrguard import __version__

    version = subprocess.run([str(CONSOLE_SCRIPT), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"lrguard {__version__}"
    assert run(["run", "--version"], scripts).stdout.strip() == f"lrguard {__version__}"
    help_ = run(["run", "--help"], scripts)
    assert help_.returncode == 0
    for word in ("SCRIPT [ARGS]...", "-m MODULE [ARGS]...", "--report-json", "--plot", "--strict", "--quiet"):
        assert word in help_.stdout
    ok = subprocess.run([str(CONSOLE_SCRIPT), "run", "introspect.py", "x"], cwd=scripts, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["argv"] == ["introspect.py", "x"]


def _png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_seed_bug_report_plot_and_strict(tmp_path):
    """The acceptance check: examples/seed_bug.py under lrguard run, with every output."""
    out = tmp_path / "out"
    out.mkdir()
    proc = run(["run", "--strict", "--report-json", str(out / "report.json"), "--plot", str(out / "lr.png"),
                str(ROOT / "examples" / "seed_bug.py")], tmp_path, timeout=600)
    assert proc.returncode == 3, proc.stderr  # --strict: the program succeeded, lrguard found the bug
    assert "Epoch 10/10" in proc.stdout
    assert proc.stderr.count("ScheduleBugWarning: [lambda-absolute-lr]") == 1  # the warning, once
    assert "lrguard: 1 finding (watched 1 optimizer (torch), 640 steps):" in proc.stderr
    assert "fix: Return a multiplier" in proc.stderr
    assert sorted(os.listdir(out)) == ["lr.png", "report.json"]  # written atomically, nothing else

    report = json.loads((out / "report.json").read_text())
    assert report["version"] == 1 and report["exit_status"] == 0
    (finding,) = report["findings"]
    assert finding["id"] == "lambda-absolute-lr" and finding["category"] == "schedule-bug"
    assert finding["where"].endswith("seed_bug.py:34") and finding["lr"] == pytest.approx(1e-6)
    assert set(finding) == {"id", "category", "severity", "framework", "message", "fix", "step", "epoch", "lr",
                            "base_lr", "where", "group"}
    (summary,) = report["runs"]
    assert summary["framework"] == "torch" and summary["optimizer"] == "Adam" and summary["steps"] == 640
    assert summary["schedulers"] == ["LambdaLR"] and summary["where"].endswith("seed_bug.py:32")
    (group,) = summary["groups"]
    assert group["base_lr"] == 1e-3 and group["max"] == pytest.approx(1e-6) and group["last"] == pytest.approx(1e-7)
    assert summary["loss"]["first"] > 2 and summary["loss"]["last"] > 2
    assert [f["id"] for f in summary["findings"]] == ["lambda-absolute-lr"]
    assert len(summary["history"]["lr"]) == 10 and summary["history"]["loss"] and summary["history"]["grad_ratio"]
    width, height = _png_size(out / "lr.png")
    assert width >= 600 and height >= 600


def test_a_healthy_run_says_what_was_watched_and_strict_passes(scripts):
    proc = run(["run", "--strict", "tiny_train.py", "--healthy"], scripts)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.endswith("lrguard: watched 1 optimizer (torch), 40 steps: no findings\n"), proc.stderr
    quiet = run(["run", "-q", "tiny_train.py"], scripts)
    assert quiet.returncode == 0 and "lrguard:" not in quiet.stderr.replace("[lambda-absolute-lr]", "")
    assert "ScheduleBugWarning" in quiet.stderr  # -q silences the summary, not the warnings


def test_strict_keeps_the_programs_own_failure(scripts):
    proc = run(["run", "--strict", "tiny_train.py", "--exit", "5"], scripts)
    assert proc.returncode == 5 and "[lambda-absolute-lr]" in proc.stderr
    lenient = run(["run", "tiny_train.py"], scripts)
    assert lenient.returncode == 0 and "lrguard: 1 finding" in lenient.stderr


def test_plot_without_matplotlib_says_how_to_get_it_before_running(scripts):
    code = "import sys; sys.modules['matplotlib'] = None; from lrguard.cli import main; main(prog_name='lrguard')"
    proc = run(["-c", code, "run", "--plot", "p.png", "tiny_train.py"], scripts, python=True)
    assert proc.returncode == 2 and "pip install 'lrguard[plot]'" in proc.stderr
    assert "trained" not in proc.stdout and not (scripts / "p.png").exists()


def test_lrguard_disable_runs_the_program_unwatched(scripts):
    proc = run(["run", "--strict", "tiny_train.py"], scripts, env={"LRGUARD_DISABLE": "1"})
    assert proc.returncode == 0 and "trained" in proc.stdout
    assert "Warning" not in proc.stderr and "lrguard: disabled" in proc.stderr


def test_w_error_makes_the_seed_bug_an_error_under_plain_python():
    """Python reads -W before site-packages is importable; ``import lrguard`` applies the option itself."""
    proc = run(["-W", "error::lrguard.LRGuardWarning", str(ROOT / "examples" / "seed_bug.py")], ROOT, python=True)
    assert proc.returncode == 1
    assert "lrguard.findings.ScheduleBugWarning: [lambda-absolute-lr]" in proc.stderr
    assert "Epoch 1/10" not in proc.stdout  # it stopped at the first step
