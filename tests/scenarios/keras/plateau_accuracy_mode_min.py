"""ReduceLROnPlateau told mode="min" (copied from a val_loss setup) while it monitors val_accuracy: every epoch's
improvement counts as worse, and the lr is cut again and again while the model is still learning.

expect: plateau-mode
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(21)
centers = rng.normal(0, 0.35, (4, 16)).astype("float32")
y = rng.integers(0, 4, 1280)
X = (centers[y] + rng.normal(0, 1, (1280, 16))).astype("float32")

model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(4, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.002, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="min", factor=0.5, patience=1,
                                              min_lr=1e-6)
model.fit(X, y, validation_split=0.2, epochs=10, batch_size=32, verbose=0, callbacks=[reduce_lr])
