"""Tutorial: keras.io's "Probabilistic Bayesian Neural Networks" (the BNN with DenseVariational) ported to tfvb.

Run it as `python tfp_probabilistic_bnn.py` in a tfvb checkout (it reads the UCI red-wine folder under
`../shared/data/uci` or `$TFVB_SHARED_DATA`; about eight minutes on 2 CPU cores).
docs/tutorials/tfp_probabilistic_bnn.md compares it with the original part by part.
"""

# --8<-- [start:data]
import keras
import numpy as np
from keras import layers

import tfvb

keras.utils.set_random_seed(0)
wine = tfvb.data.uci("wine-quality-red", split=0)        # 11 physico-chemical features -> quality (0-10)
x_train, y_train = wine.x_train.astype("float32"), wine.y_train.astype("float32")
x_test, y_test = wine.x_test.astype("float32"), wine.y_test.astype("float32")
train_size = len(x_train)
print(x_train.shape, x_test.shape)
# --8<-- [end:data]

# --8<-- [start:model]
hidden_units = [8, 8]


def create_bnn_model(train_size):
    inputs = keras.Input((11,))
    features = layers.BatchNormalization()(inputs)
    # keras.io: tfp.layers.DenseVariational(units, make_posterior_fn=posterior, make_prior_fn=prior,
    #           kl_weight=1 / train_size, activation="sigmoid")
    # tfvb: the kernel sampled once per call is DenseReparameterization; kl_weight is read as num_examples.
    for units in hidden_units:
        features = tfvb.layers.DenseReparameterization(units, kl_weight=1 / train_size, activation="sigmoid")(features)
    outputs = layers.Dense(units=1)(features)
    return keras.Model(inputs=inputs, outputs=outputs)


bnn_model = create_bnn_model(train_size)
bnn_model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), loss=keras.losses.MeanSquaredError(),
                  metrics=[keras.metrics.RootMeanSquaredError()])
# --8<-- [end:model]

# --8<-- [start:train]
history = bnn_model.fit(x_train, y_train, batch_size=256, epochs=300, validation_data=(x_test, y_test), verbose=0)
logs = {name: values[-1] for name, values in history.history.items()}
# val_loss is the same objective as loss (MSE + KL / N): early stopping on it keeps its meaning.
print({name: round(value, 3) for name, value in logs.items()})
# --8<-- [end:train]

# --8<-- [start:predict]
sample = 10
examples, targets = x_test[:sample], y_test[:sample]
# keras.io: predicted = [model(examples).numpy() for _ in range(iterations)] (TFP samples on every call)
predicted = tfvb.predict_samples(bnn_model, examples, samples=100, seed=0)[..., 0]   # (100, 10)
prediction_mean = np.mean(predicted, axis=0).tolist()
prediction_min = np.min(predicted, axis=0).tolist()
prediction_max = np.max(predicted, axis=0).tolist()
prediction_range = (np.max(predicted, axis=0) - np.min(predicted, axis=0)).tolist()
for idx in range(sample):
    print(f"Predictions mean: {round(prediction_mean[idx], 2)}, min: {round(prediction_min[idx], 2)}, "
          f"max: {round(prediction_max[idx], 2)}, range: {round(prediction_range[idx], 2)} - "
          f"Actual: {targets[idx]}")
# --8<-- [end:predict]

# --8<-- [start:batchnorm]
# Why not model(x, training=True) in a loop: it also puts BatchNormalization in training mode (batch
# statistics), which moves the draws; tfvb.predict_samples keeps the moving statistics.
looped = np.stack([bnn_model(examples, training=True).numpy()[:, 0] for _ in range(100)])
print(f"mean of the draws, tfvb.predict_samples: {predicted.mean():.3f}; training=True loop: {looped.mean():.3f}")
u = tfvb.predict_uncertainty(bnn_model, x_test, samples=100, seed=0)
print(f"epistemic std on the test wines: mean {np.sqrt(u['epistemic']).mean():.3f}")
# --8<-- [end:batchnorm]
