"""The Keras docs' schedule: keep the lr for 10 epochs, then lr * exp(-0.1) per epoch.

expect: none
"""
import math

import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(5)
X = rng.random((256, 20), dtype=np.float32)
y = X @ rng.random((20, 1), dtype=np.float32)


def scheduler(epoch, lr):
    if epoch < 10:
        return lr
    return lr * math.exp(-0.1)


model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
model.compile(keras.optimizers.SGD(), loss="mse")
model.fit(X, y, epochs=15, batch_size=32, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(scheduler)])
