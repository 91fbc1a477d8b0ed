"""The Keras examples run as a user runs them (``python examples/keras_X.py``) and show what the README says."""
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(name):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    code = "import runpy, sys; sys.stderr = sys.stdout; runpy.run_path(sys.argv[1], run_name='__main__')"
    return subprocess.run([sys.executable, "-c", code, str(EXAMPLES / name)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_keras_multiplier_bug_warns_in_the_first_epoch_at_the_callback_line():
    proc = run("keras_multiplier_bug.py")
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = proc.stdout
    assert ("ScheduleBugWarning: [keras-multiplier] LearningRateScheduler's schedule returns multipliers"
            " (schedule(0) = 1.0) but Keras uses the value as the learning rate itself: the optimizer's lr went"
            " from 0.001 to 1.0. The schedule function is `def lr_scheduler` at examples/keras_multiplier_bug.py:28."
            " Return the lr (e.g. 0.001 * (10 - epoch) / 10).") in out
    line = next(l for l in out.splitlines() if "ScheduleBugWarning" in l)
    lineno = int(line.split(":")[1])
    assert "LearningRateScheduler(" in (EXAMPLES / "keras_multiplier_bug.py").read_text().splitlines()[lineno - 1]
    assert out.index("[keras-multiplier]") < out.index("Epoch 1:")  # during the first epoch
    assert "lrguard findings: ['keras-multiplier']" in out


def test_keras_seed_is_quiet_and_decays_the_lr_as_written():
    proc = run("keras_seed.py")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Warning" not in proc.stdout and "lrguard findings: []" in proc.stdout
    assert "Epoch 1: learning rate = 0.00099999" in proc.stdout
    assert "Epoch 10: learning rate = 9.9999e-05" in proc.stdout
