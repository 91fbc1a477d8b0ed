"""A schedule whose arithmetic yields NaN from epoch 2 on (a log of a non-positive number).

expect: invalid-lr
"""
import math

import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(11)
X = rng.random((256, 16), dtype=np.float32)
y = rng.integers(0, 2, 256)


def schedule(epoch):
    return 1e-3 * (1 + math.log(2 - epoch)) if epoch < 2 else float("nan")


model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
model.fit(X, y, epochs=4, batch_size=32, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
