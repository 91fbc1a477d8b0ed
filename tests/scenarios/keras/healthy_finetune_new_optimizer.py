"""Fine-tuning: pretrained weights are loaded into a model compiled with a new optimizer and a warmup + cosine
schedule that starts from step 0 (right for a new optimizer); then a second stage with the base unfrozen.

expect: none
"""
import os
import tempfile

import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(25)
X = rng.normal(size=(512, 16)).astype("float32")
y = (X[:, 0] > 0).astype("int32")


def build():
    return keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu", name="base"),
                             keras.layers.Dense(2, activation="softmax", name="head")])


pretrained = build()
pretrained.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
pretrained.fit(X, y, epochs=3, batch_size=32, verbose=0)
path = os.path.join(tempfile.mkdtemp(), "pretrained.weights.h5")
pretrained.save_weights(path)

model = build()
model.load_weights(path)
model.get_layer("base").trainable = False
schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=48, warmup_target=5e-4, warmup_steps=16)
model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=3, batch_size=32, verbose=0)
model.get_layer("base").trainable = True
model.compile(keras.optimizers.Adam(1e-5), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=2, batch_size=32, verbose=0)
