"""The predictive model a calibration reads: the model's own methods, or tfvb's draws of a plain Keras model.

A tfvb model (and any object with `predict_uncertainty(x, samples=, seed=)`)
is read through its own methods. A `keras.Sequential` or Functional model
built from tfvb layers has none: `tfvb.predict_uncertainty` and
`tfvb.predict_samples` sample it (T weight draws, dropout on with
`mc_dropout=True`), so `GraphPredictive` gives it the same two methods:

    predict_uncertainty(x, samples=, seed=, batch_size=)   tfvb.predict_uncertainty(model, x, ..., task=)
    predict_samples(x, samples=, seed=, batch_size=)       classification: class probabilities (T, N, C);
                                                           regression: means (T, N[, D]), or a dict of
                                                           `mean` and `variance` (GaussianNLL outputs)

The task comes from the model's compiled loss or a softmax head; when
neither says, the calibration needs `task=` (a regressor's outputs and a
classifier's logits cannot be told apart), and refuses without it.
"""

import keras
import numpy as np

from tfvb import _checks, _monte_carlo
from tfvb.models import _task

__all__ = ["predictive", "GraphPredictive"]

_ARTICLE = {"classification": "a classifier", "regression": "a regressor"}


class GraphPredictive:
    """`predict_uncertainty` / `predict_samples` of a Keras model with tfvb layers, for a known task."""

    def __init__(self, model, task, mc_dropout=False):
        self.model = model
        self.task, self.kind = _monte_carlo.graph_task(model, task)
        self.mc_dropout = mc_dropout

    def _options(self, samples, seed, batch_size):
        return {"samples": samples, "seed": seed, "batch_size": batch_size, "mc_dropout": self.mc_dropout}

    def predict_uncertainty(self, x, samples=None, seed=None, batch_size=None):
        return _monte_carlo.predict_uncertainty(self.model, x, task=self.task,
                                                **self._options(samples, seed, batch_size))

    def predict_samples(self, x, samples=None, seed=None, batch_size=None):
        out = _monte_carlo.predict_samples(self.model, x, **self._options(samples, seed, batch_size))
        if self.task == "classification":
            return _task.probabilities(out, self.kind).numpy().astype(np.float64)
        if self.kind == "gaussian":
            mean, variance = keras.losses.get(self.model.loss).numpy_moments(out)
            return {"mean": mean, "variance": variance}
        return out[..., 0] if out.ndim == 3 and out.shape[-1] == 1 else out


def predictive(model, task, mc_dropout, expected, function):
    """What `function` (which calibrates `expected` models) reads from `model`: the model itself when it has
    `predict_uncertainty`, a `GraphPredictive` for a Keras model `tfvb.predict_uncertainty` samples.

    Raises:
        ValueError: for anything else, a graph tfvb cannot sample, a `task` other than `expected` (or None),
            a graph whose task is not given and cannot be inferred, or `mc_dropout=True` for a model with its
            own sampling.
    """
    if task is not None and task != expected:
        raise ValueError(f"Expected task={expected!r} (or None) for `{function}`, which calibrates "
                         f"{_ARTICLE[expected]}. Received: task={task!r}")
    mc_dropout = _checks.boolean("mc_dropout", mc_dropout)
    if callable(getattr(model, "predict_uncertainty", None)):
        if mc_dropout:
            raise ValueError(f"Expected mc_dropout=False for a model with its own `predict_uncertainty` (it decides "
                             f"its own sampling). Received: mc_dropout=True for a {type(model).__name__}")
        return model
    if not isinstance(model, keras.Model):
        raise ValueError("Expected a predictive model: one with a `predict_uncertainty(x, samples=, seed=)` method (a "
                         "tfvb BNN, MC-dropout model or DeepEnsemble), or a keras.Model with tfvb layers that "
                         f"`tfvb.predict_uncertainty` samples. Received: {type(model).__name__}")
    try:
        sampler = _monte_carlo._GraphSampler.of(model)
    except ValueError as error:
        raise ValueError(f"Expected a keras.Model that `tfvb.predict_uncertainty` can sample for `{function}`. "
                         f"Received: {type(model).__name__} {model.name!r}, refused: {error}") from error
    if len(sampler.graph.outputs) != 1:
        raise ValueError(f"Expected a keras.Model with one output for `{function}`. Received: "
                         f"{len(sampler.graph.outputs)} outputs in {model.name!r}")
    try:
        found, _ = _monte_carlo.graph_task(model, task)
    except ValueError as error:
        raise ValueError(f"Expected task={expected!r} for `{function}` on {model.name!r}, a keras.Model whose task "
                         "tfvb cannot infer (it infers it from a compiled loss, or a softmax head for "
                         f"classification). Received: task=None ({error})") from error
    if found != expected:
        raise ValueError(f"Expected {_ARTICLE[expected]} for `{function}`. Received: {model.name!r}, "
                         f"{_ARTICLE[found]} by its compiled loss or softmax head")
    return GraphPredictive(model, expected, mc_dropout)
