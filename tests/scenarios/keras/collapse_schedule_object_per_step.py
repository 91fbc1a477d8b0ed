"""A keras.optimizers.schedules object sized in epochs but applied per step: ExponentialDecay(decay_steps=1).

expect: lr-collapse
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(9)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)

schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1, decay_rate=0.9)  # meant: per epoch
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(learning_rate=schedule), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=5, batch_size=32, verbose=0)
