"""Predictive uncertainty from T stacked Monte Carlo predictions.

A Bayesian model (a BNN with sampled weights, MC dropout, ...) predicts T
times on the same inputs; these functions turn the stack into the usual
summaries. Both take numpy arrays or tensors and return a dict of float64
numpy arrays, so every model's `predict_uncertainty` reports the same names.
Their accumulators (`ClassificationAccumulator`, `RegressionAccumulator`)
take the T predictions in chunks, so a model's `predict_uncertainty` keeps
its memory bounded for any T.

Classification, probabilities p_t(c | x) of shape (T, N, C) (Gal, 2016, §3.3):

    mean               p(c|x) = (1/T) sum_t p_t(c|x)
    entropy            H[p] = -sum_c p(c|x) log p(c|x)           (total, nats)
    expected_entropy   (1/T) sum_t H[p_t]                         (aleatoric)
    mutual_information H[p] - (1/T) sum_t H[p_t]                  (epistemic, >= 0)
    variation_ratio    1 - f_mode / T, f_mode the number of the T
                       argmax predictions that agree with their mode

Regression, Gaussian predictions N(mu_t(x), s_t^2(x)) of shape (T, N) or
(T, N, D), by the law of total variance (Kendall and Gal, 2017):

    mean       (1/T) sum_t mu_t
    epistemic  (1/T) sum_t (mu_t - mean)^2      (variance of the means)
    aleatoric  (1/T) sum_t s_t^2                 (mean of the variances)
    variance   epistemic + aleatoric             (total predictive variance)

Example:
    >>> probs = np.full((10, 4, 3), 1 / 3)            # T=10 identical uniform predictions
    >>> u = classification_uncertainty(probs)
    >>> u["entropy"].round(4), u["mutual_information"].round(4)
    (array([1.0986, 1.0986, 1.0986, 1.0986]), array([0., 0., 0., 0.]))

References:
    Gal. Uncertainty in Deep Learning. PhD thesis, University of Cambridge, 2016.
    Kendall, Gal. What Uncertainties Do We Need in Bayesian Deep Learning
    for Computer Vision? NeurIPS 2017.
"""

import numpy as np

__all__ = ["classification_uncertainty", "regression_uncertainty", "entropy", "ClassificationAccumulator",
           "RegressionAccumulator"]


def _as_float_array(name, value):
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"Expected `{name}` to be finite. Received {bad} NaN or inf values.")
    return arr


def entropy(probs, axis=-1):
    """Shannon entropy in nats along `axis`, with 0 log 0 = 0."""
    probs = np.asarray(probs, dtype=np.float64)
    logp = np.log(np.where(probs > 0, probs, 1.0))
    return -np.sum(probs * logp, axis=axis)


def _check_probabilities(probs, name="probs_samples"):
    row_sums = probs.sum(axis=-1)
    if probs.min() < 0 or not np.allclose(row_sums, 1.0, atol=1e-3):
        raise ValueError(
            f"Expected `{name}` to hold probabilities (non-negative, summing to 1 over the "
            f"last axis). Received: min={probs.min():.4g}, row sums in "
            f"[{row_sums.min():.4g}, {row_sums.max():.4g}]"
        )


class ClassificationAccumulator:
    """Gal's measures from T predictions that arrive in chunks: memory O(N x C) whatever T.

    `add(probs, rows)` takes a chunk (T_c, n, C) of the predictions for the
    inputs `rows` (a slice of the N); `result()` gives what
    `classification_uncertainty` gives for all the chunks stacked.
    """

    def __init__(self, num_inputs, num_classes):
        self.count = np.zeros(num_inputs, np.int64)
        self.sum_probs = np.zeros((num_inputs, num_classes))
        self.sum_entropy = np.zeros(num_inputs)
        self.votes = np.zeros((num_inputs, num_classes), np.int64)

    def add(self, probs, rows=slice(None)):
        probs = _as_float_array("probs_samples", probs)
        _check_probabilities(probs)
        t, n, c = probs.shape
        self.count[rows] += t
        self.sum_probs[rows] += probs.sum(axis=0)
        self.sum_entropy[rows] += entropy(probs).sum(axis=0)
        votes = probs.argmax(axis=-1)  # (T_c, n)
        self.votes[rows] += np.stack([(votes == k).sum(axis=0) for k in range(c)], axis=-1)

    def result(self):
        t = self.count[:, None].astype(np.float64)
        mean = self.sum_probs / t
        total = entropy(mean)
        expected = self.sum_entropy / t[:, 0]
        return {
            "mean": mean,
            "entropy": total,
            "expected_entropy": expected,
            # Jensen gives MI >= 0 exactly; clip the float rounding below zero.
            "mutual_information": np.maximum(total - expected, 0.0),
            "variation_ratio": 1.0 - self.votes.max(axis=-1) / t[:, 0],
            "prediction": mean.argmax(axis=-1).astype(np.int64),
        }


def classification_uncertainty(probs_samples):
    """Gal's uncertainty measures from T stacked class-probability predictions.

    Args:
        probs_samples: array of shape (T, N, C), the predicted class
            probabilities of each of T stochastic forward passes (each row
            sums to 1).

    Returns:
        A dict of numpy arrays: `mean` (N, C) predictive probabilities;
        `entropy` (N,) predictive entropy (total uncertainty);
        `expected_entropy` (N,) mean entropy of the T predictions (aleatoric);
        `mutual_information` (N,) their difference (epistemic);
        `variation_ratio` (N,) fraction of passes disagreeing with the modal
        class; `prediction` (N,) int64 argmax of `mean`.

    Raises:
        ValueError: when the array is not 3-D, is empty, is not finite, or
            does not hold probabilities.
    """
    probs = _as_float_array("probs_samples", probs_samples)
    if probs.ndim != 3 or 0 in probs.shape:
        raise ValueError(
            "Expected `probs_samples` of shape (T, N, C) with T, N, C >= 1. "
            f"Received: probs_samples.shape={probs.shape}"
        )
    accumulator = ClassificationAccumulator(probs.shape[1], probs.shape[2])
    accumulator.add(probs)
    return accumulator.result()


class RegressionAccumulator:
    """The law of total variance from T Gaussian predictions arriving in chunks: memory O(N x D).

    The variance of the means is merged chunk by chunk (Chan et al.'s
    pairwise update, in float64), so it equals the one of the stacked array.
    """

    def __init__(self, shape):
        self.count = np.zeros(shape[:1] + (1,) * (len(shape) - 1), np.int64)
        self.mean = np.zeros(shape)
        self.m2 = np.zeros(shape)
        self.sum_variance = np.zeros(shape)

    def add(self, mean_samples, var_samples=None, rows=slice(None)):
        means = _as_float_array("mean_samples", mean_samples)
        variances = _check_variances(var_samples, means)
        t = means.shape[0]
        n = self.count[rows].astype(np.float64)
        chunk_mean = means.mean(axis=0)
        delta = chunk_mean - self.mean[rows]
        total = n + t
        self.mean[rows] += delta * (t / total)
        self.m2[rows] += ((means - chunk_mean) ** 2).sum(axis=0) + delta ** 2 * (n * t / total)
        self.sum_variance[rows] += variances.sum(axis=0)
        self.count[rows] += t

    def result(self):
        epistemic = self.m2 / self.count
        aleatoric = self.sum_variance / self.count
        variance = epistemic + aleatoric
        return {"mean": self.mean.copy(), "variance": variance, "epistemic": epistemic, "aleatoric": aleatoric,
                "std": np.sqrt(variance)}


def _check_variances(var_samples, means):
    if var_samples is None:
        return np.zeros_like(means)
    variances = _as_float_array("var_samples", var_samples)
    try:
        variances = np.broadcast_to(variances, means.shape)
    except ValueError:
        raise ValueError(
            f"Expected `var_samples` broadcastable to mean_samples.shape={means.shape}. "
            f"Received: var_samples.shape={variances.shape}"
        ) from None
    if variances.min() < 0:
        raise ValueError(f"Expected `var_samples` to be non-negative. Received: min={variances.min():.4g}")
    return variances


def regression_uncertainty(mean_samples, var_samples=None):
    """Epistemic and aleatoric variance from T stacked Gaussian predictions.

    Args:
        mean_samples: array of shape (T, N) or (T, N, D), the predicted means
            of T stochastic forward passes.
        var_samples: the predicted noise variances, of the same shape or
            broadcastable to it (a scalar for homoscedastic noise); None
            means no observation noise (aleatoric = 0).

    Returns:
        A dict of numpy arrays of shape (N,) or (N, D): `mean`, `variance`
        (total), `epistemic`, `aleatoric`, and `std` (sqrt of `variance`).

    Raises:
        ValueError: on a wrong rank, empty input, non-finite values,
            negative variances or shapes that do not broadcast.
    """
    means = _as_float_array("mean_samples", mean_samples)
    if means.ndim not in (2, 3) or 0 in means.shape:
        raise ValueError(
            "Expected `mean_samples` of shape (T, N) or (T, N, D) with T, N, D >= 1. "
            f"Received: mean_samples.shape={means.shape}"
        )
    accumulator = RegressionAccumulator(means.shape[1:])
    accumulator.add(means, var_samples)
    return accumulator.result()
