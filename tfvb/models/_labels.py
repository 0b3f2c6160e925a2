"""Class labels for tfvb's classifiers: integer labels or one-hot rows, checked, never guessed.

Every classifier takes `y` as

    integer labels      shape (N,) or (N, 1), whole numbers in [0, C)  (any int or float dtype)
    one-hot labels      shape (N, C): rows of C non-negative numbers summing to 1
                        (exactly one-hot, or soft labels such as label smoothing gives)

and trains on the categorical log-likelihood sum_c y_c log p(c | x) of the row
(one-hot for integer labels). Anything else is refused: a label outside
[0, C) or with a fractional part (2.7 is not truncated to 2), a row that is
not a distribution, or a width other than C. Arrays are checked when `fit`
or `evaluate` receives them (the message shows the offending values);
batches from a `tf.data` pipeline are checked in the step, at run time.
"""

import numpy as np
import tensorflow as tf

from tfvb import _checks

__all__ = ["check_label_array", "label_rows", "labels_for_loss"]

#: How far a one-hot or soft label row's sum may be from 1 (float32 rounding of probabilities).
ROW_SUM_TOLERANCE = 1e-3


def _shape_error(name, num_classes, shape):
    rank = shape.rank if hasattr(shape, "rank") else len(shape)
    shown = " of unknown rank" if rank is None else f"={tuple(shape)}"
    return ValueError(
        f"Expected `{name}` of integer class labels, shape (batch,), or one-hot labels, shape (batch, "
        f"{num_classes}), for num_classes={num_classes}. Received: {name}.shape{shown}"
    )


def check_label_array(y, num_classes, name="y"):
    """Check an array of labels (integer or one-hot, see the module docstring); return it unchanged."""
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"Expected `{name}` to hold numbers (class labels). Received: dtype={labels.dtype}")
    if labels.ndim == 1:
        labels = _checks.finite_array(name, labels)
        if labels.size == 0:
            return y
        whole = labels == np.round(labels)
        if not np.all(whole):
            raise ValueError(
                f"Expected `{name}` to hold whole-number class labels in [0, {num_classes - 1}]. Received "
                f"non-integer labels such as {float(labels[~whole][0]):g} ({int((~whole).sum())} of {labels.size})"
            )
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f"Expected `{name}` to hold class labels in [0, {num_classes - 1}] for num_classes={num_classes}. "
                f"Received labels in [{labels.min():g}, {labels.max():g}]"
            )
        return y
    if labels.ndim == 2 and labels.shape[1] == num_classes:
        rows = _checks.finite_array(name, labels).astype(np.float64)
        sums = rows.sum(axis=1)
        if rows.size and (rows.min() < 0 or np.max(np.abs(sums - 1.0)) > ROW_SUM_TOLERANCE):
            raise ValueError(
                f"Expected one-hot `{name}`: rows of {num_classes} non-negative numbers summing to 1. "
                f"Received: min={rows.min():.4g}, row sums in [{sums.min():.4g}, {sums.max():.4g}]"
            )
        return y
    raise _shape_error(name, num_classes, labels.shape)


def label_rows(y, num_classes, name="y"):
    """A batch's labels as float32 rows (batch, C), checked at run time (inside tf.function and XLA too)."""
    y = tf.convert_to_tensor(y)
    if y.shape.rank == 2 and y.shape[-1] == 1:
        y = y[:, 0]
    if y.shape.rank == 1:
        labels = tf.cast(y, tf.float32)  # exact for any label a float32 can tell from its neighbours
        bad = tf.reduce_any((labels < 0.0) | (labels >= float(num_classes)) | (labels != tf.floor(labels)))
        labels = _checks.wired_check(
            labels, bad,
            f"Expected `{name}` to hold whole-number class labels in [0, {num_classes - 1}] for "
            f"num_classes={num_classes} (or one-hot rows of shape (batch, {num_classes})). Received a label "
            "outside that range or with a fractional part",
        )
        return tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
    if y.shape.rank == 2 and y.shape[-1] == num_classes:
        rows = tf.cast(y, tf.float32)
        sums = tf.reduce_sum(rows, axis=-1)
        bad = (tf.reduce_any(tf.logical_not(tf.math.is_finite(rows))) | tf.reduce_any(rows < 0.0)
               | tf.reduce_any(tf.abs(sums - 1.0) > ROW_SUM_TOLERANCE))
        return _checks.wired_check(
            rows, bad,
            f"Expected one-hot `{name}`: rows of {num_classes} non-negative numbers summing to 1. Received a row "
            "that is not",
        )
    raise _shape_error(name, num_classes, y.shape)


def labels_for_loss(y, num_classes, form=None, name="y"):
    """A batch's class labels checked at run time and shaped for a Keras cross-entropy.

    `form`: "sparse" (integer labels (batch,), as `sparse_categorical_crossentropy`
    takes; one-hot rows are read as their argmax and must then be exactly
    one-hot), "categorical" (rows (batch, C)), or None (another loss: the
    labels as given, checked).
    """
    rows = label_rows(y, num_classes, name)
    if form == "categorical":
        return rows
    y = tf.convert_to_tensor(y)
    if form == "sparse":
        if y.shape.rank == 2 and y.shape[-1] == num_classes:
            soft = tf.reduce_any(tf.reduce_max(rows, axis=-1) != 1.0)
            rows = _checks.wired_check(rows, soft, f"Expected integer labels or exactly one-hot `{name}` rows for "
                                                   "a sparse cross-entropy. Received a soft label row")
        return tf.argmax(rows, axis=-1, output_type=tf.int32)
    # The check wired into the labels as given (XLA keeps a check only on a value that is used).
    return tf.cast(tf.cast(y, tf.float32) + 0.0 * tf.reduce_sum(rows), y.dtype)
