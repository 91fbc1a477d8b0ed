"""Resuming properly: the .keras file restores the optimizer (its iterations drive the CosineDecay schedule), and a
LearningRateScheduler run is resumed with initial_epoch, so both schedules go on where they were.

expect: none
"""
import os
import tempfile

import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(24)
X = rng.normal(size=(512, 16)).astype("float32")
y = (X[:, :2].sum(1) > 0).astype("int32")
folder = tempfile.mkdtemp()


def model_with(optimizer):
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer, "binary_crossentropy")
    return model


decay = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=8 * 16, warmup_target=None)
model = model_with(keras.optimizers.Adam(decay))
model.fit(X, y, epochs=4, batch_size=32, verbose=0)
model.save(os.path.join(folder, "a.keras"))
model = keras.models.load_model(os.path.join(folder, "a.keras"))
model.fit(X, y, initial_epoch=4, epochs=8, batch_size=32, verbose=0)

step_decay = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 * 0.5 ** (epoch // 2))
model = model_with(keras.optimizers.Adam(1e-3))
model.fit(X, y, epochs=3, batch_size=32, verbose=0, callbacks=[step_decay])
model.save(os.path.join(folder, "b.keras"))
model = keras.models.load_model(os.path.join(folder, "b.keras"))
model.fit(X, y, initial_epoch=3, epochs=6, batch_size=32, verbose=0, callbacks=[step_decay])
