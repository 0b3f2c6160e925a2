"""Keras' compile contract for tfvb's models: metrics passed to `compile` are computed, a loss is refused.

Every tfvb model trains on its own objective (a negative ELBO, an IWAE
bound, MC dropout's objective) and reports it as `loss` beside its own terms
(`nll`, `kl`, `elbo`, ...). `compile(loss=...)` would be ignored, so it is
refused; `compile(metrics=[...])` is honoured: each step updates the metrics
with the targets and the model's prediction, and `fit`, `evaluate` and the
validation logs report them by name, next to the model's own.

What a metric sees (y_true, y_pred):

    classifiers              the labels as given, the predictive class probabilities
    regressors               the targets as given, the predictive mean (in data units)
    VAE family (no targets)  the images x, the reconstruction sigmoid(decode(E[z|x]))

`evaluate` returns the list of `model.metrics_names` values in that order
(`loss` first); `evaluate(..., return_dict=True)` returns them by name:

    >>> logs = model.evaluate(x, y, return_dict=True)    # doctest: +SKIP
    >>> logs["loss"], logs["elbo"], logs["accuracy"]     # doctest: +SKIP

A compiled metric named like one the model reports itself takes its place
when the model's is a prediction metric (`accuracy`, `rmse`): code written
for Keras, `compile(metrics=["accuracy"])`, reports that metric once, under
its name, computed as Keras computes it (unweighted unless passed as
`weighted_metrics`). A compiled metric named like a term of the objective
(`loss`, `nll`, `kl`, `elbo`, ...) is refused: it would hide the number
`EarlyStopping("val_loss")` and the progress bar read.
"""

from tfvb import optimizers

__all__ = ["KerasCompile", "compiled_metric_names", "fused_adam", "compile_from_config"]


def fused_adam(optimizer):
    """The optimizer `compile` was given, with the name "adam" read as `tfvb.optimizers.Adam()`: Keras' Adam with a
    fused update (same numbers, faster steps)."""
    if isinstance(optimizer, str) and optimizer.lower() == "adam":
        return optimizers.Adam()
    return optimizer


def compile_from_config(model, config):
    """Keras' `compile_from_config`, for a model whose `compile` is its own (Keras skips a custom `compile` when
    it loads a model, with a warning; tfvb's only add checks and read "adam" as the fused Adam)."""
    from keras.src.saving import serialization_lib

    model.compile(**serialization_lib.deserialize_keras_object(config))
    if getattr(model, "optimizer", None) is not None and model.built:
        model.optimizer.build(model.trainable_variables)  # the optimizer's variables, for its saved state


def compiled_metric_names(metrics):
    """The names Keras gives the metrics passed to `compile`: a string its own, a metric its `name`, a function
    its `__name__` (lists, tuples and per-output dicts flattened)."""
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        metrics = list(metrics.values())
    if not isinstance(metrics, (list, tuple)):
        metrics = [metrics]
    names = []
    for metric in metrics:
        if isinstance(metric, (list, tuple, dict)):
            names += compiled_metric_names(metric)
        elif metric is not None:
            names.append(metric if isinstance(metric, str) else getattr(metric, "name", None)
                         or getattr(metric, "__name__", None))
    return [name for name in names if name is not None]


class KerasCompile:
    """Mixin for a `keras.Model` with its own `train_step`: refuses `loss`, computes `metrics`.

    The model lists its trackers with `self.own_metrics(trackers)` in its `metrics` property and calls
    `self.update_compiled_metrics(x, y, y_pred, sample_weight)` in its steps.
    """

    #: What the model minimizes, for the error that refuses a loss.
    objective_name = "its own objective"
    #: The model's trackers that a compiled metric of the same name replaces (prediction metrics a user asks
    #: for by name); a compiled metric named like any other tracker is refused.
    replaceable_metrics = ("accuracy", "rmse")

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                **kwargs):
        for name, value in (("loss", loss), ("loss_weights", loss_weights)):
            if value is not None:
                raise ValueError(
                    f"Expected no `{name}` in compile: {type(self).__name__} trains on {self.objective_name} and "
                    f"reports it as `loss` (a loss given here would be ignored; pass what you want reported as "
                    f"`metrics=[...]`). Received: {name}={value!r}")
        if metrics is not None or weighted_metrics is not None:  # else Keras keeps the metrics compiled before
            self._tfvb_replaced_trackers = self._replaced_trackers(metrics, weighted_metrics)
        super().compile(optimizer=fused_adam(optimizer), metrics=metrics, weighted_metrics=weighted_metrics,
                        **kwargs)

    def compile_from_config(self, config):
        compile_from_config(self, config)

    def _replaced_trackers(self, metrics, weighted_metrics):
        """The names of the model's trackers that the compiled metrics replace; a clash with any other is refused."""
        compiled = getattr(self, "_compile_metrics", None)
        own = [m.name for m in self.metrics if m is not compiled] + list(getattr(self, "_tfvb_replaced_trackers", ()))
        replaced = []
        for name in compiled_metric_names(metrics) + compiled_metric_names(weighted_metrics):
            if name in own and name not in self.replaceable_metrics:
                raise ValueError(
                    f"Expected compiled metrics named other than the terms {type(self).__name__} reports itself "
                    f"({', '.join(n for n in own if n not in self.replaceable_metrics)}): a metric named {name!r} "
                    f"would replace the model's own {name!r} in the logs (and the `val_{name}` callbacks "
                    f"read). Give it another name, e.g. `name='compiled_{name}'`. Received: a metric named "
                    f"{name!r}")
            if name in own:
                replaced.append(name)
        return tuple(replaced)

    def own_metrics(self, trackers):
        """`trackers` and the metrics passed to compile (so Keras resets them each epoch and reports them); a
        tracker a compiled metric of the same name replaces (see `replaceable_metrics`) is left out."""
        replaced = getattr(self, "_tfvb_replaced_trackers", ())
        compiled = getattr(self, "_compile_metrics", None)
        return [t for t in trackers if t.name not in replaced] + ([compiled] if compiled is not None else [])

    def metric_target(self, x, y):
        """The y_true of the compiled metrics (VAEs: the images)."""
        return y

    def update_compiled_metrics(self, x, y, y_pred, sample_weight=None):
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            compiled.update_state(self.metric_target(x, y), y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Keras calls this (symbolically) to build the compiled metrics before the first step.
        self.update_compiled_metrics(x, y, y_pred, sample_weight)
        return self.get_metrics_result()
