"""Warmup that starts 1000x below the optimizer's lr: 1e-6 in the first epoch, then up to Adam's 1e-3 by epoch 3.

The optimizer's own lr (1e-3) is never used for a step before the schedule replaces it: no collapse.

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(13)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)


def warmup(epoch):
    return 1e-6 if epoch == 0 else 1e-3 * min(1.0, epoch / 3)


model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=6, batch_size=32, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(warmup)])
