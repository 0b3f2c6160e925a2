"""Gaussian regression in nats: the log density, the heteroscedastic NLL, standardization.

Written once for the MC-dropout models (their objectives and metrics), the
UCI protocol's batched grid (its training loss and its Monte Carlo test
log-likelihood) and `tfvb.evaluate`'s regression scores:

    log N(y; f, s^2) = -(y - f)^2 / (2 s^2) - log(s^2) / 2 - log(2 pi) / 2

    heteroscedastic NLL, s^2 = exp(v) from a log-variance head v:
        -log N(y; f, e^v) = (y - f)^2 e^(-v) / 2 + v / 2 + log(2 pi) / 2

    the Monte Carlo predictive of T passes, per test point:
        ll(y) = log (1/T) sum_t N(y; f_t, s_t^2)
              = logsumexp_t log N(y; f_t, s_t^2) - log T     (`tfvb.objectives.log_mean_exp`)

The expressions are spelled out rather than taken from `tfp.distributions`:
the grid's published UCI numbers were computed with exactly these operations.
Standardization (Gal's protocol: inputs and targets standardized with the
training split's statistics) leaves constant columns centred, not scaled.
"""

import math

import numpy as np
import tensorflow as tf

__all__ = ["HALF_LOG_2PI", "log_density", "heteroscedastic_nll", "standardization"]

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def log_density(y, mean, variance):
    """log N(y; mean, variance), elementwise (broadcasting)."""
    return -0.5 * tf.square(y - mean) / variance - 0.5 * tf.math.log(variance) - HALF_LOG_2PI


def heteroscedastic_nll(y, mean, log_variance):
    """-log N(y; mean, exp(log_variance)), elementwise, from a network's log-variance output."""
    return 0.5 * tf.square(y - mean) * tf.exp(-log_variance) + 0.5 * log_variance + HALF_LOG_2PI


def standardization(a, axis=0, keepdims=False):
    """(mean, scale) that standardize the numpy array `a` along `axis`: (a - mean) / scale.

    The scale is the standard deviation, except for a constant column: its
    std is rounding noise (~1e-16 |mean|), and dividing by it would turn the
    noise into a +-1 feature that float32 inputs at prediction do not
    reproduce (naval's constant 0.998 feature). Such columns get scale 1.
    """
    mean, std = a.mean(axis=axis, keepdims=keepdims), a.std(axis=axis, keepdims=keepdims)
    return mean, np.where(std > 1e-8 * np.abs(mean), std, 1.0)
