"""A keras.optimizers.schedules.CosineDecay over the whole run (to ~0 at the end), with a custom callback.

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(10)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)


class PrintLR(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        print("Current learning rate =", float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


steps = 6 * 32
schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps, alpha=0.0)
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(learning_rate=schedule), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=6, batch_size=32, verbose=0, callbacks=[PrintLR()])
