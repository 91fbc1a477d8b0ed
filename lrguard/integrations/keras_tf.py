"""TensorFlow specifics of the Keras adapters (Keras 3 on TensorFlow, and tf_keras).

Under ``tf.function`` (``fit``'s default) a step runs no Python, so while the optimizer's apply is traced, lrguard
adds a few ops to the traced step: at sampled steps (a counter of its own, a ``tf.cond``) the norms of the first
and last weight matrices and of their gradients are written to a small side variable of lrguard's, created
outside the function. They do not touch the model's values. The host copies that variable at sampled batches and
reads the copies together at checkpoints. Nothing is added under a ``tf.distribute`` strategy.

This module is imported only by adapters whose framework has already imported TensorFlow.
"""
from __future__ import annotations

import sys
from typing import List, Optional, Sequence

from .patches import Patches, argument
from .keras_common import GRAD_EVERY, KerasOps, guarded, tape_target


def _tf():
    return sys.modules["tensorflow"]


class TFOps(KerasOps):
    """Values, norms and tracing with TensorFlow."""

    watches_apply = True

    def value(self, x) -> Optional[float]:
        if type(x) is float:
            return x
        try:
            return float(x)
        except Exception:
            try:
                return float(x.numpy())
            except Exception:
                return None

    def graph_mode(self) -> bool:
        return not _tf().executing_eagerly()

    def _norm(self, x):
        tf = _tf()
        if isinstance(x, tf.IndexedSlices):
            x = x.values
        x = tf.convert_to_tensor(x)
        return tf.norm(tf.reshape(tf.cast(x, tf.float32), [-1]))

    def norms(self, grads: Sequence, weights: Sequence):
        tf = _tf()
        if tf.distribute.has_strategy():
            return None
        return tf.stack([self._norm(t) for t in list(grads) + list(weights)])

    def instrument(self, watch, opt, grads: Sequence, weights: Sequence) -> None:
        tf = _tf()
        if tf.distribute.has_strategy():
            return
        if watch.slot is None:
            with tf.init_scope():
                watch.slot = (
                    tf.Variable(tf.fill([5], -1.0), trainable=False, name="lrguard_grad_stats", dtype=tf.float32),
                    tf.Variable(0, trainable=False, name="lrguard_step", dtype=tf.int64),
                )
        stats, counter = watch.slot
        step = counter.assign_add(1)
        sampled = tf.logical_or(tf.equal(step % GRAD_EVERY, 0), tf.logical_or(tf.equal(step, 2), tf.equal(step, 4)))

        def write():
            values = [self._norm(t) for t in list(grads) + list(weights)] + [tf.cast(step, tf.float32)]
            return stats.assign(tf.stack(values), read_value=False)

        tf.cond(sampled, write, tf.no_op)

    def snapshot(self, slot):
        return _tf().identity(slot[0])

    def floats(self, tensor) -> List[float]:
        return [float(v) for v in tensor.numpy().tolist()]


class _Unowned:
    """A ``Patches.keep`` handle: when its Patches are restored, the TF patches may be made again."""

    def remove(self) -> None:
        global _owner
        _owner = None


_owner: Optional[Patches] = None


def patch_tensorflow(patches: Patches) -> None:
    """Wrap ``GradientTape.gradient`` (eager custom loops' loss) once, whichever Keras adapter comes first."""
    global _owner
    backprop = sys.modules.get("tensorflow.python.eager.backprop")
    if _owner is not None or backprop is None or not hasattr(backprop, "GradientTape"):
        return
    _owner = patches
    patches.keep(_Unowned())
    patches.wrap(backprop.GradientTape, "gradient", lrguard_observes_gradient_tape)


def lrguard_observes_gradient_tape(wrapped, instance, args, kwargs):
    """``GradientTape.gradient(target, sources, ...)``: the loss of an eager custom training loop."""
    if args or "target" in kwargs:
        guarded("the GradientTape hook", tape_target, argument(args, kwargs, 0, "target"), _tf().executing_eagerly())
    return wrapped(*args, **kwargs)
