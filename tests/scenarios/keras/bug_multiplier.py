"""The mirror bug: a PyTorch-style multiplier given to Keras' LearningRateScheduler (the lr becomes 1.0).

expect: keras-multiplier
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(1)
prototypes = rng.random((10, 784), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 784), dtype=np.float32), 0, 1)


def lr_scheduling(epoch):
    return 1.0 * (10 - epoch) / 10.0  # PyTorch habit: a multiplier of the base lr


model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy")
scheduler = keras.callbacks.LearningRateScheduler(lr_scheduling)
model.fit(X, y, epochs=3, batch_size=32, verbose=0, callbacks=[scheduler])
