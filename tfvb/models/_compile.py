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
"""

from tfvb import optimizers

__all__ = ["KerasCompile", "fused_adam", "compile_from_config"]


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


class KerasCompile:
    """Mixin for a `keras.Model` with its own `train_step`: refuses `loss`, computes `metrics`.

    The model lists its trackers with `self.own_metrics(trackers)` in its `metrics` property and calls
    `self.update_compiled_metrics(x, y, y_pred, sample_weight)` in its steps.
    """

    #: What the model minimizes, for the error that refuses a loss.
    objective_name = "its own objective"

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                **kwargs):
        for name, value in (("loss", loss), ("loss_weights", loss_weights)):
            if value is not None:
                raise ValueError(
                    f"Expected no `{name}` in compile: {type(self).__name__} trains on {self.objective_name} and "
                    f"reports it as `loss` (a loss given here would be ignored; pass what you want reported as "
                    f"`metrics=[...]`). Received: {name}={value!r}")
        super().compile(optimizer=fused_adam(optimizer), metrics=metrics, weighted_metrics=weighted_metrics,
                        **kwargs)

    def compile_from_config(self, config):
        compile_from_config(self, config)

    def own_metrics(self, trackers):
        """`trackers` and the metrics passed to compile (so Keras resets them each epoch and reports them)."""
        compiled = getattr(self, "_compile_metrics", None)
        return list(trackers) + ([compiled] if compiled is not None else [])

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
