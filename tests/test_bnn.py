"""BNN classifier and regressor: ELBO steps, N and KL weighting, uncertainty, saving, errors."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import priors, uncertainty
from tfvb.models.bnn import BNNClassifier, BNNRegressor, blundell_kl_weights

MIXTURE = priors.ScaleMixtureNormal(pi=0.5, sigma1=1.0, sigma2=math.exp(-6))


def _images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1)).astype("float32"), rng.integers(0, 10, n)


def _classifier(**kw):
    kw = {"hidden_units": (16,), "seed": 0, **kw}
    model = BNNClassifier(10, **kw)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


# ---- KL weighting --------------------------------------------------------------------------
@pytest.mark.parametrize("m", [1, 2, 7, 60, 1000])
def test_blundell_weights_sum_to_one(m):
    w = blundell_kl_weights(m)
    assert w.shape == (m,) and abs(w.sum() - 1.0) < 1e-12
    assert np.all(np.diff(w) <= 0)
    if m <= 60:
        i = np.arange(1, m + 1)
        np.testing.assert_allclose(w, 2.0 ** (m - i) / (2.0**m - 1), rtol=1e-12)


def test_in_graph_kl_weights_follow_blundell_over_each_epoch():
    model = _classifier(kl_weighting="blundell", num_examples=100)
    model._steps_var.assign(5.0)
    w = np.array([float(model._kl_weight(20)) for _ in range(10)])
    # Relative to the uniform share (w_i = M pi_i): the epoch's weights average to 1, and repeat.
    np.testing.assert_allclose(w[:5] / 5, blundell_kl_weights(5), rtol=1e-6)
    np.testing.assert_allclose(w[5:], w[:5])
    uniform = _classifier(num_examples=100)
    assert float(uniform._kl_weight(20)) == 1.0


def test_kl_warmup_scales_linearly():
    model = _classifier(num_examples=100, kl_warmup_steps=4)
    x, y = _images(8)
    weights = []
    for _ in range(6):
        weights.append(float(model._kl_weight(8)))
        model.optimizer.iterations.assign_add(1)
    np.testing.assert_allclose(weights, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_the_vae_kl_warmup_callback_points_a_bnn_to_its_own_warmup():
    from tfvb.callbacks import KLWarmup

    assert "the BNNs" not in KLWarmup.__doc__.split("Example")[0].replace("The BNNs anneal", "")
    x, y = _images(8)
    with pytest.raises(ValueError, match=r"Expected a model with a `beta` weight \(CVAE, IWAE\). Received: "
                                         r"BNNClassifier \(a BNN anneals its KL with `kl_warmup_steps=`\)"):
        _classifier(num_examples=8).fit(x, y, epochs=1, verbose=0, callbacks=[KLWarmup(epochs=2)])


# ---- N -------------------------------------------------------------------------------------
def test_fit_learns_num_examples_from_arrays():
    x, y = _images(40)
    model = _classifier()
    assert model.num_examples is None
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, validation_split=0.25)
    assert model.num_examples == 30 and float(model._n_var) == 30.0 and float(model._steps_var) == 3.0
    assert model.get_config()["num_examples"] == 30


def test_refuses_to_train_without_num_examples():
    x, y = _images(16)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    model = _classifier()
    with pytest.raises(ValueError, match="Expected `num_examples`.*Received: num_examples=None"):
        model.fit(ds, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="num_examples"):
        model.train_step((tf.constant(x), tf.constant(y)))
    model = _classifier(num_examples=16)
    hist = model.fit(ds, epochs=1, verbose=0)
    assert float(model._steps_var) == 2.0 and np.isfinite(hist.history["loss"][0])


# ---- steps ---------------------------------------------------------------------------------
def test_train_step_changes_weights_and_test_step_does_not():
    x, y = _images(32)
    model = _classifier(num_examples=32)
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.evaluate(x, y, batch_size=16, verbose=0)
    for a, w in zip(before, model.trainable_weights):
        np.testing.assert_array_equal(a, w.numpy())
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))


def test_metrics_are_consistent_per_example():
    x, y = _images(32)
    model = _classifier(num_examples=32)
    out = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    assert set(out) == {"loss", "nll", "kl", "elbo", "accuracy"}
    assert out["loss"] == pytest.approx(out["nll"] + out["kl"], rel=1e-5)
    assert out["elbo"] == pytest.approx(-out["loss"], rel=1e-5)
    # kl is KL(q || p) / N, the closed form for the default N(0, 1) prior.
    kl = sum(float(layer.kl_divergence()) for layer in model.dense_layers)
    assert out["kl"] == pytest.approx(kl / 32, rel=1e-5)


@pytest.mark.parametrize("layer", ["flipout", "reparameterization", "local_reparameterization"])
@pytest.mark.parametrize("prior", [None, MIXTURE], ids=["normal", "mixture"])
def test_gradients_reach_every_mu_and_rho_of_the_model(layer, prior):
    x, y = _images(8)
    model = _classifier(layer=layer, prior=prior, num_examples=8, hidden_units=(6, 5))
    with tf.GradientTape() as tape:
        loss, _ = model._step_values(*model._check_batch(tf.constant(x), tf.constant(y)), None, tf.constant(1.0))
    variables = [v for layer in model.dense_layers for v in (layer.kernel_loc, layer.kernel_rho)]
    for v, g in zip(variables, tape.gradient(loss, variables)):
        assert g is not None and np.isfinite(g.numpy()).all() and np.any(g.numpy() != 0), v.path


def test_sample_weights_and_train_samples():
    x, y = _images(24)
    model = _classifier(num_examples=24, train_samples=3, layer="reparameterization", architecture="lenet")
    hist = model.fit(x, y, sample_weight=np.linspace(0.5, 1.5, 24), batch_size=12, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


# ---- predictive uncertainty ----------------------------------------------------------------
def test_predict_uncertainty_is_vectorized_reproducible_and_sane():
    x, _ = _images(10)
    model = _classifier(layer="flipout", posterior_sigma_init=0.3)
    a = model.predict_uncertainty(x, samples=20, seed=3)
    b = model.predict_uncertainty(x, samples=20, seed=3, batch_size=3)  # chunks see the same networks
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert a["mean"].shape == (10, 10) and a["entropy"].shape == (10,)
    assert np.all(a["mutual_information"] >= 0) and np.all(a["mutual_information"] <= a["entropy"] + 1e-9)
    assert np.all(a["entropy"] <= math.log(10) + 1e-9)
    assert np.all((a["variation_ratio"] >= 0) & (a["variation_ratio"] <= 0.9 + 1e-9))
    c = model.predict_uncertainty(x, samples=20, seed=4)
    assert not np.allclose(a["mean"], c["mean"])


def test_draws_in_groups_are_the_same_networks_for_any_batch(monkeypatch):
    from tfvb.models import _weight_draws

    # Widest activation 16 (hidden_units=(16,)): groups of 4 draws per vectorized call.
    monkeypatch.setattr(_weight_draws, "MAX_ACTIVATION_ELEMENTS", _weight_draws.REFERENCE_BATCH * 16 * 4)
    x, _ = _images(10)
    model = _classifier(layer="flipout", posterior_sigma_init=0.3)
    a = model.predict_samples(x, samples=10, seed=3)
    np.testing.assert_allclose(model.predict_samples(x, samples=10, seed=3, batch_size=3), a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_samples(x, samples=4, seed=3), a[:4], rtol=1e-5, atol=1e-6)
    gaps = [np.abs(a[i] - a[j]).max() for i in range(10) for j in range(i)]
    assert min(gaps) > 1e-3  # ten different networks: the groups draw with different seeds


def test_vectorized_predictive_matches_a_loop_of_stochastic_passes():
    # The mean probabilities of T vectorized draws and of T separate model(x, training=True) calls
    # estimate the same predictive: their difference is within 4 standard errors per entry
    # (Bonferroni over the 40 entries would allow 4.1).
    x, _ = _images(4)
    model = _classifier(layer="reparameterization", posterior_sigma_init=0.2)
    t = 300
    vec = tf.nn.softmax(model._sample_outputs(tf.constant(x), t, 64, 1)).numpy()
    step = tf.function(lambda: model(x, training=True))
    loop = np.stack([step().numpy() for _ in range(t)])
    se = np.sqrt(vec.var(0, ddof=1) / t + loop.var(0, ddof=1) / t) + 1e-12
    assert np.abs(vec.mean(0) - loop.mean(0)).max() < 4 * se.max()
    assert np.all(np.abs(vec.mean(0) - loop.mean(0)) < 4.1 * se)


def test_classification_uncertainty_measures():
    p = np.array([[[0.9, 0.1]], [[0.1, 0.9]], [[0.9, 0.1]], [[0.9, 0.1]]])
    u = uncertainty.classification_uncertainty(p)
    m = np.array([0.7, 0.3])
    np.testing.assert_allclose(u["mean"], [m])
    np.testing.assert_allclose(u["entropy"], [-(m * np.log(m)).sum()])
    h = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(u["mutual_information"], [-(m * np.log(m)).sum() - h])
    np.testing.assert_allclose(u["variation_ratio"], [0.25])
    with pytest.raises(ValueError, match=r"Received: probs_samples.shape=\(4, 2\)"):
        uncertainty.classification_uncertainty(p[:, 0])
    with pytest.raises(ValueError, match="hold probabilities"):
        uncertainty.classification_uncertainty(p * 2)


def test_regression_uncertainty_is_the_law_of_total_variance():
    rng = np.random.default_rng(0)
    means, variances = rng.normal(size=(50, 7)), rng.uniform(0.1, 1.0, size=(50, 7))
    u = uncertainty.regression_uncertainty(means, variances)
    np.testing.assert_allclose(u["epistemic"], means.var(0))
    np.testing.assert_allclose(u["aleatoric"], variances.mean(0))
    # Total variance of the mixture (1/T) sum_t N(m_t, v_t), directly.
    np.testing.assert_allclose(u["variance"], (variances + means**2).mean(0) - means.mean(0) ** 2)
    with pytest.raises(ValueError, match="broadcastable"):
        uncertainty.regression_uncertainty(means, variances[:, :3])


@pytest.mark.slow  # a real fit; tests/test_bnn_standardized.py fits a regressor in the default run
def test_regressor_fits_and_epistemic_variance_grows_away_from_data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(256, 1)).astype("float32")
    y = (np.sin(2 * x[:, 0]) + 0.1 * rng.normal(size=256)).astype("float32")
    model = BNNRegressor(hidden_units=(32, 32), input_dim=1, seed=0, posterior_sigma_init=0.05)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=64, epochs=120, verbose=0)
    grid = np.linspace(-2, 2, 101, dtype="float32")[:, None]
    u = model.predict_uncertainty(grid, samples=200, seed=0)
    rmse = float(np.sqrt(np.mean((u["mean"] - np.sin(2 * grid[:, 0])) ** 2)))
    assert rmse < 0.2, rmse
    far = model.predict_uncertainty(np.array([[-6.0], [6.0]], "float32"), samples=200, seed=0)
    # Far outside [-2, 2] the weight uncertainty shows: more epistemic variance than anywhere on the data.
    assert far["epistemic"].min() > 10 * u["epistemic"].max(), (far["epistemic"], u["epistemic"].max())
    # The noise scale is learned on standardized targets and reported in their units.
    noise = np.exp(2 * float(model.noise_log_std[0])) * float(model.y_scale[0]) ** 2
    assert noise == pytest.approx(u["aleatoric"].mean(), rel=1e-5)


# ---- saving --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: _classifier(layer="flipout", prior=MIXTURE),
        lambda: _classifier(layer="reparameterization", architecture="lenet", hidden_units=(8,)),
        pytest.param(lambda: _classifier(layer="local_reparameterization", architecture="lenet", hidden_units=(8,)),
                     marks=pytest.mark.slow),  # the LeNet round trip runs by default with reparameterization
        lambda: BNNRegressor(hidden_units=(8,), noise="heteroscedastic", layer="local_reparameterization", seed=1),
        lambda: BNNRegressor(hidden_units=(8,), prior=MIXTURE, kl_weighting="blundell", seed=1),
    ],
    ids=["mlp-mixture", "lenet", "lenet-local", "regressor-hetero", "regressor-homo-mixture"],
)
def test_keras_round_trip(tmp_path, make):
    model = make()
    if isinstance(model, BNNRegressor):
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=32).astype("float32")
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    else:
        x, y = _images(32)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "bnn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(model.predict(x[:8], verbose=0), loaded.predict(x[:8], verbose=0))
    a, b = model.predict_uncertainty(x[:8], samples=5, seed=7), loaded.predict_uncertainty(x[:8], samples=5, seed=7)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)  # fine-tunable after loading


# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BNNClassifier(1), "Expected `num_classes` to be at least 2. Received: num_classes=1"),
        (lambda: BNNClassifier(10, layer="dropout"), "Expected `layer` to be one of"),
        (lambda: BNNClassifier(10, kl_weighting="linear"), "Expected `kl_weighting` to be one of"),
        (lambda: BNNClassifier(10, num_examples=0), "Received: num_examples=0"),
        (lambda: BNNClassifier(10, kl_warmup_steps=-1), "Received: kl_warmup_steps=-1"),
        (lambda: BNNRegressor(noise="poisson"), "Expected `noise` to be one of"),
        (lambda: BNNRegressor(hidden_units=(0,)), "Expected `hidden_units` to be a tuple of positive integers"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_bad_inputs():
    x, y = _images(8)
    model = _classifier()
    with pytest.raises(ValueError, match="Expected `samples` to be a positive integer. Received: samples=0"):
        model.predict_uncertainty(x, samples=0)
    with pytest.raises(ValueError, match=r"Expected `inputs` of shape \(None, 28, 28, 1\)"):
        model.predict_uncertainty(np.ones((2, 32, 32, 1), "float32"))
    with pytest.raises(ValueError, match=r"Expected `y` to hold class labels in \[0, 9\]"
                                         r".*Received labels in \[0, 12\]"):
        model.fit(x, np.r_[y[:-1], 12], verbose=0)
    with pytest.raises(ValueError, match="Expected `x` to be finite"):
        model.fit(np.full_like(x, np.nan), y, verbose=0)
    reg = BNNRegressor(input_dim=3)
    reg.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"Expected `inputs` of shape \(batch, 3\)"):
        reg.predict_uncertainty(np.ones((4, 5), "float32"))
    with pytest.raises(ValueError, match=r"Expected `y` of shape \(N,\) or \(N, 1\)"):
        reg.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)


def test_huge_targets_are_refused_not_reported_as_a_diverged_run():
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    model = BNNRegressor(hidden_units=(4,), seed=0)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"Expected targets with \|y\| <= 9.2e\+16, whose squared errors \(the "
                                         r"`rmse` metric.*Received: max \|y\| = .*e\+30; rescale y"):
        model.fit(x, x[:, 0] * 1e30, epochs=1, verbose=0)
    model.fit(x, x[:, 0] * 1e6, epochs=1, verbose=0)  # large but representable: trains


@pytest.mark.parametrize("num_examples", [None, 32])
def test_evaluate_before_fit_leaves_the_regressor_usable(num_examples):
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    model = BNNRegressor(hidden_units=(4,), num_examples=num_examples, seed=0)
    model.compile(optimizer="adam")
    if num_examples is None:
        with pytest.raises(ValueError, match="Expected `num_examples`"):
            model.evaluate(x, x[:, 0], verbose=0)
    else:
        assert np.isfinite(model.evaluate(x, x[:, 0], verbose=0, return_dict=True)["loss"])
    model.fit(x, x[:, 0], epochs=1, verbose=0)
    assert np.isfinite(model.evaluate(x, x[:, 0], verbose=0, return_dict=True)["loss"])
    assert model.predict_uncertainty(x[:2], samples=3)["mean"].shape[0] == 2


def test_image_shape_is_the_one_name_and_input_shape_still_reads():
    """`image_shape`, as in the VAEs; files saved with `input_shape` (the zoo's) and old calls still work."""
    model = BNNClassifier(10, hidden_units=(8,), image_shape=(14, 14, 1), seed=0)
    config = model.get_config()
    assert config["image_shape"] == (14, 14, 1) and "input_shape" not in config
    old = {k: v for k, v in config.items() if k != "image_shape"}
    assert BNNClassifier.from_config({**old, "input_shape": [14, 14, 1]}).image_shape == (14, 14, 1)
    with pytest.warns(DeprecationWarning, match="use `image_shape`"):
        assert BNNClassifier(10, hidden_units=(8,), input_shape=(14, 14, 1)).image_shape == (14, 14, 1)


def test_input_range_is_checked_kept_and_validated(tmp_path):
    model = _classifier(input_range=(0, 1))
    x, _ = _images(4)
    model(x)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected `inputs` in \[0, 1\]"):
        model(x * 255.0)
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras", compile=False).input_range == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"Expected `input_range` to be None or a pair \(low, high\) with low < high. "
                                         r"Received: input_range=\(1, 0\)"):
        BNNClassifier(10, input_range=(1, 0))
