"""DeepEnsemble across fits and copies: a second fit with differently batched data (per-member shuffles, then
shared batches or a tf.data pipeline, and back) trains, and a copy made with from_config(get_config()) of a
compiled ensemble predicts before it is compiled."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb.models import DeepEnsemble
from tfvb.models._labels import label_rows

LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _net():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _data(n=40):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def test_fits_with_differently_batched_data():
    x, y = _data()
    ensemble = DeepEnsemble(_net, n=2, seed=0)
    ensemble.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOGITS)
    losses = []
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    # Per-member shuffles, shared batches in the given order, a tf.data pipeline, per-member shuffles again.
    for data in [dict(x=x, y=y, batch_size=8), dict(x=x, y=y, batch_size=8, shuffle=False), dict(x=dataset),
                 dict(x=x, y=y, batch_size=8)]:
        losses.append(ensemble.fit(**data, epochs=1, verbose=0).history["loss"][0])
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_a_label_error_on_inputs_of_unknown_rank_is_an_error_not_a_crash():
    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
    def rows(y):
        return label_rows(y, 2)

    with pytest.raises(ValueError, match="Received: y.shape of unknown rank"):
        rows.get_concrete_function()


def test_a_copy_of_a_compiled_ensemble_predicts_before_it_is_compiled():
    x, y = _data()
    ensemble = DeepEnsemble(_net, n=2, seed=0)
    ensemble.compile(optimizer="adam", loss=LOGITS)
    copy = DeepEnsemble.from_config(ensemble.get_config())
    assert not copy.compiled and copy.task == "classification"
    assert copy(x).shape == (40, 2)
    assert copy.predict_uncertainty(x)["mean"].shape == (40, 2)
