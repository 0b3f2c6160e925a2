"""tfvb.bayesianize: conversion fidelity, posterior scales, training on digits, T draws, saving, errors."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvb
from tfvb import layers as bayesian_layers
from tfvb.models.bayesian_network import BayesianNetwork

LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
ESTIMATORS = ["flipout", "reparameterization", "local_reparameterization"]


def _cnn(seed=0, batch_norm=True):
    keras.utils.set_random_seed(seed)
    body = [keras.layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1")]
    body += [keras.layers.BatchNormalization(name="bn")] if batch_norm else []
    body += [keras.layers.MaxPooling2D(2), keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2"),
             keras.layers.Dropout(0.25), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
             keras.layers.Dense(10, name="logits")]
    model = keras.Sequential([keras.Input((28, 28, 1))] + body, name="cnn")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LOGITS, metrics=["accuracy"])
    return model


def _functional():
    """Branches and a merge, a dense layer on a sequence, a transposed convolution and a softmax head."""
    inputs = keras.Input((6, 6, 2))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(inputs)
    b = keras.layers.AveragePooling2D(2)(b)
    h = keras.layers.Add()([a, b])
    h = keras.layers.Reshape((36, 4))(h)
    h = keras.layers.Dense(3, activation="tanh")(h)  # per position
    h = keras.layers.LayerNormalization()(h)
    outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def digits(mnist_sample):
    x, y = mnist_sample
    return (x[:1500], y[:1500]), (x[1500:], y[1500:])


# ---- conversion ----------------------------------------------------------------------------
@pytest.mark.parametrize("layer", ESTIMATORS)
def test_posterior_mean_mode_reproduces_the_original(layer, digits):
    model = _cnn()
    model.fit(*digits[0], batch_size=100, epochs=1, verbose=0)  # BN statistics and weights away from init
    bnn = tfvb.bayesianize(model, layer=layer, seed=0)
    assert isinstance(bnn, BayesianNetwork) and (bnn.task, bnn.outputs_kind) == ("classification", "logits")
    x = digits[1][0][:64]
    np.testing.assert_allclose(bnn(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bnn.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    kinds = {op.name: type(op).__name__ for op in bnn.network.layers}
    assert kinds["conv1"].startswith("Conv2D") and kinds["conv1"] != "Conv2D" and kinds["bn"] == "BatchNormalization"
    assert kinds["logits"].startswith("Dense") and kinds["logits"] != "Dense"


def test_functional_graphs_with_merges_sequences_and_transposed_convolutions():
    model = _functional()
    x = np.random.default_rng(0).normal(size=(8, 6, 6, 2)).astype("float32")
    bnn = tfvb.bayesianize(model, layer="reparameterization", seed=1)
    assert (bnn.task, bnn.outputs_kind) == ("classification", "probabilities")
    np.testing.assert_allclose(bnn(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    u = bnn.predict_uncertainty(x, samples=7, seed=0)
    assert u["mean"].shape == (8, 5) and np.all(u["mutual_information"] >= 0)
    with pytest.raises(ValueError, match="Expected `layer` to be one of \\['flipout', 'reparameterization'\\] "
                                         "for Conv2DTranspose layer"):
        tfvb.bayesianize(model, layer="local_reparameterization")


def test_skip_and_posterior_scales():
    model = _cnn(batch_norm=False)
    bnn = tfvb.bayesianize(model, skip=("conv2",), moped_delta=0.2)
    conv2, conv1 = bnn.network.get_layer("conv2"), bnn.network.get_layer("conv1")
    assert type(conv2) is keras.layers.Conv2D
    for a, b in zip(conv2.get_weights(), model.get_layer("conv2").get_weights()):
        np.testing.assert_array_equal(a, b)
    w = model.get_layer("conv1").kernel.numpy()
    np.testing.assert_allclose(conv1.kernel_scale.numpy(), np.maximum(0.2 * np.abs(w), 1e-5), rtol=1e-5)
    fixed = tfvb.bayesianize(model, posterior_sigma_init=0.03, prior=tfvb.priors.Normal(0.5))
    np.testing.assert_allclose(fixed.network.get_layer("logits").kernel_scale.numpy(), 0.03, rtol=1e-5)
    assert fixed.network.get_layer("logits").prior == tfvb.priors.Normal(0.5)


def test_t_draws_through_the_graph_equal_the_layers_own_draws():
    # The tiled batch (T x N rows through the graph) gives exactly the draws each layer makes from
    # its own (T, N, ...) inputs with the same per-layer seeds.
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(4)])
    bnn = tfvb.bayesianize(model, task="classification", posterior_sigma_init=0.2)
    x = np.random.default_rng(3).normal(size=(5, 8, 8, 1)).astype("float32")
    t, seed = 6, tf.constant([11, 0], tf.int64)
    got = bnn.predict_samples(x, samples=t, seed=seed)
    conv, dense = [op for op in bnn.network.layers if hasattr(op, "kernel_loc")]
    s_conv, s_dense = bnn._layer_seeds(seed)
    h = conv(x, num_samples=t, seed=s_conv)
    logits = dense(tf.reshape(h, (t, 5, -1)), num_samples=t, seed=s_dense)
    np.testing.assert_allclose(got, tf.nn.softmax(logits).numpy(), rtol=1e-5, atol=1e-6)


# ---- training ------------------------------------------------------------------------------
@pytest.mark.slow  # a real training run; the default run checks the conversion, steps and round trips
def test_fit_on_digits_keeps_accuracy_and_is_more_uncertain_on_fashion(digits):
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("dataset-fashion-mnist is not installed (make system-deps)")
    fashion, _ = tfvb.data.fashion_mnist_arrays("test")
    (x, y), (x_held, y_held) = digits
    model = _cnn(batch_norm=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=LOGITS)
    model.fit(x, y, batch_size=50, epochs=6, verbose=0)
    accuracy = np.mean(model.predict(x_held, verbose=0).argmax(1) == y_held)
    bnn = tfvb.bayesianize(model, layer="flipout", seed=0)
    bnn.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = bnn.fit(x, y, batch_size=50, epochs=3, verbose=0)
    assert bnn.num_examples == 1500
    assert history.history["loss"][-1] < history.history["loss"][0]
    u_in = bnn.predict_uncertainty(x_held, samples=30, seed=0)
    u_out = bnn.predict_uncertainty(fashion[:500], samples=30, seed=0)
    assert np.mean(u_in["prediction"] == y_held) >= accuracy - 0.02, (np.mean(u_in["prediction"] == y_held), accuracy)
    # Higher on Fashion-MNIST than on held-out digits: the difference of the means in standard errors.
    for key in ("entropy", "mutual_information"):
        a, b = u_out[key], u_in[key]
        z = (a.mean() - b.mean()) / np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert z > 4, (key, a.mean(), b.mean(), z)


def test_regression_models_get_a_gaussian_likelihood():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([1.0, -1.0, 0.5]) + 0.1 * rng.normal(size=64)).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    bnn = tfvb.bayesianize(model, layer="local_reparameterization", posterior_sigma_init=0.05, seed=0)
    assert (bnn.task, bnn.outputs_kind) == ("regression", "values")
    np.testing.assert_allclose(bnn(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    bnn.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert isinstance(bnn.optimizer, keras.optimizers.Adam)  # a fresh copy of the original's optimizer
    u = bnn.predict_uncertainty(x[:5], samples=50, seed=0)
    assert set(u) == {"mean", "variance", "epistemic", "aleatoric", "std"} and u["mean"].shape == (5,)
    assert np.all(u["epistemic"] > 0)
    np.testing.assert_allclose(u["aleatoric"], np.exp(2 * bnn.noise_log_std.numpy()[0]), rtol=1e-6)
    out = bnn.evaluate(x, y, verbose=0, return_dict=True)
    assert set(out) == {"loss", "nll", "kl", "elbo", "rmse"}


def test_the_networks_other_losses_join_the_objective_as_keras_adds_them():
    # A kept layer's weight regularizer and a converted layer's activity regularizer: at full weight in `loss`
    # (as in Keras), outside `kl` (the layers' KL / N) and `nll`.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = rng.integers(0, 3, size=40)

    def net(activity, l2):
        keras.utils.set_random_seed(0)
        return keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(4, activation="relu", name="d0", activity_regularizer=activity),
            keras.layers.Dense(3, name="head", kernel_regularizer=l2)])

    def scores(model):
        bnn = tfvb.bayesianize(model, skip=["head"], seed=0, num_examples=40, task="classification")
        bnn.compile(optimizer="adam")
        return bnn, bnn.evaluate(x, y, verbose=0, return_dict=True)

    _, base = scores(net(None, None))
    np.testing.assert_allclose(base["loss"], base["nll"] + base["kl"], rtol=1e-5)
    kept, out = scores(net(None, keras.regularizers.L2(100.0)))
    head = kept.network.get_layer("head").kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(out["loss"] - out["nll"] - out["kl"], 100 * np.sum(head**2), rtol=1e-4)
    np.testing.assert_allclose(out["kl"], base["kl"], rtol=1e-5)
    _, out = scores(net(keras.regularizers.L2(1000.0), None))
    np.testing.assert_allclose(out["kl"], base["kl"], rtol=1e-5)  # the activity penalty is not counted as KL
    np.testing.assert_allclose(out["nll"], base["nll"], rtol=1e-5)  # the same draws (same seeds)
    assert out["loss"] - out["nll"] - out["kl"] > 1.0  # it is in the loss, at full weight


def test_keras_round_trip(tmp_path, digits):
    model = _cnn()
    bnn = tfvb.bayesianize(model, layer="local_reparameterization", seed=3)
    bnn.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = digits[0][0][:64], digits[0][1][:64]
    bnn.fit(x, y, batch_size=32, epochs=1, verbose=0)
    path = tmp_path / "bnn.keras"
    bnn.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is BayesianNetwork and loaded.get_config()["task"] == "classification"
    np.testing.assert_array_equal(bnn.predict(x, verbose=0), loaded.predict(x, verbose=0))
    a, b = bnn.predict_uncertainty(x, samples=4, seed=7), loaded.predict_uncertainty(x, samples=4, seed=7)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    loaded.fit(x, y, batch_size=32, epochs=1, verbose=0)


# ---- task inference and errors --------------------------------------------------------------
def test_task_comes_from_the_compiled_loss():
    def net(activation=None):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation)])

    m = net("softmax")
    m.compile(loss="sparse_categorical_crossentropy")
    assert tfvb.bayesianize(m).outputs_kind == "probabilities"
    m = net()
    m.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    assert tfvb.bayesianize(m).outputs_kind == "logits"
    m.compile(loss="huber")
    assert tfvb.bayesianize(m).task == "regression"
    assert tfvb.bayesianize(net(), task="classification").outputs_kind == "logits"
    with pytest.raises(ValueError, match="Expected `task`.*Received: task=None and no loss"):
        tfvb.bayesianize(net())
    m.compile(loss="binary_crossentropy")
    with pytest.raises(ValueError, match="Received: loss='binary_crossentropy'"):
        tfvb.bayesianize(m)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: keras.Sequential([keras.Input((4, 4, 4, 1)), keras.layers.Conv3D(2, 3), keras.layers.Flatten(),
                                   keras.layers.Dense(2)]),
         r"Expected layers tfvb can convert or keep: Dense, Conv2D, Conv2DTranspose \(made Bayesian\).*"
         r"Received: layer 'conv3d.*' \(Conv3D\)"),
        (lambda: keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4), keras.layers.Dense(2)]),
         r"Received: layer 'lstm.*' \(LSTM\)"),
        (lambda: keras.Sequential([keras.Input((3,)), keras.Sequential([keras.layers.Dense(2)], name="inner")]),
         r"nested models are not supported. Received: layer 'inner' \(Sequential\)"),
        (lambda: keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")]),
         r"Expected `skip` to name layers of the model. Received unknown names \['nope'\]"),
        (lambda: keras.Sequential([keras.layers.Dense(2)]), "Expected a built model with a known input"),
        (lambda: tfvb.models.BNNRegressor(input_dim=3), "Expected a Sequential or Functional keras.Model"),
    ],
    ids=["conv3d", "lstm", "nested", "skip", "unbuilt", "subclassed"],
)
def test_unsupported_models_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        tfvb.bayesianize(make(), task="classification", skip=("nope",) if "skip" in message else ())


def test_bayesianize_is_the_function_even_after_its_module_is_imported():
    import tfvb._bayesianize  # noqa: F401

    assert callable(tfvb.bayesianize) and tfvb.bayesianize.__name__ == "bayesianize"
    assert "bayesianize" in dir(tfvb)
    assert isinstance(bayesian_layers.DenseFlipout(2), keras.layers.Layer)
