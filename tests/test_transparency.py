"""Transparency: with lrguard, PyTorch (and Keras) behave exactly as without it.

Patched methods look like the originals (name, doc, signature), ``uninstall()`` puts the original objects back,
``install()`` is idempotent and re-arms, ``LRGUARD_DISABLE=1`` does nothing at all; pickling, ``copy.deepcopy`` and
``state_dict`` round trips give the same results, user subclasses work, the import order does not matter, and
lrguard keeps no strong reference to a model, an optimizer or a scheduler.
"""
from __future__ import annotations

import copy
import gc
import inspect
import json
import pickle
import weakref

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, StepLR

import lrguard
from reliability_support import (fresh_lrguard, observe, run_python, seed_bug, tiny_training,
                                 without_lrguard)


@pytest.fixture(autouse=True)
def _fresh():
    gc.collect()
    fresh_lrguard()
    yield
    fresh_lrguard()


def decay(epoch: int) -> float:
    """A healthy multiplier (module level: a LambdaLR built on it pickles)."""
    return 0.9 ** epoch


# -- what is patched ------------------------------------------------------------------------------------
def _classes():
    from torch.amp.grad_scaler import GradScaler
    from torch.optim import lr_scheduler, swa_utils

    classes = {torch.Tensor, GradScaler, torch.nn.RNN}
    for module in (torch.optim, lr_scheduler, swa_utils):
        classes.update(v for v in vars(module).values() if isinstance(v, type))
    return sorted(classes, key=lambda c: (c.__module__, c.__qualname__))


def _snapshot():
    """Every class attribute of PyTorch's tensor, optimizers, schedulers and GradScaler, and every attribute of
    ``torch.autograd`` (lrguard wraps its ``backward``), as objects."""
    owners = [*_classes(), torch.autograd]
    return {(owner, name): value for owner in owners for name, value in list(vars(owner).items())}


def _name(owner) -> str:
    return getattr(owner, "__qualname__", owner.__name__)


def _global_step_hooks():
    from torch.optim import optimizer

    return dict(optimizer._global_optimizer_pre_hooks), dict(optimizer._global_optimizer_post_hooks)


def _inherited(plain: dict, cls: type, name: str):
    for base in cls.__mro__[1:]:
        if (base, name) in plain:
            return plain[(base, name)]
    return None


def test_patched_methods_look_like_the_originals():
    with without_lrguard():
        plain = _snapshot()
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # its first step samples the loss: lrguard's
    guarded = _snapshot()  # torch.autograd.backward is in place until then (tests/test_no_sync.py)
    del opt
    changed = sorted((k for k in guarded if plain.get(k) is not guarded[k]), key=lambda k: (_name(k[0]), k[1]))
    names = {f"{_name(cls)}.{name}" for cls, name in changed}
    assert {"Optimizer.__init__", "LRScheduler.__init__", "torch.autograd.backward"} <= names, names
    assert set(plain) <= set(guarded), "lrguard removed a class attribute"
    for cls, name in changed:
        original = plain.get((cls, name)) or _inherited(plain, cls, name)
        wrapper = guarded[(cls, name)]
        assert wrapper.__wrapped__ is original, f"{_name(cls)}.{name}"
        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            assert getattr(wrapper, attr) == getattr(original, attr), f"{_name(cls)}.{name}.{attr}"
        assert inspect.signature(wrapper) == inspect.signature(original), f"{_name(cls)}.{name}"


def test_uninstall_restores_the_originals_by_identity_and_install_rearms():
    with without_lrguard():
        plain, plain_hooks = _snapshot(), _global_step_hooks()
    lrguard.uninstall()
    try:
        after = _snapshot()
        assert after.keys() == plain.keys()
        assert all(after[k] is plain[k] for k in plain), [k for k in plain if after[k] is not plain[k]]
        assert [h.keys() for h in _global_step_hooks()] == [h.keys() for h in plain_hooks]
        assert not lrguard.is_installed()
        outcome = observe(lambda: tiny_training(lr_lambda=seed_bug))
        assert outcome.error is None and outcome.warnings == []
        assert lrguard.findings() == []
    finally:
        lrguard.install()
    assert lrguard.is_installed()
    assert _optimizer_init_is_wrapped()
    outcome = observe(lambda: tiny_training(lr_lambda=seed_bug))
    assert [f.id for f in lrguard.findings()] == ["lambda-absolute-lr"]
    assert any(issubclass(w[0], lrguard.ScheduleBugWarning) for w in outcome.warnings)


def _optimizer_init_is_wrapped() -> bool:
    return hasattr(vars(torch.optim.Optimizer)["__init__"], "__wrapped__")


def test_install_is_idempotent():
    before, hooks = _snapshot(), _global_step_hooks()
    lrguard.install()
    lrguard.install()
    after = _snapshot()
    assert all(after[k] is before[k] for k in before) and after.keys() == before.keys()
    assert [h.keys() for h in _global_step_hooks()] == [h.keys() for h in hooks]
    with without_lrguard():
        plain_hooks = _global_step_hooks()
    assert [len(h) - len(p) for h, p in zip(hooks, plain_hooks)] == [0, 1]  # one post-step hook


def test_lrguard_disable_makes_import_do_nothing():
    code = (
        "import lrguard, torch, json, warnings\n"
        "warnings.simplefilter('always')\n"
        "from torch.optim import Optimizer, lr_scheduler\n"
        "m = torch.nn.Linear(3, 2); opt = torch.optim.SGD(m.parameters(), lr=1e-3)\n"
        "s = lr_scheduler.LambdaLR(opt, lambda e: 1e-3 * 0.95 ** e)\n"
        "for i in range(40):\n"
        "    opt.zero_grad(); m(torch.randn(4, 3)).pow(2).mean().backward(); opt.step(); s.step()\n"
        "print(json.dumps({'installed': lrguard.is_installed(), 'active': __import__('lrguard.integrations.install').integrations.install.active(),\n"
        "    'wrapped': [hasattr(f, '__wrapped__') for f in (vars(Optimizer)['__init__'],\n"
        "                vars(lr_scheduler.LRScheduler)['__init__'], vars(torch.Tensor)['backward'])],\n"
        "    'findings': [f.id for f in lrguard.findings()]}))\n"
    )
    proc = run_python(code, env={"LRGUARD_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"installed": False, "active": [], "wrapped": [False] * 3, "findings": []}
    assert "lrguard" not in proc.stderr.lower(), proc.stderr


# -- pickling, deepcopy, state_dict -----------------------------------------------------------------
def _deep_equal(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _round_trips():
    losses, state, model, opt, sched = tiny_training(steps=30, lr=0.05, lr_lambda=decay, optimizer="adam")
    step_lr = StepLR(opt, step_size=2, gamma=0.5)
    opt_sd, sched_sd, step_sd = opt.state_dict(), sched.state_dict(), step_lr.state_dict()
    result = {
        "losses": losses,
        "opt_sd": pickle.loads(pickle.dumps(opt_sd)),
        "sched_sd_bytes": pickle.dumps(sched_sd),
        "step_sd_bytes": pickle.dumps(step_sd),
        "attributes": [sorted(vars(o)) for o in (model, opt, sched, step_lr, *model.parameters())],
        "opt_deepcopy": copy.deepcopy(opt).state_dict(),
        "sched_deepcopy": sorted(vars(copy.deepcopy(sched))),
        "opt_pickled": pickle.loads(pickle.dumps(opt)).state_dict(),
        "sched_pickled": pickle.loads(pickle.dumps(sched)).state_dict(),
        "step_pickled": pickle.loads(pickle.dumps(step_lr)).state_dict(),
    }
    # resume from the state dicts: a new model, optimizer and scheduler, 10 more steps
    torch.manual_seed(1)
    model2 = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    model2.load_state_dict(state)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.05)
    opt2.load_state_dict(opt_sd)
    sched2 = LambdaLR(opt2, decay)
    sched2.load_state_dict(sched_sd)
    x = torch.randn(16, 6)
    resumed = []
    for _ in range(10):
        opt2.zero_grad()
        loss = model2(x).pow(2).mean()
        loss.backward()
        opt2.step()
        sched2.step()
        resumed.append(loss.item())
    result["resumed"] = resumed
    result["resumed_sd"] = opt2.state_dict()
    return result


def test_pickle_deepcopy_and_state_dict_round_trips_are_identical():
    with without_lrguard():
        plain = _round_trips()
    guarded = _round_trips()
    for key in plain:
        assert _deep_equal(plain[key], guarded[key]), key


def _wrapped_methods():
    """Bound and unbound methods of classes lrguard wraps, pickled, copied and deep-copied as Python does them."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    step_lr = StepLR(opt, 2)
    restarts = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 2)
    loader = torch.utils.data.DataLoader(list(range(4)), batch_size=2)
    leaf = torch.ones(2, requires_grad=True)  # (a loss, not a leaf, refuses deepcopy with or without lrguard)
    bound = {"plateau.step": plateau.step, "opt.load_state_dict": opt.load_state_dict,
             "restarts.step": restarts.step, "step_lr.load_state_dict": step_lr.load_state_dict,
             "tensor.backward": leaf.backward, "loader.__iter__": loader.__iter__}
    unbound = {"ReduceLROnPlateau.step": torch.optim.lr_scheduler.ReduceLROnPlateau.step,
               "Optimizer.__init__": torch.optim.Optimizer.__init__, "Tensor.backward": torch.Tensor.backward,
               "torch.autograd.backward": torch.autograd.backward}
    result = {}
    for name, method in bound.items():
        holder = {"owner": method.__self__, "callback": method}
        copied = copy.deepcopy(holder)
        unpickled = pickle.loads(pickle.dumps(method))
        result[name] = (unpickled.__name__, type(unpickled.__self__).__name__, inspect.ismethod(unpickled),
                        copy.copy(method) == method, copied["callback"].__self__ is copied["owner"],
                        copied["callback"].__func__ is method.__func__)
    for name, function in unbound.items():
        result[name] = (pickle.loads(pickle.dumps(function)).__qualname__, copy.copy(function) is function,
                        copy.deepcopy(function) is function)
    plateau_copy = pickle.loads(pickle.dumps(plateau.step))
    plateau_copy(1.0)  # the unpickled bound method works on its unpickled scheduler
    result["unpickled plateau stepped"] = plateau_copy.__self__.last_epoch
    return result


def test_wrapped_methods_pickle_and_copy_as_the_originals():
    """``copy.deepcopy`` of an object keeping ``scheduler.step`` as a callback, ``pickle`` of ``loss.backward``..."""
    with without_lrguard():
        plain = _wrapped_methods()
    guarded = _wrapped_methods()
    assert guarded == plain


def _warned_at(fn) -> list:
    outcome = observe(fn)
    assert outcome.error is None, outcome.error
    return [w for w in outcome.warnings if not issubclass(w[0], lrguard.LRGuardWarning)]


def _plateau_with_epoch():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    torch.optim.lr_scheduler.ReduceLROnPlateau(opt).step(1.0, 3)  # torch's EPOCH_DEPRECATION_WARNING, stacklevel=2


def _plateau_error():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    try:
        torch.optim.lr_scheduler.ReduceLROnPlateau(opt).step("not a number")
    except ValueError as exc:
        return [(f.name, f.line) for f in __import__("traceback").extract_tb(exc.__traceback__)]


def test_framework_warnings_and_tracebacks_name_the_users_line():
    """A torch warning with ``stacklevel=2`` inside a wrapped method names the line that called it, as without
    lrguard (not lrguard's wrapper); a traceback through it gains lrguard's one wrapper frame, nothing else."""
    with without_lrguard():
        plain_warnings, plain_frames = _warned_at(_plateau_with_epoch), _plateau_error()
    guarded_warnings, guarded_frames = _warned_at(_plateau_with_epoch), _plateau_error()
    assert [w[2] for w in plain_warnings] == ["test_transparency.py"]
    assert guarded_warnings == plain_warnings
    assert [f for f in guarded_frames if f[0] != "lrguard_observes_plateau_step"] == plain_frames
    assert len(guarded_frames) == len(plain_frames) + 1


# -- user subclasses ------------------------------------------------------------------------------------
class WarmupLambda(LambdaLR):
    """A LambdaLR subclass with its own argument and an attribute set after ``super().__init__``."""

    def __init__(self, optimizer, warmup: int, last_epoch: int = -1):
        self.warmup = warmup
        super().__init__(optimizer, lambda e: min(1.0, (e + 1) / warmup), last_epoch)
        self.built = True


class Halving(LRScheduler):
    """A custom LRScheduler with a closed-form get_lr."""

    def __init__(self, optimizer, every: int, last_epoch: int = -1):
        self.every = every
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * 0.5 ** (self.last_epoch // self.every) for base in self.base_lrs]


class Unhashable(LRScheduler):
    """``__eq__`` without ``__hash__``: instances cannot be keys of a (weak) dictionary."""

    def __eq__(self, other):
        return self is other

    def get_lr(self):
        return [group["lr"] * 0.99 for group in self.optimizer.param_groups]


class UnhashableSGD(torch.optim.SGD):
    def __eq__(self, other):
        return self is other


@pytest.mark.parametrize("kind", ["warmup-lambda", "halving", "unhashable-scheduler", "unhashable-optimizer"])
def test_user_subclasses_work_the_same(kind, capfd):
    def train():
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 2)
        opt = (UnhashableSGD if kind == "unhashable-optimizer" else torch.optim.SGD)(model.parameters(), lr=0.1)
        sched = {"warmup-lambda": lambda: WarmupLambda(opt, warmup=5), "halving": lambda: Halving(opt, every=3),
                 "unhashable-scheduler": lambda: Unhashable(opt),
                 "unhashable-optimizer": lambda: StepLR(opt, 4)}[kind]()
        x = torch.randn(8, 4)
        lrs, losses = [], []
        for _ in range(25):
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            losses.append(loss.item())
        return lrs, losses, sorted(vars(sched)), sched.state_dict(), model.weight.detach().clone()

    with without_lrguard():
        plain = observe(train)
    guarded = observe(train)
    assert plain.error is None and guarded.error is None, (plain.error, guarded.error)
    assert _deep_equal(list(plain.value[:4]), list(guarded.value[:4]))
    assert torch.equal(plain.value[4], guarded.value[4])
    assert guarded.warnings == plain.warnings
    assert lrguard.findings() == []
    assert "lrguard" not in capfd.readouterr().err


# -- import order -----------------------------------------------------------------------------------
_TORCH_BODY = """
import json, warnings
warnings.simplefilter("ignore")
import torch
import lrguard.integrations.install
model = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1e-3 * 0.95 ** e)
for epoch in range(6):
    for _ in range(5):
        opt.zero_grad(); model(torch.randn(8, 4)).pow(2).mean().backward(); opt.step()
    sched.step()
result = {"torch": sorted({f.id for f in lrguard.findings()}), "active": sorted(lrguard.integrations.install.active())}
"""

_KERAS_BODY = """
import json, warnings
warnings.simplefilter("ignore")
import numpy as np
import keras
import lrguard.integrations.install
keras.utils.set_random_seed(0)
k_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
k_model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
k_model.fit(np.random.rand(32, 4), np.random.rand(32, 2), epochs=2, verbose=0,
            callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: 1.0 / (1 + epoch))])
result = {"keras": sorted({f.id for f in lrguard.findings()}), "active": sorted(lrguard.integrations.install.active())}
"""

IMPORT_ORDERS = {
    "lrguard-then-torch": ("import lrguard\nimport torch\n", False),
    "torch-then-lrguard": ("import torch\nimport lrguard\n", False),
    "LambdaLR-imported-first": ("from torch.optim.lr_scheduler import LambdaLR\nimport lrguard\n", False),
    "adapter-module-first": ("import lrguard.integrations.torch\nimport lrguard\n", False),
    "lrguard-then-keras": ("import lrguard\nimport keras\n", True),
    "keras-then-lrguard": ("import keras\nimport lrguard\n", True),
}


@pytest.mark.parametrize("order", list(IMPORT_ORDERS))
def test_import_order_does_not_matter(order):
    """(Keras runs in a process of its own: PyTorch and TensorFlow crash together here, with or without lrguard.)"""
    prefix, with_keras = IMPORT_ORDERS[order]
    if with_keras:
        pytest.importorskip("keras")
    code = prefix + (_KERAS_BODY if with_keras else _TORCH_BODY) + "print('RESULT' + json.dumps(result))\n"
    proc = run_python(code, env={"KERAS_BACKEND": "tensorflow"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])
    framework = "keras" if with_keras else "torch"
    assert result[framework] == (["keras-multiplier"] if with_keras else ["lambda-absolute-lr"]), result
    assert framework in result["active"], result
    assert "internal error" not in proc.stderr, proc.stderr


# -- references -----------------------------------------------------------------------------------------
def _build_train_and_drop(scaler: bool):
    """Train, then one more backward() without step(); return weak references to everything built."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = LambdaLR(opt, lambda e: 1e-3 * 0.9 ** e)
    grad_scaler = torch.amp.GradScaler("cpu") if scaler else None
    x = torch.randn(16, 4)
    for _ in range(70):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        (grad_scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            grad_scaler.step(opt)
            grad_scaler.update()
        else:
            opt.step()
        sched.step()
    loss = model(x).pow(2).mean()
    scaled = grad_scaler.scale(loss) if scaler else loss
    scaled.backward()  # and no step()
    return [weakref.ref(o) for o in (model, opt, sched, model[0].weight, model[2].weight, loss, scaled)]


@pytest.mark.parametrize("scaler", [False, True], ids=["plain-loss", "gradscaler"])
def test_no_strong_reference_to_model_optimizer_or_scheduler(scaler):
    with pytest.warns(lrguard.ScheduleBugWarning, match=r"\[lambda-absolute-lr\]"):  # the training's seed bug
        refs = _build_train_and_drop(scaler)
    gc.collect()
    assert [r() is None for r in refs] == [True] * len(refs), [type(r()).__name__ for r in refs if r() is not None]


@pytest.mark.parametrize("scaler", [False, True], ids=["plain-loss", "gradscaler"])
def test_no_reference_cycle_added(scaler):
    """Without the cycle collector, what plain PyTorch frees by reference counting alone lrguard frees too."""
    def freed():
        gc.collect()
        gc.disable()
        try:
            refs = _build_train_and_drop(scaler)
            return [r() is None for r in refs]
        finally:
            gc.enable()

    with without_lrguard():
        plain = freed()
    with pytest.warns(lrguard.ScheduleBugWarning, match=r"\[lambda-absolute-lr\]"):  # the training's seed bug
        guarded = freed()
    assert guarded == plain
