"""PiecewiseConstantDecay with its boundaries written in epochs ([3, 6]): they count optimizer steps, so both cuts
come in the first epoch's first batches and the rest of the fit trains at 1/100 of the lr.

expect: schedule-length
"""
import keras
import numpy as np

keras.utils.set_random_seed(2)
rng = np.random.default_rng(2)
X = rng.normal(size=(512, 16)).astype("float32")
y = (X[:, :4].sum(axis=1) > 0).astype("int64")

schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[3, 6], values=[1e-2, 1e-3, 1e-4])
model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
model.compile(keras.optimizers.SGD(learning_rate=schedule, momentum=0.9), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=8, batch_size=32, verbose=0)
