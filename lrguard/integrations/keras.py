"""Keras 3 adapter (``keras``, and ``tf.keras`` where it is Keras 3): TensorFlow, torch and other backends.

Patched in place (``lrguard.uninstall()`` restores the originals):

- ``CallbackList.on_train_begin/on_epoch_begin/on_epoch_end/on_train_batch_end/on_train_end``: every batch of
  ``fit``, whatever sets the lr (LearningRateScheduler, ReduceLROnPlateau, schedule objects, custom callbacks,
  hand assignment): the lr is read at epoch boundaries and checkpoints, the loss taken from the batch logs.
- ``LearningRateScheduler._update_optimizer_lr``: the value the schedule returned (observed after Keras set it;
  the schedule function itself is not wrapped, so Keras' ``TypeError`` fallback and errors are untouched).
- ``BaseOptimizer.__init__`` (the user's line) and ``BaseOptimizer.apply`` (gradient statistics; the steps and
  the loss of custom training loops).
"""
from __future__ import annotations

import sys
from typing import List, Optional, Sequence

from keras.src import backend as _backend
from keras.src.callbacks.callback_list import CallbackList
from keras.src.callbacks.learning_rate_scheduler import LearningRateScheduler
from keras.src.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from keras.src.optimizers.base_optimizer import BaseOptimizer
from keras.src.optimizers.schedules.learning_rate_schedule import LearningRateSchedule

from .failopen import STATE
from .patches import Patches, argument
from . import keras_common as common, keras_plateau
from .keras_common import KerasOps, guarded


class Keras3Ops(KerasOps):
    lr_scheduler_types = (LearningRateScheduler,)
    plateau_types = (ReduceLROnPlateau,)
    schedule_types = (LearningRateSchedule,)

    def value(self, x) -> Optional[float]:
        if type(x) is float:
            return x
        try:
            return float(x)
        except Exception:
            try:
                return float(_backend.convert_to_numpy(x))
            except Exception:
                return None


class TorchBackendOps(Keras3Ops):
    """Keras 3 on torch: steps run eagerly (unless compiled), so statistics are computed at sampled steps."""

    watches_apply = True

    def graph_mode(self) -> bool:
        torch = sys.modules["torch"]
        compiler = getattr(torch, "compiler", None)
        return bool(compiler is not None and compiler.is_compiling())

    def norms(self, grads: Sequence, weights: Sequence):
        torch = sys.modules["torch"]
        tensors = [getattr(t, "value", t) for t in list(grads) + list(weights)]
        if not all(isinstance(t, torch.Tensor) for t in tensors):
            return None
        with torch.no_grad():
            device = tensors[0].device
            return torch.stack([torch.linalg.vector_norm(t.detach().float()).to(device) for t in tensors])

    def floats(self, tensor) -> List[float]:
        return [float(v) for v in tensor.tolist()]

    def eager_loss(self):
        # A custom loop calls loss.backward(); the PyTorch adapter keeps that tensor (read-only here).
        adapter = sys.modules.get("lrguard.integrations.torch")
        local = getattr(adapter, "_local", None)
        return getattr(local, "loss", None) if local is not None else None


def _ops() -> KerasOps:
    name = _backend.backend()
    if name == "tensorflow":
        from .keras_tf import TFOps

        class TFBackendOps(TFOps, Keras3Ops):
            """Keras 3 on TensorFlow."""

        return TFBackendOps()
    if name == "torch":
        return TorchBackendOps()
    return Keras3Ops()  # jax, numpy, ...: fit is watched (lrs, losses), gradients are not sampled


OPS: KerasOps = Keras3Ops()


# -- wrappers ------------------------------------------------------------------------------------------
def _train_begin(callbacks, *args, **kwargs) -> None:
    common.train_begin(callbacks, OPS)


def _epoch_begin(callbacks, *args, **kwargs) -> None:
    common.epoch_begin(callbacks, args[0] if args else kwargs.get("epoch"))


def _epoch_end(callbacks, *args, **kwargs) -> None:
    common.epoch_end(callbacks)


def _train_end(callbacks, *args, **kwargs) -> None:
    common.train_end(callbacks)


def lrguard_observes_lr_schedule(wrapped, instance, args, kwargs):
    """``LearningRateScheduler._update_optimizer_lr(optimizer, epoch)``: the schedule's lr for the epoch."""
    if not STATE.stopped:
        guarded("the LearningRateScheduler hook", common.before_schedule, instance, OPS)
    value = wrapped(*args, **kwargs)
    if not STATE.stopped:
        guarded("the LearningRateScheduler hook", common.scheduled, instance, OPS, argument(args, kwargs, 1, "epoch"),
                value, argument(args, kwargs, 0, "optimizer"))
    return value


def lrguard_observes_optimizer_apply(wrapped, instance, args, kwargs):
    """``BaseOptimizer.apply(grads, trainable_variables=None)``: one optimizer step."""
    watch = None
    if not STATE.stopped and (args or "grads" in kwargs):
        weights = argument(args, kwargs, 1, "trainable_variables")
        if weights is None:
            weights = getattr(instance, "_trainable_variables", None)
        watch = guarded("the Keras optimizer hook", common.before_apply, instance, OPS,
                        argument(args, kwargs, 0, "grads"), weights)
    result = wrapped(*args, **kwargs)
    if watch is not None and not STATE.stopped:
        guarded("the Keras optimizer hook", common.after_apply, watch)
    return result


def patch(patches: Patches) -> None:
    global OPS
    OPS = _ops()
    patches.wrap(CallbackList, "on_train_begin", common.after(_train_begin, "the Keras train-begin hook"))
    patches.wrap(CallbackList, "on_epoch_begin", common.after(_epoch_begin, "the Keras epoch-begin hook"))
    patches.wrap(CallbackList, "on_epoch_end", common.after(_epoch_end, "the Keras epoch-end hook"))
    patches.wrap(CallbackList, "on_train_batch_end", common.batch_end_hook("the Keras batch hook"))
    patches.wrap(CallbackList, "on_train_end", common.after(_train_end, "the Keras train-end hook"))
    patches.wrap(LearningRateScheduler, "__init__", common.after(common.built(common.callback_built), "a Keras callback"))
    patches.wrap(LearningRateScheduler, "_update_optimizer_lr", lrguard_observes_lr_schedule)
    patches.wrap(ReduceLROnPlateau, "__init__", common.after(common.built(common.callback_built), "a Keras callback"))
    patches.wrap(ReduceLROnPlateau, "on_epoch_end", keras_plateau.observer(OPS, "the ReduceLROnPlateau hook"))
    patches.wrap(BaseOptimizer, "__init__", common.after(common.built(common.optimizer_built), "a Keras optimizer"))
    patches.wrap(BaseOptimizer, "apply", lrguard_observes_optimizer_apply)
    if "tensorflow" in sys.modules:
        from .keras_tf import patch_tensorflow

        patch_tensorflow(patches)


def flush() -> None:
    """Final decisions for every live watched Keras optimizer (called by ``lrguard.findings()``)."""
    common.flush()


from .install import adapter_ready  # noqa: E402  (last: see adapter_ready)

adapter_ready(__name__)
