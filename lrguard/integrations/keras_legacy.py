"""Legacy Keras 2 adapter: ``tf_keras`` (``tf.keras`` under ``TF_USE_LEGACY_KERAS=1``), on TensorFlow.

The same observations as the Keras 3 adapter (see ``keras_common``), from the same places in place-patched:
``CallbackList``'s train hooks, ``LearningRateScheduler.on_epoch_begin`` (the lr it set), and the optimizers'
``__init__`` and ``apply_gradients`` (new ``Optimizer`` and ``optimizers.legacy.OptimizerV2``).
"""
from __future__ import annotations

import sys
from typing import Optional

from tf_keras.src import callbacks as _callbacks
from tf_keras.src.optimizers import optimizer as _optimizer
from tf_keras.src.optimizers.legacy import optimizer_v2 as _optimizer_v2
from tf_keras.src.optimizers.schedules.learning_rate_schedule import LearningRateSchedule

from .failopen import STATE
from .patches import Patches, argument
from . import keras_common as common, keras_plateau
from .keras_common import guarded
from .keras_tf import TFOps, patch_tensorflow

OptimizerV2 = _optimizer_v2.OptimizerV2


class LegacyOps(TFOps):
    lr_scheduler_types = (_callbacks.LearningRateScheduler,)
    plateau_types = (_callbacks.ReduceLROnPlateau,)
    schedule_types = (LearningRateSchedule,)

    def raw_lr(self, opt):
        if isinstance(opt, OptimizerV2):
            # Read without creating the optimizer's variables early (hypers, iterations are created lazily).
            if getattr(opt, "_hypers_created", False) and getattr(opt, "_iterations", None) is not None:
                return opt._decayed_lr(sys.modules["tensorflow"].float32)
            lr = getattr(opt, "_hyper", {}).get("learning_rate")
            return lr(0) if isinstance(lr, LearningRateSchedule) else lr
        return opt.learning_rate

    def lr_schedule(self, opt):
        lr = getattr(opt, "_hyper", {}).get("learning_rate") if isinstance(opt, OptimizerV2) else getattr(
            opt, "_learning_rate", None)
        return lr if isinstance(lr, LearningRateSchedule) else None


OPS = LegacyOps()


def lrguard_observes_lr_schedule(wrapped, instance, args, kwargs):
    """``LearningRateScheduler.on_epoch_begin(epoch, logs=None)``: the schedule's lr for the epoch."""
    if not STATE.stopped:
        guarded("the LearningRateScheduler hook", common.before_schedule, instance, OPS)
    result = wrapped(*args, **kwargs)
    if not STATE.stopped:
        guarded("the LearningRateScheduler hook", common.scheduled, instance, OPS, argument(args, kwargs, 0, "epoch"),
                None)
    return result


def lrguard_observes_apply_gradients(wrapped, instance, args, kwargs):
    """``apply_gradients(grads_and_vars, ...)``: one optimizer step."""
    watch = None
    if not STATE.stopped and (args or "grads_and_vars" in kwargs):
        pairs = argument(args, kwargs, 0, "grads_and_vars")
        if not isinstance(pairs, (list, tuple)):
            pairs = list(pairs)  # what the original does first thing (a zip is read once)
            if args:
                args = (pairs,) + tuple(args[1:])
            else:
                kwargs = dict(kwargs, grads_and_vars=pairs)
        watch = guarded("the tf_keras optimizer hook", _before_apply, instance, pairs)
    result = wrapped(*args, **kwargs)
    if watch is not None and not STATE.stopped:
        guarded("the tf_keras optimizer hook", common.after_apply, watch)
    return result


def _before_apply(opt, pairs) -> Optional[common._Watch]:
    if not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        return None
    return common.before_apply(opt, OPS, [g for g, _ in pairs], [v for _, v in pairs])


def patch(patches: Patches) -> None:
    callback_list = _callbacks.CallbackList
    patches.wrap(callback_list, "on_train_begin", common.after(lambda cbs, *a, **k: common.train_begin(cbs, OPS),
                                                         "the tf_keras train-begin hook"))
    patches.wrap(callback_list, "on_epoch_begin", common.after(
        lambda cbs, *a, **k: common.epoch_begin(cbs, a[0] if a else k.get("epoch")), "the tf_keras epoch-begin hook"))
    patches.wrap(callback_list, "on_epoch_end", common.after(lambda cbs, *a, **k: common.epoch_end(cbs),
                                                       "the tf_keras epoch-end hook"))
    patches.wrap(callback_list, "on_train_batch_end", common.batch_end_hook("the tf_keras batch hook"))
    patches.wrap(callback_list, "on_train_end", common.after(lambda cbs, *a, **k: common.train_end(cbs),
                                                       "the tf_keras train-end hook"))
    patches.wrap(_callbacks.LearningRateScheduler, "__init__", common.after(common.built(common.callback_built), "a callback"))
    patches.wrap(_callbacks.LearningRateScheduler, "on_epoch_begin", lrguard_observes_lr_schedule)
    patches.wrap(_callbacks.ReduceLROnPlateau, "__init__", common.after(common.built(common.callback_built), "a callback"))
    patches.wrap(_callbacks.ReduceLROnPlateau, "on_epoch_end", keras_plateau.observer(OPS, "the ReduceLROnPlateau hook"))
    for base in (_optimizer._BaseOptimizer, OptimizerV2):
        patches.wrap(base, "__init__", common.after(common.built(common.optimizer_built), "a tf_keras optimizer"))
        patches.wrap(base, "apply_gradients", lrguard_observes_apply_gradients)
    patch_tensorflow(patches)


def flush() -> None:
    """Final decisions for every live watched Keras optimizer (called by ``lrguard.findings()``)."""
    common.flush()


from .install import adapter_ready  # noqa: E402  (last: see adapter_ready)

adapter_ready(__name__)
