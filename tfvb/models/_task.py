"""What a wrapped Keras network predicts, and how its outputs become a predictive distribution.

`tfvb.bayesianize` and `DeepEnsemble` take networks written for plain Keras:
their outputs are class logits, class probabilities, or regression means.
The task comes from the loss the network is compiled with (a (sparse)
categorical cross-entropy means classification, anything else regression,
as in Keras' own conventions), the output kind from the loss's `from_logits`
or, for an uncompiled network, from a softmax on its last layer.

Classification, T stochastic outputs per input (weight draws or members):

    p_t = softmax(logits_t) or probabilities_t,   p = (1/T) sum_t p_t
    combined output = log p (as logits) or p (as probabilities)

so a combined prediction is of the same kind as a single network's.

Regression: means ("values"), or means and variances ("gaussian": the
network is trained with `tfvb.gaussian.GaussianNLL`); T Gaussians combine
into their mixture, reported by its mean and variance.
"""

import warnings

import keras
import tensorflow as tf

from tfvb.gaussian import GaussianNLL

__all__ = ["TASKS", "OUTPUTS", "loss_name", "infer", "probabilities", "combine", "class_nll", "correct",
           "per_example_loss"]

TASKS = ("classification", "regression")
OUTPUTS = ("logits", "probabilities", "values", "gaussian")
_CLASSIFICATION_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
_BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")


def loss_name(loss):
    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        fn = getattr(loss, "fn", None)
        return getattr(fn, "__name__", None) or loss.name
    return getattr(loss, "__name__", None)


def _from_logits(loss):
    return bool(getattr(loss, "from_logits", False)) if isinstance(loss, keras.losses.Loss) else False


def softmax_head(model):
    activation = getattr(model.layers[-1], "activation", None) if getattr(model, "layers", None) else None
    return getattr(activation, "__name__", None) == "softmax"


def infer(loss, task=None, model=None):
    """(task, outputs): "classification" with "logits"/"probabilities", or "regression" with "values" (or
    "gaussian": a `tfvb.gaussian.GaussianNLL` loss, means and variances).

    Args:
        loss: the loss the network is (or will be) trained with, or None.
        task: "classification", "regression" or None (from the loss).
        model: the network, read for a softmax head when the loss does not say.
    """
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError(f"Expected one loss for a network with one output. Received: loss={loss!r}")
    name = loss_name(loss)
    if isinstance(loss, GaussianNLL):
        if task not in (None, "regression"):
            raise ValueError(f"Expected task='regression' (or None) with a GaussianNLL loss. Received: task={task!r}")
        return "regression", "gaussian"
    if task is None:
        if loss is None:
            raise ValueError("Expected `task` ('classification' or 'regression') or a network compiled with its "
                             "loss (a (sparse) categorical cross-entropy means classification, any other loss "
                             "regression). Received: task=None and no loss")
        if name in _BINARY_LOSSES:
            raise ValueError(f"Expected a (sparse) categorical cross-entropy for classification. Received: "
                             f"loss={name!r} (binary outputs: give the network a 2-unit softmax or logits head, or "
                             "pass task='regression' explicitly)")
        task = "classification" if name in _CLASSIFICATION_LOSSES else "regression"
    if task not in TASKS:
        raise ValueError(f"Expected `task` to be one of {list(TASKS)} or None. Received: task={task!r}")
    if task == "regression":
        return task, "values"
    softmax = model is not None and softmax_head(model)
    if name in _CLASSIFICATION_LOSSES:
        kind = "logits" if _from_logits(loss) else "probabilities"
        if kind == "logits" and softmax:
            raise ValueError("Expected logits from a network trained with from_logits=True. Received: a network "
                             "whose last layer applies a softmax")
    else:
        kind = "probabilities" if softmax else "logits"
    if kind == "probabilities":
        warn_float16_probabilities(model)
    return task, kind


def _output_dtype(model):
    """The compute dtype of the network's output ("float16" under mixed_float16), or None when unknown."""
    try:
        return keras.backend.standardize_dtype(model.outputs[0].dtype)
    except (AttributeError, IndexError, TypeError, ValueError):  # a subclassed network: its last layer's
        layers = getattr(model, "layers", None)
        return getattr(layers[-1], "compute_dtype", None) if layers else None


def warn_float16_probabilities(model):
    """Warn when a network's class probabilities come out of a float16 softmax (mixed_float16).

    float16 rounds probabilities below 6e-8 to 0, so a confident mistake's -log p (24 nats, say) is read at
    the likelihood's floor, -log 1e-37 = 85 nats, with no gradient; bfloat16 and float32 keep it.
    """
    if model is None or _output_dtype(model) != "float16":
        return
    warnings.warn(f"The network {getattr(model, 'name', '')!r} outputs class probabilities in float16 "
                  "(mixed_float16): probabilities below 6e-8 round to 0, and the NLL of a confident mistake is "
                  "then read at the floor -log(1e-37) = 85 nats with no gradient. Build its output layer with "
                  "dtype='float32' (Keras' mixed-precision advice) or end it with logits (from_logits=True).",
                  UserWarning, stacklevel=3)


def probabilities(outputs, kind):
    """Class probabilities from a network's outputs (float32); probabilities are renormalized."""
    outputs = tf.cast(outputs, tf.float32)
    if kind == "logits":
        return tf.nn.softmax(outputs)
    outputs = tf.maximum(outputs, 0.0)
    return outputs / tf.reduce_sum(outputs, axis=-1, keepdims=True)


def combine(stack, task, kind):
    """One prediction from T stacked outputs (T, N, ...), of the kind a single network returns."""
    if task == "regression":
        return tf.reduce_mean(tf.cast(stack, tf.float32), axis=0)
    mean = tf.reduce_mean(probabilities(stack, kind), axis=0)
    return tf.math.log(tf.maximum(mean, 1e-37)) if kind == "logits" else mean


def _labels(y, probs):
    y = tf.convert_to_tensor(y)
    if y.dtype.is_floating and y.shape.rank == probs.shape.rank:  # one-hot or soft labels
        return tf.cast(y, probs.dtype), True
    if y.shape.rank == probs.shape.rank:  # sparse labels of shape (N, 1)
        y = y[..., 0]
    return tf.cast(y, tf.int32), False


def class_nll(probs, y):
    """Per-example -log p(y | x) for integer or one-hot labels y."""
    y, dense = _labels(y, probs)
    logp = tf.math.log(tf.maximum(probs, 1e-37))
    if dense:
        return -tf.reduce_sum(y * logp, axis=-1)
    return -tf.gather(logp, y, axis=-1, batch_dims=y.shape.rank)


def correct(probs, y):
    """Per-example 1.0 where the argmax class is the label (integer or one-hot), else 0.0."""
    y, dense = _labels(y, probs)
    labels = tf.argmax(y, -1, output_type=tf.int32) if dense else y
    return tf.cast(tf.equal(tf.argmax(probs, -1, output_type=tf.int32), labels), tf.float32)


def per_example_loss(loss_fn, y, outputs):
    """A Keras loss (object or function) evaluated per example: trailing axes averaged."""
    outputs = tf.cast(outputs, tf.float32)
    y = tf.convert_to_tensor(y)
    if y.shape.rank == outputs.shape.rank - 1:  # (N,) targets or labels for (N, D) outputs
        y = y[..., tf.newaxis]
    if isinstance(loss_fn, keras.losses.Loss):
        values = loss_fn.call(y, outputs)
    else:
        values = loss_fn(y, outputs)
    values = tf.convert_to_tensor(values)
    if values.shape.rank and values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values
