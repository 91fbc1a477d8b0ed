"""The seed's Keras program, correct: Keras' LearningRateScheduler gets the learning rate itself (lrguard is quiet).

An MNIST-shaped 784-128-10 MLP, Adam(1e-3), 10 epochs, the lr falling linearly from 1e-3 towards 0, as in the
blog post this project grew from, on generated data (no download). Its PyTorch port is ``seed_bug.py``: there the
same function, handed to LambdaLR, squares the lr. ``keras_multiplier_bug.py`` is the mirror mistake.
"""
import lrguard  # noqa: F401  (watches the training below)

import keras
import numpy as np


def mnist_like(n=2048, seed=0):
    """MNIST-shaped data made on the spot: each class is a noisy copy of a random prototype, one-hot labels."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((10, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    X = np.clip(prototypes[y] + 0.8 * rng.random((n, 784), dtype=np.float32), 0, 1)
    return X, keras.utils.to_categorical(y, 10)


def mnist_mlp():
    inputs = keras.Input((784,))
    x = keras.layers.Dense(128, activation="relu")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def lr_scheduler(epoch):
    initial_lr = 1e-3
    return (initial_lr - 1e-8) * (10 - epoch) / 10.0  # Keras: the schedule returns the lr itself


class PrintCallback(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        print(f"Epoch {epoch + 1}: learning rate = {lr:.6g}  loss = {logs['loss']:.4f}")


def train(epochs=10):
    keras.utils.set_random_seed(0)
    X, y = mnist_like()
    model = mnist_mlp()
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    lr_scheduling = keras.callbacks.LearningRateScheduler(lr_scheduler)
    model.fit(X, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[PrintCallback(), lr_scheduling])
    print("lrguard findings:", [finding.id for finding in lrguard.findings()])


if __name__ == "__main__":
    train()
