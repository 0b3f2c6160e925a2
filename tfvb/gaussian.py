"""Gaussian regression in nats: the log density, the heteroscedastic NLL, standardization.

Written once for the MC-dropout models (their objectives and metrics), the
UCI protocol's batched grid (its training loss and its Monte Carlo test
log-likelihood) and `tfvb.evaluate`'s regression scores:

    log N(y; f, s^2) = -(y - f)^2 / (2 s^2) - log(s^2) / 2 - log(2 pi) / 2

    heteroscedastic NLL, s^2 = exp(v) from a log-variance head v:
        -log N(y; f, e^v) = (y - f)^2 e^(-v) / 2 + v / 2 + log(2 pi) / 2

    `GaussianNLL`, a Keras loss for a network with a mean and a variance head
    (Lakshminarayanan et al.'s parameterization, s^2 = softplus(v) + 1e-6):
        -log N(y; f, softplus(v) + min_variance)

    the Monte Carlo predictive of T passes, per test point:
        ll(y) = log (1/T) sum_t N(y; f_t, s_t^2)
              = logsumexp_t log N(y; f_t, s_t^2) - log T     (`tfvb.objectives.log_mean_exp`)

The expressions are spelled out rather than taken from `tfp.distributions`:
the grid's published UCI numbers were computed with these operations, except
that the NLL now scales the residual before squaring it (`standardized_residual`),
which moves ordinary values by float rounding only.
Standardization (Gal's protocol: inputs and targets standardized with the
training split's statistics) leaves constant columns centred, not scaled.
"""

import math

import keras
import numpy as np
import tensorflow as tf

__all__ = ["HALF_LOG_2PI", "log_density", "standardized_residual", "heteroscedastic_nll", "standardization",
           "GaussianNLL"]

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def log_density(y, mean, variance):
    """log N(y; mean, variance), elementwise (broadcasting)."""
    return -0.5 * tf.square(y - mean) / variance - 0.5 * tf.math.log(variance) - HALF_LOG_2PI


def standardized_residual(y, mean, log_variance):
    """(y - mean) / s with s^2 = exp(log_variance), elementwise, without overflowing on the way.

    e^(-v) overflows (float32 below v = -88.7, float16 below -11.1) long before
    the residual scaled by it does, and a zero residual times an overflowed
    e^(-v) is NaN. Scaling twice by e^(-v/4) keeps every factor finite for
    v > -4 log(max float) (-354 in float32, -44 in float16: far below where
    e^v itself underflows), so the result and its gradient overflow only
    where the exact ones (nearly) do.
    """
    quarter = tf.exp(-0.25 * log_variance)
    return (y - mean) * quarter * quarter


def heteroscedastic_nll(y, mean, log_variance):
    """-log N(y; mean, exp(log_variance)), elementwise, from a network's log-variance output."""
    return 0.5 * tf.square(standardized_residual(y, mean, log_variance)) + 0.5 * log_variance + HALF_LOG_2PI


def standardization(a, axis=0, keepdims=False):
    """(mean, scale) that standardize the numpy array `a` along `axis`: (a - mean) / scale.

    The scale is the standard deviation, except for a constant column: its
    std is rounding noise (~1e-16 |mean|), and dividing by it would turn the
    noise into a +-1 feature that float32 inputs at prediction do not
    reproduce (naval's constant 0.998 feature). Such columns get scale 1.
    """
    mean, std = a.mean(axis=axis, keepdims=keepdims), a.std(axis=axis, keepdims=keepdims)
    return mean, np.where(std > 1e-8 * np.abs(mean), std, 1.0)


@keras.saving.register_keras_serializable(package="tfvb")
class GaussianNLL(keras.losses.Loss):
    """-log N(y; mean, variance) of a network that predicts both: a Keras loss.

    The network's last axis holds 2 D values for D targets: the D means, then
    D unconstrained values v made variances by softplus(v) + `min_variance`
    (Lakshminarayanan et al.'s deep-ensemble regressors: a Dense(2) head for
    one target). `tfvb.models.DeepEnsemble` compiled with it mixes its
    members' Gaussians (`predict_uncertainty`: epistemic = the spread of the
    members' means, aleatoric = their mean variance).

    Args:
        min_variance: the variance floor, > 0 (the paper's 1e-6).
        reduction, name: as for any Keras loss.

    Example:
        >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(50, activation="relu"),
        ...                         keras.layers.Dense(2)])                        # mean and variance
        >>> net.compile(optimizer="adam", loss=tfvb.gaussian.GaussianNLL())
        >>> mean, variance = tfvb.gaussian.GaussianNLL().moments(net(np.zeros((4, 3), "float32")))
        >>> tuple(mean.shape), bool(np.all(variance.numpy() > 0))
        ((4, 1), True)

    References:
        Lakshminarayanan, Pritzel, Blundell. Simple and Scalable Predictive
        Uncertainty Estimation using Deep Ensembles. NeurIPS 2017.
    """

    def __init__(self, min_variance=1e-6, reduction="sum_over_batch_size", name="gaussian_nll", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        min_variance = float(min_variance)
        if not (math.isfinite(min_variance) and min_variance > 0):
            raise ValueError(f"Expected `min_variance` > 0. Received: min_variance={min_variance!r}")
        self.min_variance = min_variance

    def moments(self, outputs):
        """(mean, variance) from the network's outputs (..., 2 D): each (..., D)."""
        outputs = tf.convert_to_tensor(outputs)
        width = outputs.shape[-1]
        if width is None or width % 2:
            raise ValueError("Expected outputs whose last axis holds D means then D variance values (an even "
                             f"size, 2 for one target). Received: outputs.shape={outputs.shape}")
        d = width // 2
        return outputs[..., :d], tf.nn.softplus(outputs[..., d:]) + tf.cast(self.min_variance, outputs.dtype)

    def numpy_moments(self, outputs):
        """`moments` as numpy arrays, the target axis dropped for one target: (..., D) or (...)."""
        mean, variance = (t.numpy() for t in self.moments(outputs))
        return (mean[..., 0], variance[..., 0]) if mean.shape[-1] == 1 else (mean, variance)

    def raw(self, variance):
        """The unconstrained outputs whose variance is `variance` (> min_variance): `moments`' inverse."""
        excess = tf.maximum(tf.convert_to_tensor(variance) - self.min_variance, 1e-30)
        # log(exp(x) - 1) = x + log(1 - exp(-x)), and 1 - exp(-x) = 2 tanh(x/2) / (1 + tanh(x/2)): exact to
        # float rounding for small and large x alike, in ops every runtime has (ONNX has no expm1).
        half = tf.math.tanh(0.5 * excess)
        return excess + tf.math.log(2.0 * half / (1.0 + half))

    def call(self, y_true, y_pred):
        mean, variance = self.moments(y_pred)
        y_true = tf.cast(y_true, mean.dtype)
        if y_true.shape.rank == mean.shape.rank - 1:
            y_true = y_true[..., None]
        if y_true.shape[-1] is not None and mean.shape[-1] is not None and y_true.shape[-1] != mean.shape[-1]:
            raise ValueError(f"Expected targets with {mean.shape[-1]} values per example (half the network's "
                             f"{2 * mean.shape[-1]} outputs). Received: targets of shape {y_true.shape}")
        return tf.reduce_sum(-log_density(y_true, mean, variance), axis=-1)

    def get_config(self):
        return {**super().get_config(), "min_variance": self.min_variance}
