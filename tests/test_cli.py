"""``lrguard run``: the program runs exactly as under ``python``; the summary, --report-json, --plot, --strict."""
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zipfile
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
                            "base_lr", "where", "group", "function", "function_where", "scheduler_steps"}
    assert finding["function"] == "def lr_scheduling" and finding["function_where"].endswith("seed_bug.py:23")
    assert "The schedule function is `def lr_scheduling` at " in finding["message"]
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
    quiet = run(["run", "--strict", "-q", "tiny_train.py"], scripts)
    assert quiet.returncode == 3  # and one line says why, even with -q
    assert [line for line in quiet.stderr.splitlines() if line.startswith("lrguard:")] == [
        "lrguard: exit status 3 (--strict): 1 finding"], quiet.stderr
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
    assert "lrguard.ScheduleBugWarning: [lambda-absolute-lr]" in proc.stderr
    assert "Epoch 1/10" not in proc.stdout  # it stopped at the first step


def test_misuse_is_named_before_anything_runs(scripts):
    plain = run(["-m"], scripts, python=True)
    guarded = run(["run", "-m"], scripts)
    assert plain.returncode == guarded.returncode == 2
    assert plain.stderr.startswith("Argument expected for the -m option")
    assert "Error: Argument expected for the -m option" in guarded.stderr
    for option in ("--plot", "--report-json"):
        for args in ([option], ["-q", f"{option}="]):
            proc = run(["run", *args], scripts)
            assert proc.returncode == 2 and f"Error: {option} needs a path: {option} PATH" in proc.stderr, proc.stderr
    took = run(["run", "--plot", "introspect.py"], scripts)  # the script was taken as the plot's path
    assert took.returncode == 2 and "Missing SCRIPT (or -m MODULE); --plot took 'introspect.py' as its PATH" in took.stderr


def test_an_app_folder_and_a_zip_app_run_exactly_as_under_python(scripts):
    app = scripts / "app"
    app.mkdir()
    (app / "helper.py").write_text("")
    (app / "__main__.py").write_text("import helper  # beside __main__.py: the app is sys.path[0]\n" + INTROSPECT)
    with zipfile.ZipFile(scripts / "app.pyz", "w") as zipped:
        for name in ("helper.py", "__main__.py"):
            zipped.write(app / name, name)
    (scripts / "empty").mkdir()
    (scripts / "broken.py").write_text("def broken(:\n    pass\n")
    for target in ("app", "./app/", "app.pyz", str(scripts / "app.pyz")):
        plain = run([target, "a", "-q"], scripts, python=True)
        guarded = run(["run", target, "a", "-q"], scripts)
        assert plain.returncode == guarded.returncode == 0, guarded.stderr
        assert json.loads(guarded.stdout) == json.loads(plain.stdout)
    seen = json.loads(guarded.stdout)
    assert seen["loader"] == "zipimporter" and seen["path0"] == str(scripts / "app.pyz") and seen["package"] == ""
    for target, words in (("empty", "can't find '__main__' module in"), ("broken.py", "SyntaxError")):
        plain = run([target], scripts, python=True)
        guarded = run(["run", target], scripts)
        assert plain.returncode == guarded.returncode == 1 and words in plain.stderr
        assert guarded.stderr == plain.stderr  # Python's own words, no summary: the program did not run


TERMINATED = """
import atexit, os, signal, sys, time
atexit.register(lambda: print("atexit ran", flush=True))
if "--train" in sys.argv:
    import tiny_train
    tiny_train.train(steps=12)
    print("trained", flush=True)
if "--fork" in sys.argv:
    child = os.fork()
    if child == 0:  # a forked child dies by SIGTERM at once, as under plain Python
        time.sleep(30)
        os._exit(0)
    os.kill(child, signal.SIGTERM)
    _, status = os.waitpid(child, 0)
    print("child", os.WIFSIGNALED(status) and os.WTERMSIG(status), flush=True)
if "--chain" in sys.argv:  # a handler that chains to the one it replaces, as Lightning's does
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        print("the program's handler", flush=True)
        if callable(previous):
            previous(signum, frame)
        sys.exit(7)

    signal.signal(signal.SIGTERM, handler)
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
finally:
    print("finally ran", flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_prints_what_was_seen_cleans_up_and_ends_by_sigterm(scripts):
    (scripts / "terminated.py").write_text(TERMINATED)
    tmp = scripts / "tmp"
    tmp.mkdir()
    report = scripts / "report.json"
    plain = run(["terminated.py", "--fork"], scripts, python=True)
    guarded = run(["run", "--report-json", str(report), "terminated.py", "--train", "--fork"], scripts,
                  env={"TMPDIR": str(tmp)})
    assert plain.returncode == guarded.returncode == -signal.SIGTERM, guarded.stderr
    assert plain.stdout == f"child {int(signal.SIGTERM)}\n"  # no finally, no atexit
    assert guarded.stdout == "trained\n" + plain.stdout
    assert "lrguard: terminated by SIGTERM; until then:\nlrguard: 1 finding (watched 1 optimizer" in guarded.stderr
    assert json.loads(report.read_text())["exit_status"] == 128 + signal.SIGTERM
    assert not list(tmp.glob("lrguard-run-*"))  # its temporary folder went too
    # the program's own handler, chaining to the one it replaced: the program goes on, as under plain Python
    plain = run(["terminated.py", "--chain"], scripts, python=True)
    guarded = run(["run", "terminated.py", "--chain"], scripts, env={"TMPDIR": str(tmp)})
    assert plain.returncode == guarded.returncode == 7, guarded.stderr
    assert guarded.stdout == plain.stdout
    assert plain.stdout == "the program's handler\nfinally ran\natexit ran\n"
    assert "lrguard: watched no optimizer" in guarded.stderr and not list(tmp.glob("lrguard-run-*"))

