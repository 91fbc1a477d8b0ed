"""A LearningRateScheduler written as schedule(epoch) beside ReduceLROnPlateau: each epoch the scheduler sets the
lr from its own formula, so every cut the plateau callback makes is undone at the next epoch (keras PR#8829).

expect: schedule-not-applied
"""
import keras
import numpy as np

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)
X = rng.random((512, 16), dtype=np.float32)
y = rng.integers(0, 2, 512)  # random labels: the loss plateaus and the plateau callback cuts


def step_decay(epoch):
    return 1e-3 * 0.9 ** (epoch // 4)


model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
callbacks = [
    keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.2, patience=0, min_delta=0.5, min_lr=1e-7),
    keras.callbacks.LearningRateScheduler(step_decay),
]
model.fit(X, y, epochs=6, batch_size=32, verbose=0, callbacks=callbacks)
