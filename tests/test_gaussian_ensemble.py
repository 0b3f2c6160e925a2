"""Gaussian members (`tfvb.gaussian.GaussianNLL`): the loss, the ensemble's mixture, saving, and the refusals.

Lakshminarayanan et al.'s regression ensemble: each member predicts a mean
and a variance, the ensemble's predictive is the uniform mixture of their
Gaussians. Checked against the closed forms: the mixture's mean and
variance, its log density, and the per-example Gaussian NLL.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvb
from tfvb.gaussian import GaussianNLL
from tfvb.models import DeepEnsemble


def _fixed_member(index):
    """y-hat = (a_i x, b_i x + c_i): outputs known in closed form."""
    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2)])
    net.layers[0].set_weights([np.array([[0.5 + index, -0.3 * index]], "float32"),
                               np.array([0.1 * index, 0.2 + 0.4 * index], "float32")])
    return net


def _softplus(v):
    return np.logaddexp(0.0, v)


def _member_moments(x, n, min_variance=1e-6):
    means = np.stack([(0.5 + i) * x[:, 0] + 0.1 * i for i in range(n)])
    variances = np.stack([_softplus(-0.3 * i * x[:, 0] + 0.2 + 0.4 * i) + min_variance for i in range(n)])
    return means, variances


def test_the_loss_is_the_gaussian_nll_of_softplus_variances():
    loss = GaussianNLL()
    outputs = np.array([[0.5, 2.0], [1.0, -3.0], [-2.0, 0.0]], "float32")
    y = np.array([1.0, 0.0, -1.5], "float32")
    variance = _softplus(outputs[:, 1].astype(np.float64)) + 1e-6
    expected = 0.5 * (y - outputs[:, 0]) ** 2 / variance + 0.5 * np.log(2 * math.pi * variance)
    np.testing.assert_allclose(loss(y, outputs).numpy(), expected.mean(), rtol=1e-5)
    np.testing.assert_allclose(loss(y[:, None], outputs).numpy(), expected.mean(), rtol=1e-5)  # (N, 1) targets
    mean, var = loss.moments(outputs)
    np.testing.assert_allclose(var.numpy()[:, 0], variance, rtol=1e-5)
    np.testing.assert_allclose(loss.moments(tf.concat([mean, loss.raw(var)], -1))[1].numpy(), var.numpy(),
                               rtol=1e-5)
    # Two targets: four outputs, the NLL summed over the targets.
    two = np.concatenate([outputs[:, :1], outputs[:, :1], outputs[:, 1:], outputs[:, 1:]], axis=1)
    np.testing.assert_allclose(loss(np.stack([y, y], 1), two).numpy(), 2 * expected.mean(), rtol=1e-5)
    copy = keras.losses.deserialize(keras.losses.serialize(GaussianNLL(min_variance=1e-3)))
    assert isinstance(copy, GaussianNLL) and copy.min_variance == 1e-3


@pytest.mark.parametrize("dtype, rtol", [("float32", 3e-6), ("float64", 1e-8)])  # TF's softplus: ~3e-9
def test_raw_inverts_the_variance_from_the_floor_to_large_variances(dtype, rtol):
    # raw is what model(x) returns for a mixture's variance; served graphs (ONNX: no expm1) compute it too.
    loss = GaussianNLL()
    variance = (1e-6 + np.logspace(-10, 3, 300)).astype(dtype)
    raw = loss.raw(tf.constant(variance))
    back = loss.moments(tf.stack([tf.zeros_like(raw), raw], -1))[1].numpy()[:, 0]
    np.testing.assert_allclose(back, variance, rtol=rtol)
    excess = variance.astype(np.float64) - 1e-6
    small = excess < 1.0  # log(exp(e) - 1) = log(e) + e/2 + O(e^2): the raw value of a variance near its floor
    np.testing.assert_allclose(raw.numpy()[small], np.log(np.expm1(excess[small])), rtol=1e-4 if dtype == "float32"
                               else 1e-9, atol=1e-4 if dtype == "float32" else 1e-9)


@pytest.mark.parametrize("make, message", [
    (lambda: GaussianNLL(min_variance=0.0), r"Expected `min_variance` > 0. Received: min_variance=0.0"),
    (lambda: GaussianNLL(min_variance=float("nan")), "min_variance"),
    (lambda: GaussianNLL()(np.zeros(4, "float32"), np.zeros((4, 3), "float32")), r"an even size.*\(4, 3\)"),
    (lambda: GaussianNLL()(np.zeros((4, 2), "float32"), np.zeros((4, 2), "float32")),
     r"Expected targets with 1 values per example .* Received: targets of shape \(4, 2\)"),
])
def test_bad_values_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _fixed_ensemble(n=3):
    ensemble = DeepEnsemble([_fixed_member(i) for i in range(n)])
    ensemble.compile(optimizer="adam", loss=GaussianNLL())
    return ensemble


def test_the_ensemble_is_the_mixture_of_its_members_gaussians():
    x = np.linspace(-2, 2, 9, dtype="float32")[:, None]
    ensemble = _fixed_ensemble()
    means, variances = _member_moments(x.astype(np.float64), 3)
    mixture_mean = means.mean(0)
    mixture_variance = (variances + means**2).mean(0) - mixture_mean**2

    u = ensemble.predict_uncertainty(x)
    np.testing.assert_allclose(u["mean"], mixture_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(u["variance"], mixture_variance, rtol=1e-4)
    np.testing.assert_allclose(u["aleatoric"], variances.mean(0), rtol=1e-5)
    np.testing.assert_allclose(u["epistemic"], means.var(0), rtol=1e-4, atol=1e-6)
    samples = ensemble.predict_samples(x)
    assert set(samples) == {"mean", "variance"} and samples["mean"].shape == (3, 9)
    np.testing.assert_allclose(samples["variance"], variances, rtol=1e-5)

    # model(x): the mixture's mean and variance in the members' own parameterization.
    mean, variance = GaussianNLL().moments(ensemble(x))
    np.testing.assert_allclose(mean.numpy()[:, 0], mixture_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(variance.numpy()[:, 0], mixture_variance, rtol=1e-4)

    # evaluate: the members' mean NLL as `loss`, the mixture's own NLL and RMSE.
    y = (np.sin(x[:, 0]) * 2).astype("float32")
    logs = ensemble.evaluate(x, y, verbose=0, return_dict=True)
    log_density = -0.5 * (y - means) ** 2 / variances - 0.5 * np.log(2 * math.pi * variances)
    mixture_nll = -(np.logaddexp.reduce(log_density, axis=0) - math.log(3))
    assert logs["ensemble_nll"] == pytest.approx(mixture_nll.mean(), rel=1e-4)
    assert logs["loss"] == pytest.approx(-log_density.mean(), rel=1e-4)
    assert logs["ensemble_rmse"] == pytest.approx(np.sqrt(np.mean((y - mixture_mean) ** 2)), rel=1e-4)


def test_trained_members_learn_the_noise_that_grows_with_x():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(2000, 1)).astype("float32")
    noise_std = 0.05 + 0.45 * (x[:, 0] + 1) / 2
    y = (x[:, 0] + noise_std * rng.normal(size=2000)).astype("float32")

    def member():
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(32, activation="tanh"),
                                 keras.layers.Dense(2)])

    ensemble = DeepEnsemble(member, n=2, seed=0)
    ensemble.compile(optimizer=keras.optimizers.Adam(1e-2), loss=GaussianNLL())
    ensemble.fit(x, y, batch_size=100, epochs=30, verbose=0)
    grid = np.array([[-0.8], [0.0], [0.8]], "float32")
    u = ensemble.predict_uncertainty(grid)
    truth = 0.05 + 0.45 * (grid[:, 0] + 1) / 2  # the noise's standard deviation, 0.095 / 0.275 / 0.455
    np.testing.assert_allclose(np.sqrt(u["aleatoric"]), truth, rtol=0.25)  # learned from 2,000 noisy points
    assert np.all(np.diff(u["aleatoric"]) > 0) and np.all(u["epistemic"] < u["aleatoric"])


def test_saved_ensembles_predict_the_same_mixture_compiled_or_not(tmp_path):
    ensemble = _fixed_ensemble()
    x = np.linspace(-1, 1, 5, dtype="float32")[:, None]
    ensemble.fit(x, x[:, 0], batch_size=5, epochs=1, verbose=0)  # a trained ensemble (its optimizer built)
    path = str(tmp_path / "gaussians.keras")
    ensemble.save(path)
    expected = ensemble.predict_uncertainty(x)
    for compile in (True, False):
        copy = keras.models.load_model(path, compile=compile)
        assert copy.task_and_outputs == ("regression", "gaussian")
        got = copy.predict_uncertainty(x)
        for key in ("mean", "variance", "aleatoric", "epistemic"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, atol=1e-7)


def test_monte_carlo_predictions_of_a_user_model_mix_its_gaussians():
    inputs = keras.Input((1,))
    hidden = tfvb.layers.DenseFlipout(16, activation="tanh", seed=1)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.compile(optimizer="adam", loss=GaussianNLL())
    x = np.linspace(-1, 1, 7, dtype="float32")[:, None]
    raw = tfvb.predict_samples(model, x, samples=50, seed=3)  # (T, N, 2)
    means, variances = (t.numpy()[..., 0] for t in GaussianNLL().moments(raw))
    u = tfvb.predict_uncertainty(model, x, samples=50, seed=3)
    np.testing.assert_allclose(u["mean"], means.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(u["aleatoric"], variances.mean(0), rtol=1e-5)
    np.testing.assert_allclose(u["epistemic"], means.var(0), rtol=1e-3, atol=1e-7)


def test_bayesianize_refuses_a_gaussian_network_by_name():
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    net.compile(optimizer="adam", loss=GaussianNLL())
    with pytest.raises(ValueError, match="Received: a network compiled with tfvb.gaussian.GaussianNLL"):
        tfvb.bayesianize(net)
    ensemble = DeepEnsemble([_fixed_member(0)], task="classification")
    ensemble.compile(optimizer="adam", loss=GaussianNLL())
    with pytest.raises(ValueError, match="Expected task='regression' \\(or None\\) with a GaussianNLL loss"):
        ensemble.task_and_outputs  # noqa: B018
