"""An inverse-time decay written on the current lr: lr / (1 + epoch) compounds into lr0 / epoch! (~0 by epoch 7).

expect: lr-collapse
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(3)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)


def inverse_decay(epoch, lr):
    return lr / (1 + epoch)  # meant: initial_lr / (1 + epoch)


model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(learning_rate=1e-3), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=10, batch_size=32, verbose=0,
          callbacks=[keras.callbacks.LearningRateScheduler(inverse_decay)])
