"""Warmup from a small lr: the optimizer is built with 1e-5 and the schedule ramps to 1e-3 over 5 epochs.

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(8)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)


def warmup(epoch):
    return 1e-5 + (1e-3 - 1e-5) * min(epoch, 5) / 5


model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(learning_rate=1e-5), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=8, batch_size=32, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(warmup)])
