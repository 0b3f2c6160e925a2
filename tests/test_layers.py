"""Bayesian layers: signs, Monte Carlo moments, gradient variance, KL, gradients, saving, errors.

Statistical tests fix their seeds; a Monte Carlo estimate may deviate from
its analytic value by z standard errors, with z the two-sided normal quantile
of a family-wise level of 1e-3 over the m values compared (Bonferroni):
z = 3.93 for the means and variances of 6 outputs (m = 12), 4.50 for 75.
"""

import math
from statistics import NormalDist

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvb import layers, priors

tfd = tfp.distributions

DENSE = [layers.DenseReparameterization, layers.DenseFlipout, layers.DenseLocalReparameterization]
CONV = [layers.Conv2DReparameterization, layers.Conv2DFlipout, layers.Conv2DLocalReparameterization,
        layers.Conv2DTransposeReparameterization, layers.Conv2DTransposeFlipout]
TRANSPOSE = [layers.Conv2DTransposeReparameterization, layers.Conv2DTransposeFlipout]
PRIORS = [priors.Normal(0.5), priors.ScaleMixtureNormal(pi=0.5, sigma1=1.0, sigma2=math.exp(-6))]


def _set_posterior(layer, rng, sigma_range=(0.1, 0.6)):
    """Random posterior means and scales (larger than the default init, so noise is visible)."""
    shape = tuple(layer.kernel_loc.shape)
    layer.kernel_loc.assign(rng.normal(scale=0.5, size=shape).astype("float32"))
    sigma = rng.uniform(*sigma_range, size=shape)
    layer.kernel_rho.assign(np.log(np.expm1(sigma)).astype("float32"))
    if layer.bias is not None:
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))


def _dense(cls, rng, units=6, in_dim=5, **kw):
    layer = cls(units, seed=3, **kw)
    layer.build((None, in_dim))
    _set_posterior(layer, rng)
    return layer


def _conv(cls, rng, **kw):
    layer = cls(3, 3, padding="same", seed=3, **kw)
    layer.build((None, 5, 5, 2))
    _set_posterior(layer, rng)
    return layer


def _draws(layer, x, n):
    """n stochastic passes on the single input x, each with a fresh draw: (n,) + output shape."""
    step = tf.function(lambda: layer(x, training=True)[0])
    return np.stack([step().numpy() for _ in range(n)]).astype(np.float64)


def _analytic_moments(layer, x):
    x = tf.constant(x)
    mean = layer._linear(x, layer.kernel_loc) + layer.bias
    var = layer._linear(tf.square(x), tf.square(layer.kernel_scale))
    return mean.numpy()[0].astype(np.float64), var.numpy()[0].astype(np.float64)


def _z_crit(m, alpha=1e-3):
    return NormalDist().inv_cdf(1 - alpha / (2 * m))


def _assert_moments(samples, mean, var):
    """Sample mean and variance of n draws within z standard errors (sd/sqrt(n), var sqrt(2/(n-1)))."""
    n = samples.shape[0]
    z_mean = (samples.mean(0) - mean) / np.sqrt(var / n)
    z_var = (samples.var(0, ddof=1) - var) / (var * np.sqrt(2.0 / (n - 1)))
    z = _z_crit(2 * mean.size)
    assert np.abs(z_mean).max() < z, z_mean
    assert np.abs(z_var).max() < z, z_var


# ---- Flipout signs -------------------------------------------------------------------------
def test_rademacher_signs_are_exactly_plus_minus_one():
    layer = _dense(layers.DenseFlipout, np.random.default_rng(0))
    signs = layer._rademacher((4000, 25), tf.constant([7, 1], tf.int64)).numpy()
    assert set(np.unique(signs)) == {-1.0, 1.0}
    assert abs(signs.mean()) < 4 / math.sqrt(signs.size)  # fair coin


@pytest.mark.parametrize("cls", [layers.DenseFlipout, layers.Conv2DFlipout, layers.Conv2DTransposeFlipout])
def test_flipout_perturbation_only_flips_signs(cls):
    # With mu = 0 and b = 0, y_n = (x_n o s_n) dW o r_n: for one-hot inputs |y_n| is |dW| of that
    # input for every example, exactly, only if every sign is exactly +-1.
    rng = np.random.default_rng(1)
    if cls is layers.DenseFlipout:
        layer = _dense(cls, rng, units=4, in_dim=5)
        x = np.zeros((64, 5), "float32")
        x[:, 2] = 1.0
    else:
        layer = cls(4, 1, seed=3)
        layer.build((None, 3, 3, 2))
        _set_posterior(layer, rng)
        x = np.zeros((64, 3, 3, 2), "float32")
        x[..., 1] = 1.0
    layer.kernel_loc.assign(tf.zeros_like(layer.kernel_loc))
    layer.bias.assign(tf.zeros_like(layer.bias))
    y = np.abs(layer(x, training=True).numpy()).reshape(64, -1)
    np.testing.assert_array_equal(y, np.broadcast_to(y[0], y.shape))
    assert (y > 0).all()


# ---- moments -------------------------------------------------------------------------------
# The transposed convolutions are the slowest: one of them by default, both with -m slow.
@pytest.mark.parametrize("cls", DENSE + [pytest.param(c, marks=pytest.mark.slow)
                                         if c is layers.Conv2DTransposeReparameterization else c for c in CONV])
def test_output_moments_match_analytic(cls):
    # Pre-activations given x are Gaussian: mean x mu + b, variance x^2 sigma^2 (for every estimator).
    rng = np.random.default_rng(2)
    if cls in DENSE:
        layer, x = _dense(cls, rng), rng.normal(size=(1, 5)).astype("float32")
    else:
        layer, x = _conv(cls, rng), rng.normal(size=(1, 5, 5, 2)).astype("float32")
    mean, var = _analytic_moments(layer, x)
    _assert_moments(_draws(layer, x, 2000), mean, var)
    # The vectorized draws have the same moments.
    vec = layer(x, num_samples=2000, seed=5).numpy()[:, 0].astype(np.float64)
    _assert_moments(vec, mean, var)


def test_flipout_and_reparameterization_have_the_same_marginal():
    rng = np.random.default_rng(3)
    rep = _dense(layers.DenseReparameterization, rng)
    flip = layers.DenseFlipout(6, seed=11)
    flip.build((None, 5))
    for a, b in zip(flip.weights, rep.weights):
        a.assign(b)
    x = rng.normal(size=(1, 5)).astype("float32")
    a, b = _draws(rep, x, 1500), _draws(flip, x, 1500)
    # Two-sample Kolmogorov-Smirnov per unit at alpha = 0.001 (c = 1.95), Bonferroni over units.
    n = a.shape[0]
    crit = 2.30 * math.sqrt(2.0 / n)  # alpha = 1e-4 per unit (6 units): c(alpha) = sqrt(-ln(alpha/2)/2)
    for unit in range(a.shape[1]):
        grid = np.sort(np.concatenate([a[:, unit], b[:, unit]]))
        fa = np.searchsorted(np.sort(a[:, unit]), grid, side="right") / n
        fb = np.searchsorted(np.sort(b[:, unit]), grid, side="right") / n
        assert np.abs(fa - fb).max() < crit, unit


def test_flipout_reduces_gradient_variance_at_batch_256():
    # Variance over draws of the minibatch gradient w.r.t. the posterior means, for the same
    # posterior: one shared perturbation (reparameterization) against Flipout. Wen et al. report
    # close to the ideal 1/batch reduction; we require at least a factor 4 at batch 256.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(256, 20)).astype("float32")
    target = rng.normal(size=(256, 10)).astype("float32")
    rep = _dense(layers.DenseReparameterization, rng, units=10, in_dim=20)
    flip = layers.DenseFlipout(10, seed=5)
    flip.build((None, 20))
    for a, b in zip(flip.weights, rep.weights):
        a.assign(b)

    def grad_variance(layer):
        @tf.function
        def grad():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(layer(x, training=True) - target))
            return tape.gradient(loss, layer.kernel_loc)

        g = np.stack([grad().numpy() for _ in range(200)])
        return g.var(axis=0, ddof=1).mean()

    v_rep, v_flip = grad_variance(rep), grad_variance(flip)
    assert v_flip < v_rep / 4, (v_flip, v_rep)


# ---- vectorized equals loop ----------------------------------------------------------------
@pytest.mark.parametrize("grouped", [False, True], ids=["map", "grouped"])
@pytest.mark.parametrize("cls", [layers.DenseFlipout, layers.Conv2DReparameterization] + TRANSPOSE)
@pytest.mark.parametrize("per_sample_inputs", [False, True])
def test_per_sample_kernels_equal_a_loop(cls, per_sample_inputs, grouped, monkeypatch):
    # Convolutions run the T kernels as a map over T on CPU, as one stacked/grouped op on a GPU: test both.
    from tfvb.layers import conv, conv_transpose

    for module in (conv, conv_transpose):
        monkeypatch.setattr(module, "grouped_convolutions", lambda: grouped)
    rng = np.random.default_rng(5)
    layer = _dense(cls, rng) if cls in DENSE else _conv(cls, rng)
    in_shape = (4, 5) if cls in DENSE else (4, 5, 5, 2)
    t = 3
    kernels = tf.constant(rng.normal(size=(t,) + tuple(layer.kernel_loc.shape)).astype("float32"))
    x = rng.normal(size=((t,) if per_sample_inputs else ()) + in_shape).astype("float32")
    got = layer._linear_per_sample(tf.constant(x), kernels).numpy()
    want = np.stack([layer._linear(x[i] if per_sample_inputs else x, kernels[i]).numpy() for i in range(t)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("per_sample_inputs", [False, True])
def test_local_reparameterization_conv_draws_equal_a_loop(per_sample_inputs):
    # T draws in one call: sample t is N(conv(x_t, mu), conv(x_t^2, sigma^2)) standardized by the
    # same noise a loop would use; recover the noise from the vectorized output and check the algebra.
    rng = np.random.default_rng(12)
    layer = _conv(layers.Conv2DLocalReparameterization, rng)
    t = 3
    x = rng.normal(size=((t,) if per_sample_inputs else ()) + (4, 5, 5, 2)).astype("float32")
    y = layer(x, num_samples=t, seed=7).numpy() - layer.bias.numpy()
    for i in range(t):
        xi = x[i] if per_sample_inputs else x
        mean = layer._linear(xi, layer.kernel_loc).numpy()
        sd = np.sqrt(layer._linear(np.square(xi), tf.square(layer.kernel_scale)).numpy())
        z = (y[i] - mean) / sd
        assert abs(z.mean()) < 4 / math.sqrt(z.size) and abs(z.std() - 1) < 4 / math.sqrt(2 * z.size)
    assert not np.allclose(y[0], y[1])


@pytest.mark.parametrize("kwargs", [dict(strides=2, padding="same"), dict(strides=2, padding="valid"),
                                    dict(strides=3, padding="same", output_padding=1),
                                    dict(strides=2, output_padding=(1, 0)), dict(dilation_rate=2)])
@pytest.mark.parametrize("cls", TRANSPOSE + [layers.Conv2DLocalReparameterization])
def test_posterior_mean_equals_the_keras_layer(cls, kwargs):
    # The mean pass is exactly Keras' layer with the kernel mu: shapes, strides, paddings, dilations.
    is_transpose = cls in TRANSPOSE
    if not is_transpose:
        kwargs = {k: v for k, v in kwargs.items() if k != "output_padding"}
    reference = (keras.layers.Conv2DTranspose if is_transpose else keras.layers.Conv2D)(4, 3, **kwargs)
    x = np.random.default_rng(13).normal(size=(2, 7, 6, 3)).astype("float32")
    want = reference(x).numpy()
    layer = cls(4, 3, seed=0, **kwargs)
    layer.build(x.shape)
    layer.kernel_loc.assign(reference.kernel)
    layer.bias.assign(np.arange(4, dtype="float32"))
    got = layer(x).numpy()
    assert got.shape == want.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, want + np.arange(4), rtol=1e-5, atol=1e-5)
    assert layer(x, training=True).shape == want.shape
    assert layer(x, num_samples=2).shape == (2,) + want.shape


# ---- KL, modes, seeds ----------------------------------------------------------------------
@pytest.mark.parametrize("cls", DENSE + CONV)
def test_recorded_kl_matches_tfp(cls):
    rng = np.random.default_rng(6)
    layer = _dense(cls, rng, prior=priors.Normal(0.5)) if cls in DENSE else _conv(cls, rng, prior=priors.Normal(0.5))
    x = rng.normal(size=(2,) + ((5,) if cls in DENSE else (5, 5, 2))).astype("float32")
    layer(x, training=True)
    assert len(layer.losses) == 1
    want = tf.reduce_sum(tfd.kl_divergence(tfd.Normal(layer.kernel_loc, layer.kernel_scale), tfd.Normal(0.0, 0.5)))
    np.testing.assert_allclose(layer.losses[0].numpy(), want.numpy(), rtol=1e-5)


def test_sampled_kl_uses_the_forward_draw():
    # Reparameterization with the mixture prior: the recorded KL is log q(W) - log p(W) at the very
    # kernel the pass used, recovered from the output of a linear layer on the identity.
    rng = np.random.default_rng(7)
    prior = PRIORS[1]
    layer = _dense(layers.DenseReparameterization, rng, units=3, in_dim=4, prior=prior, use_bias=False)
    kernel = layer(np.eye(4, dtype="float32"), training=True)
    q = tfd.Normal(layer.kernel_loc, layer.kernel_scale)
    want = tf.reduce_sum(q.log_prob(kernel) - prior.log_prob(kernel))
    np.testing.assert_allclose(layer.losses[0].numpy(), want.numpy(), rtol=1e-5)


@pytest.mark.parametrize("cls", DENSE)
def test_posterior_mean_mode_is_deterministic(cls):
    rng = np.random.default_rng(8)
    layer = _dense(cls, rng, activation="tanh")
    x = rng.normal(size=(3, 5)).astype("float32")
    want = np.tanh(x @ layer.kernel_loc.numpy() + layer.bias.numpy())
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer(x).numpy(), layer(x, training=False).numpy())
    # The KL is recorded in posterior-mean mode too: Keras' evaluate adds it as fit does.
    np.testing.assert_allclose(layer.losses[0].numpy(), layer.kl_divergence().numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls", DENSE + CONV)
def test_seeded_draws_are_reproducible(cls):
    rng = np.random.default_rng(9)
    build = _dense if cls in DENSE else _conv
    make = lambda: build(cls, np.random.default_rng(1))  # noqa: E731
    a, b = make(), make()
    x = rng.normal(size=(2,) + ((5,) if cls in DENSE else (5, 5, 2))).astype("float32")
    first = a(x, training=True).numpy()
    np.testing.assert_array_equal(first, b(x, training=True).numpy())  # same constructor seed
    assert not np.array_equal(first, a(x, training=True).numpy())  # the generator moves on
    s = tf.constant([4, 2], tf.int64)
    np.testing.assert_array_equal(a(x, num_samples=3, seed=s).numpy(), b(x, num_samples=3, seed=s).numpy())


# ---- gradients -----------------------------------------------------------------------------
@pytest.mark.parametrize("prior", PRIORS, ids=["normal", "mixture"])
@pytest.mark.parametrize("cls", DENSE + CONV)
def test_gradients_reach_every_mu_and_rho(cls, prior):
    rng = np.random.default_rng(10)
    layer = _dense(cls, rng, prior=prior) if cls in DENSE else _conv(cls, rng, prior=prior)
    x = rng.normal(size=(8,) + ((5,) if cls in DENSE else (5, 5, 2))).astype("float32")
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
        loss = tf.reduce_mean(tf.square(y - 1.0)) + layer.losses[0] / 100.0
    grads = tape.gradient(loss, [layer.kernel_loc, layer.kernel_rho])
    for g in grads:
        assert g is not None and np.isfinite(g.numpy()).all()
        assert (g.numpy() != 0).all()


# ---- saving --------------------------------------------------------------------------------
@pytest.mark.parametrize("prior", PRIORS, ids=["normal", "mixture"])
def test_keras_round_trip_with_priors(tmp_path, prior):
    rng = np.random.default_rng(11)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2DFlipout(2, 3, activation="relu", prior=prior, seed=1),
            layers.Conv2DReparameterization(2, 3, prior=prior, kl="sample", seed=2),
            layers.Conv2DTransposeFlipout(2, 3, strides=2, padding="same", prior=prior, seed=6),
            layers.Conv2DTransposeReparameterization(2, 2, output_padding=1, strides=2, prior=prior, seed=7),
            layers.Conv2DLocalReparameterization(2, 3, strides=2, prior=prior, seed=8),
            keras.layers.Flatten(),
            layers.DenseFlipout(5, activation="relu", prior=prior, seed=3),
            layers.DenseReparameterization(4, prior=prior, posterior_sigma_init=0.1, seed=4),
            layers.DenseLocalReparameterization(3, prior=prior, seed=5),
        ]
    )
    for layer in model.layers:
        if hasattr(layer, "kernel_rho"):
            _set_posterior(layer, rng)
    path = tmp_path / "bayes.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = rng.normal(size=(4, 6, 6, 1)).astype("float32")
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    for a, b in zip(model.layers, loaded.layers):
        assert type(a) is type(b) and a.get_config() == b.get_config()
        if hasattr(a, "prior"):
            assert b.prior == prior
            h = rng.normal(size=(2,) + tuple(a.input.shape[1:])).astype("float32")
            s = tf.constant([3, 1], tf.int64)
            np.testing.assert_array_equal(a(h, num_samples=2, seed=s).numpy(), b(h, num_samples=2, seed=s).numpy())


# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.DenseFlipout(0), "Expected `units` to be a positive integer. Received: units=0"),
        (lambda: layers.DenseFlipout(3, kl="exact"), "Expected `kl` to be one of"),
        (lambda: layers.DenseFlipout(3, prior=priors.ScaleMixtureNormal(), kl="analytic"), "closed-form KL"),
        (lambda: layers.DenseFlipout(3, posterior_sigma_init=-1.0), "Received: posterior_sigma_init=-1.0"),
        (lambda: layers.DenseFlipout(3, seed="a"), "Received: seed='a'"),
        (lambda: layers.DenseFlipout(3, prior="laplace"), "Received: prior='laplace'"),
        (lambda: layers.Conv2DFlipout(4, (3, 3, 3)), "Expected `kernel_size` to be an integer or a pair"),
        (lambda: layers.Conv2DFlipout(4, 3, padding="full"), "Expected `padding` to be one of"),
        (
            lambda: layers.Conv2DTransposeFlipout(4, 3, strides=2, output_padding=2),
            "Expected `output_padding` to be None or one or two non-negative integers, each smaller than its "
            "stride (2, 2). Received: output_padding=2",
        ),
        (
            lambda: layers.Conv2DTransposeReparameterization(4, 3, strides=2, dilation_rate=2),
            "Expected `strides` or `dilation_rate` to be 1",
        ),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_bad_inputs():
    dense = layers.DenseFlipout(3, seed=0)
    with pytest.raises(ValueError, match="num_samples"):
        dense(np.ones((2, 5), "float32"), num_samples=0)
    dense(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"Received: inputs.shape=\(1, 1, 2, 5\)"):
        dense(np.ones((1, 1, 2, 5), "float32"), num_samples=1)
    for conv in (layers.Conv2DFlipout(2, 3), layers.Conv2DTransposeFlipout(2, 3)):
        with pytest.raises(ValueError, match="Expected inputs of shape \\(batch, height, width, channels\\)"):
            conv(np.ones((2, 5, 5), "float32"))
    for cls in (layers.Conv2DFlipout, layers.Conv2DReparameterization, layers.Conv2DLocalReparameterization):
        with pytest.raises(ValueError, match=r"Expected inputs of at least 5x5 pixels for .*'s 5x5 kernel "
                                             r"\(padding='valid', dilation_rate=\(1, 1\)\), or padding='same'. "
                                             r"Received: input_shape=\(1, 3, 3, 1\)"):
            cls(4, 5)(np.zeros((1, 3, 3, 1), "float32"))
    model = keras.Sequential([keras.Input((None, None, 1)), layers.Conv2DFlipout(4, 5)])  # size known per call
    with pytest.raises(ValueError, match=r"Expected inputs of at least 5x5 pixels"):
        model(np.zeros((1, 3, 3, 1), "float32"))
    local = layers.Conv2DLocalReparameterization(2, 3)
    local(np.ones((1, 5, 5, 1), "float32"))
    with pytest.raises(ValueError, match=r"Received: inputs.shape=\(1, 1, 1, 5, 5, 1\)"):
        local(np.ones((1, 1, 1, 5, 5, 1), "float32"), num_samples=1)
