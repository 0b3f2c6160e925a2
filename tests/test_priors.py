"""Priors: densities, closed-form and sampled KL, serialization, argument checks."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvb import priors

tfd = tfp.distributions


def test_normal_kl_matches_tfp(rng):
    loc = rng.normal(size=(5, 4)).astype("float32")
    scale = rng.uniform(0.05, 2.0, size=(5, 4)).astype("float32")
    prior = priors.Normal(0.7)
    got = prior.kl_divergence(loc, scale).numpy()
    want = tfd.kl_divergence(tfd.Normal(loc, scale), tfd.Normal(0.0, 0.7)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # The closed form in the docstring, as an independent check.
    closed = np.log(0.7 / scale) + (scale**2 + loc**2) / (2 * 0.7**2) - 0.5
    np.testing.assert_allclose(got, closed, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sigma_init", [0.01, 0.7], ids=["narrow_posterior", "posterior_equal_to_prior"])
def test_normal_kl_sum_and_its_gradient_match_the_elementwise_closed_form(rng, dtype, sigma_init):
    # What a layer adds to its loss: the summed KL, value and gradient, against TFP's element-wise closed form.
    loc = tf.constant(0.05 * rng.normal(size=(300, 200)), dtype)
    scale = tf.constant(sigma_init * rng.uniform(0.8, 1.2, size=(300, 200)), dtype)
    prior = priors.Normal(0.7)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([loc, scale])
        got = prior.kl_divergence_sum(loc, scale)
        want = tf.reduce_sum(tfd.kl_divergence(tfd.Normal(loc, scale), tfd.Normal(tf.constant(0.0, dtype), 0.7)))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol)
    for ours, theirs in zip(tape.gradient(got, [loc, scale]), tape.gradient(want, [loc, scale])):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=10 * rtol, atol=10 * rtol)
    exact = priors.Normal(1.0).kl_divergence_sum(tf.zeros((50, 40)), tf.ones((50, 40)))
    assert float(exact) == 0.0  # q = p, to the bit


def test_a_subclass_with_its_own_closed_form_kl_is_summed_as_written():
    class Tempered(priors.Normal):
        def kl_divergence(self, loc, scale):
            return 0.5 * super().kl_divergence(loc, scale)

    loc, scale = tf.fill((3, 4), 0.2), tf.fill((3, 4), 0.5)
    np.testing.assert_allclose(float(Tempered(1.0).kl_divergence_sum(loc, scale)),
                               0.5 * float(priors.Normal(1.0).kl_divergence_sum(loc, scale)), rtol=1e-6)


def test_scale_mixture_log_prob_matches_formula(rng):
    prior = priors.ScaleMixtureNormal(pi=0.25, sigma1=math.exp(-1), sigma2=math.exp(-7))
    w = rng.normal(scale=0.3, size=(50,))
    got = prior.log_prob(w.astype("float64")).numpy()

    def normal_pdf(x, s):
        return np.exp(-0.5 * (x / s) ** 2) / (s * np.sqrt(2 * np.pi))

    want = np.log(0.25 * normal_pdf(w, math.exp(-1)) + 0.75 * normal_pdf(w, math.exp(-7)))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_scale_mixture_has_no_closed_form_kl():
    prior = priors.ScaleMixtureNormal()
    assert not prior.has_analytic_kl
    with pytest.raises(NotImplementedError, match="kl='sample'"):
        prior.kl_divergence(0.0, 1.0)


def _sampled_kl(prior, loc, scale, n, seed):
    eps = tf.random.stateless_normal((n,), seed=[seed, 0], dtype=tf.float64)
    w = loc + scale * eps
    return prior.sample_kl(w, loc, scale).numpy()


def test_sampled_kl_is_unbiased_for_normal_prior():
    # Mean of n single-sample estimates within 4 standard errors of the closed form.
    prior = priors.Normal(1.0)
    for loc, scale in [(0.3, 0.1), (-1.2, 0.8), (0.0, 2.0)]:
        est = _sampled_kl(prior, loc, scale, 20000, seed=1)
        exact = float(prior.kl_divergence(tf.constant(loc, tf.float64), scale))
        se = est.std(ddof=1) / np.sqrt(est.size)
        assert abs(est.mean() - exact) < 4 * se, (loc, scale, est.mean(), exact, se)


def test_sampled_kl_matches_quadrature_for_scale_mixture():
    prior = priors.ScaleMixtureNormal(pi=0.5, sigma1=1.0, sigma2=math.exp(-6))
    for loc, scale in [(0.0, 0.01), (0.5, 0.2), (-0.05, 0.003)]:
        # KL(q || p) = int q(w) (log q(w) - log p(w)) dw on a fine grid over +-10 sd.
        grid = np.linspace(loc - 10 * scale, loc + 10 * scale, 200001)
        q = tfd.Normal(np.float64(loc), np.float64(scale))
        integrand = (np.exp(q.log_prob(grid)) * (q.log_prob(grid) - prior.log_prob(grid))).numpy()
        exact = float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(grid)))
        est = _sampled_kl(prior, loc, scale, 20000, seed=2)
        se = est.std(ddof=1) / np.sqrt(est.size)
        assert abs(est.mean() - exact) < 4 * se, (loc, scale, est.mean(), exact, se)


@pytest.mark.parametrize(
    "prior", [priors.Normal(0.5), priors.ScaleMixtureNormal(pi=0.75, sigma1=math.exp(-2), sigma2=math.exp(-8))]
)
def test_serialization_round_trip(prior):
    again = type(prior).from_config(prior.get_config())
    assert again == prior and hash(again) == hash(prior)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(prior))
    assert type(restored) is type(prior) and restored == prior
    assert priors.get(keras.saving.serialize_keras_object(prior)) == prior
    assert "tfvb>" in keras.saving.get_registered_name(type(prior))


def test_get_resolves_identifiers():
    assert priors.get(None) == priors.Normal(1.0)
    assert priors.get("scale_mixture_normal") == priors.ScaleMixtureNormal()
    p = priors.Normal(2.0)
    assert priors.get(p) is p
    with pytest.raises(ValueError, match="Received: prior='laplace'"):
        priors.get("laplace")
    with pytest.raises(ValueError, match="class_name"):
        priors.get({"sigma": 1.0})


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: priors.Normal(0.0), "Expected `sigma` to be a positive finite number. Received: sigma=0.0"),
        (lambda: priors.Normal(float("nan")), "Received: sigma=nan"),
        (lambda: priors.ScaleMixtureNormal(pi=1.0), "Expected `pi` to be a number in the open interval"),
        (lambda: priors.ScaleMixtureNormal(sigma2=-1), "Received: sigma2=-1"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()
