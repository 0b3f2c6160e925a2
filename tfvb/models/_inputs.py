"""What tfvb models accept as data, checked where the user hands it over.

`fit`, `evaluate` and `predict` take `x` as a numpy array or a tensor, a
`tf.data.Dataset` or a `keras.utils.PyDataset` of `x`, `(x,)`, `(x, y)` or
`(x, y, sample_weight)` batches. `predict_uncertainty` and `predict_samples`
take arrays or tensors only: their summaries are numpy arrays over all rows,
so a dataset, a PyDataset or a generator is refused with a hint to pass the
arrays it holds (`require_arrays`). A tfvb model has one
input, so nested Python lists of numbers are read as one array (Keras would
read a list as several inputs). These checks run before Keras sees the data,
so a mistake is reported where it was made, not from inside a train step:

- lists that do not form one numeric array, and dicts (of arrays, or as the
  elements of a dataset, as TFDS yields them: map those to tuples);
- floats that are NaN or inf, or finite float64 values beyond float32's range
  (the models compute in float32, where they would become inf);
- `y` or `sample_weight` with another number of rows than `x`; weights that
  are negative, not finite or all zero;
- `class_weight` for a model without class labels.

Values inside a dataset are checked in the steps instead (at run time, see
`tfvb._checks`), as is every batch's `sample_weight` (`checked_batch`).
"""

import collections.abc

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks

__all__ = ["user_data", "validation_data", "check_dataset", "require_arrays", "refuse_class_weight", "checked_batch",
           "num_rows"]

_NAMES = ("x", "y", "sample_weight")
#: The methods that take arrays only: their numpy summaries are computed over all the rows at once.
ARRAYS_ONLY = ("predict_uncertainty", "predict_samples")


def as_array(name, value):
    """Nested lists or tuples of numbers as one numpy array; dicts refused; anything else as given."""
    if isinstance(value, dict):
        raise ValueError(f"Expected `{name}` to be an array or a tensor (tfvb models take a single input). "
                         f"Received: a dict with keys {sorted(map(str, value))}")
    if not isinstance(value, (list, tuple)):
        return value
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged nesting
        arr = None
    if arr is None or arr.dtype.kind not in "biuf" or arr.ndim == 0:
        raise ValueError(
            f"Expected `{name}` to be an array, a tensor, or nested lists of numbers forming one array of shape "
            f"(N, ...) (tfvb models take a single input). Received: a {type(value).__name__} of "
            f"{len(value)} items that is not one numeric array (ragged, or holding other objects)"
        )
    return arr


def check_dataset(data, method):
    """Refuse a dataset of dicts with a hint to map it to tuples."""
    if not isinstance(data, tf.data.Dataset):
        return
    spec = data.element_spec
    parts = spec if isinstance(spec, tuple) else (spec,)
    dicts = [p for p in parts if isinstance(p, dict)]
    if dicts:
        keys = sorted(map(str, dicts[0]))
        raise ValueError(
            f"Expected a dataset of x, (x,), (x, y) or (x, y, sample_weight) batches for `{method}`. Received: a "
            f"dataset of dicts with keys {keys}; map it to tuples first, e.g. "
            f"`ds.map(lambda d: (d[{keys[0]!r}], d[{keys[-1]!r}]))`"
        )


def require_arrays(x, method, name="x"):
    """Refuse a dataset, a PyDataset, a generator or a function as the inputs of `method` (arrays only)."""
    if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset, collections.abc.Iterator)) or callable(x):
        raise ValueError(f"Expected `{name}` as an array (or tensor) of inputs for `{method}`, whose predictions are "
                         f"numpy arrays over all the rows. Received: {type(x).__name__}; pass the arrays the "
                         "dataset holds")


def _is_array(value):
    return isinstance(value, (np.ndarray, tf.Tensor)) or (
        value is not None and hasattr(value, "__array__") and hasattr(value, "shape"))


def validation_split_of(kwargs):
    """The `validation_split` a Keras `fit` with these arguments applies (none when `validation_data` is given)."""
    return 0.0 if kwargs.get("validation_data") is not None else kwargs.get("validation_split") or 0.0


def num_rows(x):
    """The number of examples of an array `x` (None for a dataset or generator)."""
    if _is_array(x):
        shape = np.shape(x)
        return int(shape[0]) if len(shape) else None
    return None


def _weights(name, w, n):
    w = np.asarray(_checks.finite_array(name, as_array(name, w)))
    if w.dtype.kind not in "biuf":
        raise ValueError(f"Expected `{name}` to hold numbers. Received: dtype={w.dtype}")
    if (w.ndim == 2 and w.shape[1] != 1) or w.ndim not in (1, 2) or (n is not None and w.shape[0] != n):
        raise ValueError(f"Expected `{name}` of shape ({n if n is not None else 'N'},), one weight per example "
                         f"of `x`. Received: {name}.shape={w.shape}")
    if w.size and w.min() < 0:
        raise ValueError(f"Expected `{name}` to be non-negative. Received: min={w.min():.4g}")
    if w.size and not w.sum() > 0:
        raise ValueError(f"Expected `{name}` with a positive sum (some example must count). Received: all zero")
    return w.astype(np.float32)


def user_data(x, y=None, sample_weight=None, *, method="fit", names=_NAMES, labels=False):
    """`(x, y, sample_weight)` of a call, converted (lists to arrays) and checked; datasets pass through.

    `labels`: `y` holds class labels, checked by the classifier itself (see
    `tfvb.models._labels`); otherwise float targets must be finite in float32.
    """
    x_name, y_name, w_name = names
    if method in ARRAYS_ONLY:
        require_arrays(x, method, x_name)
    check_dataset(x, method)
    if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)) or callable(x):
        return x, y, sample_weight
    x = as_array(x_name, x)
    if _is_array(x):
        x = _checks.float32_array(x_name, x)
        if x.ndim == 0:
            raise ValueError(f"Expected `{x_name}` of shape (N, ...). Received: {x_name}.shape=()")
    n = num_rows(x)
    if y is not None:
        y = as_array(y_name, y)
        if _is_array(y):
            y = _checks.finite_array(y_name, y) if labels else _checks.float32_array(y_name, y)
            if n is not None and (y.ndim == 0 or y.shape[0] != n):
                raise ValueError(f"Expected `{y_name}` with {n} rows, one per example of `{x_name}`. "
                                 f"Received: {y_name}.shape={y.shape}")
    if sample_weight is not None:
        sample_weight = _weights(w_name, sample_weight, n)
    return x, y, sample_weight


def validation_data(kwargs, labels=False):
    """`kwargs` with a `validation_data` tuple of arrays checked like `user_data`."""
    data = kwargs.get("validation_data")
    if isinstance(data, tf.data.Dataset):
        check_dataset(data, "validation_data")
    if not isinstance(data, (tuple, list)) or not 1 <= len(data) <= 3:
        return kwargs
    names = tuple(f"validation_data[{i}]" for i in range(3))
    parts = list(data) + [None] * (3 - len(data))
    x, y, w = user_data(*parts, method="validation_data", names=names, labels=labels)
    return {**kwargs, "validation_data": (x, y) if w is None else (x, y, w)}


def refuse_class_weight(model, kwargs):
    """`class_weight` weighs classes; refuse it where there are none (Keras would fail deep inside)."""
    class_weight = kwargs.get("class_weight")
    if class_weight is not None:
        raise ValueError(
            f"Expected no `class_weight` for {type(model).__name__}: it has no class labels (weigh examples "
            f"with `sample_weight`). Received: class_weight={class_weight!r}"
        )


def checked_batch(data):
    """A step's (x, y, sample_weight), refusing dicts and checking the weights at run time."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, dict):
            raise ValueError(f"Expected `{name}` in a batch to be a tensor (tfvb models take a single input). "
                             f"Received: a dict with keys {sorted(map(str, value))}")
    if sample_weight is not None:
        sample_weight = _checks.assert_non_negative_finite(sample_weight, "sample_weight")
        if sample_weight.shape.rank == 2 and sample_weight.shape[-1] == 1:
            sample_weight = sample_weight[:, 0]
        if sample_weight.shape.rank != 1:
            raise ValueError("Expected `sample_weight` of shape (batch,), one weight per example. "
                             f"Received: sample_weight.shape={tuple(sample_weight.shape)}")
    return x, y, sample_weight


class InputRange:
    """Mixin of the image classifiers: `input_range`, (low, high) that every input value must lie in, or None.

    The model checks it at run time (`tfvb._checks.in_range`) wherever inputs enter; set it in `__init__`.
    """

    _input_range = None

    @property
    def input_range(self):
        """(low, high) that every input value must lie in (checked at run time), or None: no check."""
        return self._input_range

    @input_range.setter
    def input_range(self, value):
        self._input_range = _checks.input_range(value)
