"""`tfvb.bayesianize` on the graphs users bring: weight regularizers and constraints (refused, or dropped on
request), Python Lambda layers, and layers shared by several call sites (one weight draw per pass)."""

import keras
import numpy as np
import pytest

import tfvb


def _regression_net(*layers, inputs=(3,)):
    model = keras.Sequential([keras.Input(inputs), *layers])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_weight_regularizers_and_constraints_are_refused_or_dropped_on_request():
    net = _regression_net(keras.layers.Dense(4, kernel_regularizer="l2", kernel_constraint="max_norm",
                                             activity_regularizer="l1", name="hidden"), keras.layers.Dense(1))
    with pytest.raises(ValueError, match=r"layer 'hidden' with kernel_regularizer=.*kernel_constraint=.*"
                                         r"drop_regularizers=True"):
        tfvb.bayesianize(net)
    bnn = tfvb.bayesianize(net, drop_regularizers=True, seed=0)
    hidden = bnn.network.get_layer("hidden")
    assert hidden.activity_regularizer is not None  # an activity regularizer means the same on a BNN: kept
    kept = tfvb.bayesianize(net, skip=["hidden"], seed=0)  # a deterministic layer keeps everything
    assert kept.network.get_layer("hidden").kernel_regularizer is not None


def test_a_python_lambda_layer_is_kept():
    net = _regression_net(keras.layers.Dense(4), keras.layers.Lambda(lambda t: 2.0 * t), keras.layers.Dense(1))
    bnn = tfvb.bayesianize(net, seed=0)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(bnn(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)


def test_a_shared_layer_draws_the_same_weights_at_each_call_site():
    inputs = keras.Input((3,))
    shared = keras.layers.Dense(4, name="shared")
    net = keras.Model(inputs, keras.layers.Subtract()([shared(inputs), shared(inputs)]))
    net.compile(optimizer="adam", loss="mse")
    bnn = tfvb.bayesianize(net, posterior_sigma_init=0.5, seed=0)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    # One stochastic pass: both sites see one draw, so the difference is exactly zero (it was not).
    np.testing.assert_array_equal(bnn._forward(x, training=True).numpy(), np.zeros((5, 4), "float32"))
    np.testing.assert_array_equal(bnn.predict_samples(x, samples=3, seed=1)["mean"], np.zeros((3, 5, 4)))
    np.testing.assert_array_equal(tfvb.predict_samples(bnn.network, x, samples=3, seed=1), np.zeros((3, 5, 4)))
