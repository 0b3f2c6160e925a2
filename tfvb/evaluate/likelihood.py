"""Importance-sampled log-likelihood estimates and Burda's active units."""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, _traced, objectives
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


def _images(data, image_shape):
    """Yield numpy image batches from images, a list of images or of image batches, an (images, labels[,
    weights]) tuple, or a tf.data.Dataset of them."""
    if isinstance(data, tf.data.Dataset):
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            _refuse_mapping(x, "batches")
            yield np.asarray(x)
        return
    _refuse_mapping(data, "data")
    if isinstance(data, (tuple, list)) and data:
        if _is_labelled(data):
            data = data[0]
        elif not all(_is_one_image(np.shape(item), image_shape) for item in data):
            for item in data:  # a list of batches
                _refuse_mapping(item, "data")
                yield np.asarray(item)
            return
    yield np.asarray(data)


def _is_labelled(data):
    """Whether a 2- or 3-item tuple or list is (images, labels[, weights]): items 1 and 2 at most 2-D, with a
    row per image. (batch_a, batch_b) or a list of 2 images is not."""
    if len(data) not in (2, 3) or np.ndim(data[0]) < 3:
        return False
    rows = len(data[0])
    return all(item is None or (0 < np.ndim(item) <= 2 and np.shape(item)[0] == rows) for item in data[1:])


def _is_one_image(shape, image_shape):
    return tuple(shape) == tuple(image_shape) or (image_shape[-1] == 1 and tuple(shape) == tuple(image_shape[:-1]))


def _all_images(data, image_shape):
    """Every image of `data` in one float32 array of shape (N,) + image_shape."""
    image_shape = tuple(image_shape)
    batches = [np.zeros((0,) + image_shape, np.float32)]
    for batch in _images(data, image_shape):
        batch = np.asarray(batch, np.float32)
        _checks.check_image_shape(batch.shape, image_shape, "data")
        if batch.ndim == len(image_shape):  # (N, H, W): one channel
            batch = batch[..., None]
        batches.append(batch)
    return np.concatenate(batches)


def _refuse_mapping(x, what):
    if isinstance(x, dict):
        raise ValueError(f"Expected images, (images, labels) or (images,) {what}. Received: {what} of dict with keys "
                         f"{sorted(x)}; map them to the images first, e.g. data.map(lambda d: d[{sorted(x)[0]!r}])")


def _require_latent_variable_model(model, action):
    """A tfvb VAE-family model with finite weights (a diverged model's estimate would be NaN)."""
    if not (hasattr(model, "log_importance_weights") and hasattr(model, "image_shape")):
        raise ValueError("Expected `model` to be a tfvb VAE-family model (CVAE, IWAE: one with "
                         f"`log_importance_weights`). Received: model of type {type(model).__name__}")
    _divergence.require_finite_weights(model, action)


#: Floats in the largest tensor of one step: bounds memory, and keeps each step a few large products.
STEP_BUDGET = 1 << 24


def log_importance_weights(model, x, k, chunk=None, seed=0):
    """log w of shape (k, batch) for images `x`, drawn in chunks of samples so large k fits in memory.

    Chunk `i` (samples `done` to `done + n`) draws its noise from seed
    `seed + done`: a given `seed` and `chunk` give the same weights every
    time, on any machine.
    """
    k = _checks.positive_int("k", k)
    chunk = k if chunk is None else min(k, _checks.positive_int("chunk", chunk))
    seed = _checks.integer("seed", seed, minimum=0)
    x = model.check_inputs(x)
    fn = _log_w_fn(model)
    parts, done = [], 0
    while done < k:
        n = min(chunk, k - done)
        parts.append(fn(x, tf.constant(n, tf.int32), tf.constant(seed + done, tf.int64)))
        done += n
    return tf.concat(parts, axis=0)


def _log_w_fn(model):
    """The model's compiled log-weight function: traced once per model, whatever the batch, chunk or seed."""

    def log_w(x, n, seed):
        return model.log_importance_weights(x, n, seed=seed)

    spec = (tf.TensorSpec((None,) + tuple(model.image_shape), tf.float32), tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.int64))
    return _traced.traced_once(model, "_tfvb_log_w_fn", log_w, *spec)


def values_per_sample(model):
    """Floats one latent sample puts in the decoder's largest tensor (at least the image's pixels)."""
    return model.values_per_sample()


def log_likelihood(model, data, k=5000, method="iwae", order=1, batch_size=None, chunk=None, seed=0,
                   verbose=1):
    """Importance-sampled estimate of log p(x), per image in nats, as in Burda et al. (IWAE-5000).

    log p(x) ~ log (1/k) sum_i w_i with z_i ~ q(z|x) (a lower bound in
    expectation, tight as k grows); `method="jackknife"` applies Nowozin's
    order-`order` jackknife to the same weights, removing the O(1/k) bias.

    Args:
        model: a tfvb VAE-family model (has `log_importance_weights`).
        data: images (N, H, W[, C]) in [0, 1], a list of images or of such batches, an (images, labels)
            tuple, or a dataset of them.
        k: importance samples per image.
        method: "iwae" or "jackknife".
        batch_size: images per step (a positive integer); by default chosen so the largest tensor of a
            step (the logits, or a convolutional decoder's widest feature map) holds about 16M floats.
        chunk: samples per step (a positive integer); by default all k, or fewer when that would not fit.
        seed: a non-negative integer; makes the estimate reproducible.
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
    if "jackknife" in methods:
        order = _checks.integer("order", order, minimum=0)
    batch_size = None if batch_size is None else _checks.positive_int("batch_size", batch_size)
    chunk = None if chunk is None else _checks.positive_int("chunk", chunk)
    seed = _checks.integer("seed", seed, minimum=0)
    _require_latent_variable_model(model, "estimate log p(x) with")
    widest = values_per_sample(model)
    images = _all_images(data, model.image_shape)
    if len(images) == 0:
        raise ValueError("Expected at least one image. Received: 0 images")
    if chunk is None:
        chunk = max(1, min(k, STEP_BUDGET // widest))
    if batch_size is None:
        batch_size = max(1, min(len(images), STEP_BUDGET // (widest * chunk)))
    progress = keras.utils.Progbar(len(images), unit_name="image") if verbose else None
    values = {m: [] for m in methods}
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        # The estimators run in float64: the jackknife combines K L_K - (K - 1) L_{K-1} and so
        # multiplies float32 rounding by K (at K = 5000, about a nat per image).
        log_w = tf.cast(log_importance_weights(model, x, k, chunk=chunk, seed=seed + 7919 * start), tf.float64)
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
    batch_size = _checks.positive_int("batch_size", batch_size)
    _require_latent_variable_model(model, "count the active units of")
    images = _all_images(data, model.image_shape)
    if len(images) < 2:
        raise ValueError(f"Expected at least two images to estimate a covariance. Received: {len(images)}")
    means = np.concatenate([
        model.encode(images[i:i + batch_size])[0].numpy()
        for i in range(0, len(images), batch_size)
    ])
    variances = means.var(axis=0)
    return int((variances > threshold).sum()), variances
