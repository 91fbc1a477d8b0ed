"""Resuming with `model.load_weights(...)` and `fit(initial_epoch=4)` (tensorflow#49208): the optimizer is new, its
iterations start at 0, so the ExponentialDecay schedule (it counts optimizer steps, not epochs) starts over.

expect: resume-mismatch
"""
import os
import tempfile

import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(22)
X = rng.normal(size=(640, 20)).astype("float32")
y = (X[:, :3].sum(1) > 0).astype("int32")
EPOCHS, BATCH = 8, 32
steps_per_epoch = len(X) // BATCH


def build():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=steps_per_epoch, decay_rate=0.7)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(learning_rate=schedule), "binary_crossentropy")
    return model


weights = os.path.join(tempfile.mkdtemp(), "ckpt.weights.h5")
model = build()
model.fit(X, y, epochs=4, batch_size=BATCH, verbose=0)
model.save_weights(weights)

model = build()
model.load_weights(weights)
model.fit(X, y, initial_epoch=4, epochs=EPOCHS, batch_size=BATCH, verbose=0)
