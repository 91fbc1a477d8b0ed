"""Real Keras training scripts (CPU, generated data), each declaring what lrguard must find.

Keras 3 on TensorFlow: one script of each kind of the acceptance set as its harness runs it (``python -c "import
lrguard; runpy.run_path(script)"``, one process each), the others one after the other in one process; scored like
the PyTorch set: the right id for each bug, no finding of the other category, nothing at all for healthy runs.
Keras 3 on torch (``KERAS_BACKEND=torch``) and legacy Keras 2 (``tf_keras``, ``TF_USE_LEGACY_KERAS=1``) run a
subset of the same scripts in one process per backend (TensorFlow and torch are slow to import), with the
framework imported *before* lrguard.
"""
import json
import os
import subprocess
import sys

import pytest

from scenario_runner import SCENARIOS, category_of, expected, run_scenario

SCRIPTS = sorted((SCENARIOS / "keras").glob("*.py"))
# the kinds of the acceptance set run one process each, as the harness runs them; the rest share one process
ONE_EACH = ["seed_fixed", "bug_multiplier", "collapse_compounding_factor", "collapse_compounding_inverse",
            "vanishing_deep_sigmoid", "healthy_docs_schedule", "healthy_plateau_beside_schedule",
            "healthy_step_schedule"]
SHARED = [s.stem for s in SCRIPTS if s.stem not in ONE_EACH]
# one of each kind for the other backends (Keras 3 on torch runs a step several times slower: fewer there)
TORCH_BACKEND = ["bug_multiplier", "collapse_compounding_factor", "vanishing_deep_sigmoid",
                 "healthy_plateau_beside_schedule"]
TF_KERAS = TORCH_BACKEND + ["collapse_compounding_inverse", "seed_fixed", "collapse_schedule_object_per_step"]


def check(script, findings, stderr):
    want = expected(script)
    got = {f["id"] for f in findings}
    if not want:
        assert not findings, f"{script.name}: healthy run produced findings: {[f['message'] for f in findings]}"
        return
    assert want <= got, f"{script.name}: expected {want}, got {got}: {[f['message'] for f in findings]}"
    wrong = {category_of(i) for i in got} - {category_of(i) for i in want}
    assert not wrong, f"{script.name}: finding of the wrong category: {got}"
    for finding in findings:
        assert finding["where"] and finding["where"].split(":")[0].endswith(script.name), finding["where"]
        assert finding["framework"] == "keras"
        assert f"[{finding['id']}]" in stderr, "the finding was not shown as a warning"


@pytest.mark.parametrize("name", ONE_EACH)
def test_keras3_tensorflow(name):
    script = SCENARIOS / "keras" / f"{name}.py"
    findings, proc = run_scenario(script, env={"KERAS_BACKEND": "tensorflow"})
    check(script, findings, proc.stderr)


def test_keras3_tensorflow_more_scenarios():
    for script, (findings, stderr) in run_batch("", {"KERAS_BACKEND": "tensorflow"}, SHARED).items():
        check(SCENARIOS / "keras" / os.path.basename(script), findings, stderr)


_BATCH = """
import gc, json, os, runpy, sys
{preamble}
import lrguard
results = {{}}
for script in sys.argv[1:]:
    lrguard.reset()
    os.chdir(os.path.dirname(script))
    print("LRGUARD-SCRIPT " + script, file=sys.stderr, flush=True)
    runpy.run_path(script)
    results[script] = [f.to_dict() for f in lrguard.findings()]
    gc.collect()
print("LRGUARD-BATCH" + json.dumps(results))
"""


def run_batch(preamble, env, names, timeout=900):
    """Run scenario scripts one after the other in one process; {script: (findings, its part of stderr)}."""
    scripts = [str(SCENARIOS / "keras" / f"{name}.py") for name in names]
    proc = subprocess.run([sys.executable, "-c", _BATCH.format(preamble=preamble), *scripts], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})
    line = next((l for l in proc.stdout.splitlines() if l.startswith("LRGUARD-BATCH")), None)
    assert proc.returncode == 0 and line, f"failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(line[len("LRGUARD-BATCH"):])
    parts = proc.stderr.split("LRGUARD-SCRIPT ")[1:]
    stderr = {part.split("\n", 1)[0]: part for part in parts}
    return {script: (findings, stderr[script]) for script, findings in results.items()}


@pytest.mark.parametrize("preamble, env, names", [
    ("import keras  # Keras 3 on torch, imported before lrguard", {"KERAS_BACKEND": "torch"}, TORCH_BACKEND),
    ("import tensorflow as tf, tf_keras; sys.modules['keras'] = tf_keras  # import tf_keras as keras",
     {"TF_USE_LEGACY_KERAS": "1"}, TF_KERAS),
], ids=["keras3-torch", "tf_keras"])
def test_other_backends(preamble, env, names):
    results = run_batch(preamble, env, names)
    for script, (findings, stderr) in results.items():
        check(SCENARIOS / "keras" / os.path.basename(script), findings, stderr)


def test_lrguard_imports_no_framework_and_arms_the_keras_hooks():
    code = ("import sys, lrguard\n"
            "from lrguard import importhook\n"
            "assert not {'keras', 'tensorflow', 'tf_keras', 'torch'} & set(sys.modules), sorted(sys.modules)\n"
            "assert {'keras', 'tf_keras'} <= set(importhook._pending)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_tf_keras_through_tensorflow_imported_before_lrguard():
    """``tf.keras`` under TF_USE_LEGACY_KERAS=1 is tf_keras; TensorFlow (and tf_keras) imported first."""
    code = (
        "import tensorflow as tf\n"
        "import lrguard\n"
        "import numpy as np\n"
        "keras = tf.keras\n"
        "assert keras.__name__.startswith('tf_keras'), keras.__name__\n"
        "X = np.random.default_rng(0).random((128, 8), dtype=np.float32); y = (X[:, 0] > 0.5).astype('int64')\n"
        "model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation='softmax')])\n"
        "model.compile(keras.optimizers.legacy.SGD(0.01), 'sparse_categorical_crossentropy')\n"
        "model.fit(X, y, epochs=2, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(lambda e: 0.5)])\n"
        "print([f.id for f in lrguard.findings()])\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "['keras-multiplier']"
