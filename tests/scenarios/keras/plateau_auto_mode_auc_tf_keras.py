"""Legacy Keras 2 (tf_keras): ReduceLROnPlateau(monitor="val_auc") in the default mode "auto" minimizes it, since
only names with "acc" are maximized there (keras#11964): the AUC rises and the lr is cut every other epoch.

expect: plateau-mode
"""
import numpy as np
import tf_keras as keras

keras.utils.set_random_seed(0)
rng = np.random.default_rng(27)
X = rng.normal(size=(1280, 24)).astype("float32")
y = ((X[:, :6] @ rng.normal(size=6)) + rng.normal(0, 1.0, 1280) > 0).astype("float32")

model = keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(24,)),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.02, momentum=0.5), loss="binary_crossentropy",
              metrics=[keras.metrics.AUC(name="auc")])
model.fit(X, y, validation_split=0.25, epochs=10, batch_size=32, verbose=0,
          callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_auc", factor=0.5, patience=2)])
