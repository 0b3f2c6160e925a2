"""The split-conformal quantile: the finite-sample rank that makes coverage hold for any model.

With n calibration scores s_1..s_n (nonconformity: large when the model is
wrong) and a target coverage 1 - alpha,

    k     = ceil((n + 1)(1 - alpha))
    q_hat = s_(k), the k-th smallest score          (k <= n)
    q_hat = +inf                                   (k > n: too few points)

If the calibration and test points are exchangeable, a test point's score
satisfies s_{n+1} <= q_hat with probability

    1 - alpha  <=  P(s_{n+1} <= q_hat)  <=  1 - alpha + 1 / (n + 1),

the upper bound when the scores are almost surely distinct (Vovk et al.
2005; Lei et al. 2018, Theorem 2.2). This is the ceil((n + 1)(1 - alpha)) / n
empirical quantile of the scores, not the (1 - alpha) one: the latter
undercovers by up to 1 / n. With k > n no finite threshold has the
guarantee, so the prediction interval or set is the whole space; the
calibration functions of `tfvb.calibrate` refuse such a split (fewer than
ceil((1 - alpha) / alpha) points: 9 for 90%, 19 for 95%, 99 for 99%).

Example:
    >>> scores = np.arange(1.0, 20.0)                          # 19 calibration scores 1..19
    >>> conformal_quantile(scores, coverage=0.9)               # k = ceil(20 * 0.9) = 18
    18.0
    >>> conformal_quantile(scores[:5], coverage=0.9)           # k = 6 > 5: no finite threshold
    inf

References:
    Vovk, Gammerman, Shafer. Algorithmic Learning in a Random World. Springer, 2005.
    Lei, G'Sell, Rinaldo, Tibshirani, Wasserman. Distribution-Free Predictive
    Inference for Regression. JASA, 2018.
    Angelopoulos, Bates. A Gentle Introduction to Conformal Prediction and
    Distribution-Free Uncertainty Quantification. 2021.
"""

import math
import numbers

import numpy as np

from tfvb import _checks

__all__ = ["conformal_quantile", "quantile_rank", "minimum_calibration_size"]


def quantile_rank(n, coverage):
    """k = ceil((n + 1) coverage), the rank of the conformal quantile among n scores (may exceed n)."""
    n = _checks.positive_int("n", n)
    coverage = _checks.open_unit_interval("coverage", coverage)
    # Rounded first: (n + 1) * 0.9 is 90.00000000000001 for n = 99 in floating point, whose ceiling is 91.
    return int(math.ceil(round((n + 1) * coverage, 9)))


def minimum_calibration_size(coverage):
    """The smallest n with ceil((n + 1) coverage) <= n: below it, the conformal quantile is infinite."""
    coverage = _checks.open_unit_interval("coverage", coverage)
    n = max(1, int(math.floor(coverage / (1.0 - coverage))) - 1)
    while quantile_rank(n, coverage) > n:
        n += 1
    return n


def conformal_quantile(scores, coverage=0.9, axis=0):
    """q_hat = the ceil((n + 1) coverage)-th smallest of n scores (+inf when that rank exceeds n).

    Args:
        scores: calibration scores, shape (n,) or (n, D) (one quantile per column), finite.
        coverage: the target coverage 1 - alpha, in (0, 1).
        axis: the axis of the n calibration points.

    Returns:
        A float (or an array of D floats): the threshold with
        P(s_test <= q_hat) >= coverage for exchangeable scores, +inf when n is too small.

    Raises:
        ValueError: on coverage outside (0, 1), empty or non-finite scores.
    """
    coverage = _checks.open_unit_interval("coverage", coverage)
    scores = _checks.finite_array("scores", np.asarray(scores, dtype=np.float64))
    if scores.ndim and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)
                        or not -scores.ndim <= axis < scores.ndim):
        raise ValueError(f"Expected `axis` to be an integer in [{-scores.ndim}, {scores.ndim - 1}] (an axis of "
                         f"`scores`, shape {scores.shape}). Received: axis={axis!r}")
    if scores.ndim == 0 or scores.shape[axis] == 0:
        raise ValueError(f"Expected at least one calibration score. Received: scores.shape={scores.shape}")
    n = scores.shape[axis]
    k = quantile_rank(n, coverage)
    if k > n:
        value = np.full(np.delete(scores.shape, axis), np.inf)
    else:
        value = np.partition(scores, k - 1, axis=axis).take(k - 1, axis=axis)
    return float(value) if np.ndim(value) == 0 else value


def require_finite(n, coverage):
    """Raise when n calibration points are too few for a finite quantile at `coverage`."""
    if quantile_rank(n, coverage) > n:
        need = minimum_calibration_size(coverage)
        raise ValueError(
            f"Expected at least {need} calibration examples for coverage={coverage:g} (with fewer, "
            f"ceil((n + 1) * {coverage:g}) > n and the only valid prediction region is everything: an infinite "
            f"interval, or every class). Received: n={n}"
        )
