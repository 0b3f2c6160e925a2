"""A diverged run stops with an error that says so, and its non-finite weights go nowhere.

Training that diverges (a learning rate too large, an overflow) turns the
loss into NaN or inf and then every weight with it. Keras carries on: `fit`
returns normally, `predict` and `save` pass the NaN on, and the first error
comes much later, blaming something else. tfvb's models instead:

- stop `fit` at the first batch whose loss is not finite, put back the
  weights and optimizer state of the start of that epoch (the last ones known
  finite), and raise `TrainingDivergedError` naming the epoch, the batch and
  the loss. Every tfvb model's `fit` adds a `TerminateOnNonFinite` unless the
  callbacks already hold one (pass `TerminateOnNonFinite(raise_error=False)`
  to stop with a warning instead) or Keras' `TerminateOnNaN` (its behaviour
  then: stop, keep the NaN weights, no error);
- refuse to save, export or report from weights that are not finite
  (`FiniteWeightsOnly`: `save`, `save_weights`, `export`, `predict`, an eager
  `model(x)`, and the models' `predict_uncertainty`, `predict_samples`,
  `sample`, `encode`, `decode`), with an error naming the variables.
"""

import math
import warnings

import keras
import numpy as np
import tensorflow as tf

__all__ = ["TerminateOnNonFinite", "TrainingDivergedError", "FiniteWeightsOnly", "require_finite_weights",
           "with_divergence_guard"]


class TrainingDivergedError(FloatingPointError, RuntimeError):
    """`fit` stopped: the loss became NaN or inf (a diverged run)."""


def non_finite_variables(model):
    """Paths of the model's float variables holding NaN or inf."""
    bad = []
    for variable in model.weights:
        value = np.asarray(keras.ops.convert_to_numpy(variable))
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            bad.append(variable.path)
    return bad


def require_finite_weights(model, action):
    """Raise ValueError when the model's weights hold NaN or inf; `action` says what was refused."""
    bad = non_finite_variables(model)
    if bad:
        shown = ", ".join(bad[:3]) + (" ..." if len(bad) > 3 else "")
        raise ValueError(
            f"Expected finite weights to {action} {type(model).__name__}. Received: NaN or inf in {len(bad)} of "
            f"{len(model.weights)} variables ({shown}); the training diverged or the weights were set so. "
            "Retrain (from a backup) with a lower learning rate."
        )


class FiniteWeightsOnly:
    """Mixin for a keras.Model: nothing is saved, exported or predicted from non-finite weights.

    An eager `model(x)` (not a training step, not a symbolic call) is refused too; inside compiled
    steps the check would cost a sync per step, and `fit` has `TerminateOnNonFinite` there.
    """

    def __call__(self, *args, **kwargs):
        if not kwargs.get("training") and eager_call(args):
            require_finite_weights(self, "call")
        return super().__call__(*args, **kwargs)

    def save(self, filepath, *args, **kwargs):
        require_finite_weights(self, "save")
        return super().save(filepath, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs):
        require_finite_weights(self, "save the weights of")
        return super().save_weights(filepath, *args, **kwargs)

    def export(self, filepath, format="tf_saved_model", verbose=None, samples=None):
        """Export for serving with the posterior's uncertainty (`tfvb.serving`): a SavedModel
        (format="tf_saved_model", signatures serve, predict_uncertainty(x, samples, seed),
        predict_samples(x, samples, seed)), a LiteRT file (format="litert") or ONNX models
        (format="onnx"), the last two with T = `samples` draws fixed at export."""
        self.require_built("export")
        require_finite_weights(self, "export")
        from tfvb import serving

        return serving.export(self, filepath, format=format, samples=samples, verbose=verbose)

    def predict(self, x, *args, **kwargs):
        from tfvb.models import _inputs

        self.require_built("predict")
        require_finite_weights(self, "predict with")
        x, _, _ = _inputs.user_data(x, method="predict")
        return super().predict(x, *args, **kwargs)

    def require_built(self, action):
        """Raise ValueError when the model has no weights yet (it learns its input size from `fit`)."""
        if not self.built:
            raise ValueError(
                f"Expected a built {type(self).__name__} to {action}: it learns its input size from the data. "
                f"Received: a model never fitted{self._unbuilt_hint()}"
            )

    def _unbuilt_hint(self):
        return " (call `fit` first)"


def eager_call(inputs):
    """True when a call on `inputs` runs eagerly on values (not traced, not on symbolic Keras tensors)."""
    import tensorflow as tf

    return tf.executing_eagerly() and not any(keras.utils.is_keras_tensor(t) for t in tf.nest.flatten(inputs))


class TerminateOnNonFinite(keras.callbacks.Callback):
    """Stop training at the first non-finite loss; restore the last finite state and raise.

    At the end of each batch, the logged `loss` (the epoch's running mean, so
    one bad batch keeps it non-finite) is checked. When it is NaN or inf the
    model's weights and the optimizer's state are reset to their values at the
    start of the epoch, and `fit` ends with `TrainingDivergedError`. A
    `tfvb.callbacks.BackupAndRestore` keeps its last good backup, so a rerun
    with a lower learning rate resumes from there.

    Args:
        restore: put back the start-of-epoch weights and optimizer state
            (one copy of them per epoch is kept in memory).
        raise_error: raise `TrainingDivergedError`; False stops training with
            a warning (as Keras' `TerminateOnNaN`, but with the weights restored).

    Example:
        >>> images, _ = tfvb.data.mnist_sample()
        >>> model = tfvb.models.CVAE(latent_dim=2, filters=(4, 8), seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e6))           # a step size that diverges
        >>> try:                                                          # tfvb models add TerminateOnNonFinite()
        ...     model.fit(tfvb.data.image_dataset(images[:200]), epochs=3, verbose=0)
        ... except tfvb.callbacks.TrainingDivergedError as e:
        ...     print("stopped:", type(e).__name__)
        stopped: TrainingDivergedError
        >>> stop = tfvb.callbacks.TerminateOnNonFinite(raise_error=False)  # a warning instead of the error
    """

    def __init__(self, restore=True, raise_error=True):
        super().__init__()
        self.restore = bool(restore)
        self.raise_error = bool(raise_error)
        self._snapshot = _Snapshot()
        self._epoch = 0
        self.diverged_at = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self.restore:
            self._snapshot.take(list(self.model.weights) + self._optimizer_variables())

    def _optimizer_variables(self):
        optimizer = getattr(self.model, "optimizer", None)
        return list(optimizer.variables) if optimizer is not None else []

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(np.mean(np.asarray(loss, dtype=np.float64)))
        if math.isfinite(value):
            return
        self.model.stop_training = True
        self.diverged_at = (self._epoch, batch)
        restored = self._restore()
        message = (
            f"Training of {type(self.model).__name__} diverged at epoch {self._epoch + 1}, batch {batch + 1}. "
            f"Expected a finite loss. Received: loss={value}. {restored} Lower the learning rate, clip the "
            "gradients (the optimizer's `clipnorm`) or check the data."
        )
        if self.raise_error:
            raise TrainingDivergedError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _restore(self):
        if not self.restore:
            return "The weights are not finite any more."
        snapshot = self._snapshot.values()
        if not all(np.all(np.isfinite(a)) for a in snapshot.values() if a.dtype.kind == "f"):
            return "The weights at the start of the epoch were not finite either; nothing was restored."
        for variable in list(self.model.weights) + self._optimizer_variables():
            if id(variable) in snapshot:
                variable.assign(snapshot[id(variable)])
            else:  # an optimizer slot created during the epoch: it started from zeros
                variable.assign(np.zeros(variable.shape, variable.dtype))
        return f"The weights and optimizer state of the start of epoch {self._epoch + 1} were restored."


class _Snapshot:
    """Copies of variables, taken in one compiled call and read back only when a run diverged.

    The copies are TensorFlow variables: taking them is a memory copy per
    variable, with no trip through numpy and no finiteness scan (a single
    probe on the 784-200-200-50 VAE with Adam, process CPU time on a loaded
    machine, no stored result: 1.2 ms per epoch against 12.7 ms for numpy
    copies and a finiteness scan). Whether they are finite is asked only
    when they are needed. The assignments run eagerly: a compiled copy would
    be traced anew for every model and every new set of optimizer slots, and
    TensorFlow warns of retracing when a sweep fits models in a loop.
    """

    def __init__(self):
        self._variables, self._copies = [], []

    def take(self, variables):
        if [id(v) for v in variables] != [id(v) for v in self._variables]:
            # New variables (an optimizer builds its slots during the first epoch): new copies.
            with tf.init_scope():
                copies = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in variables]
            self._variables, self._copies = list(variables), copies
        with tf.init_scope():
            for c, v in zip(self._copies, self._variables):
                c.assign(getattr(v, "value", v))

    def values(self):
        """{id(variable): numpy copy of its value when taken}."""
        return {id(v): c.numpy() for v, c in zip(self._variables, self._copies)}


def with_divergence_guard(callbacks):
    """`callbacks` plus a `TerminateOnNonFinite`, unless one (or Keras' TerminateOnNaN) is there."""
    callbacks = list(callbacks or [])
    if not any(isinstance(c, (TerminateOnNonFinite, keras.callbacks.TerminateOnNaN)) for c in callbacks):
        callbacks.append(TerminateOnNonFinite())
    return callbacks
