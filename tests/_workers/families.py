"""Tiny models of every tfvb family, their data and their `fit`, shared by the multi-worker launcher and tests.

`run(family, kind, out)` builds the family's model in the current strategy's
scope, fits one epoch at a global batch of 32 (47 examples: a full batch and
an uneven last one) on arrays or on a tf.data.Dataset sharded by DATA (the
policy a user sets for in-memory data), and returns the model. The same call
on one device is the reference run the workers must reproduce.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

N, BATCH = 47, 32


def _images(n=N):
    from tfvb import data

    return data.binarize_fixed(data.mnist_sample()[0][:n], seed=0)


def _labels(n=N, classes=3):
    return (np.arange(n) % classes).astype("int32")


def _regression(n=N, d=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, (x @ np.arange(1, d + 1) + 0.3 * rng.normal(size=n)).astype("float32")


def _vae(**kwargs):
    from tfvb.models import CVAE, IWAE

    def build():
        if kwargs.pop("cvae", False):
            return CVAE(latent_dim=2, filters=(4, 8), seed=1)
        return IWAE(k=3, latent_dim=2, hidden_units=(8,), seed=1, **kwargs)

    return build, lambda: (_images(), None)


def _bnn_classifier(layer):
    from tfvb.models import BNNClassifier

    return (lambda: BNNClassifier(3, hidden_units=(8,), layer=layer, num_examples=N, seed=1),
            lambda: (_images(), _labels()))


def _bnn_regressor(layer):
    from tfvb.models import BNNRegressor

    return (lambda: BNNRegressor(hidden_units=(8,), layer=layer, input_dim=3, num_examples=N, seed=1),
            _regression)


def _mc_dropout_regressor(**kwargs):
    from tfvb.models import MCDropoutRegressor

    return lambda: MCDropoutRegressor(hidden_units=(8,), dropout_rate=0.2, seed=1, **kwargs), _regression


def _mc_dropout_classifier():
    from tfvb.models import MCDropoutClassifier

    return (lambda: MCDropoutClassifier(3, hidden_units=(8,), dropout_rate=0.2, seed=1),
            lambda: (_images(), _labels()))


def _member():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])


def _ensemble():
    from tfvb.models import DeepEnsemble

    return lambda: DeepEnsemble(lambda: _member(), n=2, seed=1), _regression


def _bayesianized():
    import tfvb

    def build():
        keras.utils.set_random_seed(1)
        net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        net.compile(loss="mse")
        return tfvb.bayesianize(net, layer="flipout", num_examples=N, seed=1)

    return build, _regression


FAMILIES = {
    "cvae": lambda: _vae(cvae=True),
    "iwae": lambda: _vae(),
    "iwae2": lambda: _vae(latent_dim_1=3, hidden_units_2=(4,), stochastic_layers=2),
    "iwae_dreg": lambda: _vae(gradient="dreg"),
    "bnn_classifier_flipout": lambda: _bnn_classifier("flipout"),
    "bnn_classifier_reparameterization": lambda: _bnn_classifier("reparameterization"),
    "bnn_classifier_local_reparameterization": lambda: _bnn_classifier("local_reparameterization"),
    "bnn_regressor_flipout": lambda: _bnn_regressor("flipout"),
    "bnn_regressor_reparameterization": lambda: _bnn_regressor("reparameterization"),
    "bnn_regressor_local_reparameterization": lambda: _bnn_regressor("local_reparameterization"),
    "mc_dropout_regressor": lambda: _mc_dropout_regressor(),
    "mc_dropout_regressor_concrete": lambda: _mc_dropout_regressor(concrete=True, heteroscedastic=True),
    "mc_dropout_classifier": _mc_dropout_classifier,
    "deep_ensemble": _ensemble,
    "bayesianize": _bayesianized,
}
KINDS = ("arrays", "dataset")


def data(family):
    return FAMILIES[family]()[1]()


def make(family):
    """The family's model, compiled, in the current strategy's scope; the regressors adapted to the arrays."""
    build, arrays = FAMILIES[family]()
    x, y = arrays()
    with tf.distribute.get_strategy().scope():
        model = build()
        loss = None
        if family == "deep_ensemble":
            loss = "mse"
        # A small step: the updates stay in the linear regime, where float error does not grow.
        model.compile(optimizer=keras.optimizers.SGD(1e-4), loss=loss)
        if family.startswith(("mc_dropout", "bnn_regressor")):  # they standardize with the arrays' statistics
            model.adapt(x, y)
    return model


def dataset(x, y):
    """Batches of the global size, sharded across workers by DATA: worker i keeps its replicas' rows of each."""
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).batch(BATCH)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def fit(model, family, kind, epochs=1, callbacks=None, initial_epoch=0):
    x, y = data(family)
    common = dict(epochs=epochs, verbose=0, callbacks=callbacks, initial_epoch=initial_epoch)
    if kind == "dataset":
        return model.fit(dataset(x, y), **common)
    return model.fit(x, y, batch_size=BATCH, shuffle=False, **common)


def weights(model):
    return {f"w{i}": v.numpy() for i, v in enumerate(model.trainable_variables)}


def set_weights(model, stored):
    for i, v in enumerate(model.trainable_variables):
        v.assign(stored[f"w{i}"])
