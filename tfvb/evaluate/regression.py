"""Regression scores of the UCI benchmark: RMSE and test log-likelihood.

With T Monte Carlo predictions f_t(x) and noise variances s_t^2(x) (s_t^2 =
1/tau for homoscedastic noise of precision tau), the predictive density is the
mixture (1/T) sum_t N(y; f_t, s_t^2), and per test point

    ll(y) = logsumexp_t log N(y; f_t, s_t^2) - log T
          = logsumexp_t(-tau/2 (y - f_t)^2) - log T - log(2 pi)/2 + log(tau)/2   (homoscedastic)

`mc_test_log_likelihood` averages ll over test points; `rmse` is that of the
MC mean (1/T) sum_t f_t. Multi-output targets sum the log-densities over outputs.

Example:
    >>> f = np.random.default_rng(0).normal(size=(1000, 50))    # T=1000 passes, 50 points
    >>> y = np.zeros(50)
    >>> regression_scores(y, f, tau=1.0)["ll"] < 0
    True

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation: Representing Model
    Uncertainty in Deep Learning. ICML 2016.
    Hernández-Lobato, Adams. Probabilistic Backpropagation for Scalable
    Learning of Bayesian Neural Networks. ICML 2015.
"""

import math

import numpy as np
import tensorflow as tf

from tfvb import _checks, gaussian, objectives

__all__ = ["rmse", "gaussian_test_log_likelihood", "mc_test_log_likelihood", "regression_scores",
           "mean_and_standard_error"]

def _array(name, value):
    arr = np.asarray(_checks.finite_array(name, value), dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"Expected `{name}` to be non-empty. Received: {name}.shape={arr.shape}")
    return arr


def _targets(y_true, pred_shape, name):
    """`y_true` shaped like one prediction: (N,) against (N,) or (N, 1), (N, D) against (N, D)."""
    y = _array("y_true", y_true)
    if y.shape != pred_shape:
        if y.size == int(np.prod(pred_shape)) and y.ndim <= 2 and len(pred_shape) <= 2 and y.shape[0] == pred_shape[0]:
            y = y.reshape(pred_shape)
        else:
            raise ValueError(
                f"Expected `y_true` of shape {pred_shape} to match `{name}`. Received: y_true.shape={y.shape}"
            )
    return y


def _log_density(y, mean, variance):
    """`tfvb.gaussian.log_density` in float64, on numpy arrays."""
    return gaussian.log_density(*(tf.constant(a, tf.float64) for a in (y, mean, variance))).numpy()


def _per_point(logp):
    # Sum log-densities over the output dimensions of multi-output targets.
    return logp.reshape(logp.shape[0], -1).sum(axis=1) if logp.ndim > 1 else logp


def _broadcast(name, value, shape):
    """`value` broadcast to `shape`, or a ValueError naming both shapes (numpy's said neither)."""
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        raise ValueError(f"Expected `{name}` of shape {shape} (or one that broadcasts to it). Received: "
                         f"{name}.shape={np.shape(value)}") from None


def mean_and_standard_error(values):
    """(mean, standard error of the mean) of independent scores, e.g. one per benchmark split.

    The standard error is std(ddof=1) / sqrt(n), 0.0 for a single value. (Gal's
    scripts print std(ddof=0) / sqrt(n), smaller by sqrt((n-1)/n): 2.6% at n=20.)
    """
    v = _array("values", values).ravel()
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), se


def rmse(y_true, y_pred):
    """Root mean squared error sqrt(mean((y - y_pred)^2)) over all entries."""
    pred = _array("y_pred", y_pred)
    y = _targets(y_true, pred.shape, "y_pred")
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def gaussian_test_log_likelihood(y_true, mean, variance, per_example=False):
    """Mean over test points of log N(y; mean, variance) (the moment-matched predictive).

    Args:
        y_true: targets (N,) or (N, D).
        mean, variance: predictive mean and variance, same shape (variance > 0).
        per_example: return the (N,) values instead of their mean.
    """
    mean = _array("mean", mean)
    y = _targets(y_true, mean.shape, "mean")
    variance = _broadcast("variance", _array("variance", variance), mean.shape)
    if variance.min() <= 0:
        raise ValueError(f"Expected `variance` > 0. Received: min={variance.min():.4g}")
    ll = _per_point(_log_density(y, mean, variance))
    return ll if per_example else float(ll.mean())


def mc_test_log_likelihood(y_true, mean_samples, tau=None, var_samples=None, per_example=False):
    """Test log-likelihood of the MC mixture (1/T) sum_t N(y; f_t, s_t^2), averaged over points.

    Args:
        y_true: targets (N,) or (N, D).
        mean_samples: (T, N) or (T, N, D) predictions f_t.
        tau: the noise precision (homoscedastic); exclusive with `var_samples`.
        var_samples: per-pass noise variances s_t^2, broadcastable to `mean_samples`.
        per_example: return the (N,) values instead of their mean.
    """
    f = _array("mean_samples", mean_samples)
    if f.ndim not in (2, 3):
        raise ValueError(
            f"Expected `mean_samples` of shape (T, N) or (T, N, D). Received: mean_samples.shape={f.shape}"
        )
    if (tau is None) == (var_samples is None):
        raise ValueError(
            "Expected exactly one of `tau` and `var_samples`. "
            f"Received: tau={tau!r}, var_samples={'None' if var_samples is None else 'an array'}"
        )
    if tau is not None:
        var = 1.0 / _checks.positive_float("tau", tau)
    else:
        var = _broadcast("var_samples", _array("var_samples", var_samples), f.shape)
        if var.min() <= 0:
            raise ValueError(f"Expected `var_samples` > 0. Received: min={var.min():.4g}")
    y = _targets(y_true, f.shape[1:], "mean_samples[0]")
    logp = _log_density(y, f, var)
    if logp.ndim == 3:
        logp = logp.sum(axis=2)
    ll = objectives.log_mean_exp(logp, axis=0).numpy()
    return ll if per_example else float(ll.mean())


def regression_scores(y_true, mean_samples, tau=None, var_samples=None):
    """RMSE of the MC mean, MC test log-likelihood and the moment-matched Gaussian one.

    Returns a dict of floats: `rmse`, `ll` (mixture, as in the UCI benchmark),
    `ll_gaussian` (N(y; MC mean, predictive variance)), `n` (test points) and
    `samples` (T).
    """
    f = _array("mean_samples", mean_samples)
    ll = mc_test_log_likelihood(y_true, f, tau=tau, var_samples=var_samples)
    mean = f.mean(axis=0)
    noise = 1.0 / float(tau) if tau is not None else np.mean(np.broadcast_to(var_samples, f.shape), axis=0)
    return {
        "rmse": rmse(y_true, mean),
        "ll": ll,
        "ll_gaussian": gaussian_test_log_likelihood(y_true, mean, f.var(axis=0) + noise),
        "n": int(f.shape[1]),
        "samples": int(f.shape[0]),
    }
