"""A step schedule (lr / 10 at epochs 3 and 6) with verbose output, through tf.keras (Keras 3 in TF 2.21).

expect: none
"""
from tensorflow import keras  # tf.keras: Keras 3 in TensorFlow 2.21
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(6)
prototypes = rng.random((10, 64), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 64), dtype=np.float32), 0, 1)


def step_decay(epoch):
    return 0.01 * 0.1 ** (epoch // 3)


model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.SGD(learning_rate=0.01, momentum=0.9), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=8, batch_size=32, verbose=0,
          callbacks=[keras.callbacks.LearningRateScheduler(step_decay, verbose=1)])
