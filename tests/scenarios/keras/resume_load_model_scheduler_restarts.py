"""Resuming from a saved .keras model (optimizer included, 4 epochs of iterations) without initial_epoch: fit counts
epochs from 0 again, so the LearningRateScheduler's warmup + decay starts over at its first warmup lr.

expect: resume-mismatch
"""
import math
import os
import tempfile

import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(23)
X = rng.normal(size=(512, 16)).astype("float32")
y = (X[:, 0] * X[:, 1] > 0).astype("int32")


def schedule(epoch, lr):
    if epoch < 2:
        return 1e-3 * (epoch + 1) / 2
    return 1e-3 * 0.5 * (1 + math.cos(math.pi * (epoch - 2) / 8))


model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=5, batch_size=32, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
path = os.path.join(tempfile.mkdtemp(), "model.keras")
model.save(path)

model = keras.models.load_model(path)
model.fit(X, y, epochs=5, batch_size=32, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
