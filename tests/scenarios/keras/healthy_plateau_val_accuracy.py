"""ReduceLROnPlateau on val_accuracy in mode "auto" (Keras maximizes accuracy) and on val_loss with the defaults.

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(26)
centers = rng.normal(0, 0.35, (4, 16)).astype("float32")
y = rng.integers(0, 4, 1280)
X = (centers[y] + rng.normal(0, 1, (1280, 16))).astype("float32")
for monitor in ("val_accuracy", "val_loss"):
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, validation_split=0.2, epochs=10, batch_size=32, verbose=0,
              callbacks=[keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=1)])
