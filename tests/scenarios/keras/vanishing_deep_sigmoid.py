"""Genuine vanishing gradients with a correct schedule: a 10-layer sigmoid MLP; the loss stays flat.

expect: vanishing-gradients
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(4)
prototypes = rng.random((10, 784), dtype=np.float32)
y = rng.integers(0, 10, 2048)
X = np.clip(prototypes[y] + 0.8 * rng.random((2048, 784), dtype=np.float32), 0, 1)

layers = [keras.Input((784,))] + [keras.layers.Dense(64, activation="sigmoid") for _ in range(10)]
model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 0.1 * 0.9 ** epoch)  # a correct Keras schedule
model.fit(X, y, epochs=4, batch_size=64, verbose=0, callbacks=[schedule])
