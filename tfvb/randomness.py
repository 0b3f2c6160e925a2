"""Seeds, per-example noise under tf.distribute, and saved generator states: one convention for tfvb.

Seeds. A call's `seed` is an int s (the stateless seed pair (s, 0)), a pair
(a, b), or an integer tensor of shape [2] (or a scalar s, meaning (s, 0)).
Stateless ops receive it as one int64 pair (`seed_tensor`); an int32 pair
with the same values draws the same numbers, so the choice changes no draw.
Without a seed, noise comes from the owner's `keras.random.SeedGenerator`.

Per-example noise under tf.distribute. MirroredStrategy and
MultiWorkerMirroredStrategy give replica r the r-th contiguous slice of the
global batch, and the replicas' seed generators move in step. A replica that
drew noise for its own rows only would repeat another replica's draws; instead
it draws for the whole global batch and keeps its rows (`per_example`, with
the slice from `replica_batch_slice`), so every example gets the noise it
would get on one device:

    noise = draw((B_global, ...))[offset : offset + B_local]

Portable noise. Inside `portable_noise()`, the stateless draws of tfvb's
layers and models (`stateless_normal`, `stateless_uniform`, `stateless_fold_in`,
`stateless_split`) come from `tfvb._counter_rng`, a counter-based generator
made of integer ops that LiteRT and ONNX run, instead of TensorFlow's Philox
ops, which those runtimes lack. `tfvb.serving` traces its LiteRT and ONNX
exports inside it; everything else draws from Philox.

Inputs in chunks. `predict_samples` and `predict_uncertainty` run T draws on
N inputs chunk by chunk, each chunk one call with the same seed, so that draw
t is one network for every chunk. Noise drawn per example (local
reparameterization's outputs, MC dropout's masks) would then repeat from chunk
to chunk: rows i and i + batch_size would share it. Inside
`chunk_of_rows(first_row)` such noise is keyed by the chunk too
(`per_example_seed`); the first chunk keeps the call's seed, so a prediction
in one chunk (and a served model, which takes one batch) draws as before.

Saved states. Keras saves no SeedGenerator state, so a resumed run would
replay the noise of step 0; `SavesSeedState` stores the states with the
owner's weights.
"""

import contextlib
import numbers

import keras
import numpy as np
import tensorflow as tf

from tfvb import _counter_rng

__all__ = ["check_seed", "seed_pair", "seed_tensor", "normal", "replica_batch_slice", "per_example", "SavesSeedState",
           "portable_noise", "is_portable", "chunk_of_rows", "per_example_seed", "stateless_normal",
           "stateless_uniform", "stateless_fold_in", "stateless_split"]

_portable = [False]


@contextlib.contextmanager
def portable_noise():
    """Within it, tfvb's stateless draws come from the counter-based generator (see the module docstring)."""
    before, _portable[0] = _portable[0], True
    try:
        yield
    finally:
        _portable[0] = before


def is_portable():
    """Whether the code runs inside `portable_noise()` (a graph traced for LiteRT or ONNX)."""
    return _portable[0]


_first_row = [None]


@contextlib.contextmanager
def chunk_of_rows(first_row):
    """Within it (the trace of T draws on one chunk of inputs), `per_example_seed` keys noise by the chunk.

    `first_row` is the chunk's first row among the call's inputs: an int64 scalar tensor, an input of the
    traced function, so that one trace serves every chunk.
    """
    before, _first_row[0] = _first_row[0], tf.cast(first_row, tf.int64)
    try:
        yield
    finally:
        _first_row[0] = before


def per_example_seed(seed):
    """The seed of noise drawn per example: `seed` itself, folded with the chunk's first row inside
    `chunk_of_rows` (for every chunk but the first), so that no two chunks of one call share it."""
    first_row = _first_row[0]
    if first_row is None:
        return seed
    seed = tf.cast(seed, tf.int64)
    return tf.where(first_row > 0, tf.cast(stateless_fold_in(seed, first_row), tf.int64), seed)


def stateless_normal(shape, seed, dtype=tf.float32):
    """`tf.random.stateless_normal`, or its portable counterpart inside `portable_noise()`."""
    if _portable[0]:
        return _counter_rng.normal(shape, seed, dtype=dtype)
    return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=tf.float32):
    """`tf.random.stateless_uniform`, or its portable counterpart inside `portable_noise()`."""
    if _portable[0]:
        return _counter_rng.uniform(shape, seed, minval=minval, maxval=maxval, dtype=dtype)
    return tf.random.stateless_uniform(shape, seed=seed, minval=minval, maxval=maxval, dtype=dtype)


def stateless_fold_in(seed, data):
    """`tf.random.experimental.stateless_fold_in`, or its portable counterpart inside `portable_noise()`."""
    if _portable[0]:
        return _counter_rng.fold_in(seed, data)
    return tf.random.experimental.stateless_fold_in(seed, data)


def stateless_split(seed, num):
    """`tf.random.experimental.stateless_split`, or its portable counterpart inside `portable_noise()`."""
    if _portable[0]:
        return _counter_rng.split(seed, num)
    return tf.random.experimental.stateless_split(seed, num)


_INT64 = (-(2**63), 2**63 - 1)


def _is_tensor(value):
    """A TensorFlow or Keras tensor or variable (graph code's seeds: checked by the ops that take them)."""
    return tf.is_tensor(value) or isinstance(value, (tf.Variable, keras.Variable, keras.KerasTensor))


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and (
        _INT64[0] <= int(value) <= _INT64[1])


def check_seed(seed):
    """`seed` as given when it is None, an integer or a pair of integers in int64's range (numpy's too), or
    a tensor; ValueError otherwise (a float was truncated, True read as 1, a string failed inside TF)."""
    if seed is None or _is_tensor(seed) or _is_int(seed):
        return seed
    if isinstance(seed, np.ndarray) and seed.dtype.kind in "iu" and seed.shape in ((), (2,)):
        values = [int(v) for v in seed.reshape(-1)]
    elif isinstance(seed, (tuple, list)) and len(seed) == 2:
        values = [0 if _is_tensor(v) else v for v in seed]
    else:
        values = None
    if values is None or not all(_is_int(v) for v in values):
        beyond = " (beyond int64's range)" if isinstance(seed, numbers.Integral) and not isinstance(
            seed, (bool, np.bool_)) else ""
        raise ValueError(f"Expected `seed` to be None, an integer or a pair of integers. Received: "
                         f"seed={seed!r}{beyond}")
    return seed


def seed_pair(seed):
    """A call's seed as a pair of Python ints: s -> (s, 0); a pair (or [2] array) as is."""
    check_seed(seed)
    if isinstance(seed, numbers.Integral) or np.ndim(seed) == 0:
        return (int(seed), 0)
    pair = tuple(int(s) for s in np.asarray(seed).reshape(-1))
    if len(pair) != 2:
        raise ValueError(f"Expected `seed` to be an integer or a pair of integers. Received: seed={seed!r}")
    return pair


def seed_tensor(seed):
    """A call's seed as the int64 pair stateless ops take: s -> [s, 0]; a pair or [2] tensor as is.

    Python and numpy seeds are checked (`check_seed`); a tensor (graph code, a SeedGenerator's
    state, a served model's input) is taken as is.
    """
    check_seed(seed)
    if isinstance(seed, numbers.Integral):
        return tf.constant([int(seed), 0], tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([seed, tf.constant(0, tf.int64)])
    return seed


def normal(shape, generator, seed=None, dtype=None):
    """N(0, 1) noise: from `generator` (a SeedGenerator), or stateless from `seed` when given."""
    if seed is None:
        return keras.random.normal(shape, seed=generator, dtype=dtype)
    return stateless_normal(shape, seed_tensor(seed), dtype=dtype or tf.float32)


def replica_batch_slice(local_batch_size):
    """(offset, global size): where this replica's examples sit in the step's global batch.

    Outside a multi-replica context: (0, local_batch_size). Inside one it
    all-gathers the replicas' sizes (the last batch of an epoch splits
    unevenly), so call it once per step, before any layer runs: the gather
    would switch replica threads in the middle of a layer call.
    """
    local_batch_size = tf.cast(local_batch_size, tf.int32)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), local_batch_size
    sizes = context.all_gather(tf.reshape(local_batch_size, [1]), axis=0)
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return tf.reduce_sum(sizes[:replica]), tf.reduce_sum(sizes)


def per_example(draw, shape, batch_slice=None, axis=0):
    """`draw(shape)` for noise with one entry per example along `axis`, distribution-aware.

    With `batch_slice` = `replica_batch_slice(local batch)` the noise of the
    global batch is drawn and this replica's entries kept; without it,
    `draw(shape)` as is.
    """
    if batch_slice is None:
        return draw(shape)
    shape = tf.convert_to_tensor(shape, tf.int32)
    offset, total = batch_slice
    noise = draw(tf.tensor_scatter_nd_update(shape, [[axis]], tf.reshape(total, [1])))
    return tf.gather(noise, tf.range(offset, offset + shape[axis]), axis=axis)


_SEED_KEY = "seed_generator_state_"


class SavesSeedState:
    """Mixin for a Layer or Model: its own `SeedGenerator` states are saved with its weights.

    The states are stored under extra keys of the owner's variables (so
    `save_weights`, `.keras` files and `BackupAndRestore` carry them); files
    written without them still load, the generators then keeping their
    current state.
    """

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, generator in enumerate(self._seed_generators):
            store[f"{_SEED_KEY}{i}"] = generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        seeds = {k for k in keys if str(k).startswith(_SEED_KEY)}
        super().load_own_variables({k: store[k] for k in keys if k not in seeds})
        for i, generator in enumerate(self._seed_generators):
            if f"{_SEED_KEY}{i}" in seeds:
                generator.state.assign(store[f"{_SEED_KEY}{i}"])
