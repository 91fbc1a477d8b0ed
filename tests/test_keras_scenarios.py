"""Real Keras training scripts (CPU, generated data), each declaring what lrguard must find.

Keras 3 on TensorFlow: one script of each kind of the acceptance set runs alone as its harness runs it (``python -c
"import lrguard; runpy.run_path(script)"``, a fresh interpreter each), the others (any new script too) in batches of
up to 30 per interpreter, lrguard reset between them; scored like the PyTorch set (``assert_scored``): the right id
for each bug, no finding of the other category, nothing at all for healthy runs. Keras 3 on torch
(``KERAS_BACKEND=torch``) and legacy Keras 2 (``tf_keras``, ``TF_USE_LEGACY_KERAS=1``) run a subset of the same
scripts in one process per backend (TensorFlow and torch are slow to import), with the framework imported *before*
lrguard.
"""
import os
import subprocess
import sys

import pytest

from scenario_runner import SCENARIOS, assert_scored, batch_result, run_scenario, split

SCRIPTS = sorted((SCENARIOS / "keras").glob("*.py"))
KERAS = SCENARIOS / "keras"
# the kinds of the acceptance set run one process each, as the harness runs them; the rest share processes
ALONE = {"seed_fixed", "bug_multiplier", "vanishing_deep_sigmoid"}
BATCHES = split([s for s in SCRIPTS if s.stem not in ALONE], size=30)
PARAMS = [pytest.param(s, None, id=s.stem) for s in SCRIPTS if s.stem in ALONE] + [
    pytest.param(s, i, id=s.stem) for i, batch in enumerate(BATCHES) for s in batch]
# one of each kind for the other backends (Keras 3 on torch runs a step several times slower: fewer there)
TORCH_BACKEND = ["bug_multiplier", "collapse_compounding_factor", "vanishing_deep_sigmoid",
                 "healthy_plateau_beside_schedule", "resume_initial_epoch_schedule_object"]
TF_KERAS = TORCH_BACKEND + ["collapse_compounding_inverse", "seed_fixed", "collapse_schedule_object_per_step",
                            "plateau_auto_mode_auc_tf_keras", "resume_load_model_scheduler_restarts",
                            "healthy_resume_load_model_initial_epoch"]
TENSORFLOW = {"KERAS_BACKEND": "tensorflow"}


@pytest.mark.parametrize("script, batch", PARAMS)
def test_keras3_tensorflow(script, batch):
    if batch is None:
        findings, proc = run_scenario(script, env=TENSORFLOW)
        stderr = proc.stderr
    else:
        findings, stderr = batch_result(script, BATCHES[batch], TENSORFLOW)
    assert_scored(script, findings, stderr, framework="keras")


OTHER_BACKENDS = {
    "keras3-torch": ("import keras  # Keras 3 on torch, imported before lrguard", {"KERAS_BACKEND": "torch"},
                     TORCH_BACKEND),
    "tf_keras": ("import tensorflow as tf, tf_keras; sys.modules['keras'] = tf_keras  # import tf_keras as keras",
                 {"TF_USE_LEGACY_KERAS": "1"}, TF_KERAS),
}


@pytest.mark.parametrize("backend, name", [
    pytest.param(backend, name, id=f"{backend}-{name}") for backend, (_, _, names) in OTHER_BACKENDS.items()
    for name in names])
def test_other_backends(backend, name):
    preamble, env, names = OTHER_BACKENDS[backend]
    script = KERAS / f"{name}.py"
    findings, stderr = batch_result(script, [KERAS / f"{n}.py" for n in names], env, preamble)
    assert_scored(script, findings, stderr, framework="keras")


def test_the_named_scripts_exist():
    assert ALONE | set(TORCH_BACKEND) | set(TF_KERAS) <= {s.stem for s in SCRIPTS}


def test_lrguard_imports_no_framework_and_arms_the_keras_hooks():
    code = ("import sys, lrguard\n"
            "from wrapt import importer\n"
            "assert not {'keras', 'tensorflow', 'tf_keras', 'torch'} & set(sys.modules), sorted(sys.modules)\n"
            "assert {'keras', 'tf_keras'} <= set(importer._post_import_hooks)\n")
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
