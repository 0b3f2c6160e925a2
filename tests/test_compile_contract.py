"""tfvb's models keep Keras' compile contract: metrics passed to compile are computed and reported (fit,
validation, evaluate as a list and as a dict), and a loss they would ignore is refused."""

import keras
import numpy as np
import pytest

import tfvb
from tfvb.models import CVAE, BNNClassifier, BNNRegressor, MCDropoutRegressor


def _regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5], "float32") + 0.1 * rng.normal(size=n)).astype("float32")


@pytest.mark.parametrize("make", [
    lambda: BNNClassifier(10, hidden_units=(8,), num_examples=100, seed=0),
    lambda: BNNRegressor(hidden_units=(8,), num_examples=100, seed=0),
    lambda: MCDropoutRegressor(hidden_units=(8,), num_examples=100, seed=0),
    lambda: CVAE(latent_dim=2, seed=0),
], ids=["bnn_classifier", "bnn_regressor", "mc_dropout", "cvae"])
def test_a_loss_the_model_would_ignore_is_refused(make):
    model = make()
    with pytest.raises(ValueError, match=r"Expected no `loss` in compile: .* Received: loss='mse'"):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="Expected no `loss_weights`"):
        model.compile(optimizer="adam", loss_weights=[1.0])
    model.compile(optimizer="adam")  # no loss: fine


def test_classifier_metrics_are_computed_and_reported(mnist_sample):
    images, labels = mnist_sample
    x, y = images[:96], labels[:96]
    model = BNNClassifier(10, hidden_units=(8,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")])
    history = model.fit(x, y, batch_size=32, epochs=1, validation_data=(x[:32], y[:32]), verbose=0).history
    assert {"loss", "elbo", "top3", "val_top3", "val_loss"} <= set(history)
    assert 0 <= history["top3"][0] <= 1
    logs = model.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    values = model.evaluate(x, y, batch_size=32, verbose=0)
    # The list: the model's own terms in `metrics` order (loss, nll, kl, elbo, accuracy), then the compiled
    # metrics; the dict holds the same names (the steps draw weights, so only the KL is the same number twice).
    assert set(logs) == {"loss", "nll", "kl", "elbo", "accuracy", "top3"} and len(values) == len(logs)
    assert values[2] == pytest.approx(logs["kl"], rel=1e-6) and values[0] == pytest.approx(logs["loss"], rel=0.05)
    assert logs["top3"] >= logs["accuracy"] - 0.1


def test_regressor_metrics_see_the_predictive_mean():
    x, y = _regression()
    model = BNNRegressor(hidden_units=(8,), num_examples=64, posterior_sigma_init=1e-6, seed=0)
    model.build((None, 3))
    model.compile(optimizer="adam", metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
    logs = model.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)
    # A posterior of tiny scale: the predictive mean of a stochastic pass is the posterior-mean prediction.
    want = np.mean(np.abs(model(x).numpy()[:, 0] - y))
    assert logs["mae"] == pytest.approx(want, rel=1e-3)
    mc = MCDropoutRegressor(hidden_units=(8,), seed=0)
    mc.adapt(x, y)
    mc.compile(optimizer="adam", metrics=[keras.metrics.MeanSquaredError(name="mse")])
    assert np.isfinite(mc.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)["mse"])


def test_vae_metrics_compare_the_images_with_their_reconstruction(binary_images):
    images = binary_images[:32]
    vae = CVAE(latent_dim=2, seed=0)
    vae.compile(optimizer="adam", metrics=[keras.metrics.MeanSquaredError(name="reconstruction_mse")])
    logs = vae.evaluate(images, batch_size=32, return_dict=True, verbose=0)
    # The images against their reconstruction from E[z | x], what `vae(x)` returns.
    want = np.mean(np.square(images.reshape(32, 28, 28, 1) - vae(images).numpy()))
    assert logs["reconstruction_mse"] == pytest.approx(want, rel=1e-4)


def test_bayesianized_networks_report_compiled_metrics(mnist_sample):
    images, labels = mnist_sample
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    bnn = tfvb.bayesianize(net, num_examples=64, seed=0)
    bnn.compile(optimizer="adam", metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")])
    assert "top5" in bnn.evaluate(images[:64], labels[:64], return_dict=True, verbose=0)


def test_a_compiled_metric_takes_the_place_of_the_models_own_of_that_name(mnist_sample):
    # Code written for Keras asks for "accuracy"; the classifier reports accuracy itself. The compiled one is
    # reported once under its name, computed as Keras computes it: unweighted unless in weighted_metrics.
    images, labels = mnist_sample
    x, y = images[:64], labels[:64]
    model = BNNClassifier(10, hidden_units=(8,), num_examples=64, posterior_sigma_init=1e-6, seed=0)
    model.compile(optimizer="adam", metrics=["accuracy"])
    weights = np.r_[np.ones(32), np.zeros(32)].astype("float32")
    logs = model.evaluate(x, y, sample_weight=weights, batch_size=64, return_dict=True, verbose=0)
    values = model.evaluate(x, y, sample_weight=weights, batch_size=64, verbose=0)
    assert sorted(logs) == ["accuracy", "elbo", "kl", "loss", "nll"] and len(values) == len(logs) == 5
    predicted = np.argmax(model(x).numpy(), -1)  # a posterior of tiny scale: every pass predicts the same
    assert logs["accuracy"] == pytest.approx(np.mean(predicted == y))  # all 64 rows: the weights not applied
    assert values[4] == pytest.approx(logs["accuracy"])
    model.compile(optimizer="adam", weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=weights, batch_size=64, return_dict=True, verbose=0)
    assert sorted(logs) == ["accuracy", "elbo", "kl", "loss", "nll"]
    assert logs["accuracy"] == pytest.approx(np.mean(predicted[:32] == y[:32]))  # the weighted rows only
    history = model.fit(x, y, batch_size=32, epochs=1, validation_data=(x, y), verbose=0).history
    assert sorted(history) == ["accuracy", "elbo", "kl", "loss", "nll",
                               "val_accuracy", "val_elbo", "val_kl", "val_loss", "val_nll"]
    model.compile(optimizer="adam", metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")])
    assert sorted(model.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)) == [
        "accuracy", "elbo", "kl", "loss", "nll", "top3"]  # the model's own accuracy is back

    x_reg, y_reg = _regression()
    mc = MCDropoutRegressor(hidden_units=(8,), seed=0)
    mc.adapt(x_reg, y_reg)
    mc.compile(optimizer="adam", metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    logs = mc.evaluate(x_reg, y_reg, batch_size=64, return_dict=True, verbose=0)
    assert sorted(logs) == ["loss", "nll", "rmse"]
    assert len(mc.evaluate(x_reg, y_reg, batch_size=64, verbose=0)) == 3


@pytest.mark.parametrize("make, name", [
    (lambda: BNNClassifier(10, hidden_units=(8,), num_examples=100, seed=0), "kl"),
    (lambda: BNNRegressor(hidden_units=(8,), num_examples=100, seed=0), "loss"),
    (lambda: MCDropoutRegressor(hidden_units=(8,), num_examples=100, seed=0), "nll"),
    (lambda: CVAE(latent_dim=2, seed=0), "elbo"),
], ids=["bnn_classifier", "bnn_regressor", "mc_dropout", "cvae"])
def test_a_compiled_metric_named_like_a_term_of_the_objective_is_refused(make, name):
    model = make()
    model.compile(optimizer="adam", metrics=[keras.metrics.Mean(name="mean")])
    with pytest.raises(ValueError, match=rf"a metric named '{name}' would replace the model's own '{name}'.*"
                                         rf"Received: a metric named '{name}'"):
        model.compile(optimizer="adam", metrics=[keras.metrics.MeanSquaredError(name=name)])
    with pytest.raises(ValueError, match=f"a metric named '{name}'"):
        model.compile(optimizer="adam", weighted_metrics={"output": [name]})
    # The refused compile changed nothing: the metrics compiled before are still there.
    assert "mean" in tfvb.models._compile.compiled_metric_names(model.get_compile_config()["metrics"])


def test_bayesianize_keeps_the_metrics_the_network_was_compiled_with(mnist_sample):
    images, labels = mnist_sample
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")])
    bnn = tfvb.bayesianize(net, num_examples=64, seed=0)
    logs = bnn.evaluate(images[:64], labels[:64], return_dict=True, verbose=0)
    assert sorted(logs) == ["accuracy", "elbo", "kl", "loss", "nll", "top5"]
    assert len(bnn.evaluate(images[:64], labels[:64], verbose=0)) == 6
