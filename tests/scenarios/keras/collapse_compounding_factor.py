"""A two-argument schedule that compounds: lr * 0.01 every epoch drives the lr to ~0 and the loss stalls.

expect: lr-collapse
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(2)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)

model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.SGD(learning_rate=0.05), "sparse_categorical_crossentropy")
decay = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.01)  # meant: 0.01 of the initial lr, once
model.fit(X, y, epochs=6, batch_size=32, verbose=0, callbacks=[decay])
