"""Security: lrguard evaluates no text from its inputs, opens no network connection, starts no process and
writes no file the user did not ask for.

Two checks: the source (every module of lrguard: no eval/exec/compile but the one ``lrguard run`` uses to run the
program the user names, no network, process, pickle or marshal module), and a watched training in a fresh
interpreter with an audit hook (PEP 578) that records every network, process, code-execution and file-writing
event raised while one of lrguard's frames is on the stack: there must be none, and no file may appear in the
working folder, the home folder or the temporary folder.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from reliability_support import run_python

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "lrguard").rglob("*.py")) + [ROOT / "lrguard_pytest.py"]

EVALUATING = {"eval", "exec", "compile", "literal_eval", "__import__", "execfile", "run_path", "run_module"}
# lrguard/pyrunner.py: ``lrguard run SCRIPT`` compiles and runs the program the user names on the command line,
# as ``python SCRIPT`` does; that is its job, not text taken from a training's inputs.
ALLOWED = {("pyrunner.py", "exec"), ("pyrunner.py", "compile")}
# lrguard/children.py: multiprocessing.util's after-fork and finalizer registries (a child's report at exit);
# it starts no process.
ALLOWED_IMPORTS = {("children.py", "multiprocessing")}
FORBIDDEN_MODULES = {"socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp", "urllib3", "ftplib",
                     "smtplib", "telnetlib", "poplib", "imaplib", "nntplib", "xmlrpc", "socketserver", "asyncio",
                     "websocket", "websockets", "webbrowser", "subprocess", "pty", "multiprocessing", "pickle",
                     "cPickle", "dill", "cloudpickle", "marshal", "shelve", "yaml", "ctypes"}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name:
                yield name, node.lineno


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.partition(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0], node.lineno


def test_sources_were_found():
    assert len(SOURCES) > 10 and (ROOT / "lrguard" / "integrations" / "torch.py") in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_eval_exec_network_or_process_in_the_source(path):
    tree = ast.parse(path.read_text(), str(path))
    evaluating = [(name, line) for name, line in _calls(tree)
                  if name in EVALUATING and (path.name, name) not in ALLOWED]
    assert not evaluating, f"{path.name} evaluates code: {evaluating}"
    imports = [(module, line) for module, line in _imports(tree)
               if module in FORBIDDEN_MODULES and (path.name, module) not in ALLOWED_IMPORTS]
    assert not imports, f"{path.name} imports {imports}"
    # getattr(builtins, "eval") and friends, and textual uses the AST walk above would not name
    text = path.read_text()
    assert not re.search(r"""getattr\(\s*builtins\s*,\s*['"](eval|exec|compile)['"]""", text), path.name
    assert not re.search(r"^\s*(import|from)\s+(socket|urllib|http|requests|subprocess)\b", text, re.M), path.name
    assert not re.search(r"\bos\.(system|popen|exec\w*|spawn\w*|fork|posix_spawn\w*)\s*\(", text), path.name


AUDIT = r'''
import os, sys

EVENTS = []
NETWORK = ("socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "telnetlib.", "imaplib.", "poplib.",
           "nntplib.", "webbrowser.", "ssl.")
PROCESS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
           "os.startfile", "pty.spawn", "os.kill")
FILES = ("os.remove", "os.rename", "os.replace", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.link",
         "os.symlink", "shutil.", "os.utime")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


STDLIB = set(sys.stdlib_module_names) | {"_frozen_importlib", "_frozen_importlib_external"}


def ours():
    """Is lrguard's code the one doing this? The innermost frame outside the standard library decides (lrguard's
    import hook sits outside a framework's whole import: what the framework does there is the framework's)."""
    frame = sys._getframe(2)
    while frame is not None:
        module = (frame.f_globals.get("__name__") or "").partition(".")[0]
        if module not in STDLIB and not frame.f_code.co_filename.startswith("<frozen"):
            return module == "lrguard"
        frame = frame.f_back
    return False


def hook(event, args):
    if event == "open":
        path, mode, flags = (list(args) + [None, None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS)
        flagged = bool(writing)
    elif event == "exec":
        code, caller = args[0], sys._getframe(1).f_globals.get("__name__")
        name = getattr(code, "co_filename", "")
        # a module's code (an import), or the methods the standard library writes for a dataclass or namedtuple
        flagged = not (name.startswith("<frozen") or (name.endswith(".py") and os.path.exists(name))
                       or caller in ("dataclasses", "collections"))
    else:
        flagged = event.startswith(NETWORK) or event.startswith(PROCESS) or event.startswith(FILES) or event in (
            "pickle.find_class", "marshal.load")  # (marshal.loads: every import of a cached .pyc)
    if flagged and ours():
        EVENTS.append([event, repr(args)[:200]])


sys.addaudithook(hook)
import json, warnings
warnings.simplefilter("always")
import lrguard
'''

TORCH_TRAINING = '''
import torch
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1e-3 * 0.95 ** e)
scaler = torch.amp.GradScaler("cpu")
for epoch in range(8):
    for _ in range(10):
        opt.zero_grad()
        scaler.scale(model(torch.randn(8, 4)).pow(2).mean()).backward()
        scaler.step(opt)
        scaler.update()
    sched.step()
found = [f.to_dict() for f in lrguard.findings()]
'''

KERAS_TRAINING = '''
import numpy as np
import keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
model.fit(np.random.rand(32, 4), np.random.rand(32, 2), epochs=2, verbose=0,
          callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: 1.0 / (1 + epoch))])
found = [f.to_dict() for f in lrguard.findings()]
'''

DONE = '''
print("AUDIT" + json.dumps({"events": EVENTS, "found": sorted({f["id"] for f in found})}))
'''


def _run_in_fresh_folders(root: Path, code: str, disable: bool):
    """Run ``code`` with its own working, home and temporary folders; (its result, the files it left there)."""
    work, home, tmp = root / "work", root / "home", root / "tmp"
    for folder in (work, home, tmp):
        folder.mkdir(parents=True)
    env = {"HOME": str(home), "TMPDIR": str(tmp), "KERAS_BACKEND": "tensorflow"}
    if disable:
        env["LRGUARD_DISABLE"] = "1"
    proc = run_python(code, env=env, cwd=str(work))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("AUDIT"))[5:])
    return result, sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_watched_training_opens_no_connection_runs_nothing_and_writes_nothing(framework, tmp_path):
    if framework == "keras":
        pytest.importorskip("keras")
    code = AUDIT + (TORCH_TRAINING if framework == "torch" else KERAS_TRAINING) + DONE
    result, created = _run_in_fresh_folders(tmp_path / "lrguard", code, disable=False)
    assert result["found"] == (["lambda-absolute-lr"] if framework == "torch" else ["keras-multiplier"]), result
    assert result["events"] == []
    plain, plain_created = _run_in_fresh_folders(tmp_path / "plain", code, disable=True)
    assert plain["found"] == []
    assert created == plain_created  # (Keras caches matplotlib's fonts under ~/.cache by itself)
    if framework == "torch":
        assert created == []
