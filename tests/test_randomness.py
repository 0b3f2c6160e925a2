"""tfvb.randomness: one seed convention, per-example noise for a replica's rows, saved generator states."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import randomness


def test_seed_forms_become_one_int64_pair():
    for seed, pair in ((7, (7, 0)), ((3, 4), (3, 4)), (np.array([5, 6]), (5, 6))):
        assert randomness.seed_pair(seed) == pair
        t = randomness.seed_tensor(seed)
        assert t.dtype == tf.int64 and tuple(t.numpy()) == pair
    assert tuple(randomness.seed_tensor(tf.constant(9)).numpy()) == (9, 0)
    with pytest.raises(ValueError, match=r"integer or a pair of integers. Received: seed=\(1, 2, 3\)"):
        randomness.seed_pair((1, 2, 3))


def test_int32_and_int64_pairs_draw_the_same_numbers():
    """The VAE drew from int32 pairs, the layers from int64 ones: unifying them changes no draw."""
    a = tf.random.stateless_normal((1000,), seed=tf.constant([11, 0], tf.int32))
    b = randomness.normal((1000,), generator=None, seed=11)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    u32 = tf.random.stateless_uniform((1000,), seed=tf.constant([3, 4], tf.int32))
    u64 = tf.random.stateless_uniform((1000,), seed=randomness.seed_tensor((3, 4)))
    np.testing.assert_array_equal(u32.numpy(), u64.numpy())


@pytest.mark.parametrize("axis", [0, 1])
def test_per_example_keeps_this_replicas_rows_of_the_global_draw(axis):
    """Replicas with slices (0, 5) and (5, 3) of an 8-example batch together get the one-device noise."""
    def draw(shape):
        return tf.random.stateless_normal(shape, seed=[1, 2])

    whole = draw((4, 8, 3) if axis == 1 else (8, 3)).numpy()
    parts = []
    for offset, size in ((0, 5), (5, 3)):
        shape = (4, size, 3) if axis == 1 else (size, 3)
        batch_slice = (tf.constant(offset), tf.constant(8))
        parts.append(randomness.per_example(draw, shape, batch_slice, axis=axis).numpy())
    np.testing.assert_array_equal(np.concatenate(parts, axis=axis), whole)
    np.testing.assert_array_equal(randomness.per_example(draw, whole.shape).numpy(), whole)
    # One replica: the slice is the whole batch.
    offset, total = randomness.replica_batch_slice(8)
    assert int(offset) == 0 and int(total) == 8


class _Noisy(randomness.SavesSeedState, keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(3)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="ones")

    def call(self, x):
        return x + keras.random.normal(tf.shape(x), seed=self.seed_generator)


def test_generator_state_is_saved_with_the_weights(tmp_path):
    layer = _Noisy()
    layer.build(None)
    layer(tf.zeros(3))
    store = {}
    layer.save_own_variables(store)
    store = {k: np.array(v) for k, v in store.items()}  # what a file holds: values, not the variables
    expected = layer(tf.zeros(3)).numpy()
    again = _Noisy()
    again.build(None)
    again.load_own_variables(store)  # the state after one call: the next draw is the same
    np.testing.assert_array_equal(again(tf.zeros(3)).numpy(), expected)
    without = _Noisy()
    without.build(None)
    without.load_own_variables({"0": store["0"]})  # a file written without the state still loads
    assert float(without.w.numpy()) == 1.0
