"""CVAE and IWAE: steps, fit, save/reload, export, estimators, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import callbacks, data, evaluate, objectives
from tfvb.models import CVAE, IWAE

SMALL = {
    "cvae": lambda **kw: CVAE(latent_dim=2, filters=(8, 16), seed=1, **kw),
    "cvae_mc": lambda **kw: CVAE(latent_dim=2, filters=(8, 16), kl="sample", seed=1, **kw),
    "iwae": lambda **kw: IWAE(k=5, latent_dim=4, hidden_units=(32,), seed=1, **kw),
    "iwae_dreg": lambda **kw: IWAE(k=5, latent_dim=4, hidden_units=(32,), gradient="dreg", seed=1, **kw),
    "iwae_2layer": lambda **kw: IWAE(k=3, latent_dim=3, latent_dim_1=5, hidden_units=(16,), hidden_units_2=(8,),
                                     stochastic_layers=2, seed=1, **kw),
    "iwae_conv": lambda **kw: IWAE(k=3, latent_dim=3, architecture="conv", filters=(8, 16), seed=1, **kw),
}


def compiled(name, **kw):
    model = SMALL[name](**kw)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def snapshot(model):
    return [v.numpy().copy() for v in model.trainable_variables]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_train_step_changes_weights_and_test_step_does_not(name, binary_images):
    model = compiled(name)
    x = binary_images[:32]
    before = snapshot(model)
    logs = model.test_on_batch(x, return_dict=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, snapshot(model)))
    assert np.isfinite(logs["loss"])
    logs = model.train_on_batch(x, return_dict=True)
    changed = [not np.array_equal(a, b) for a, b in zip(before, snapshot(model))]
    assert all(changed), f"{sum(changed)}/{len(changed)} variables changed"
    assert set(logs) == set(model.metric_names)


@pytest.mark.parametrize("name", ["cvae", "iwae"])
def test_fit_lowers_validation_loss(name, mnist_sample):
    x = mnist_sample[0]
    train = data.image_dataset(x[:1024], batch_size=64, seed=0)
    val = data.image_dataset(x[1024:1280], batch_size=128, binarize="fixed", shuffle=False)
    model = compiled(name)
    first = model.evaluate(val, return_dict=True, verbose=0)["loss"]
    hist = model.fit(train, validation_data=val, epochs=3, verbose=0).history
    assert hist["val_loss"][-1] < first - 20  # nats per image: a real improvement, not noise


@pytest.mark.parametrize("name", sorted(SMALL))
def test_keras_round_trip_gives_identical_outputs(name, binary_images, tmp_path):
    model = compiled(name)
    model.fit(binary_images[:64], epochs=1, batch_size=32, verbose=0)
    model.beta.assign(0.5)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with _no_warning():
        loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    x = binary_images[:8]
    np.testing.assert_array_equal(loaded(x), model(x))
    np.testing.assert_array_equal(loaded.sample(4, seed=3), model.sample(4, seed=3))
    assert float(loaded.beta) == 0.5
    # The reloaded model keeps training.
    loaded.fit(binary_images[:32], epochs=1, batch_size=32, verbose=0)


class _no_warning:
    """Fail if Keras warns that a reloaded model is unbuilt (it would start from fresh weights)."""

    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings(record=True)
        self._log = self._cm.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        bad = [str(w.message) for w in self._log if "build" in str(w.message) or "not built" in str(w.message)]
        assert not bad, bad


@pytest.mark.parametrize("name", ["cvae", "iwae_2layer"])
def test_savedmodel_export_serves_encode_decode_sample(name, binary_images, tmp_path):
    model = compiled(name)
    path = str(tmp_path / "serving")
    model.export(path)
    served = tf.saved_model.load(path)
    x = tf.constant(binary_images[:4])
    enc = served.encode(x)
    mean, logvar = model.encode(x)
    np.testing.assert_allclose(enc["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(enc["logvar"], logvar, atol=1e-5)
    np.testing.assert_allclose(served.decode(mean), model.decode(mean), atol=1e-5)
    np.testing.assert_allclose(served.serve(x), model(x), atol=1e-5)
    a, b = served.sample(tf.constant(3), tf.constant(7)), served.sample(tf.constant(3), tf.constant(7))
    assert a.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, model.sample(3, seed=7), atol=1e-6)  # Python's draws for the same seed


def test_iwae_with_k1_is_exactly_the_mc_elbo(binary_images):
    model = IWAE(k=1, latent_dim=4, hidden_units=(32,), seed=1)
    x = model.check_inputs(binary_images[:16])
    log_w = model.log_importance_weights(x, 1, seed=5)
    terms_bound = tf.squeeze(log_w, 0)
    np.testing.assert_allclose(model.per_example_terms(x, False)["iwae_bound"].shape, (16,))
    # Same draw: the k = 1 bound is the single-sample ELBO log p(x|z) + log p(z) - log q(z|x).
    np.testing.assert_allclose(evaluate.log_importance_weights(model, x, 1, seed=5)[0], terms_bound, rtol=1e-6)
    np.testing.assert_allclose(objectives.iwae_bound(log_w, axis=0), terms_bound, rtol=1e-6)


@pytest.mark.parametrize("name", ["iwae", "iwae_2layer", "iwae_linear"])
def test_iwae_mlp_log_px_given_z_equals_decoding_then_bernoulli(name, binary_images):
    # The MLP path computes the x term from the last hidden layer; values and gradients must
    # be those of decoding z and scoring x under the Bernoulli logits.
    model = IWAE(k=4, latent_dim=3, hidden_units=(), seed=2) if name == "iwae_linear" else SMALL[name]()
    x = tf.constant(binary_images[:5])
    z = tf.random.stateless_normal((4, 5, model.latent_dim), seed=[1, 2]) * 3.0
    with tf.GradientTape(persistent=True) as tape:
        fast = model.log_px_given_z(x, z)
        reference = objectives.bernoulli_log_prob(x, model.decode(z), event_ndims=3)
    np.testing.assert_allclose(fast, reference, rtol=1e-6)
    for a, b in zip(tape.gradient(fast, model.decoder.trainable_variables),
                    tape.gradient(reference, model.decoder.trainable_variables)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(tf.reduce_max(tf.abs(b))))
    # Leading axes other than (k, batch) keep their shape.
    np.testing.assert_allclose(model.log_px_given_z(x, z[0]), reference[0], rtol=1e-6)
    z4 = tf.reshape(z, (2, 2, 5, model.latent_dim))
    np.testing.assert_allclose(model.log_px_given_z(x, z4), tf.reshape(reference, (2, 2, 5)), rtol=1e-6)


def test_cvae_analytic_and_sampled_kl_elbo_agree_in_expectation(binary_images):
    analytic = CVAE(latent_dim=2, filters=(8, 16), seed=1)
    # "mc", the estimator's former name, still reads from a config (a file saved before the rename).
    mc = CVAE.from_config({**analytic.get_config(), "kl": "mc"})
    assert mc.kl == "sample"
    with pytest.warns(DeprecationWarning, match='kl="sample"'):
        assert CVAE(latent_dim=2, filters=(8, 16), kl="mc").kl == "sample"
    mc.set_weights(analytic.get_weights())
    x = tf.constant(np.repeat(binary_images[:1], 4000, axis=0))
    a = analytic.per_example_terms(x, False)["elbo"].numpy()
    b = mc.per_example_terms(x, False)["elbo"].numpy()
    se = np.sqrt(a.var() / len(a) + b.var() / len(b))
    assert abs(a.mean() - b.mean()) < 4 * se


def test_log_likelihood_orders_bounds_and_jackknife(binary_images):
    model = compiled("iwae")
    model.fit(binary_images[:256], epochs=2, batch_size=64, verbose=0)
    x = binary_images[:20]
    elbo = evaluate.log_likelihood(model, x, k=1, verbose=0)
    ll = evaluate.log_likelihood(model, x, k=500, verbose=0, seed=1)
    jk = evaluate.log_likelihood(model, x, k=500, method="jackknife", verbose=0, seed=1)
    assert ll.mean > elbo.mean  # the IWAE-500 estimate is tighter than the ELBO
    assert jk.mean > ll.mean  # and the jackknife removes part of the remaining gap
    assert ll.per_example.shape == (20,) and ll.standard_error > 0
    # Chunking the samples does not change the estimate.
    again = evaluate.log_likelihood(model, x, k=500, chunk=100, batch_size=7, verbose=0, seed=1)
    assert abs(again.mean - ll.mean) < 5 * ll.standard_error


def test_active_units(binary_images):
    model = compiled("cvae")
    n, variances = evaluate.active_units(model, binary_images[:100])
    assert variances.shape == (2,) and n == int((variances > 1e-2).sum())


def test_kl_warmup_anneals_beta(binary_images):
    model = compiled("cvae")
    seen = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(float(model.beta)))
    model.fit(binary_images[:32], epochs=3, batch_size=32, verbose=0,
              callbacks=[callbacks.KLWarmup(epochs=2), cb])
    assert seen == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("name", ["cvae", "iwae"])
def test_bad_inputs_raise_clear_errors(name, binary_images):
    # A fresh model per case: after an error inside train_on_batch, Keras 3.15's
    # train function silently runs no step on later calls.
    x = binary_images[:4]
    nan = x.copy()
    nan[0, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"Expected `inputs` of shape \(None, 28, 28, 1\).*Received"):
        compiled(name).train_on_batch(x.reshape(4, 784))
    with pytest.raises(tf.errors.InvalidArgumentError, match="finite"):
        compiled(name).train_on_batch(nan)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 1\]"):
        compiled(name).fit(x * 255, epochs=1, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 1\]"):
        compiled(name).predict(x - 0.5, verbose=0)
    with pytest.raises(ValueError, match="Expected `x` to be finite"):  # arrays: refused before Keras runs
        compiled(name).evaluate(nan, verbose=0)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="Expected `k` to be a positive integer. Received: k=0"):
        IWAE(k=0)
    with pytest.raises(ValueError, match="positive integer"):
        CVAE(latent_dim=0)
    with pytest.raises(ValueError, match="`kl`"):
        CVAE(kl="exact")
    with pytest.raises(ValueError, match="divisible by 4"):
        CVAE(image_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="dreg"):
        IWAE(gradient="dreg", stochastic_layers=2)
    with pytest.raises(ValueError, match="`beta`"):
        CVAE(beta=-1.0)
    with pytest.raises(ValueError, match="`k`"):
        evaluate.log_likelihood(IWAE(k=1, hidden_units=(8,)), np.zeros((2, 28, 28, 1), np.float32), k=0)


# -- two stochastic layers against independent computations -------------------------------------
def _np_mlp(net, h):
    """A tfvb MLP (tanh hidden Dense layers, linear output) evaluated in float64 numpy."""
    h = np.asarray(h, np.float64).reshape(len(h), -1)
    for layer in [lyr for lyr in net.layers if isinstance(lyr, keras.layers.Dense)]:
        kernel, bias = (np.asarray(v, np.float64) for v in layer.weights)
        h = h @ kernel + bias
        h = np.tanh(h) if layer.activation is keras.activations.tanh else h
    return h


def _np_log_normal(z, mean, logvar):
    return (-0.5 * (np.log(2 * np.pi) + logvar + (z - mean) ** 2 * np.exp(-logvar))).sum(-1)


def _two_layer(image_shape=(28, 28, 1), dims=(5, 3), hidden=((16, 12), (10, 8)), scale=0.5, **kw):
    keras.utils.set_random_seed(3)
    model = IWAE(latent_dim=dims[1], latent_dim_1=dims[0], hidden_units=hidden[0], hidden_units_2=hidden[1],
                 stochastic_layers=2, image_shape=image_shape, seed=1, **kw)
    for v in model.trainable_variables:  # weights away from their initial values: no term vanishes
        v.assign(tf.random.stateless_normal(v.shape, seed=[v.shape.num_elements() or 1, 9]) * scale)
    return model


def test_two_layer_log_weights_match_an_independent_numpy_computation(binary_images):
    # log w = log p(x|z1) + log p(z1|z2) + log N(z2; 0, I) - log q(z1|x) - log q(z2|z1), with
    # z1 = m1(x) + s1(x) e1 and z2 = m2(z1) + s2(z1) e2: e1 from seed (s, 0) and e2 from (s + 1, 0).
    model = _two_layer()
    k, (l1, l2) = 4, (5, 3)
    x = binary_images[:3]
    log_w = model.log_importance_weights(x, k, seed=7).numpy()
    e1 = tf.random.stateless_normal((k, 3, l1), seed=[7, 0]).numpy().astype(np.float64)
    e2 = tf.random.stateless_normal((k, 3, l2), seed=[8, 0]).numpy().astype(np.float64)
    h = _np_mlp(model.encoder, x)
    m1, v1 = h[:, :l1], h[:, l1:]
    z1 = m1 + np.exp(0.5 * v1) * e1
    h = _np_mlp(model.encoder_2, z1.reshape(-1, l1)).reshape(k, 3, -1)
    m2, v2 = h[..., :l2], h[..., l2:]
    z2 = m2 + np.exp(0.5 * v2) * e2
    h = _np_mlp(model.decoder_2, z2.reshape(-1, l2)).reshape(k, 3, -1)
    logits = _np_mlp(model.decoder, z1.reshape(-1, l1)).reshape(k, 3, -1)
    xf = x.reshape(3, -1).astype(np.float64)
    expected = ((xf * logits - np.logaddexp(0.0, logits)).sum(-1) + _np_log_normal(z1, h[..., :l1], h[..., l1:])
                + _np_log_normal(z2, 0.0, 0.0) - _np_log_normal(z1, m1, v1) - _np_log_normal(z2, m2, v2))
    assert np.abs(log_w - expected).max() < 1e-3  # nats, of log weights of about -800


def test_two_layer_training_noise_of_z1_and_z2_is_independent(binary_images):
    # Without a seed both draws come from the model's generator: they must not repeat one another.
    model = _two_layer(dims=(6, 6), k=1)
    noise = []
    draw = model.reparameterize

    def recording(mean, logvar, k=None, seed=None, **kwargs):
        z = draw(mean, logvar, k=k, seed=seed, **kwargs)
        noise.append(tf.reshape((z - mean) * tf.exp(-0.5 * logvar), [-1]))
        return z

    model.reparameterize = recording

    @tf.function
    def step(x):  # traced once: the two draws as they run in a compiled train step
        model.per_example_terms(x, training=True)
        return noise[0], noise[1]

    e1, e2 = (n.numpy() for n in step(tf.constant(binary_images[:200])))
    assert abs(np.corrcoef(e1, e2)[0, 1]) < 0.1  # 1,200 pairs: |corr| of independent draws ~ 0.03
    assert 0.9 < e1.std() < 1.1 and 0.9 < e2.std() < 1.1


def test_two_layer_iwae_bound_rises_with_k_to_the_quadrature_log_likelihood():
    # One-dimensional z1 and z2 and 4 x 4 images: log p(x) = log of a 2-D integral, on a grid.
    # Small weights keep q(z|x) close enough to the posterior for light-tailed weights.
    model = _two_layer(image_shape=(4, 4, 1), dims=(1, 1), hidden=((8,), (8,)), scale=0.3)
    x = (np.random.default_rng(0).random((2, 4, 4, 1)) < 0.5).astype(np.float32)
    grid = np.linspace(-9.0, 9.0, 1201)
    step = grid[1] - grid[0]
    h = _np_mlp(model.decoder_2, grid[:, None])  # p(z1 | z2) for every z2 on the grid
    log_p_z1_z2 = _np_log_normal(grid[None, :, None], h[:, None, :1], h[:, None, 1:])  # (z2, z1)
    logits = _np_mlp(model.decoder, grid[:, None])  # (z1, pixels)
    xf = x.reshape(2, -1).astype(np.float64)
    log_px_z1 = xf @ logits.T - np.logaddexp(0.0, logits).sum(-1)  # (images, z1)
    joint = log_px_z1[:, None, :] + log_p_z1_z2[None] + _np_log_normal(grid[:, None], 0.0, 0.0)[None, :, None]
    exact = np.log(np.exp(joint - joint.max((1, 2), keepdims=True)).sum((1, 2)) * step**2) + joint.max((1, 2))
    bounds = {k: np.mean([objectives.iwae_bound(model.log_importance_weights(x, k, seed=s)).numpy()
                          for s in range(40)], axis=0) for k in (1, 10, 100)}
    # E_q[w] = p(x): the mean of 200,000 weights (an unbiased estimate of p(x), not a bound).
    log_w = tf.concat([model.log_importance_weights(x, 100_000, seed=s) for s in (98, 99)], axis=0)
    assert np.all(bounds[1] < bounds[10]) and np.all(bounds[10] < bounds[100])
    assert np.all(bounds[100] < exact)
    np.testing.assert_allclose(objectives.log_mean_exp(log_w, axis=0), exact, atol=0.1)


@pytest.mark.parametrize("make", [lambda: IWAE(k=1, latent_dim=3, hidden_units=(8,), seed=0),
                                  lambda: IWAE(k=1, latent_dim=3, latent_dim_1=4, hidden_units=(8,),
                                               hidden_units_2=(4,), stochastic_layers=2, seed=0),
                                  lambda: CVAE(latent_dim=2, filters=(4, 8), seed=0)], ids=["mlp", "mlp2", "conv"])
def test_output_bias_starts_the_decoder_at_the_mean_training_image(make, mnist_sample):
    """With the last layer's kernel zeroed, p(x|z) is the (clipped) mean image: per pixel, or per channel."""
    model = make()
    images = mnist_sample[0][:300]
    model.initialize_output_bias(images)
    last = [layer for layer in model.decoder.layers if getattr(layer, "bias", None) is not None][-1]
    last.kernel.assign(np.zeros(last.kernel.shape, np.float32))
    means = tf.sigmoid(model.decode(np.random.default_rng(0).normal(size=(2, model.latent_dim)))).numpy()
    mean = images.astype(np.float64).mean(0)
    expected = np.clip(np.full(mean.shape, mean.mean()) if isinstance(model, CVAE) else mean, 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(means, np.broadcast_to(expected, means.shape), atol=1e-5)
    with pytest.raises(ValueError, match=r"Expected `clip` in \(0, 0.5\)"):
        model.initialize_output_bias(images, clip=0.7)
