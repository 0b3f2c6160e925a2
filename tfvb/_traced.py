"""Compiled functions traced once per object, for any batch size."""

import tensorflow as tf


def traced_once(owner, name, fn, *specs, autograph=True):
    """`fn` compiled for the input `specs`, traced on first use and kept on `owner` under `name`.

    A concrete function, so calls with any size along the specs' `None`
    dimensions reuse the one trace, and objects that share code (several
    models of one class, each with its own function) never add up to
    TensorFlow's "triggered tf.function retracing" warning, which counts
    traces per Python function across objects. It is stored in the owner's
    `__dict__` directly: Keras does not track it as a layer attribute, and
    saving never sees it.
    """
    cached = owner.__dict__.get(name)
    if cached is None:
        cached = tf.function(fn, autograph=autograph).get_concrete_function(*specs)
        owner.__dict__[name] = cached
    return cached
