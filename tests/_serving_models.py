"""One small model per tfvb family, fitted briefly, for the serving tests (a few seconds each)."""

import keras
import numpy as np

import tfvb
from tfvb.models import (
    CVAE,
    IWAE,
    BNNClassifier,
    BNNRegressor,
    DeepEnsemble,
    MCDropoutClassifier,
    MCDropoutRegressor,
)


def _images(n=64, seed=0):
    images, labels = tfvb.data.mnist_sample()
    return images[:n].astype("float32"), labels[:n]


def _table(n=64, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, (x[:, 0] - 2 * x[:, 1] + 0.1 * rng.normal(size=n)).astype("float32")


def _fit(model, x, y=None):
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    return model


def cvae():
    x, _ = _images()
    return _fit(CVAE(latent_dim=2, filters=(4, 8), seed=1), (x > 0.5).astype("float32"))


def iwae():
    x, _ = _images()
    return _fit(IWAE(k=3, latent_dim=3, latent_dim_1=5, hidden_units=(16,), hidden_units_2=(8,),
                     stochastic_layers=2, seed=1), (x > 0.5).astype("float32"))


def bnn_mlp():
    return _fit(BNNClassifier(10, hidden_units=(16,), posterior_sigma_init=0.1, seed=0), *_images())


def bnn_lenet():
    return _fit(BNNClassifier(10, hidden_units=(16,), architecture="lenet", posterior_sigma_init=0.1,
                              layer="reparameterization", seed=0), *_images())


def bnn_regressor():
    return _fit(BNNRegressor(hidden_units=(16,), posterior_sigma_init=0.1, seed=0), *_table())


def mc_dropout_classifier():
    return _fit(MCDropoutClassifier(10, hidden_units=(16,), dropout_rate=0.2, seed=0), *_images())


def mc_dropout_lenet():
    return _fit(MCDropoutClassifier(10, hidden_units=(16,), dropout_rate=0.2, architecture="lenet", seed=0),
                *_images())


def mc_dropout_regressor():
    return _fit(MCDropoutRegressor(hidden_units=(16,), dropout_rate=0.2, tau=10.0, seed=0), *_table())


def deep_ensemble():
    def net():
        return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 5, strides=2, activation="relu"),
                                 keras.layers.Flatten(), keras.layers.Dense(10)])

    model = DeepEnsemble(net, n=3, seed=0)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*_images(), epochs=1, batch_size=32, verbose=0)
    return model


def gaussian_ensemble():
    """Lakshminarayanan et al.'s regression ensemble: each member a mean and a variance (`GaussianNLL`)."""
    def net():
        return keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])

    model = DeepEnsemble(net, n=3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=tfvb.gaussian.GaussianNLL())
    model.fit(*_table(), epochs=2, batch_size=32, verbose=0)
    return model


def bayesianized_cnn():
    """A CNN with BatchNormalization made Bayesian: the statistics must stay frozen while weights are drawn."""
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 5, strides=2),
                            keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
                            keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(10)])
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _images()
    net.fit(x, y, epochs=1, verbose=0)
    bnn = tfvb.bayesianize(net, layer="flipout", seed=0)
    bnn.fit(x, y, epochs=1, batch_size=32, verbose=0)
    return bnn


FAMILIES = {f.__name__: f for f in (cvae, iwae, bnn_mlp, bnn_lenet, bnn_regressor, mc_dropout_classifier,
                                     mc_dropout_lenet, mc_dropout_regressor, deep_ensemble, gaussian_ensemble,
                                     bayesianized_cnn)}
#: Families whose predictive draws depend on the seed (an ensemble's members do not).
STOCHASTIC = tuple(name for name in FAMILIES if name not in ("deep_ensemble", "gaussian_ensemble"))


def inputs(name, n=6):
    """A few inputs of the family's shape."""
    if name in ("bnn_regressor", "mc_dropout_regressor", "gaussian_ensemble"):
        return _table(n, seed=1)[0]
    x, _ = _images(200)
    x = x[-n:]
    return (x > 0.5).astype("float32") if name in ("cvae", "iwae") else x
