"""What calibration reads from a predictive model, and the checks of a calibration split.

Every tfvb predictive model (BNNClassifier, BNNRegressor, MCDropoutClassifier,
MCDropoutRegressor, DeepEnsemble, a `tfvb.bayesianize` network) answers
`predict_uncertainty(x, samples=T, seed=s)` with named arrays, and its
classifiers answer `predict_samples(x, samples=T, seed=s)` with the T stacked
class probabilities (T, N, C). Calibration needs nothing else, so any object
with that interface works, a Keras model or not:

    classifier   predict_uncertainty(x)["mean"] of shape (N, C), rows summing to 1,
                 no "variance"; optionally predict_samples(x) of shape (T, N, C)
    regressor    predict_uncertainty(x) with "mean" (N,) or (N, D) and "variance"
                 (or "std"), the total predictive variance

`samples` and `seed` are passed on only when given, so each model's own
defaults apply otherwise (a deep ensemble's members are its samples). A plain
Keras model with tfvb layers is read through `tfvb.predict_uncertainty` /
`tfvb.predict_samples` (`tfvb.calibrate._sampled`).
"""

import numpy as np

from tfvb import _checks

__all__ = ["call", "predict", "task_of", "require_task", "calibration_inputs", "class_labels", "shaped_like",
           "regression_targets", "refuse_alpha"]

#: How far a row of predicted class probabilities may sum from 1 (float32 softmax outputs).
ROW_SUM_TOLERANCE = 1e-3


def call(method, x, samples=None, seed=None, **kwargs):
    """`method(x, samples=..., seed=..., **kwargs)`, passing `samples` and `seed` only when given."""
    if samples is not None:
        kwargs["samples"] = _checks.positive_int("samples", samples)
    if seed is not None:
        kwargs["seed"] = seed
    return method(x, **kwargs)


def predict(model, x, samples=None, seed=None, **kwargs):
    """`model.predict_uncertainty(x, ...)` as a dict of float64 numpy arrays."""
    method = getattr(model, "predict_uncertainty", None)
    if not callable(method):
        raise ValueError("Expected a predictive model with a `predict_uncertainty(x, samples=, seed=)` method "
                         f"(a tfvb BNN, MC-dropout model or DeepEnsemble). Received: {type(model).__name__}")
    out = call(method, x, samples, seed, **kwargs)
    if not isinstance(out, dict) or "mean" not in out:
        raise ValueError("Expected `predict_uncertainty` to return a dict with at least `mean`. Received: "
                         f"{type(out).__name__} with keys {sorted(out) if isinstance(out, dict) else None}")
    return {k: np.asarray(v) for k, v in out.items()}


def refuse_alpha(kwargs, function):
    """Raise when `alpha` is among a calibration function's options: the functions take `coverage`."""
    if "alpha" in kwargs:
        alpha = kwargs["alpha"]
        example = f"coverage={1 - alpha:g}" if isinstance(alpha, float) and 0 < alpha < 1 else "coverage=0.9"
        raise ValueError(f"Expected coverage=1 - alpha for `{function}` (e.g. {example}): it takes the coverage, "
                         f"not alpha. Received: alpha={alpha!r}")


def task_of(u):
    """"classification" or "regression", from the names and shapes of a `predict_uncertainty` dict."""
    mean = np.asarray(u["mean"], dtype=np.float64)
    if "variance" in u or "std" in u:
        return "regression"
    if mean.ndim == 2 and mean.shape[1] >= 2 and np.all(mean >= 0) \
            and np.allclose(mean.sum(axis=1), 1.0, atol=ROW_SUM_TOLERANCE):
        return "classification"
    raise ValueError("Expected `predict_uncertainty` to return class probabilities `mean` (N, C) (a classifier) "
                     "or `mean` and `variance` (a regressor). Received: keys "
                     f"{sorted(u)}, mean.shape={mean.shape}")


def require_task(u, task, function, instead=None):
    """Raise unless the model behind `u` is a classifier (`task="classification"`) or a regressor; the message
    points to `instead[found]`, the function for the task found."""
    found = task_of(u)
    if found != task:
        other = (instead or {"classification": "tfvb.calibrate.conformal_sets or temperature_scale (for classifiers)",
                             "regression": "tfvb.calibrate.conformal (intervals for regressors)"})[found]
        article = "a classifier" if task == "classification" else "a regressor"
        raise ValueError(f"Expected {article} for `{function}`. Received: a {found} model "
                         f"(predict_uncertainty keys {sorted(u)}); use {other}")
    return u


def _length(name, value):
    shape = np.shape(value)
    if not shape:
        raise ValueError(f"Expected `{name}` with one row per example. Received: {name} of shape {shape}")
    return shape[0]


def calibration_inputs(x, y, minimum=1):
    """(x, y) of a calibration split as numpy arrays: same length, finite, at least `minimum` rows."""
    x = _checks.finite_array("x", np.asarray(x))
    y = _checks.finite_array("y", np.asarray(y))
    n = _length("x", x)
    if _length("y", y) != n:
        raise ValueError(f"Expected `x` and `y` with the same number of rows. Received: x.shape={x.shape}, "
                         f"y.shape={y.shape}")
    if n < minimum:
        raise ValueError(f"Expected at least {minimum} calibration example(s). Received: {n}")
    return x, y


def class_labels(y, num_classes):
    """Integer labels (N,) from integer labels (N,) / (N, 1) or one-hot rows (N, C), checked."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape[1] == num_classes and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
        y = y.argmax(axis=1)
    if y.ndim != 1 or y.dtype.kind not in "biuf" or not np.all(y == np.round(y)):
        raise ValueError(f"Expected integer class labels of shape (N,) or one-hot rows of shape (N, {num_classes}). "
                         f"Received: y.shape={y.shape}, dtype={y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"Expected class labels in [0, {num_classes - 1}]. Received labels in [{y.min():g}, "
                         f"{y.max():g}]")
    return y.astype(np.int64)


def shaped_like(value, mean):
    """`value` as float64 in the shape of the predicted `mean` where it is that shape up to a unit axis ((N, 1)
    read as (N,), (N,) as (N, 1)); otherwise as given, for the caller to refuse."""
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == mean.ndim + 1 and value.shape[-1] == 1:
        value = value[..., 0]
    if value.ndim == 1 and mean.ndim == 2 and mean.shape[1] == 1:
        value = value[:, None]
    return value


def regression_targets(y, mean):
    """Targets shaped like the predicted `mean` ((N,) or (N, D)), checked."""
    y = shaped_like(y, mean)
    if y.shape != mean.shape:
        raise ValueError(f"Expected targets `y` of the predictions' shape {mean.shape}. Received: y.shape={y.shape}")
    return y

