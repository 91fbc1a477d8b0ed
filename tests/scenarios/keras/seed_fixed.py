"""The seed's correct Keras program: LearningRateScheduler given the lr itself (an MNIST-shaped 784-128-10 MLP).

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
prototypes = rng.random((10, 784), dtype=np.float32)
y = rng.integers(0, 10, 1024)
X = np.clip(prototypes[y] + 0.8 * rng.random((1024, 784), dtype=np.float32), 0, 1)
Y = keras.utils.to_categorical(y, 10)


def lr_scheduler(epoch):
    initial_lr = 1e-3
    return (initial_lr - 1e-8) * (10 - epoch) / 10.0


inputs = keras.Input((784,))
hidden = keras.layers.Dense(128, activation="relu")(inputs)
outputs = keras.layers.Dense(10, activation="softmax")(hidden)
model = keras.Model(inputs, outputs)
model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
model.fit(X, Y, epochs=10, batch_size=32, verbose=0,
          callbacks=[keras.callbacks.LearningRateScheduler(lr_scheduler)])
