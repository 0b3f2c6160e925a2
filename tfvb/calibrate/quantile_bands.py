"""A regressor's predictive quantiles: the band that conformalized quantile regression (CQR) calibrates.

CQR (`tfvb.calibrate.conformal(..., score="quantile")`) needs, for a
coverage c, the model's lower and upper predictive quantiles at the levels

    a_lo = (1 - c) / 2,    a_hi = (1 + c) / 2.

A model that predicts them (e.g. heads trained with the pinball loss)
returns them from `predict_uncertainty` as `lower_quantile` and
`upper_quantile`, shaped like `mean`; they are used as given. Otherwise they
are the quantiles of the model's Monte Carlo predictive, from its T draws
(`predict_samples`):

- Gaussian draws (a dict of `mean` m_t and `variance` s_t^2, or `std` s_t:
  BNN and MC-dropout regressors, Gaussian ensembles, GaussianNLL networks):
  the quantile of the equal-weight mixture,

      F(z) = (1/T) sum_t Phi((z - m_t) / s_t),    q(a) = the z with F(z) = a,

  found by bisection on F between the smallest and the largest component
  quantile m_t + s_t Phi^{-1}(a), which bracket it (F is a mean of the
  components' CDFs); a component with s_t = 0 is a point mass.
- point draws (an array of T predictions: ensembles of plain networks, Keras
  models with tfvb layers and a mean output): their empirical quantiles
  (`numpy.quantile`, linear interpolation).

Example:
    >>> mean, std = np.array([[-1.0], [1.0]]), np.ones((2, 1))       # T = 2 components, one input
    >>> bool(abs(mixture_quantile(mean, std, 0.5)[0]) < 1e-12)       # symmetric: the median is the centre
    True
    >>> round(float(mixture_quantile(mean[:1], std[:1], 0.975)[0]), 4)   # one component: -1 + 1.96
    0.96

References:
    Romano, Patterson, Candès. Conformalized Quantile Regression. NeurIPS 2019.
"""

from statistics import NormalDist

import numpy as np
import tensorflow as tf

from tfvb import _checks
from tfvb.calibrate import _predictive, _wrapper

__all__ = ["LOWER", "UPPER", "levels", "mixture_quantile", "with_band"]

#: The names of a model's predictive quantiles at (1 - coverage) / 2 and (1 + coverage) / 2.
LOWER, UPPER = "lower_quantile", "upper_quantile"
#: The most bisection steps: a bracket is down to 1e-14 of the values' scale after about 50.
_STEPS = 200


def levels(coverage):
    """(a_lo, a_hi) = ((1 - coverage) / 2, (1 + coverage) / 2)."""
    coverage = _checks.open_unit_interval("coverage", coverage)
    return (1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0


def _mixture_cdf(z, mean, std):
    """(1/T) sum_t Phi((z - m_t) / s_t) over axis 0; a zero s_t is a point mass at m_t (Phi(+-inf))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(std > 0, (z - mean) / np.where(std > 0, std, 1.0), np.where(z >= mean, np.inf, -np.inf))
    return (0.5 * tf.math.erfc(tf.constant(-t / np.sqrt(2.0), tf.float64))).numpy().mean(axis=0)


def mixture_quantile(mean, std, level):
    """The `level` quantile of the equal-weight mixture of N(mean[t], std[t]^2) over axis 0, by bisection.

    Args:
        mean, std: the T components' means and standard deviations, (T, ...) (std >= 0).
        level: the quantile's level, in (0, 1).

    Returns:
        numpy array of shape (...): the quantiles, to float64 precision.
    """
    level = _checks.open_unit_interval("level", level)
    mean = _checks.finite_array("mean", np.asarray(mean, np.float64))
    std = _checks.finite_array("std", np.asarray(std, np.float64))
    if mean.ndim == 0 or mean.shape != std.shape or np.any(std < 0):
        raise ValueError(f"Expected `mean` and a non-negative `std` of the same shape (T, ...). Received: "
                         f"mean.shape={mean.shape}, std.shape={std.shape}, smallest std {std.min():.4g}")
    component = mean + std * NormalDist().inv_cdf(level)
    lo, hi = component.min(axis=0), component.max(axis=0)
    # Relative to the values' scale: a quantile at 0 would otherwise be bisected down to denormal floats.
    tolerance = 1e-14 * (np.abs(component).max(axis=0) + std.max(axis=0))
    for _ in range(_STEPS):
        mid = 0.5 * (lo + hi)
        if np.all((hi - lo <= tolerance) | (mid == lo) | (mid == hi)):
            break
        below = _mixture_cdf(mid, mean, std) < level
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _draws_shaped(name, value, mean):
    """Draws (T,) + mean.shape, a trailing unit axis of the draws dropped or added as the mean has it."""
    value = np.asarray(value, np.float64)
    if value.ndim == mean.ndim + 2 and value.shape[-1] == 1:
        value = value[..., 0]
    if value.ndim == mean.ndim and mean.ndim >= 2 and mean.shape[-1] == 1:
        value = value[..., None]
    if value.ndim != mean.ndim + 1 or value.shape[1:] != mean.shape:
        raise ValueError(f"Expected draws {name} of shape (T,) + {mean.shape}, the predicted mean's. Received: "
                         f"shape={np.shape(value)}")
    return value


def _band_from_draws(model, x, coverage, mean, samples, seed, **kwargs):
    method = getattr(model, "predict_samples", None)
    if not callable(method):
        raise ValueError(f"Expected a regressor whose `predict_uncertainty` returns `{LOWER}` and `{UPPER}`, or "
                         f"with `predict_samples` (its Monte Carlo draws) for score='quantile'. Received: "
                         f"{type(model).__name__}, with neither")
    kwargs = {k: v for k, v in kwargs.items() if _wrapper._takes(model, k, "predict_samples")}
    draws = _predictive.call(method, x, samples, seed, **kwargs)
    lo, hi = levels(coverage)
    if isinstance(draws, dict):
        if "mean" not in draws or not ("std" in draws or "variance" in draws):
            raise ValueError(f"Expected Gaussian draws with `mean` and `variance` (or `std`). Received: keys "
                             f"{sorted(draws)}")
        means = _draws_shaped("mean", draws["mean"], mean)
        std = (_draws_shaped("std", draws["std"], mean) if "std" in draws
               else np.sqrt(np.maximum(_draws_shaped("variance", draws["variance"], mean), 0.0)))
        return mixture_quantile(means, std, lo), mixture_quantile(means, std, hi)
    values = _checks.finite_array("draws", _draws_shaped("", draws, mean))
    return np.quantile(values, lo, axis=0), np.quantile(values, hi, axis=0)


def with_band(model, x, u, coverage, samples=None, seed=None, **kwargs):
    """`u` (the model's `predict_uncertainty(x)`) with `lower_quantile` and `upper_quantile`: the model's own,
    else those of its draws at the levels of `coverage` (see the module docstring), shaped like `u["mean"]`."""
    mean = np.asarray(u["mean"], np.float64)
    if LOWER in u and UPPER in u:
        band = [_predictive.shaped_like(u[name], mean) for name in (LOWER, UPPER)]
        for name, value in zip((LOWER, UPPER), band):
            if value.shape != mean.shape:
                raise ValueError(f"Expected u[{name!r}] of the shape of u['mean'], {mean.shape}. Received: "
                                 f"u[{name!r}].shape={np.shape(u[name])}")
    else:
        band = _band_from_draws(model, x, coverage, mean, samples, seed, **kwargs)
    return {**u, LOWER: band[0], UPPER: band[1]}
