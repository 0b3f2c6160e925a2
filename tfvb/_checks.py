"""Argument and input validation shared by every tfvb module.

Errors say what was expected and what was received, in Keras' wording:
"Expected `k` to be a positive integer. Received: k=0".
"""

import math
import numbers

import numpy as np
import tensorflow as tf

from tfvb import randomness


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")
    return int(value)


def finite_real(value):
    """Whether `value` is a finite real number: a Python or numpy int or float, not a bool, not NaN or inf."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)


def positive_float(name, value):
    if not finite_real(value) or value <= 0:
        raise ValueError(f"Expected `{name}` to be a positive finite number. Received: {name}={value!r}")
    return float(value)


def non_negative_float(name, value):
    if not finite_real(value) or value < 0:
        raise ValueError(f"Expected `{name}` to be a non-negative finite number. Received: {name}={value!r}")
    return float(value)


def open_unit_interval(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"Expected `{name}` to be a number in the open interval (0, 1). Received: {name}={value!r}")
    return float(value)


def one_of(name, value, choices):
    try:
        known = value in choices
    except TypeError:  # an unhashable value (a list, a dict) is none of the choices
        known = False
    if not known:
        raise ValueError(f"Expected `{name}` to be one of {sorted(choices, key=repr)}. Received: {name}={value!r}")
    return value


def boolean(name, value):
    """`value` as a bool: only True or False (numpy's too); "False", "no", 0 or 1 are refused, not read as truthy."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Expected `{name}` to be True or False. Received: {name}={value!r}")
    return bool(value)


def int_tuple(name, value, allow_empty=False):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        out = tuple(value)
    except TypeError:
        out = None
    if out is None or (not out and not allow_empty) or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in out
    ):
        raise ValueError(f"Expected `{name}` to be a tuple of positive integers. Received: {name}={value!r}")
    return tuple(int(v) for v in out)


def image_batch(x, image_shape, name="inputs"):
    """Return `x` as a float batch of shape (batch,) + image_shape.

    Accepts (batch, H, W) for single-channel images. Raises ValueError on a
    wrong rank or size; the shape check is static, so it costs nothing per step.
    """
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    image_shape = tuple(image_shape)
    check_image_shape(tuple(x.shape), image_shape, name)
    if x.shape.rank == len(image_shape) and image_shape[-1] == 1:
        x = x[..., tf.newaxis]
    return tf.cast(x, tf.float32)


def check_image_shape(shape, image_shape, name="inputs"):
    """Raise ValueError unless `shape` is (batch,) + image_shape, or (batch, H, W) for one channel.

    The error reports `shape` as given; one image without its batch axis gets a hint to add it.
    """
    image_shape = tuple(image_shape)
    given = tuple(shape)
    got = given
    if len(got) == len(image_shape) and image_shape[-1] == 1:
        got = got + (1,)
    expected = (None,) + image_shape
    if len(got) != len(expected) or any(
        e is not None and g is not None and e != g for e, g in zip(expected[1:], got[1:])
    ):
        one_channel = f" (or {expected[:-1]} for one channel)" if image_shape[-1] == 1 else ""
        hint = " (one image: add a batch axis: x[None])" if given == image_shape else ""
        raise ValueError(f"Expected `{name}` of shape {expected}{one_channel}. Received: {name}.shape={given}{hint}")


# These checks return `x` with the check wired into it: under XLA (Keras' default
# jit on CPU) Assert ops are dropped and unused ops pruned, CheckNumerics on a used
# value is kept.
def assert_finite(x, name="inputs"):
    """`x`, checked at run time (inside tf.function and XLA too) to hold no NaN or inf."""
    if randomness.is_portable():  # see `wired_check`
        return x
    return tf.debugging.check_numerics(
        x, f"Expected `{name}` to be finite. Received a tensor containing NaN or inf"
    )


def assert_unit_interval(x, name="inputs"):
    """`x`, checked at run time to lie in [0, 1], as the Bernoulli likelihood needs."""
    outside = tf.reduce_any(tf.logical_or(x < 0.0, x > 1.0))
    return wired_check(x, outside, f"Expected `{name}` in [0, 1] for the Bernoulli likelihood (scale pixels by "
                                   "1/255). Received values outside [0, 1]")


def wired_check(x, bad, message):
    """Float `x` with a run-time check that the scalar bool `bad` is False wired into it.

    The check is a CheckNumerics of a value `x` then depends on (0, or inf
    when `bad`), so XLA keeps it; it raises InvalidArgumentError(message).
    In a graph traced for LiteRT or ONNX (`randomness.portable_noise`), which
    drop CheckNumerics and would keep only the inf (NaN for the whole batch),
    `x` is returned as is: those signatures mark each bad row's outputs
    instead (`tfvb.serving._portable`).
    """
    if randomness.is_portable():
        return x
    flag = tf.where(bad, tf.constant(float("inf"), x.dtype), tf.constant(0.0, x.dtype))
    return x + tf.debugging.check_numerics(flag, message)


def input_range(value):
    """`value` as a (low, high) pair of floats with low < high, or None; ValueError otherwise."""
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not low < high:
        raise ValueError(f"Expected `input_range` to be None or a pair (low, high) with low < high. "
                         f"Received: input_range={value!r}")
    return low, high


def in_range(x, value_range):
    """Float tensor `x` with a run-time check that its values lie in `value_range` (None: no check)."""
    if value_range is None:
        return x
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    low, high = value_range
    return wired_check(x, tf.reduce_any(tf.logical_or(x < low, x > high)),
                       f"Expected `inputs` in [{low:g}, {high:g}], the range the model was trained on (images: scale "
                       "pixels by 1/255). Received values outside it")


def assert_non_negative_finite(x, name):
    """`x`, checked at run time to hold finite values >= 0 (sample weights)."""
    x = tf.cast(x, tf.float32)
    bad = tf.reduce_any(tf.logical_not(tf.math.is_finite(x))) | tf.reduce_any(x < 0.0)
    return wired_check(x, bad, f"Expected `{name}` to be finite and non-negative. Received a negative, NaN or "
                               "inf value")


def finite_array(name, value):
    arr = np.asarray(value)
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"Expected `{name}` to be finite. Received {bad} NaN or inf values.")
    return arr


#: The largest float32: finite float64 values beyond it become inf in a float32 model.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def float32_array(name, value):
    """`value` as a numpy array of finite numbers that stay finite in float32 (the models compute in it)."""
    arr = finite_array(name, value)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 4 and arr.size:
        largest = float(np.max(np.abs(arr)))
        if largest > FLOAT32_MAX:
            raise ValueError(
                f"Expected `{name}` within float32's range, |{name}| <= {FLOAT32_MAX:.4g} (the models compute in "
                f"float32, where larger values become inf). Received: max |{name}| = {largest:.4g} ({arr.dtype})"
            )
    return arr


def renamed(kwargs, old, new, value):
    """`value` of the argument `new`, or the one passed under its former name `old` (popped from
    `kwargs`, with a DeprecationWarning)."""
    if old not in kwargs:
        return value
    import warnings

    former = kwargs.pop(old)
    warnings.warn(f"`{old}` is deprecated: use `{new}`.", DeprecationWarning, stacklevel=3)
    return former


def integer(name, value, minimum=None, allow_none=False):
    """`value` as an int: a Python or numpy integer (not a bool), at least `minimum` when given.

    With `allow_none`, None passes through (an optional seed or sample count).
    """
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (minimum is not None and value < minimum):
        what = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}")
        what = f"None or {what}" if allow_none else what
        raise ValueError(f"Expected `{name}` to be {what}. Received: {name}={value!r}")
    return int(value)
