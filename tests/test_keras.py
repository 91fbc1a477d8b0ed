"""Keras 3 on TensorFlow, in this process: what lrguard sees in real ``fit`` runs and custom loops, and that Keras
behaves exactly as without it (errors, fallbacks, verbose output, history, weights, saving). Detector and helper
unit tests on synthetic values need no framework.
"""
import contextlib
import inspect
import io
import math
import pickle
import warnings

import numpy as np
import pytest

try:
    import torch  # noqa: F401  (as in Keras' own test setup: torch before TensorFlow)
except ImportError:
    pass

import lrguard
from lrguard.detection.detectors import keras_multiplier
from lrguard.integrations.failopen import STATE
from lrguard.integrations import keras_common
from lrguard.integrations.keras_source import returned_expression
from lrguard.detection.registry import RUNS
from lrguard.detection.training import TrainingRun, Schedule
from lrguard.findings import site_text

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def _rearm():
    if STATE.stopped:
        lrguard.uninstall()  # after an (injected) internal error: install() again starts afresh
    lrguard.install()


@pytest.fixture(autouse=True)
def watching():
    _rearm()
    lrguard.reset()
    yield
    _rearm()  # a test that uninstalled, or stopped lrguard, puts it back


def data(n=256, features=16, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((classes, features), dtype=np.float32)
    y = rng.integers(0, classes, n)
    return np.clip(prototypes[y] + 0.5 * rng.random((n, features), dtype=np.float32), 0, 1), y


def mlp(features=16, classes=4, depth=1, activation="relu", width=16):
    layers = [keras.Input((features,))] + [keras.layers.Dense(width, activation=activation) for _ in range(depth)]
    return keras.Sequential(layers + [keras.layers.Dense(classes, activation="softmax")])


def compiled(lr=1e-3, optimizer=keras.optimizers.Adam, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    model = mlp(**kwargs)
    model.compile(optimizer(lr), "sparse_categorical_crossentropy")
    return model


def latest_run():
    return [r for r in RUNS.runs() if r.framework == "keras"][-1]


# -- what lrguard finds ----------------------------------------------------------------------------------
def test_multiplier_is_found_in_the_first_epoch_at_the_callback_line():
    X, y = data()
    seen = []

    class FirstBatch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if not seen:
                seen.append([f.id for f in lrguard.findings()])

    model = compiled()
    with pytest.warns(lrguard.ScheduleBugWarning) as record:
        line = inspect.currentframe().f_lineno + 1
        scheduler = keras.callbacks.LearningRateScheduler(lambda epoch: (10 - epoch) / 10)
        model.fit(X, y, epochs=2, batch_size=32, verbose=0, callbacks=[scheduler, FirstBatch()])
    assert seen == [["keras-multiplier"]]  # before the first batch of the first epoch
    [finding] = lrguard.findings()
    here = site_text((__file__, line))
    assert finding.message == (
        "LearningRateScheduler's schedule returns multipliers (schedule(0) = 1.0) but Keras uses the value as the"
        " learning rate itself: the optimizer's lr went from 0.001 to 1.0. The schedule function is"
        f" `lambda epoch: ...` at {here}. Return the lr (e.g. 0.001 * (10 - epoch) / 10).")
    assert (finding.function, finding.function_where) == ("lambda epoch: ...", f"{__file__}:{line}")
    assert (finding.category, finding.framework, finding.epoch, finding.lr) == ("schedule-bug", "keras", 0, 1.0)
    assert finding.where == f"{__file__}:{line}"
    warned = [w for w in record if issubclass(w.category, lrguard.LRGuardWarning)]
    assert len(warned) == 1 and (warned[0].filename, warned[0].lineno) == (__file__, line)


def test_a_schedule_bug_raises_under_warnings_as_errors():
    X, y = data()
    model = compiled()
    with warnings.catch_warnings():
        warnings.simplefilter("error", lrguard.LRGuardWarning)
        with pytest.raises(lrguard.ScheduleBugWarning, match="keras-multiplier"):
            model.fit(X, y, epochs=1, verbose=0,
                      callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1.0)])


def test_healthy_schedules_and_plateau_give_no_finding():
    X, y = data()
    for callbacks in (
        [keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * math.exp(-0.1))],
        [keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 * 0.1 ** (epoch // 2)),
         keras.callbacks.ReduceLROnPlateau("loss", factor=0.1, patience=0, min_delta=10.0, min_lr=1e-12)],
    ):
        compiled().fit(X, y, epochs=5, batch_size=32, verbose=0, callbacks=callbacks)
    assert lrguard.findings() == []


@pytest.mark.parametrize("mode", [{}, {"jit_compile": True}, {"steps_per_execution": 4}, {"run_eagerly": True}])
def test_fit_is_watched_every_batch_with_losses_and_gradient_samples(mode):
    X, y = data(n=512)
    keras.utils.set_random_seed(0)
    model = mlp(depth=2)
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy", **mode)
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    lrguard.findings()
    run = latest_run()
    assert run.step == 32 and run.epoch == 1 and run.name == "SGD"
    assert run.groups[0].base == pytest.approx(0.05) and run.groups[0].lr == pytest.approx(0.05)
    calls = 32 // mode.get("steps_per_execution", 1)  # batch-end calls: one per execution of the step function
    assert run.losses.count >= min(calls, 16) and 0.5 < run.losses.initial() < 3  # losses, not running means
    assert len(run.grads) >= 3 and all(s.first_grad > 0 and s.last_grad > 0 and s.first_weight > 0 for s in run.grads)
    assert run.where and run.where[0] == __file__


def test_batch_losses_are_recovered_from_keras_running_means():
    X, y = data(n=256)
    losses = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(logs["loss"])  # Keras' running mean over the epoch so far

    keras.utils.set_random_seed(0)
    model = mlp()
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")  # lr 0: a fixed model
    model.fit(X, y, epochs=1, batch_size=32, verbose=0, shuffle=False, callbacks=[Record()])
    lrguard.findings()
    batch = [float(model.compute_loss(x=X[i:i + 32], y=y[i:i + 32], y_pred=model(X[i:i + 32])))
             for i in range(0, 256, 32)]
    assert latest_run().losses.head == pytest.approx(batch, rel=1e-4)
    assert losses != pytest.approx(batch, rel=1e-4)


def test_compounding_schedule_collapse_is_found():
    X, y = data(n=512)
    model = compiled(lr=0.05, optimizer=keras.optimizers.SGD)
    with pytest.warns(lrguard.ScheduleBugWarning, match=r"\[lr-collapse\]"):
        model.fit(X, y, epochs=4, batch_size=32, verbose=0,
                  callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.01)])
    assert [f.id for f in lrguard.findings()] == ["lr-collapse"]


def test_custom_eager_training_loop_is_watched():
    X, y = data(n=256)
    keras.utils.set_random_seed(0)
    model = mlp(depth=8, activation="sigmoid")
    optimizer = keras.optimizers.SGD(0.1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with pytest.warns(lrguard.VanishingGradientWarning):
        for epoch in range(3):
            for i in range(0, 256, 32):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y[i:i + 32], model(X[i:i + 32], training=True))
                grads = tape.gradient(loss, model.trainable_weights)
                optimizer.apply_gradients(zip(grads, model.trainable_weights))
    assert [f.id for f in lrguard.findings()] == ["vanishing-gradients"]
    run = latest_run()
    assert run.step == 24 and run.losses.count == 24
    assert run.losses.initial() == pytest.approx(1.45, abs=0.3)  # ln(4) and thereabouts: real losses
    assert len(run.grads) >= 3 and all(s.grad_ratio < 1e-2 for s in run.grads)  # 8 sigmoid layers: vanishing


# -- Keras behaves exactly as without lrguard ----------------------------------------------------------------
def _outcome(fn):
    """What ``fn()`` returned, printed and raised."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            return ("returned", fn(), out.getvalue())
        except Exception as exc:  # the framework's own errors must be the same, too
            return ("raised", f"{type(exc).__name__}: {exc}", out.getvalue())


def _fit(schedule=None, callbacks=(), epochs=3, **kwargs):
    X, y = data(n=128)
    model = compiled(lr=0.01, optimizer=keras.optimizers.SGD)
    cbs = list(callbacks) + ([keras.callbacks.LearningRateScheduler(schedule, verbose=1)] if schedule else [])
    history = model.fit(X, y, epochs=epochs, batch_size=32, verbose=0, callbacks=cbs, **kwargs)
    return history.history, [w.tolist() for w in model.get_weights()]


def _raises_own_type_error(epoch, lr=None):
    if lr is not None:
        raise TypeError("the schedule's own TypeError")  # Keras retries schedule(epoch)
    return 0.01 / (1 + epoch)


def _one_argument_raising(epoch):
    raise TypeError("boom")


BEHAVIOURS = {
    "one-argument": lambda: _fit(lambda epoch: 0.01 * 0.5 ** epoch),
    "two-argument": lambda: _fit(lambda epoch, lr: lr * 0.9),
    "fallback after the schedule's TypeError": lambda: _fit(_raises_own_type_error),
    "TypeError inside a one-argument schedule": lambda: _fit(_one_argument_raising),
    "tensor output is rejected": lambda: _fit(lambda epoch, lr: lr * keras.ops.exp(-0.1)),
    "None output is rejected": lambda: _fit(lambda epoch: None),
    "multiplier (a bug, trained as written)": lambda: _fit(lambda epoch: (10 - epoch) / 10),
    "plateau": lambda: _fit(callbacks=[keras.callbacks.ReduceLROnPlateau("loss", 0.5, 0, verbose=1, min_delta=9)]),
}


def test_keras_behaves_exactly_as_without_lrguard():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrguard.LRGuardWarning)
        watched = {name: _outcome(fn) for name, fn in BEHAVIOURS.items()}
    assert lrguard.findings(), "lrguard was not watching"
    lrguard.uninstall()
    plain = {name: _outcome(fn) for name, fn in BEHAVIOURS.items()}
    for name in BEHAVIOURS:
        assert watched[name] == plain[name], name
    assert plain["tensor output is rejected"][1].startswith("ValueError: The output of the `schedule` function should")
    assert plain["TypeError inside a one-argument schedule"][1] == "TypeError: boom"
    assert "LearningRateScheduler setting learning rate to 1.0" in plain["multiplier (a bug, trained as written)"][2]
    assert plain["two-argument"][1][0]["learning_rate"] == pytest.approx([0.009, 0.0081, 0.00729])


def _missing_metric_warnings():
    X, y = data(n=32)
    model = compiled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y, epochs=1, verbose=0, callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_loss")])
    return [(w.category, str(w.message), w.filename.replace("\\", "/").rsplit("/", 1)[-1], w.lineno)
            for w in caught if "conditioned on metric" in str(w.message)]


def test_keras_warnings_name_the_line_keras_names():
    """ReduceLROnPlateau warns about a missing metric with ``stacklevel=2``: Keras' callback list, not lrguard."""
    guarded = _missing_metric_warnings()
    lrguard.uninstall()
    plain = _missing_metric_warnings()
    assert [w[2] for w in plain] == ["callback_list.py"]
    assert guarded == plain


def test_uninstall_restores_the_originals_and_install_wraps_them_again():
    from keras.src.callbacks.callback_list import CallbackList
    from keras.src.callbacks.learning_rate_scheduler import LearningRateScheduler
    from keras.src.optimizers.base_optimizer import BaseOptimizer
    from tensorflow.python.eager.backprop import GradientTape

    places = [(CallbackList, n) for n in ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_batch_end",
                                          "on_train_end")]
    places += [(LearningRateScheduler, "__init__"), (LearningRateScheduler, "_update_optimizer_lr"),
               (BaseOptimizer, "__init__"), (BaseOptimizer, "apply"), (GradientTape, "gradient")]
    wrapped = {place: place[0].__dict__[place[1]] for place in places}
    originals = {place: fn.__wrapped__ for place, fn in wrapped.items()}
    for (owner, name), fn in wrapped.items():
        original = originals[owner, name]
        assert (fn.__name__, fn.__doc__, inspect.signature(fn)) == (original.__name__, original.__doc__,
                                                                   inspect.signature(original))
    lrguard.uninstall()
    for (owner, name), original in originals.items():
        assert owner.__dict__[name] is original and not hasattr(original, "__wrapped__")
    lrguard.install()
    for (owner, name), original in originals.items():
        assert owner.__dict__[name].__wrapped__ is original


def test_callbacks_and_models_carry_nothing_of_lrguard_and_save_and_load(tmp_path):
    X, y = data(n=64)
    scheduler = keras.callbacks.LearningRateScheduler(_raises_own_type_error)
    model = compiled()
    model.fit(X, y, epochs=2, verbose=0, callbacks=[scheduler])
    lrguard.uninstall()
    plain = keras.callbacks.LearningRateScheduler(_raises_own_type_error)
    plain_model = compiled()
    plain_model.fit(X, y, epochs=2, verbose=0, callbacks=[plain])
    assert set(vars(scheduler)) == set(vars(plain))
    assert set(vars(model.optimizer)) == set(vars(plain_model.optimizer))
    assert pickle.loads(pickle.dumps(keras.callbacks.LearningRateScheduler(_raises_own_type_error))).schedule is \
        _raises_own_type_error
    lrguard.install()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert np.array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    loaded.fit(X, y, epochs=1, verbose=0, callbacks=[scheduler])  # a loaded model trains on, watched


def test_fail_open_an_internal_error_stops_lrguard_not_the_training(monkeypatch, capsys):
    X, y = data(n=128)
    reference = compiled()
    lrguard.uninstall()
    reference.fit(X, y, epochs=2, batch_size=32, verbose=0)
    lrguard.install()

    def broken(*args):
        raise RuntimeError("injected")

    monkeypatch.setattr(keras_common, "batch_end", broken)
    model = compiled()
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    assert STATE.stopped
    assert capsys.readouterr().err.count("lrguard: internal error") == 1
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), reference.get_weights()))


class EqualitySGD(keras.optimizers.SGD):
    def __eq__(self, other):  # __eq__ without __hash__: unhashable
        return self is other


class EqualityScheduler(keras.callbacks.LearningRateScheduler):
    def __eq__(self, other):
        return self is other


def test_unhashable_optimizers_and_callbacks_do_not_stop_lrguard():
    X, y = data(n=64)
    model = compiled(optimizer=EqualitySGD)
    model.fit(X, y, epochs=2, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: 0.5)])
    assert lrguard.findings() == [] and not STATE.stopped  # an optimizer that cannot be a key is not watched
    model = compiled(lr=0.01, optimizer=keras.optimizers.SGD)
    with pytest.warns(lrguard.ScheduleBugWarning):
        model.fit(X, y, epochs=2, verbose=0, callbacks=[EqualityScheduler(lambda epoch: 0.5)])
    assert [f.id for f in lrguard.findings()] == ["keras-multiplier"] and not STATE.stopped


# -- the keras-multiplier detector and its helpers (no framework) ------------------------------------------
def _run(base, values, source=None, epochs=None):
    run = TrainingRun("keras")
    run.set_bases([base])
    schedule = Schedule("LearningRateScheduler", "absolute", source=source)
    schedule.probe_epochs = list(epochs if epochs is not None else range(len(values)))
    schedule.probes = [list(values)]
    run.add_schedule(schedule)
    return run


@pytest.mark.parametrize("base, values, found", [
    (1e-3, [1.0, 0.9, 0.8], True),  # (10 - epoch) / 10
    (1e-3, [0.0, 0.2, 0.4], True),  # a warmup multiplier
    (1e-3, [0.1, 0.09], True),  # 100x over the lr
    (1e-2, [0.5], True),  # SGD's default lr, a multiplier of 0.5
    (1e-3, [0.00099999, 0.000899991], False),  # the seed's correct schedule
    (1e-5, [1e-5, 2e-4, 1e-3], False),  # warmup from a small optimizer lr
    (1e-2, [0.1, 0.01], False),  # SGD's default lr, the schedule sets 0.1: an lr
    (1.0, [1.0, 0.9], False),  # built with lr=1.0: not judged
    (1e-3, [math.nan, math.inf], False),  # invalid-lr's business
])
def test_looks_multiplier(base, values, found):
    assert (keras_multiplier.check(_run(base, values)) is not None) == found


def test_multiplier_message_quotes_the_users_expression_or_the_numbers():
    diagnosis = keras_multiplier.check(_run(1e-3, [0.2, 0.4], source="(epoch + 1) / 5", epochs=[3, 4]))
    assert diagnosis.message.startswith("LearningRateScheduler's schedule returns multipliers (schedule(3) = 0.2)")
    assert diagnosis.fix == "Return the lr (e.g. 0.001 * (epoch + 1) / 5)."
    diagnosis = keras_multiplier.check(_run(1e-3, [1.0, 0.5]))
    assert diagnosis.fix == "Return the lr (e.g. 0.001 * the multiplier: 0.001, 0.0005, ...)."


@pytest.mark.parametrize("source, scaled", [
    ("(10 - epoch) / 10", "0.001 * (10 - epoch) / 10"),
    ("1.0 * (10 - epoch) / 10.0", "0.001 * (10 - epoch) / 10.0"),
    ("0.5 ** epoch", "0.001 * 0.5 ** epoch"),
    ("1.0", "0.001"),
    ("max(0.1, 1 - epoch / 10)", "0.001 * max(0.1, 1 - epoch / 10)"),
])
def test_scaled_expression(source, scaled):
    assert keras_multiplier._scaled(source, 0.0010000000474974513) == scaled


def _returns_after_assignments(epoch):
    """A docstring."""
    initial_lr = 1e-3
    return (initial_lr - 1e-8) * (10 - epoch) / 10.0


def _branches(epoch, lr):
    if epoch < 10:
        return lr
    return lr * 0.9


def test_returned_expression():
    spread = dict(schedule=(
        lambda epoch, lr:
            0.5 ** epoch),
    )
    assert returned_expression(lambda epoch: (10 - epoch) / 10) == "(10 - epoch) / 10"
    assert returned_expression(_returns_after_assignments) == "(initial_lr - 1e-08) * (10 - epoch) / 10.0"
    assert returned_expression(spread["schedule"]) == "0.5 ** epoch"
    assert returned_expression(_branches) is None
    assert returned_expression(print) is None and returned_expression(None) is None
