"""ReduceLROnPlateau beside a LearningRateScheduler: the plateau callback cuts the lr 10x more than once.

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(7)
X = rng.random((512, 16), dtype=np.float32)
y = rng.integers(0, 2, 512)  # random labels: the loss plateaus, the plateau callback cuts


def warm_then_hold(epoch, lr):
    return lr if epoch else 1e-3


model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
callbacks = [
    keras.callbacks.LearningRateScheduler(warm_then_hold),
    keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=0, min_delta=0.5, min_lr=1e-9),
]
model.fit(X, y, epochs=8, batch_size=32, verbose=0, callbacks=callbacks)
