"""A LearningRateScheduler whose linear decay was written for 4 epochs, in a 12-epoch fit: the lr is 0 from epoch 4
on, and two thirds of the training do nothing.

expect: schedule-length
"""
import keras
import numpy as np

keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)
X = rng.normal(size=(384, 12)).astype("float32")
y = (X @ rng.normal(size=(12, 1))).astype("float32")

DECAY_EPOCHS = 4


def schedule(epoch, lr):
    return 1e-2 * max(0.0, 1.0 - epoch / DECAY_EPOCHS)


model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
model.compile(keras.optimizers.SGD(1e-2), "mse")
model.fit(X, y, epochs=12, batch_size=32, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
