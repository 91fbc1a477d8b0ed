"""The examples run as a user runs them (``python examples/X.py``) and show what the README promises."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(name):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, env=env, timeout=300)


def test_seed_bug_warns_in_the_first_epoch_at_the_scheduler_line():
    # unbuffered, stdout and stderr into one pipe: the lines come in the order the program wrote them
    proc = subprocess.run([sys.executable, "-u", str(EXAMPLES / "seed_bug.py")], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                          timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out
    assert "ScheduleBugWarning: [lambda-absolute-lr]" in out
    assert "the real lr is 1e-06 (base_lr**2)" in out
    line = next(l for l in out.splitlines() if "ScheduleBugWarning" in l)
    lineno = int(line.split(":")[1])
    assert "LambdaLR(" in (EXAMPLES / "seed_bug.py").read_text().splitlines()[lineno - 1]
    # during the first epoch: the training's own "Epoch 1/10" line comes after the warning
    assert out.index("[lambda-absolute-lr]") < out.index("Epoch 1/10")
    assert "Epoch 10/10" in out


def test_seed_fixed_is_quiet():
    proc = run("seed_fixed.py")
    assert proc.returncode == 0, proc.stderr
    assert "lrguard" not in proc.stderr and "Warning" not in proc.stderr


@pytest.mark.parametrize("disable", ["1", "true"])
def test_lrguard_disable_silences_the_seed_bug(disable):
    """The seed bug's first epoch (where lrguard warns, see above), with lrguard disabled."""
    code = "import runpy, sys; runpy.run_path(sys.argv[1])['train'](epochs=1)"
    env = {**os.environ, "LRGUARD_DISABLE": disable}
    proc = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "seed_bug.py")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0 and "Epoch 1/1" in proc.stdout, proc.stderr
    assert "lambda-absolute-lr" not in proc.stderr


def test_vanishing_gradients_example_is_not_called_a_schedule_bug():
    proc = run("vanishing_gradients.py")
    assert proc.returncode == 0, proc.stderr
    assert "VanishingGradientWarning: [vanishing-gradients]" in proc.stderr
    assert "ScheduleBug" not in proc.stderr
    assert "vanishing-gradients - vanishing-gradients" in proc.stdout
