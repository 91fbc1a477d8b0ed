"""CosineDecay(decay_steps=EPOCHS): decay_steps counts optimizer steps (batches), so the lr reaches 0 after the first
10 batches of a 10-epoch fit.

expect: schedule-length
"""
import keras
import numpy as np

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
prototypes = rng.random((10, 32), dtype=np.float32)
y = rng.integers(0, 10, 512)
X = np.clip(prototypes[y] + 0.8 * rng.random((512, 32), dtype=np.float32), 0, 1)

EPOCHS = 10
lr_schedule = keras.optimizers.schedules.CosineDecay(initial_learning_rate=1e-3, decay_steps=EPOCHS)
model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr_schedule), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(X, y, epochs=EPOCHS, batch_size=32, verbose=0)
print(history.history["loss"][-1])
