"""CosineDecayRestarts: a restart every 16 steps (then 32), by design.

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(6)
rng = np.random.default_rng(6)
prototypes = rng.random((5, 24), dtype=np.float32)
y = rng.integers(0, 5, 512)
X = np.clip(prototypes[y] + 0.6 * rng.random((512, 24), dtype=np.float32), 0, 1)
schedule = keras.optimizers.schedules.CosineDecayRestarts(2e-3, first_decay_steps=16, t_mul=2.0, alpha=0.01)
model = keras.Sequential([keras.Input((24,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(5, activation="softmax")])
model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=6, batch_size=32, verbose=0)
