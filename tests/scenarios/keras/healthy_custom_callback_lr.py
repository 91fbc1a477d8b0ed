"""A custom callback that sets the lr by hand every batch (a linear warmup over the first 64 steps).

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(12)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)


class Warmup(keras.callbacks.Callback):
    def __init__(self, peak, steps):
        super().__init__()
        self.peak, self.steps, self.seen = peak, steps, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.seen += 1
        self.model.optimizer.learning_rate = self.peak * min(1.0, self.seen / self.steps)


model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=5, batch_size=32, verbose=0, callbacks=[Warmup(1e-3, 64)])
