"""tfvb.dropout and tfvb.gaussian: the formulas the MC-dropout models and the UCI grid share."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvb import dropout, gaussian
from tfvb.models import MCDropoutRegressor

# Every float32 U(0, 1) draw of TensorFlow is a multiple of 2^-23 in [0, 1).
ALL_UNIFORMS = (np.arange(2**23, dtype=np.float64) * 2.0**-23).astype(np.float32)


def test_bernoulli_dropout_keeps_u_at_least_p_and_rescales():
    u = tf.constant([0.0, 0.0999, 0.1, 0.5, 0.99], tf.float32)
    h = tf.fill([5], 2.0)
    out = dropout.bernoulli_dropout(h, u, 0.1).numpy()
    np.testing.assert_allclose(out, [0.0, 0.0, 2.0 / 0.9, 2.0 / 0.9, 2.0 / 0.9], rtol=1e-6)
    # Rates per network broadcast against shared uniforms (the grid), in float64 or float32.
    rates = tf.constant([[0.05], [0.5]], tf.float64)
    out = dropout.bernoulli_dropout(tf.ones((2, 5)), u[None], rates).numpy()
    np.testing.assert_array_equal(out > 0, [[False, True, True, True, True], [False, False, False, True, True]])


def test_bernoulli_dropout_drops_at_rate_p_and_keeps_the_mean():
    n, p = 200_000, 0.2
    u = tf.random.stateless_uniform((n,), seed=[0, 1])
    out = dropout.bernoulli_dropout(tf.ones(n), u, p).numpy()
    se = math.sqrt(p * (1 - p) / n)
    assert abs(np.mean(out == 0) - p) < 4 * se
    assert abs(out.mean() - 1.0) < 4 * se / (1 - p)


@pytest.mark.parametrize("p", [0.005, 0.01, 0.05, 0.1, 0.2, 0.5])
def test_the_models_masks_are_the_ones_saved_models_were_made_with(p):
    """The model keeps a unit when 1 - u >= p; before the formulas had one home it kept u < 1 - p.

    Over every float32 uniform the two rules agree but for at most one value
    (a boundary that rounds differently: e.g. one of the 2^23 values at p = 0.1),
    and exactly for the zoo's rates 0.005 and 0.01.
    """
    before = ALL_UNIFORMS < np.float32(1.0 - p)
    now = (np.float32(1.0) - ALL_UNIFORMS) >= np.float32(p)
    differ = int(np.sum(before != now))
    assert differ <= 1
    if p in (0.005, 0.01):
        assert differ == 0


def test_model_masks_match_concrete_dropout_at_low_temperature():
    """The hard masks are the t -> 0 limit of the concrete relaxation (dropped as u -> 1)."""
    u = tf.random.stateless_uniform((100_000,), seed=[4, 2])
    hard = dropout.bernoulli_dropout(tf.ones_like(u), 1.0 - u, 0.3).numpy()
    cold = dropout.concrete_dropout(tf.ones_like(u), tf.constant(0.3), u, 1e-4).numpy()
    assert np.mean(np.abs(hard - cold) > 0.01) < 1e-3


def test_weight_decay_and_concrete_kl_closed_forms():
    assert dropout.weight_decay(0.01, 0.1, 400, 0.5) == pytest.approx(0.01**2 * 0.9 / (2 * 400 * 0.5))
    np.testing.assert_allclose(dropout.weight_decay(np.array([0.01, 1.0]), np.array([0.1, 0.2]), 10, 2.0),
                               [1e-4 * 0.9 / 40, 0.8 / 40])
    assert dropout.concrete_weight_decay(0.5, 100) == pytest.approx(0.25 / 200)
    p, k, n, norm = 0.3, 13, 455, 7.5
    kl = dropout.concrete_kl(tf.constant(norm), tf.constant(p), float(k), dropout.concrete_weight_decay(1e-2, n), 1 / n)
    expected = 1e-4 * norm / (2 * n * (1 - p)) + k / n * (p * math.log(p) + (1 - p) * math.log(1 - p))
    assert float(kl) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(dropout.rate_from_logit(dropout.dropout_logit([0.005, 0.5, 0.9])), [0.005, 0.5, 0.9])


def test_gaussian_terms_equal_tfp_densities():
    rng = np.random.default_rng(0)
    y, mean, logvar = (rng.normal(size=50) for _ in range(3))
    normal = tfp.distributions.Normal(mean, np.exp(0.5 * logvar))
    np.testing.assert_allclose(gaussian.log_density(y, mean, np.exp(logvar)), normal.log_prob(y), rtol=1e-12)
    np.testing.assert_allclose(gaussian.heteroscedastic_nll(y, mean, logvar), -normal.log_prob(y), rtol=1e-12)


@pytest.mark.parametrize("dtype, logvar, residual, rtol", [
    ("float32", -89.0, 0.0, 1e-6),     # e^89 overflows float32
    ("float32", -100.0, 1e-30, 1e-6),
    ("float32", -300.0, 0.0, 1e-6),    # e^150 too: each factor is e^75
    ("float32", 80.0, 3.0, 1e-6),
    ("float16", -12.0, 1e-3, 2e-3),    # e^12 overflows float16
    ("float16", -12.0, 0.0, 2e-3),
    ("float16", -40.0, 0.0, 2e-3),
])
def test_heteroscedastic_nll_is_finite_where_the_exact_value_is(dtype, logvar, residual, rtol):
    """e^(-v) overflowed and 0 * inf gave NaN (inf with a tiny residual); the NLL and its gradient are finite."""
    y, mean, v = tf.constant(residual, dtype), tf.constant(0.0, dtype), tf.constant(logvar, dtype)
    with tf.GradientTape() as tape:
        tape.watch([y, v])
        nll = gaussian.heteroscedastic_nll(y, mean, v)
    d_y, d_v = tape.gradient(nll, [y, v])
    # in float64: the float-rounded inputs, the NLL r^2 e^(-v) / 2 + v / 2 + log(2 pi) / 2 and its derivatives
    r, v64 = float(y.numpy()), float(v.numpy())
    precision = math.exp(-v64)
    exact = 0.5 * r * r * precision + 0.5 * v64 + 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(float(nll.numpy()), exact, rtol=rtol)
    np.testing.assert_allclose(float(d_y.numpy()), r * precision, rtol=rtol, atol=0)
    np.testing.assert_allclose(float(d_v.numpy()), 0.5 - 0.5 * r * r * precision, rtol=rtol)


def test_standardization_centres_constant_columns_without_scaling_them():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(3.0, 2.0, size=500), np.full(500, 0.998)])
    mean, scale = gaussian.standardization(x)
    np.testing.assert_allclose(mean, x.mean(0))
    np.testing.assert_allclose(scale, [x[:, 0].std(), 1.0])
    mean, scale = gaussian.standardization(x[None], axis=1, keepdims=True)
    assert mean.shape == scale.shape == (1, 1, 2)


def test_the_model_trains_with_these_formulas():
    """The regressor's weight decay and step objective are the shared formulas."""
    model = MCDropoutRegressor(hidden_units=(4,), dropout_rate=0.05, tau=0.2, num_examples=90, heteroscedastic=True)
    model.build((None, 2))
    assert model.weight_decay == dropout.weight_decay(1e-2, 0.05, 90, 1.0)
    raw = tf.constant([[0.3, -0.2]])
    data_term, values = model.objective(raw, tf.constant([[1.0]]))
    assert float(data_term[0]) == pytest.approx(float(gaussian.heteroscedastic_nll(1.0, 0.3, -0.2)), rel=1e-6)
    assert float(values["nll"][0]) == pytest.approx(float(data_term[0]), rel=1e-6)  # unit scales: the same
