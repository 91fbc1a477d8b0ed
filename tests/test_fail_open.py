"""Fail-open: whatever breaks inside lrguard, the training is bit-for-bit the one PyTorch runs without it.

Each case makes one of lrguard's own functions raise (lrguard is patched here, never torch): every hook, every
detector, the bookkeeping they call. The training (a LambdaLR through a GradScaler, 40 steps so that every
sampled path runs, then ``lrguard.findings()``) must give the same losses and weights as without lrguard, print
exactly one line saying lrguard stopped watching, and print, warn or raise nothing else. The same for a
``MemoryError`` in a detector. The training is healthy (lrguard has nothing to say, so any warning would be spurious), except for the
faults on the reporting path, which only a finding reaches: there it is the seed bug, and the fault stops the
finding's own warning.
"""
from __future__ import annotations

import gc
import importlib
import json

import pytest
import torch

import lrguard
import lrguard.detection.history
import lrguard.integrations.torch as adapter
import lrguard.integrations.torch_schedules as torch_schedules
import lrguard.detection.stepping
import lrguard.detection.registry
import lrguard.detection.training
import lrguard.detection.series
from lrguard.detection.detectors import ALL as DETECTORS
from lrguard.integrations.failopen import STATE
from reliability_support import fresh_lrguard, observe, same_tensors, seed_bug, tiny_training, without_lrguard

findings_module = importlib.import_module("lrguard.findings")  # ``lrguard.findings`` is the function


def _faults():
    """(label, owner, attribute): every lrguard function a watched PyTorch training goes through."""
    points = [(f"detector {d.ID}", d, "check") for d in DETECTORS]
    points += [(f"TrainingRun.{name}", lrguard.detection.training.TrainingRun, name) for name in
               ("__init__", "set_bases", "record_lrs", "_fold_lrs", "observe_losses", "observe_grads", "add_schedule",
                "check", "report")]
    # the hot path records lr changes (record_lrs) and folds them into the tracks and the history when read
    points += [("LRTrack.extend", lrguard.detection.series.LRTrack, "extend"),
               ("LossWindow.extend", lrguard.detection.series.LossWindow, "extend"),
               ("History.add_lr_changes", lrguard.detection.history.History, "add_lr_changes"),
               ("RunRegistry.add", lrguard.detection.registry.RunRegistry, "add"),
               ("FindingLog.add", findings_module.FindingLog, "add"),
               ("findings._warn", findings_module, "_warn")]
    points += [(f"_Watch.{name}", adapter._Watch, name) for name in
               ("__init__", "lrs_changed", "take_loss", "before_step", "after_step", "checkpoint", "_read", "_observe")]
    points += [(f"torch adapter {name}", adapter, name) for name in
               ("_watch", "_hot_watch", "_took_backward", "_scaled", "_family", "_unwrap", "_number",
                "_stacked", "next_loss_step", "probe_functions", "function_sites", "user_site")]
    points += [(f"torch_schedules {name}", torch_schedules, name) for name in
               ("scheduler_built", "shape_of", "look", "look_idle", "settle")]
    points += [(f"_Stepper.{name}", torch_schedules._Stepper, name) for name in ("look", "called", "settle")]
    points += [("Stepping.call", lrguard.detection.stepping.Stepping, "call")]
    return points


FAULTS = _faults()


@pytest.fixture(autouse=True)
def _fresh():
    gc.collect()
    fresh_lrguard()
    yield
    fresh_lrguard()


REPORTING = {"TrainingRun.report", "FindingLog.add", "findings._warn"}  # reached only when there is a finding


def healthy(epoch: int) -> float:
    return 0.95 ** epoch


def _training(bug: bool = False):
    losses, state, *_ = tiny_training(steps=40, lr=1e-3, lr_lambda=seed_bug if bug else healthy, scaler=True)
    return losses, state


@pytest.fixture(scope="module")
def plain_runs():
    with without_lrguard():
        return {False: _training(False), True: _training(True)}


def test_the_healthy_training_has_nothing_to_report(capfd):
    outcome = observe(lambda: (_training(False), lrguard.findings()))
    assert outcome.error is None and outcome.warnings == [] and outcome.value[1] == []
    assert capfd.readouterr() == ("", "")


def _raiser(make_error):
    def fault(*args, **kwargs):
        raise make_error()  # a new one each time: a kept traceback would keep the training's frames alive
    return fault


def _check_fail_open(plain_run, capfd, guarded):
    assert guarded.error is None, f"the training raised: {guarded.error!r}"
    losses, state = guarded.value[0]
    assert losses == plain_run[0], "the losses differ from the plain run"
    assert same_tensors(state, plain_run[1]), "the weights differ from the plain run"
    assert guarded.warnings == [], guarded.warnings
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lrguard: internal error in ") and "lrguard stopped watching this process" in lines[0]
    assert STATE.stopped
    return lines[0]


@pytest.mark.parametrize("label, owner, name", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_anywhere_in_lrguard_leaves_the_training_untouched(label, owner, name, monkeypatch, capfd, plain_runs):
    bug = label in REPORTING
    capfd.readouterr()
    monkeypatch.setattr(owner, name, _raiser(lambda: RuntimeError(f"injected fault in {label}")))
    guarded = observe(lambda: (_training(bug), lrguard.findings()))
    _check_fail_open(plain_runs[bug], capfd, guarded)


@pytest.mark.parametrize("detector", DETECTORS, ids=[d.ID for d in DETECTORS])
def test_memory_error_in_a_detector(detector, monkeypatch, capfd, plain_runs):
    capfd.readouterr()
    monkeypatch.setattr(detector, "check", _raiser(MemoryError))
    guarded = observe(lambda: (_training(), lrguard.findings()))
    plain_run = plain_runs[False]
    assert "(MemoryError" in _check_fail_open(plain_run, capfd, guarded)


def test_the_one_message_names_the_error(monkeypatch, capfd):
    capfd.readouterr()
    monkeypatch.setattr(lrguard.detection.training.TrainingRun, "check", _raiser(lambda: MemoryError("no room")))
    observe(lambda: tiny_training(steps=5, lr_lambda=seed_bug))
    err = capfd.readouterr().err
    assert err == ("lrguard: internal error in the PyTorch optimizer-step hook (MemoryError: no room); lrguard stopped"
                   " watching this process. Your training is not affected.\n")


def test_a_failing_install_restores_what_it_had_patched(monkeypatch, capfd, plain_runs):
    """patch() failing half-way (here: its last step) leaves no wrapper behind, and the training is plain."""
    with without_lrguard():
        originals = {k: vars(c)[k] for c, k in ((torch.optim.Optimizer, "__init__"), (torch.Tensor, "backward"))}
    lrguard.uninstall()
    capfd.readouterr()
    monkeypatch.setattr(adapter._DynamoSkip, "arm", _raiser(lambda: RuntimeError("injected fault at install")))
    lrguard.install()
    assert vars(torch.optim.Optimizer)["__init__"] is originals["__init__"]
    assert vars(torch.Tensor)["backward"] is originals["backward"]
    guarded = observe(lambda: (_training(), lrguard.findings()))
    _check_fail_open(plain_runs[False], capfd, guarded)


def test_internal_errors_in_two_threads_print_one_message(monkeypatch, capfd):
    import threading

    capfd.readouterr()
    monkeypatch.setattr(lrguard.detection.training.TrainingRun, "check", _raiser(lambda: RuntimeError("injected")))
    threads = [threading.Thread(target=lambda: tiny_training(steps=20, lr_lambda=seed_bug)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert capfd.readouterr().err.count("lrguard: internal error") == 1


# -- Keras -----------------------------------------------------------------------------------------------
KERAS_SCRIPT = r'''
import contextlib, importlib, io, json, sys, warnings
import lrguard
import numpy as np
import tensorflow as tf
import keras
from lrguard.integrations.failopen import STATE
import lrguard.detection.training
import lrguard.integrations.keras_common as common
from lrguard.detection.detectors import ALL as DETECTORS

tf.config.experimental.enable_op_determinism()
x = np.random.RandomState(0).rand(64, 4).astype("float32")
y = np.random.RandomState(1).rand(64, 2).astype("float32")


def train(mode):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)])
    if mode == "loop":  # a custom training loop: optimizer.apply outside fit
        opt, losses = keras.optimizers.SGD(0.01), []
        for step in range(12):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x[:16]) - y[:16]))
            opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
            losses.append(float(loss))
        return losses, [w.tolist() for w in model.get_weights()]
    bug = mode == "fit-bug"
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    schedule = (lambda epoch: 1.0 / (1 + epoch)) if bug else (lambda epoch, lr: lr * 0.9)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False,
                        callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
    return history.history["loss"], [w.tolist() for w in model.get_weights()]


FAULTS = [(f"common.{name}", common, name) for name in
          ("train_begin", "epoch_begin", "epoch_end", "train_end", "batch_end", "before_schedule", "scheduled",
           "before_apply", "after_apply", "flush")]
FAULTS += [(f"detector {d.ID}", d, "check") for d in DETECTORS] + [("TrainingRun.check", lrguard.detection.training.TrainingRun, "check")]
MODES = {"detector keras-multiplier": "fit-bug",  # reached with a finding only: the buggy schedule
         "common.after_apply": "loop"}  # a custom loop's step (fit counts its steps in the callbacks)

lrguard.uninstall()
plain = {mode: train(mode) for mode in ("fit", "fit-bug", "loop")}
lrguard.install()
results = {}


def fault(*args, **kwargs):
    raise RuntimeError("injected fault")


for label, owner, name in FAULTS:
    lrguard.uninstall()
    STATE.stopped = False
    lrguard.install()
    lrguard.reset()
    mode = MODES.get(label, "fit")
    original = vars(owner)[name]
    setattr(owner, name, fault)
    err, error, out = io.StringIO(), None, None
    try:
        with contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = train(mode)
                lrguard.findings()
            except Exception as exc:
                error = repr(exc)
    finally:
        setattr(owner, name, original)
    ours = [str(w.message) for w in caught if issubclass(w.category, lrguard.LRGuardWarning)]
    results[label] = {"same": out == plain[mode], "error": error, "stderr": err.getvalue().splitlines(),
                      "lrguard_warnings": ours, "stopped": STATE.stopped}
print("RESULTS" + json.dumps(results))
'''


def test_keras_a_fault_in_any_hook_leaves_the_fit_untouched():
    pytest.importorskip("keras")
    from reliability_support import run_python

    proc = run_python(KERAS_SCRIPT, env={"KERAS_BACKEND": "tensorflow"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULTS"))[7:])
    assert len(results) >= 15
    for label, result in results.items():
        assert result["error"] is None, (label, result)
        assert result["same"], (label, "the losses or weights differ from the plain fit")
        assert result["lrguard_warnings"] == [], (label, result)
        assert len(result["stderr"]) == 1 and result["stderr"][0].startswith("lrguard: internal error"), (label, result)
        assert result["stopped"], label
