"""What every calibrated model shares: a base model, the defaults of its draws, saving as `.keras`.

A calibrated model is a `keras.Model` holding the model it calibrates (`base`)
and a few numbers (a temperature, a quantile), so it is saved and loaded as
one `.keras` file with the base's weights inside. Its predictions are numpy
(`predict_uncertainty`, `predict`), made from the base model's own
`predict_uncertainty` / `predict_samples` (for a plain Keras model with tfvb
layers, `tfvb.predict_uncertainty` / `tfvb.predict_samples` with the `task`
and `mc_dropout` kept in the file) with the `samples` and `seed` it was
calibrated with unless others are given: with the same seed a BNN's weight
draws are the same networks, so the model predicts with the very function it
was calibrated on.
"""

import inspect

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks
from tfvb.calibrate import _sampled

__all__ = ["CalibratedModel", "register"]

register = keras.saving.register_keras_serializable(package="tfvb")


def _takes(model, option, method="predict_uncertainty"):
    """Whether `model.<method>` takes the keyword `option`."""
    try:
        parameters = inspect.signature(getattr(model, method)).parameters
    except (TypeError, ValueError):
        return False
    return option in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


class CalibratedModel(keras.Model):
    """Base class of the calibrated models (not used directly).

    Args:
        base: the model it calibrates: one with `predict_uncertainty` (a tfvb model), or a keras.Model with tfvb
            layers that `tfvb.predict_uncertainty` samples.
        samples, seed: the defaults of its predictions.
        task: for a Keras model whose task its compiled loss or softmax head does not tell: the subclass's
            task ("classification" or "regression"); None otherwise.
        mc_dropout: for a Keras model: its Dropout layers drop in every draw (`tfvb.predict_uncertainty`'s
            option).
    """

    #: The task of the models it calibrates, and the function that calibrates them (set by each subclass).
    TASK = None
    FUNCTION = None

    def __init__(self, base, samples=None, seed=None, task=None, mc_dropout=False, **kwargs):
        super().__init__(**kwargs)
        source = _sampled.predictive(base, task, mc_dropout, self.TASK, self.FUNCTION)
        # Kept only when it is not `base` itself: Keras would track the base model twice.
        self._graph_source = None if source is base else source
        self.task = self.TASK
        self.mc_dropout = bool(mc_dropout)
        self.base = base
        self.samples = _checks.integer("samples", samples, minimum=1, allow_none=True)
        self.seed = _checks.integer("seed", seed, allow_none=True)
        self.built = True

    @property
    def source(self):
        """What the base model is read through: itself, or `tfvb.predict_uncertainty`'s draws of a Keras model."""
        return self.base if self._graph_source is None else self._graph_source

    def prediction_set(self, x, samples=None, seed=None, **kwargs):
        """Refused: only a `ConformalClassifier` predicts sets."""
        hint = ("its intervals are `predict_uncertainty(x)['lower']` and `['upper']`" if self.TASK == "regression"
                else "calibrate it with tfvb.calibrate.conformal_sets(model, x, y, coverage=...)")
        raise ValueError(f"Expected a ConformalClassifier (tfvb.calibrate.conformal_sets) for `prediction_set`. "
                         f"Received: {type(self).__name__}; {hint}")

    def _defaults(self, samples, seed):
        return (self.samples if samples is None else samples), (self.seed if seed is None else seed)

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} predicts in numpy: use `predict_uncertainty(x)` or "
                                  "`predict(x)`")

    def predict(self, x, samples=None, seed=None, **kwargs):
        """The calibrated predictive mean, `predict_uncertainty(x, ...)["mean"]` (numpy).

        `x` is an array (a `tf.data.Dataset` is refused: the calibrated predictions are numpy). All rows go
        in one call, so `batch_size` does not change the predictions (as in Keras): it goes to a base model
        that takes one (BNNs, deep ensembles, `bayesianize` networks), which predicts that many rows at a
        time; MC-dropout models bound their memory by chunking their passes instead. Keras' own `predict`
        options that mean nothing here (`verbose`, `steps`, `callbacks`) are accepted and ignored; others
        go to the base model's `predict_uncertainty`.
        """
        for option in ("verbose", "steps", "callbacks"):
            kwargs.pop(option, None)
        if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)) or callable(x) or not hasattr(x, "__len__"):
            raise ValueError(f"Expected `x` as an array of inputs for {type(self).__name__}.predict (its predictions "
                             f"are numpy). Received: {type(x).__name__}; pass the arrays the dataset holds")
        x = np.asarray(x)
        batch_size = kwargs.pop("batch_size", None)
        if batch_size is not None:
            batch_size = _checks.positive_int("batch_size", batch_size)
            if _takes(self._innermost_source(), "batch_size"):
                kwargs["batch_size"] = batch_size
        return self.predict_uncertainty(x, samples=samples, seed=seed, **kwargs)["mean"]

    def _innermost(self):
        """The model under every calibration layer: the one whose prediction methods take the options."""
        base = self.base
        while isinstance(base, CalibratedModel):
            base = base.base
        return base

    def _innermost_source(self):
        """What the model under every calibration layer is read through (itself, or tfvb's draws of it)."""
        layer = self
        while isinstance(layer.base, CalibratedModel):
            layer = layer.base
        return layer.source

    def _served_calibration(self):
        """What a client of the base model's export applies to its outputs to get this model's predictions."""
        return "its calibration"

    def export(self, filepath, format="tf_saved_model", **kwargs):
        """Refused: the calibration runs in numpy on the base model's predictions, not in a graph.

        The error names the model to export instead (the one under every calibration layer) and each
        calibration to apply to its served draws, in order, with the draws' T and seed.
        """
        layers, base = [self], self.base
        while isinstance(base, CalibratedModel):
            layers.append(base)
            base = base.base
        path = "model" + ".base" * len(layers)
        steps = "; ".join(f"{i}. {layer._served_calibration()}" for i, layer in enumerate(reversed(layers), 1))
        draws = ("`predict_samples(x, seed)` (T fixed at export: `samples=T`)" if format in ("litert", "onnx")
                 else "`predict_samples(x, samples, seed)`")
        raise NotImplementedError(
            f"Expected a tfvb model to export. Received: a {type(self).__name__}, whose calibration runs in numpy "
            f"on its base model's predictions and has no graph to export. `{path}.export(...)` serves the "
            f"uncalibrated {type(base).__name__}; to serve this model, apply to its served draws {draws} (this "
            f"model draws T = {'the base model default' if self.samples is None else self.samples}, seed "
            f"{self.seed!r}), in order: {steps}.")

    def get_config(self):
        if not isinstance(self.base, keras.Model):
            raise ValueError(f"Expected a Keras model as the base of a {type(self).__name__} to save it. Received: "
                             f"{type(self.base).__name__}")
        return {**super().get_config(), "base": keras.saving.serialize_keras_object(self.base),
                "samples": self.samples, "seed": self.seed, "task": self.task, "mc_dropout": self.mc_dropout}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["base"] = keras.saving.deserialize_keras_object(config["base"])
        return cls(**config)
