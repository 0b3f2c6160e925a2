"""A counter-based random generator from integer ops every runtime has (LiteRT, ONNX).

TensorFlow's stateless random ops (Philox behind StatelessRandomUniformV2 and
friends) do not exist in LiteRT's builtin op set, and ONNX's RandomNormal and
RandomUniform take their seed as a fixed attribute, not as an input. The served
models of those formats draw their noise here instead: element i of a draw
with key k is a hash of (i, k) built from int64 add, multiply and floor-mod
(every intermediate stays below 2^62, so no runtime ever overflows), then
turned into a float:

    h_0 = (i mod P + k_0) mod P,   P = 2^31 - 1 (a prime)
    h_r = ((h_{r-1} + k_r) a_r mod P)^2 + c_r  mod P         r = 1..4
    u   = (h - h mod 2^7) / 2^31                              in [0, 1)
    z   = sqrt(-2 log(1 - u)) cos(2 pi u')                    Box-Muller, u' from a second stream

It is a different generator from TensorFlow's Philox, so a served LiteRT or
ONNX model agrees with Python within Monte Carlo error, not draw for draw
(the SavedModel keeps Philox and agrees exactly). Its uniforms pass the
moment and neighbour-correlation checks of `tests/test_serving.py`.
"""

import math

import tensorflow as tf

__all__ = ["P", "key", "uniform", "normal", "fold_in", "split"]

P = 2147483647
Q = 2147483629  # another prime below 2^31
_ROUNDS = ((48271, 1013904223), (69621, 1664525), (16807, 12345), (40692, 97531))
_KEY_MIX = (62089911, 2147483629)


def _mod(h):
    return tf.math.floormod(h, tf.constant(P, tf.int64))


def _mix(h, k, rounds=_ROUNDS):
    """The hash of int64 values `h` (any int64) with key words `k` (int64 scalars in [0, P))."""
    h = _mod(_mod(h) + k[0])
    for r, (a, c) in enumerate(rounds):
        h = _mod(_mod(h + k[(r + 1) % len(k)]) * a)
        h = _mod(h * h + c)
    return h


def key(seed):
    """Key words (int64 scalars in [0, P)) from a seed: an int64 scalar or a pair, of any int64 values."""
    seed = tf.reshape(tf.cast(seed, tf.int64), [-1])
    words = [seed[0], seed[1]] if seed.shape[0] == 2 else [seed[0], tf.constant(0, tf.int64)]
    zero = tf.constant(0, tf.int64)
    # (w mod P, w mod Q) tells apart every w below P Q ~ 2^62 (Chinese remainders), with no division.
    q = tf.constant(Q, tf.int64)
    a = _mix(words[0], [zero, tf.constant(_KEY_MIX[0], tf.int64)])
    a = _mix(tf.math.floormod(words[0], q), [a, zero])
    b = _mix(_mod(words[1]) + a, [a, tf.constant(_KEY_MIX[1], tf.int64)])
    b = _mix(tf.math.floormod(words[1], q), [b, a])
    return [a, b]


def _counters(shape, k):
    """0, 1, ..., size - 1 (int64), computed at run time: a range of static size would be folded into a
    constant of the draw's size by the converters (megabytes in the model file)."""
    # min(k, 0) is 0 (k >= 0) yet not foldable: the converters simplify k * 0 away.
    size = tf.reduce_prod(tf.cast(shape, tf.int32)) + tf.cast(tf.minimum(k, 0), tf.int32)
    return tf.cast(tf.range(size), tf.int64)


def _unit(shape, seed, stream):
    """Floats in [0, 1), multiples of 2^-24: the hash's top 24 of 31 bits (h - h mod 2^7 is exact in float32)."""
    k = key(seed)
    h = _mix(_counters(shape, k[0]), [k[0], _mod(k[1] + stream), k[0], k[1]])
    top = tf.cast(h - tf.math.floormod(h, tf.constant(128, tf.int64)), tf.float32) * (2.0 ** -31)
    return tf.reshape(top, tf.cast(shape, tf.int32))


def uniform(shape, seed, minval=0, maxval=None, dtype=tf.float32):
    """Uniform draws in [minval, maxval) (floats: [0, 1) by default; integers need `maxval`)."""
    dtype = tf.as_dtype(dtype)
    u = _unit(shape, seed, 0)
    if dtype.is_integer:
        span = tf.cast(maxval - minval, tf.float32)
        return tf.cast(tf.floor(u * span), dtype) + tf.cast(minval, dtype)
    u = tf.cast(u, dtype)
    if maxval is None:
        return u if minval == 0 else u + minval
    return minval + u * (maxval - minval)


def normal(shape, seed, dtype=tf.float32):
    """Standard normal draws (Box-Muller on two streams of uniforms)."""
    u1 = 1.0 - _unit(shape, seed, 1)  # in (0, 1]
    u2 = _unit(shape, seed, 2)
    z = tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(2.0 * math.pi * u2)
    return tf.cast(z, dtype)


def fold_in(seed, data):
    """A new seed pair (int64) from a seed and an integer (scalar) `data`."""
    k = key(seed)
    d = tf.cast(data, tf.int64)
    return tf.stack([_mix(d, [k[0], k[1]]), _mix(d, [k[1], k[0]])])


def split(seed, num):
    """`num` (a Python int) new seed pairs, shape (num, 2), int64."""
    k = key(seed)
    i = tf.range(num, dtype=tf.int32)
    i = tf.cast(i, tf.int64)
    return tf.stack([_mix(i, [k[0], k[1], k[0]]), _mix(i + num, [k[1], k[0], k[1]])], axis=1)
