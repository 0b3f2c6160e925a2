"""Estimators against a linear-Gaussian model where log p(x) is exact."""

import numpy as np
import pytest
import tensorflow as tf
from linear_gaussian import LinearGaussian

from tfvb import objectives

R = 20_000  # replicates per estimate


@pytest.fixture(scope="module")
def lg():
    return LinearGaussian()


def _estimates(values):
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), values.std(ddof=1) / np.sqrt(len(values))


@pytest.fixture(scope="module")
def iwae_curve(lg):
    ks = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    out = {}
    for i, k in enumerate(ks):
        log_w = lg.sample_log_w((R, k), seed=i)
        out[k] = _estimates(objectives.iwae_bound(log_w, axis=1))
    return out


def test_log_mean_exp_is_stable():
    x = tf.constant([[-1e4, -1e4 + np.log(3.0)], [50.0, 50.0]], tf.float64)
    out = objectives.log_mean_exp(x, axis=1).numpy()
    np.testing.assert_allclose(out, [-1e4 + np.log(2.0), 50.0], rtol=1e-12)
    assert objectives.log_mean_exp(tf.constant([-np.inf, -np.inf]), axis=0).numpy() == -np.inf


def test_iwae_bound_increases_with_k(iwae_curve):
    ks = sorted(iwae_curve)
    for a, b in zip(ks, ks[1:]):
        (ma, sa), (mb, sb) = iwae_curve[a], iwae_curve[b]
        assert mb > ma - 3 * np.hypot(sa, sb), (a, b)
    assert iwae_curve[256][0] > iwae_curve[1][0] + 10 * iwae_curve[1][1]


def test_iwae_bound_approaches_exact_log_px(lg, iwae_curve):
    m1, _ = iwae_curve[1]
    m, se = iwae_curve[256]
    gap1 = lg.log_px - m1
    assert gap1 > 0.3  # the proposal is poor enough for the test to mean something
    # A lower bound in expectation, within 3 SE, and closing: < 2% of the k = 1 gap is left.
    assert m < lg.log_px + 3 * se
    assert lg.log_px - m < 0.02 * gap1 + 3 * se


def test_iwae_bias_shrinks_like_one_over_k(lg, iwae_curve):
    ks = np.array([16, 32, 64, 128, 256])
    bias = np.array([lg.log_px - iwae_curve[k][0] for k in ks])
    se = np.array([iwae_curve[k][1] for k in ks])
    assert np.all(bias > 3 * se)  # measurable at every k
    slope = np.polyfit(np.log(ks), np.log(bias), 1, w=bias / se)[0]
    assert -1.2 < slope < -0.8, slope
    # k * bias settles to the constant Var(w / p(x)) / 2 of the delta method.
    kb = ks * bias
    assert abs(kb[-1] - kb[-2]) < 3 * np.hypot(ks[-1] * se[-1], ks[-2] * se[-2]) + 0.1 * kb[-1]


def test_jackknife_coefficients_sum_to_one():
    for order in range(4):
        assert sum(objectives.jackknife_coefficients(32, order)) == pytest.approx(1.0)


def test_jackknife_order_zero_is_iwae_and_loo_matches_enumeration(rng):
    log_w = tf.constant(rng.normal(size=(5, 7)) * 3, tf.float64)
    np.testing.assert_allclose(objectives.jackknife_bound(log_w, 0, axis=1), objectives.iwae_bound(log_w, axis=1))
    # Order 1 and 2 against brute-force subset averages.
    lw = log_w.numpy()
    def sub_mean(drop):
        import itertools
        vals = [objectives.log_mean_exp(np.delete(lw, list(c), axis=1), axis=1).numpy()
                for c in itertools.combinations(range(7), drop)]
        return np.mean(vals, axis=0)
    full = objectives.iwae_bound(log_w, axis=1).numpy()
    np.testing.assert_allclose(objectives.jackknife_bound(log_w, 1, axis=1), 7 * full - 6 * sub_mean(1), rtol=1e-10)
    c = objectives.jackknife_coefficients(7, 2)
    np.testing.assert_allclose(objectives.jackknife_bound(log_w, 2, axis=1),
                               c[0] * full + c[1] * sub_mean(1) + c[2] * sub_mean(2), rtol=1e-10)


def test_jackknife_bias_is_several_times_smaller(lg):
    k = 32
    log_w = lg.sample_log_w((R, k), seed=99)
    iwae_m, iwae_se = _estimates(objectives.iwae_bound(log_w, axis=1))
    jk_m, jk_se = _estimates(objectives.jackknife_bound(log_w, order=1, axis=1))
    iwae_bias, jk_bias = lg.log_px - iwae_m, lg.log_px - jk_m
    assert iwae_bias > 5 * iwae_se
    # At least 4x smaller, allowing for the jackknife's own sampling error.
    assert abs(jk_bias) + 2 * jk_se < iwae_bias / 4, (iwae_bias, jk_bias, jk_se)
    # Nowozin (2018): the jackknife sits above the IWAE estimate.
    assert jk_m > iwae_m


def test_jackknife_rejects_bad_orders():
    with pytest.raises(ValueError, match="K > order"):
        objectives.jackknife_bound(tf.zeros((3, 2)), order=2, axis=1)
    with pytest.raises(ValueError, match="non-negative integer"):
        objectives.jackknife_bound(tf.zeros((3, 4)), order=-1, axis=1)


def test_analytic_and_mc_kl_elbos_agree_in_expectation(lg):
    eps = tf.random.stateless_normal((R, 2), seed=[3, 4], dtype=tf.float64)
    z = lg.q_mean + np.exp(0.5 * lg.q_logvar) * eps
    mc = lg.log_w(z).numpy()
    rec = (
        mc - (objectives.standard_normal_log_prob(z) - objectives.gaussian_log_prob(z, lg.q_mean, lg.q_logvar)).numpy()
    )
    analytic = rec - objectives.gaussian_kl(lg.q_mean[None], lg.q_logvar[None]).numpy()
    diff = mc - analytic
    assert abs(diff.mean()) < 4 * diff.std(ddof=1) / np.sqrt(R)
    assert objectives.elbo(rec, objectives.gaussian_kl(lg.q_mean, lg.q_logvar)).shape == rec.shape


def _encoder_gradients(lg, k, estimator, reps=4000, seed=0):
    """Per-replicate gradients w.r.t. q's mean and log-variance (reps, 2 * d)."""
    d = len(lg.q_mean)
    mean = tf.Variable(np.tile(lg.q_mean, (reps, 1)))
    logvar = tf.Variable(np.tile(lg.q_logvar, (reps, 1)))
    eps = tf.random.stateless_normal((k, reps, d), seed=[seed, 7], dtype=tf.float64)
    with tf.GradientTape() as tape:
        z = mean + tf.exp(0.5 * logvar) * eps
        if estimator == "iwae":
            value = objectives.iwae_bound(lg.log_w(z, mean, logvar), axis=0)
        else:
            log_w = lg.log_w(z, tf.stop_gradient(mean), tf.stop_gradient(logvar))
            value = objectives.dreg_surrogate(log_w, axis=0)
        total = tf.reduce_sum(value)
    gm, gl = tape.gradient(total, [mean, logvar])
    return np.concatenate([gm.numpy(), gl.numpy()], axis=1)


def test_dreg_is_unbiased_with_lower_encoder_variance(lg):
    g_iwae = _encoder_gradients(lg, 16, "iwae")
    g_dreg = _encoder_gradients(lg, 16, "dreg", seed=1)
    n = len(g_iwae)
    se = np.sqrt(g_iwae.var(0, ddof=1) / n + g_dreg.var(0, ddof=1) / n)
    assert np.all(np.abs(g_iwae.mean(0) - g_dreg.mean(0)) < 4 * se), (g_iwae.mean(0), g_dreg.mean(0), se)
    assert np.all(g_dreg.var(0) < 0.7 * g_iwae.var(0)), (g_dreg.var(0), g_iwae.var(0))


def test_jackknife_of_float32_weights_at_k5000_matches_float64(rng):
    """K L_K - (K - 1) L_{K-1} cancels ~5,000-fold: float32 arithmetic would be off by nats."""
    log_w = (-100.0 + 3.0 * rng.normal(size=(5000, 4))).astype(np.float32)
    exact = np.asarray(objectives.jackknife_bound(log_w.astype(np.float64), order=1, axis=0))
    got = objectives.jackknife_bound(log_w, order=1, axis=0)
    assert got.dtype == tf.float32
    loo = [np.logaddexp.reduce(np.delete(log_w[:, 0].astype(np.float64), i)) - np.log(4999) for i in range(5000)]
    by_hand = 5000 * (np.logaddexp.reduce(log_w[:, 0].astype(np.float64)) - np.log(5000)) - 4999 * np.mean(loo)
    np.testing.assert_allclose(exact[0], by_hand, atol=1e-6)
    np.testing.assert_allclose(got.numpy(), exact, atol=1e-3)


def _softplus64(logits):
    return np.logaddexp(0.0, np.asarray(logits, np.float64))


@pytest.mark.parametrize("size", [1, 7, 8, 35, 784])
def test_softplus_sum_matches_float64_softplus(size, rng):
    # Sizes divisible by 8 take the grouped products, the others the per-value logarithm.
    logits = (rng.normal(size=(50, size)) * rng.choice([0.01, 1.0, 5.0, 30.0, 1e4], size=(50, size))).astype(np.float32)
    logits[0, 0] = 0.0
    got = objectives.softplus_sum(logits).numpy()
    exact = _softplus64(logits).sum(axis=-1)
    # float32 rounding of a sum of `size` terms, relative to their magnitude
    tolerance = 1e-6 * (np.abs(logits).sum(axis=-1) + size)
    assert np.all(np.abs(got - exact) <= tolerance), np.max(np.abs(got - exact) / tolerance)


def test_bernoulli_log_prob_matches_the_closed_form_and_tfp(rng):
    k, batch = 3, 4
    logits = rng.normal(size=(k, batch, 28, 28, 1)) * rng.choice([0.1, 3.0, 60.0], size=(k, batch, 28, 28, 1))
    logits = logits.astype(np.float32)
    l64 = logits.astype(np.float64)
    for x in [
        (rng.random((batch, 28, 28, 1)) < 0.3).astype(np.float32),
        rng.random((batch, 28, 28, 1)).astype(np.float32),
    ]:
        exact = (x * l64 - _softplus64(l64)).sum(axis=(2, 3, 4))  # x log s(l) + (1 - x) log s(-l)
        got = objectives.bernoulli_log_prob(x, logits, event_ndims=3).numpy()
        tolerance = 1e-6 * (np.abs(x * l64) + _softplus64(l64)).sum(axis=(2, 3, 4))
        assert np.all(np.abs(got - exact) <= tolerance), np.max(np.abs(got - exact) / tolerance)
        tfp_bernoulli = objectives.tfd.Bernoulli(logits=tf.constant(l64), dtype=tf.float64)
        tfp_value = objectives.tfd.Independent(tfp_bernoulli, 3).log_prob(x.astype(np.float64)).numpy()
        np.testing.assert_allclose(exact, tfp_value, rtol=1e-12)
    assert objectives.bernoulli_log_prob(x[0], logits[0, 0], event_ndims=0).shape == (28, 28, 1)


def test_bernoulli_log_prob_gradient_is_x_minus_sigmoid(rng):
    logits = tf.constant((rng.normal(size=(5, 2, 40)) * 4).astype(np.float32))
    x = (rng.random((2, 40)) < 0.5).astype(np.float32)
    weights = tf.constant(rng.random((5, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(logits)
        total = tf.reduce_sum(weights * objectives.bernoulli_log_prob(x, logits, event_ndims=1))
    expected = weights.numpy()[..., None] * (x - 1.0 / (1.0 + np.exp(-logits.numpy().astype(np.float64))))
    np.testing.assert_allclose(tape.gradient(total, logits), expected, atol=1e-6)


def _gaussian_kl64(mean, logvar, prior_mean, prior_logvar):
    """KL(N(mean, e^logvar) || N(prior_mean, e^prior_logvar)) summed over the last axis, in float64."""
    mean, logvar, prior_mean, prior_logvar = (np.asarray(a, np.float64)
                                              for a in (mean, logvar, prior_mean, prior_logvar))
    ratio = np.exp(logvar - prior_logvar)
    return 0.5 * np.sum(prior_logvar - logvar + ratio + (mean - prior_mean) ** 2 * np.exp(-prior_logvar) - 1.0, -1)


def _gaussian_log_prob64(z, mean, logvar):
    z, mean, logvar = (np.asarray(a, np.float64) for a in (z, mean, logvar))
    return -0.5 * np.sum((z - mean) ** 2 * np.exp(-logvar) + logvar + np.log(2 * np.pi), -1)


def test_gaussian_kl_and_log_prob_match_the_closed_forms_and_tfp(rng):
    """Ordinary values: the closed forms in float64, as tfp computed them before, and float32 within rounding."""
    mean, logvar, z = rng.normal(size=(3, 4, 5)), 2.0 * rng.normal(size=(4, 5)), rng.normal(size=(2, 3, 4, 5))
    prior_mean, prior_logvar = rng.normal(size=5), rng.normal(size=5)
    tfd = objectives.tfd
    q, p = tfd.Normal(mean, np.exp(0.5 * logvar)), tfd.Normal(prior_mean, np.exp(0.5 * prior_logvar))
    kl = objectives.gaussian_kl(mean, logvar, prior_mean, prior_logvar)
    assert kl.shape == (3, 4) and kl.dtype == tf.float64
    np.testing.assert_allclose(kl, _gaussian_kl64(mean, logvar, prior_mean, prior_logvar), rtol=1e-12)
    np.testing.assert_allclose(kl, tf.reduce_sum(tfd.kl_divergence(q, p), -1), rtol=1e-12)
    np.testing.assert_allclose(objectives.gaussian_kl(mean, logvar), _gaussian_kl64(mean, logvar, 0.0, 0.0), rtol=1e-12)
    log_prob = objectives.gaussian_log_prob(z, mean, logvar)
    assert log_prob.shape == (2, 3, 4) and log_prob.dtype == tf.float64
    np.testing.assert_allclose(log_prob, _gaussian_log_prob64(z, mean, logvar), rtol=1e-12)
    np.testing.assert_allclose(log_prob, tf.reduce_sum(q.log_prob(z), -1), rtol=1e-12)
    f32 = [a.astype(np.float32) for a in (mean, logvar, prior_mean, prior_logvar)]
    np.testing.assert_allclose(objectives.gaussian_kl(*f32), _gaussian_kl64(*f32), rtol=1e-5)
    np.testing.assert_allclose(objectives.gaussian_log_prob(z.astype(np.float32), *f32[:2]),
                               _gaussian_log_prob64(z.astype(np.float32), *f32[:2]), rtol=1e-5)


def test_gaussian_kl_and_log_prob_gradients_are_the_closed_forms(rng):
    mean, logvar, z = (tf.constant(rng.normal(size=(4, 3))) for _ in range(3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([mean, logvar, z])
        kl, log_prob = objectives.gaussian_kl(mean, logvar, 0.5, -1.0), objectives.gaussian_log_prob(z, mean, logvar)
    m, lv, zz = mean.numpy(), logvar.numpy(), z.numpy()
    d_mean, d_logvar = tape.gradient(kl, [mean, logvar])
    np.testing.assert_allclose(d_mean, (m - 0.5) * np.exp(1.0), rtol=1e-12)
    np.testing.assert_allclose(d_logvar, 0.5 * (np.exp(lv + 1.0) - 1.0), rtol=1e-12)
    d_z, d_mean, d_logvar = tape.gradient(log_prob, [z, mean, logvar])
    np.testing.assert_allclose(d_z, -(zz - m) * np.exp(-lv), rtol=1e-12)
    np.testing.assert_allclose(d_mean, (zz - m) * np.exp(-lv), rtol=1e-12)
    np.testing.assert_allclose(d_logvar, 0.5 * (zz - m) ** 2 * np.exp(-lv) - 0.5, rtol=1e-12)


@pytest.mark.parametrize("logvar", [-210.0, -100.0, 80.0, 89.0, 178.0])
def test_gaussian_kl_and_log_prob_are_finite_where_the_exact_values_are(logvar):
    """Through scale = e^(logvar / 2) and back, float32 gave inf or NaN at these log-variances."""
    zeros, v = tf.zeros((1, 1)), tf.fill((1, 1), logvar)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(v)
        kl, log_prob = objectives.gaussian_kl(zeros, v), objectives.gaussian_log_prob(zeros, zeros, v)
    exact_kl = _gaussian_kl64([[0.0]], [[logvar]], 0.0, 0.0)[0]  # 1.0e77 at 178: beyond float32, +inf
    if exact_kl < np.finfo(np.float32).max:
        np.testing.assert_allclose(kl.numpy()[0], exact_kl, rtol=1e-6)
    else:
        assert kl.numpy()[0] == np.inf
    np.testing.assert_allclose(log_prob.numpy()[0], _gaussian_log_prob64([[0.0]], [[0.0]], [[logvar]])[0], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(log_prob, v).numpy(), [[-0.5]], rtol=1e-6)
    if logvar <= 80.0:  # d KL / d logvar = (e^logvar - 1) / 2
        np.testing.assert_allclose(tape.gradient(kl, v).numpy(), [[0.5 * np.expm1(logvar)]], rtol=1e-5)


def test_gaussian_kl_and_log_prob_compute_in_the_dtype_of_the_mean():
    """A float16 mean with a float32 log-variance head (mixed precision) failed inside tfp without naming either."""
    mean16 = tf.constant([[0.5, -1.0]], tf.float16)
    logvar32, z32 = tf.constant([[-0.3, 0.7]]), tf.constant([[0.2, 0.1]])
    with tf.GradientTape() as tape:
        tape.watch(logvar32)
        kl = objectives.gaussian_kl(mean16, logvar32)
    assert kl.dtype == tf.float16 and tape.gradient(kl, logvar32).dtype == tf.float32
    np.testing.assert_array_equal(kl, objectives.gaussian_kl(mean16, tf.cast(logvar32, tf.float16)))
    log_prob = objectives.gaussian_log_prob(z32, mean16, logvar32)
    assert log_prob.dtype == tf.float16
    np.testing.assert_allclose(log_prob.numpy(), _gaussian_log_prob64(z32, mean16, logvar32), rtol=2e-3)
    with pytest.raises(TypeError, match=r"Expected `mean` with a floating-point dtype. Received: mean.dtype=int32"):
        objectives.gaussian_kl(tf.zeros((1, 2), tf.int32), logvar32)
