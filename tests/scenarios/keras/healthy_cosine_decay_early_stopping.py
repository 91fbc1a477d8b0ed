"""CosineDecay sized for the planned 30 epochs, with EarlyStopping: the fit stops after a few epochs, long before the
decay ends, as planned.

expect: none
"""
import keras
import numpy as np

keras.utils.set_random_seed(5)
rng = np.random.default_rng(5)
X = rng.normal(size=(320, 8)).astype("float32")
y = (X[:, :1] + 0.3 * rng.normal(size=(320, 1))).astype("float32")

EPOCHS, BATCH = 30, 32
steps = EPOCHS * int(np.ceil(256 / BATCH))
schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=steps, warmup_target=2e-2, warmup_steps=16)
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
model.compile(keras.optimizers.SGD(schedule), "mse")
model.fit(X[:256], y[:256], validation_data=(X[256:], y[256:]), epochs=EPOCHS, batch_size=BATCH, verbose=0,
          callbacks=[keras.callbacks.EarlyStopping(patience=1, min_delta=0.05)])
