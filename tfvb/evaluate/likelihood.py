"""Importance-sampled log-likelihood estimates and Burda's active units."""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, objectives
from tfvb.models import _divergence


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A per-example estimate averaged over a data set: mean, its standard error, the values."""

    mean: float
    standard_error: float
    per_example: np.ndarray

    def __float__(self):
        return float(self.mean)

    def __repr__(self):
        return f"Estimate(mean={self.mean:.3f}, standard_error={self.standard_error:.3f}, n={len(self.per_example)})"


def _images(data):
    """Yield numpy image batches from an array, a (x, y) tuple, or a tf.data.Dataset."""
    if isinstance(data, tf.data.Dataset):
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            yield np.asarray(x)
        return
    if isinstance(data, (tuple, list)) and len(data) in (2, 3) and np.ndim(data[0]) >= 3:
        data = data[0]
    yield np.asarray(data)


def _require_latent_variable_model(model, action):
    """A tfvb VAE-family model with finite weights (a diverged model's estimate would be NaN)."""
    if not (hasattr(model, "log_importance_weights") and hasattr(model, "image_shape")):
        raise ValueError("Expected `model` to be a tfvb VAE-family model (CVAE, IWAE: one with "
                         f"`log_importance_weights`). Received: model of type {type(model).__name__}")
    _divergence.require_finite_weights(model, action)


def log_importance_weights(model, x, k, chunk=None, seed=0):
    """log w of shape (k, batch) for images `x`, drawn in chunks of samples so large k fits in memory."""
    k = _checks.positive_int("k", k)
    chunk = min(k, chunk or k)
    x = model.check_inputs(x)
    parts, done = [], 0
    while done < k:
        n = min(chunk, k - done)
        parts.append(_log_w_fn(model)(x, tf.constant(n), tf.constant(seed + done)))
        done += n
    return tf.concat(parts, axis=0)


def _log_w_fn(model):
    fn = getattr(model, "_tfvb_log_w_fn", None)
    if fn is None:

        @tf.function(reduce_retracing=True)
        def fn(x, n, seed):
            return model.log_importance_weights(x, n, seed=seed)

        model._tfvb_log_w_fn = fn
    return fn


def log_likelihood(model, data, k=5000, method="iwae", order=1, batch_size=None, chunk=None, seed=0,
                   verbose=1):
    """Importance-sampled estimate of log p(x), per image in nats, as in Burda et al. (IWAE-5000).

    log p(x) ~ log (1/k) sum_i w_i with z_i ~ q(z|x) (a lower bound in
    expectation, tight as k grows); `method="jackknife"` applies Nowozin's
    order-`order` jackknife to the same weights, removing the O(1/k) bias.

    Args:
        model: a tfvb VAE-family model (has `log_importance_weights`).
        data: images (N, H, W[, C]) in [0, 1], an (images, labels) tuple, or a dataset of them.
        k: importance samples per image.
        method: "iwae" or "jackknife".
        batch_size: images per step; by default chosen so a step holds about 16M pixels x samples.
        chunk: samples per step; by default all k, or fewer when that would not fit.
        seed: makes the estimate reproducible.
        verbose: 1 shows a progress bar.

    Returns:
        An `Estimate` (mean, standard error over images, per-image values).
    """
    _checks.one_of("method", method, {"iwae", "jackknife"})
    return log_likelihood_estimates(model, data, k, (method,), order, batch_size, chunk, seed, verbose)[method]


def log_likelihood_estimates(model, data, k=5000, methods=("iwae", "jackknife"), order=1, batch_size=None,
                             chunk=None, seed=0, verbose=1):
    """Several estimates of log p(x) from the same importance weights: {method: Estimate}."""
    k = _checks.positive_int("k", k)
    for method in methods:
        _checks.one_of("method", method, {"iwae", "jackknife"})
    _require_latent_variable_model(model, "estimate log p(x) with")
    pixels = math.prod(model.image_shape)
    images = np.concatenate([np.asarray(b, np.float32) for b in _images(data)])
    if len(images) == 0:
        raise ValueError("Expected at least one image. Received: 0 images")
    if chunk is None:
        chunk = max(1, min(k, (1 << 24) // pixels))
    if batch_size is None:
        batch_size = max(1, min(len(images), (1 << 24) // (pixels * chunk)))
    progress = keras.utils.Progbar(len(images), unit_name="image") if verbose else None
    values = {m: [] for m in methods}
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        log_w = log_importance_weights(model, x, k, chunk=chunk, seed=seed + 7919 * start)
        for method in methods:
            if method == "iwae":
                est = objectives.iwae_bound(log_w, axis=0)
            else:
                est = objectives.jackknife_bound(log_w, order=order, axis=0, seed=seed)
            values[method].append(est.numpy())
        if progress:
            progress.add(len(x))
    return {m: _estimate(np.concatenate(v)) for m, v in values.items()}


def _estimate(values):
    values = values.astype(np.float64)
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
    return Estimate(float(values.mean()), se, values)


def active_units(model, data, threshold=1e-2, batch_size=500):
    """Burda et al.'s active units: dimensions u with Cov_x(E_q[u | x]) > threshold.

    Returns (number of active units, per-dimension variance of the posterior means).
    """
    _require_latent_variable_model(model, "count the active units of")
    images = np.concatenate([np.asarray(b, np.float32) for b in _images(data)])
    if len(images) < 2:
        raise ValueError(f"Expected at least two images to estimate a covariance. Received: {len(images)}")
    means = np.concatenate([
        model.encode(images[i:i + batch_size])[0].numpy()
        for i in range(0, len(images), batch_size)
    ])
    variances = means.var(axis=0)
    return int((variances > threshold).sum()), variances
