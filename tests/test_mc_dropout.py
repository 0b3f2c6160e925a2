"""MCDropoutRegressor / MCDropoutClassifier and the batched grid trainer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb.models import MCDropoutClassifier, MCDropoutRegressor
from tfvb.uci_protocol import MCDropoutGrid
from tfvb.uncertainty import regression_uncertainty


def sine_data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=(n, 1))
    # Large offset and scale: the model's normalization must undo them.
    return x, truth(x[:, 0]) + rng.normal(scale=2.0, size=n)


def truth(x):
    return 100.0 + 10.0 * x + 8.0 * np.sin(3.0 * x)


@pytest.fixture(scope="module")
def fitted():
    keras.utils.set_random_seed(0)  # weight initialization and fit's shuffling draw from the global seed
    x, y = sine_data()
    model = MCDropoutRegressor(hidden_units=(64, 64), dropout_rate=0.1, tau=0.25, seed=1)
    model.compile(keras.optimizers.Adam(5e-3))
    model.fit(x, y, batch_size=32, epochs=60, verbose=0)
    return model, x, y


def test_fits_and_variance_grows_away_from_the_data(fitted):
    model, x, y = fitted
    inside = np.linspace(-1.8, 1.8, 19)[:, None]
    u = model.predict_uncertainty(inside, samples=500, seed=0)
    # Noise sd is 2 on a signal spanning 40: the mean must track it closely.
    assert np.sqrt(np.mean((u["mean"] - truth(inside[:, 0])) ** 2)) < 4.0
    far = model.predict_uncertainty(np.array([[-6.0], [6.0]]), samples=500, seed=0)
    assert far["epistemic"].min() > 3 * u["epistemic"].mean()
    assert far["variance"].min() > u["variance"].max()
    np.testing.assert_allclose(u["aleatoric"], 1 / 0.25)
    np.testing.assert_allclose(u["variance"], u["epistemic"] + u["aleatoric"])


def test_vectorized_passes_equal_a_loop_with_the_same_seeds(fitted):
    model, _, _ = fitted
    x = np.linspace(-3, 3, 7)[:, None]
    t = 16
    loop = np.stack([model(x, seed=(5, i)).numpy()[:, 0] for i in range(t)])
    samples = model.predict_samples(x, samples=t, seed=5)["mean"]
    np.testing.assert_allclose(samples, loop, rtol=1e-5, atol=1e-3)
    u = model.predict_uncertainty(x, samples=t, seed=5)
    ref = regression_uncertainty(loop, 1 / model.tau)
    np.testing.assert_allclose(u["mean"], ref["mean"], rtol=1e-5)
    np.testing.assert_allclose(u["variance"], ref["variance"], rtol=1e-3)
    # Seeded calls repeat; unseeded ones draw fresh masks.
    np.testing.assert_array_equal(model.predict_uncertainty(x, 8, seed=2)["mean"],
                                  model.predict_uncertainty(x, 8, seed=2)["mean"])
    assert not np.array_equal(model(x).numpy(), model(x).numpy())
    first, second = model.predict_samples(x, 4)["mean"], model.predict_samples(x, 4)["mean"]
    assert not np.any(np.all(first[1:] == second[:-1], axis=1))


def test_normalization_round_trips_through_keras_file(fitted, tmp_path):
    model, x, y = fitted
    np.testing.assert_allclose(model.y_mean.numpy(), [y.mean()], rtol=1e-5)
    path = str(tmp_path / "mc.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is MCDropoutRegressor and loaded.num_examples == len(x)
    probe = np.linspace(-2, 2, 5)[:, None]
    a = model.predict_uncertainty(probe, samples=50, seed=3)
    b = loaded.predict_uncertainty(probe, samples=50, seed=3)
    for key in ("mean", "variance"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-6)
    # In original units: near 100, not near 0.
    assert np.all(np.abs(b["mean"] - 100) < 30)
    # The serving export needs a built model that has been called once.
    loaded.export(str(tmp_path / "serving"), verbose=False)
    # The reloaded model keeps training with its stored normalization.
    loaded.compile(keras.optimizers.Adam(1e-3))
    loaded.fit(x, y, epochs=1, verbose=0)


def test_train_step_moves_weights_and_test_step_does_not():
    x, y = sine_data(64)
    model = MCDropoutRegressor(hidden_units=(8,), seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    model.adapt(x, y)
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "rmse", "nll"}
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    model.fit(x, y, sample_weight=np.ones(len(x)), epochs=1, batch_size=16, verbose=0)
    assert not all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))


def test_weight_decay_formula():
    model = MCDropoutRegressor(dropout_rate=0.1, tau=0.5, lengthscale=0.01, num_examples=400)
    assert model.weight_decay == pytest.approx(0.01**2 * 0.9 / (2 * 400 * 0.5))
    het = MCDropoutRegressor(dropout_rate=0.1, tau=0.5, lengthscale=0.01, num_examples=400, heteroscedastic=True)
    assert het.weight_decay == pytest.approx(0.01**2 * 0.9 / (2 * 400))


def test_heteroscedastic_learns_input_dependent_noise(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(400, 1))
    y = x[:, 0] + rng.normal(size=400) * np.where(x[:, 0] > 0, 1.0, 0.1)
    model = MCDropoutRegressor(hidden_units=(32,), dropout_rate=0.05, heteroscedastic=True, seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=64, epochs=60, verbose=0)
    u = model.predict_uncertainty(np.array([[-0.5], [0.5]]), samples=200, seed=0)
    assert u["aleatoric"][1] > 10 * u["aleatoric"][0]
    path = str(tmp_path / "het.keras")
    model.save(path)
    again = keras.saving.load_model(path).predict_uncertainty(np.array([[-0.5], [0.5]]), samples=200, seed=0)
    np.testing.assert_allclose(again["aleatoric"], u["aleatoric"], rtol=1e-5)


def test_classifier_uncertainty_measures(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4, 2))
    labels = (x[:, 0, 0] > 0).astype(int) + (x[:, 1, 1] > 0)
    model = MCDropoutClassifier(3, hidden_units=(32,), dropout_rate=0.2, seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(x, labels, batch_size=32, epochs=20, verbose=0)
    u = model.predict_uncertainty(x[:10], samples=30, seed=1)
    assert u["mean"].shape == (10, 3) and u["entropy"].shape == (10,)
    np.testing.assert_allclose(u["mean"].sum(-1), 1.0, rtol=1e-5)
    assert np.all(u["mutual_information"] >= 0) and np.all(u["mutual_information"] <= u["entropy"] + 1e-9)
    assert np.all((u["variation_ratio"] >= 0) & (u["variation_ratio"] <= 1 - 1 / 3 + 1e-9))
    loop = np.stack([model(x[:10], seed=(1, t)).numpy() for t in range(30)])
    np.testing.assert_allclose(u["mean"], loop.mean(0), atol=1e-5)
    path = str(tmp_path / "clf.keras")
    model.save(path)
    again = keras.saving.load_model(path).predict_uncertainty(x[:10], samples=30, seed=1)
    np.testing.assert_allclose(again["mean"], u["mean"], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dropout_rate": 0.0}, r"open interval \(0, 1\)"),
        ({"dropout_rate": 1.0}, r"open interval \(0, 1\)"),
        ({"tau": 0.0}, "positive finite"),
        ({"tau": -1.0}, "positive finite"),
        ({"hidden_units": (0,)}, "positive integers"),
        ({"num_examples": 0}, "positive integer"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MCDropoutRegressor(**kwargs)


def test_rejects_bad_inputs(fitted):
    model, x, y = fitted
    with pytest.raises(ValueError, match="positive integer"):
        model.predict_uncertainty(x[:3], samples=0)
    with pytest.raises(ValueError, match="finite"):
        model.predict_uncertainty(np.array([[np.nan]]))
    with pytest.raises(ValueError, match=r"shape \(batch, features"):
        model(np.zeros(3))
    with pytest.raises(ValueError, match="1 features"):
        model(np.zeros((3, 2)))
    fresh = MCDropoutRegressor(hidden_units=(4,))
    fresh.compile()
    with pytest.raises(ValueError, match="finite"):
        fresh.fit(np.array([[0.0], [np.inf]]), np.zeros(2), verbose=0)
    with pytest.raises(ValueError, match="rows to match"):
        fresh.adapt(np.zeros((4, 1)), np.zeros(3))
    import tensorflow as tf

    with pytest.raises(ValueError, match="call `model.adapt"):
        MCDropoutRegressor(hidden_units=(4,)).fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8))


def test_grid_networks_train_independently():
    """Network 0 of a two-network grid ends where a one-network grid of the same seed ends."""
    x, y = sine_data(100)
    pair = MCDropoutGrid(1, [0.05, 0.2], [1.0, 0.1], hidden_units=(16,), seed=3).fit(x, y, epochs=5, batch_size=32)
    alone = MCDropoutGrid(1, [0.05], [1.0], hidden_units=(16,), seed=3).fit(x, y, epochs=5, batch_size=32)
    for a, b in zip(pair.variables, alone.variables):
        np.testing.assert_allclose(a.numpy()[0], b.numpy()[0], rtol=1e-4, atol=1e-5)
    assert not np.allclose(pair.kernels[0].numpy()[1], alone.kernels[0].numpy()[0])


def test_grid_exports_an_equivalent_regressor():
    x, y = sine_data(120)
    grid = MCDropoutGrid(1, [0.05, 0.1], [0.25, 0.25], hidden_units=(32,), seed=0).fit(x, y, epochs=30)
    probe = np.linspace(-2, 2, 9)[:, None]
    t = 4000
    scores = grid.mc_scores(probe, truth(probe[:, 0]), samples=t)
    model = grid.regressor(1)
    assert model.dropout_rate == 0.1 and model.num_examples == 120
    u = model.predict_uncertainty(probe, samples=t, seed=0)
    # Same network, independent MC draws: means agree within a few MC standard errors.
    se = np.sqrt((u["epistemic"] + scores["epistemic"][1]) / t)
    assert np.all(np.abs(u["mean"] - scores["mean"][1]) < 5 * se + 1e-6)
    np.testing.assert_allclose(u["epistemic"], scores["epistemic"][1], rtol=0.2)
    reloaded = MCDropoutRegressor.from_config(model.get_config())
    assert reloaded.tau == 0.25 and reloaded.hidden_units == (32,)


def test_grid_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"`dropout_rate\[i\]` to be a number in the open interval \(0, 1\)"):
        MCDropoutGrid(2, [0.0], [1.0])
    with pytest.raises(ValueError, match="dropout rates and taus"):
        MCDropoutGrid(2, [0.1, 0.2], [1.0])
    grid = MCDropoutGrid(2, [0.1], [1.0])
    with pytest.raises(ValueError, match="fitted grid"):
        grid.mc_scores(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(S, n, 2\)"):
        grid.fit(np.zeros((3, 3)), np.zeros(3), epochs=1)


@pytest.mark.parametrize("make", [lambda: MCDropoutRegressor(hidden_units=(4,), seed=0),
                                  lambda: MCDropoutClassifier(3, hidden_units=(4,), seed=0)],
                         ids=["regressor", "classifier"])
def test_fit_learns_n_and_the_normalization_from_the_rows_validation_split_leaves(make):
    # Keras holds out the last rows: they must not count in N (the weight decay) nor in the statistics.
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(30, 3)), 50.0 + rng.normal(size=(10, 3))]).astype("float32")
    y = np.concatenate([rng.normal(size=30), 100.0 + rng.normal(size=10)]).astype("float32")
    labels = rng.integers(0, 3, size=40)
    model = make()
    model.compile(optimizer="adam")
    targets = labels if isinstance(model, MCDropoutClassifier) else y
    model.fit(x, targets, validation_split=0.25, epochs=1, batch_size=10, verbose=0)
    assert model.num_examples == 30
    if model.normalizes_inputs:  # the classifier takes its inputs as they are
        np.testing.assert_allclose(model.x_mean.numpy(), x[:30].astype(np.float64).mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(model.y_mean.numpy(), [y[:30].astype(np.float64).mean()], rtol=1e-5, atol=1e-6)
    # validation_data overrides validation_split (as in Keras): every row trains.
    model = make()
    model.compile(optimizer="adam")
    model.fit(x, targets, validation_split=0.25, validation_data=(x[:5], targets[:5]), epochs=1, verbose=0)
    assert model.num_examples == 40


def test_constant_feature_is_centred_not_scaled():
    """A constant column (naval's 0.998) has a rounding-noise std; it must not become a +-1 feature."""
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=200), np.full(200, 0.998)])
    y = x[:, 0] + 0.1 * rng.normal(size=200)
    grid = MCDropoutGrid(2, [0.05], [10.0], hidden_units=(8,), seed=0).fit(x, y, epochs=2)
    model = grid.regressor(0)
    np.testing.assert_allclose(model.x_scale.numpy(), [x[:, 0].std(), 1.0], rtol=1e-6)
    probe = x[:20]
    t = 3000
    scores = grid.mc_scores(probe, y[:20], samples=t)
    u = model.predict_uncertainty(probe, samples=t, seed=0)
    se = np.sqrt((u["epistemic"] + scores["epistemic"][0]) / t)
    assert np.all(np.abs(u["mean"] - scores["mean"][0]) < 5 * se + 1e-6)


# -- concrete dropout -----------------------------------------------------------
def _concrete(p=0.3, temperature=0.1, **kwargs):
    model = MCDropoutRegressor(hidden_units=(8,), dropout_rate=p, heteroscedastic=True, concrete=True,
                               temperature=temperature, num_examples=100, seed=0, **kwargs)
    model.build((None, 3))
    return model


def test_concrete_masks_keep_the_mean_and_drop_at_rate_p():
    model = _concrete(p=0.3)
    u = np.random.default_rng(0).uniform(size=(200_000, 1)).astype("float32")
    mask = model._mask(np.ones_like(u), u, 0).numpy()
    # A relaxed Bernoulli of temperature 0.1: dropped (below half the kept value) with probability exactly p.
    assert np.mean(mask < 0.5 / 0.7) == pytest.approx(0.3, abs=0.005)
    assert mask.mean() == pytest.approx(1.0, abs=0.02)
    # At a low temperature the masks are the fixed-rate model's hard masks from the same uniforms.
    hard = MCDropoutRegressor(hidden_units=(8,), dropout_rate=0.3, heteroscedastic=True, seed=0)
    hard.build((None, 3))
    cold = _concrete(p=0.3, temperature=1e-3)._mask(np.ones_like(u), u, 0).numpy()
    # (only uniforms within ~temperature of the threshold 1 - p differ: well under 1%)
    assert np.mean(np.abs(cold - hard._mask(np.ones_like(u), u, 0).numpy()) > 0.01) < 0.005


def test_concrete_kl_term_matches_the_formula():
    model = _concrete(p=0.2, lengthscale=0.5)
    rng = np.random.default_rng(1)
    for layer in model.hidden + [model.head]:
        layer.kernel.assign(rng.normal(size=layer.kernel.shape).astype("float32"))
    model.dropout_logits.assign(np.log([0.2 / 0.8, 0.4 / 0.6]).astype("float32"))
    np.testing.assert_allclose(model.layer_dropout_rates, [0.2, 0.4], rtol=1e-6)
    expected = 0.0
    for layer, p in zip(model.hidden + [model.head], [0.2, 0.4]):
        w = layer.kernel.numpy().astype(np.float64)
        k = w.shape[0]
        expected += 0.5**2 * np.sum(w**2) / (2 * 100 * (1 - p)) + k / 100 * (p * np.log(p) + (1 - p) * np.log(1 - p))
    assert float(model._l2()) == pytest.approx(expected, rel=1e-4)  # float32, eps 1e-7 in the logs
    np.testing.assert_allclose(model.weight_decay, 0.25 / (2 * 100 * (1 - np.array([0.2, 0.4]))), rtol=1e-6)


def test_concrete_rates_shrink_with_more_data():
    """Gal et al.'s observation: the learned rate falls as N grows (the KL weighs 1/N)."""
    rates = {}
    for n in (40, 4000):
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, size=(n, 1))
        y = np.sin(3 * x[:, 0]) + 0.1 * rng.normal(size=n)
        keras.utils.set_random_seed(0)
        model = MCDropoutRegressor(hidden_units=(32,), dropout_rate=0.1, heteroscedastic=True, concrete=True, seed=0)
        model.compile(keras.optimizers.Adam(1e-2))
        model.adapt(x, y)
        reps = max(1, 400 * 32 // n)  # 400 steps for both
        model.fit(np.tile(x, (reps, 1)), np.tile(y, reps), batch_size=32, epochs=1, verbose=0)
        rates[n] = model.layer_dropout_rates
    assert rates[40][-1] > 3 * rates[4000][-1], rates
    assert np.all(rates[4000] < 0.1), rates


def test_concrete_passes_equal_a_loop_and_survive_saving(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x[:, 0] + 0.1 * rng.normal(size=64)
    model = MCDropoutRegressor(hidden_units=(16,), dropout_rate=0.2, heteroscedastic=True, concrete=True, seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert not np.allclose(model.layer_dropout_rates, 0.2)
    u = model.predict_uncertainty(x[:5], samples=20, seed=3)
    loop = np.stack([model(x[:5], seed=(3, t)).numpy()[:, 0] for t in range(20)])
    np.testing.assert_allclose(u["mean"], loop.mean(0), rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "concrete.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    assert again.concrete and again.temperature == 0.1
    np.testing.assert_allclose(again.layer_dropout_rates, model.layer_dropout_rates, rtol=1e-6)
    np.testing.assert_allclose(again.predict_uncertainty(x[:5], samples=20, seed=3)["mean"], u["mean"], rtol=1e-6)


def test_concrete_needs_a_likelihood_objective():
    with pytest.raises(ValueError, match="heteroscedastic=True with concrete=True"):
        MCDropoutRegressor(concrete=True)
    with pytest.raises(ValueError, match="temperature"):
        MCDropoutRegressor(heteroscedastic=True, concrete=True, temperature=0.0)
    clf = MCDropoutClassifier(3, hidden_units=(8,), concrete=True, num_examples=10)
    clf.build((None, 4))
    assert clf.layer_dropout_rates.shape == (2,)
    with pytest.warns(DeprecationWarning, match="layer_dropout_rates"):
        assert clf.dropout_rates.shape == (2,)  # the former name, kept for code written against it



def test_saving_warns_only_about_names_the_user_touched(tmp_path):
    """Keras's saving walks dir(model) with getattr: the deprecated `dropout_rates` is not in dir(), so a save
    raises no DeprecationWarning the user did not cause, and the model loads back the same."""
    import warnings

    clf = MCDropoutClassifier(3, hidden_units=(8,), concrete=True, num_examples=10)
    clf.build((None, 4))
    assert "dropout_rates" not in dir(clf) and "layer_dropout_rates" in dir(clf)
    with warnings.catch_warnings(record=True) as caught:  # recorded: an exception would be swallowed by the walk
        warnings.simplefilter("always")
        clf.save(tmp_path / "clf.keras")
    assert not [str(w.message) for w in caught if "dropout_rates" in str(w.message)]
    again = keras.saving.load_model(tmp_path / "clf.keras")
    np.testing.assert_allclose(again.layer_dropout_rates, clf.layer_dropout_rates, rtol=1e-6)


def test_concrete_grid_learns_rates_and_exports_an_equivalent_regressor():
    x, y = sine_data(120)
    grid = MCDropoutGrid(1, [0.1, 0.1], [1.0, 1.0], hidden_units=(16,), lengthscale=[1e-2, 1.0],
                         heteroscedastic=True, concrete=True, seed=0).fit(x, y, epochs=40, batch_size=32)
    rates = grid.layer_dropout_rates
    assert rates.shape == (2, 2) and not np.allclose(rates, 0.1)
    model = grid.regressor(1)
    assert model.concrete and model.lengthscale == 1.0
    np.testing.assert_allclose(model.layer_dropout_rates, rates[1], rtol=1e-5)
    # The grid's objective terms are the model's: weight decay over (1 - p) plus the dropout entropy.
    reg = grid._regularizer(tf.constant(grid.lengthscale**2 / (2 * 120), tf.float32), tf.constant(1 / 120))
    assert float(reg[1]) == pytest.approx(float(model._l2()), rel=1e-4)
    probe = np.linspace(-2, 2, 9)[:, None]
    t = 3000
    scores = grid.mc_scores(probe, truth(probe[:, 0]), samples=t)
    u = model.predict_uncertainty(probe, samples=t, seed=0)
    se = np.sqrt((u["epistemic"] + scores["epistemic"][1]) / t)
    assert np.all(np.abs(u["mean"] - scores["mean"][1]) < 5 * se + 1e-6)
    with pytest.raises(ValueError, match="heteroscedastic=True"):
        MCDropoutGrid(1, [0.1], [1.0], concrete=True)


def test_lenet_classifier_drops_out_after_the_first_convolution_and_survives_saving(tmp_path, mnist_sample):
    images, labels = mnist_sample
    model = MCDropoutClassifier(10, hidden_units=(16, 8), dropout_rate=0.25, architecture="lenet", seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(images[:256], labels[:256], batch_size=64, epochs=1, verbose=0)
    # Noise sites: the second convolution's input (14x14x6 after pooling), the flattened 5x5x16
    # features, then the dense layers' inputs; the first convolution sees the pixels untouched.
    assert model.noise_shapes == [(14, 14, 6), (400,), (16,), (8,)]
    assert len(model.layer_dropout_rates) == 4
    x = images[300:308]
    draws = model.predict_samples(x, samples=6, seed=4)  # the passes batched in one call
    loop = np.stack([model(x, seed=(4, t)).numpy() for t in range(6)])
    np.testing.assert_allclose(draws, loop, atol=1e-6)
    assert np.abs(draws[0] - draws[1]).max() > 1e-4  # the passes differ
    np.testing.assert_allclose(model(x.reshape(8, -1), seed=(4, 0)).numpy(), loop[0], atol=1e-6)  # flat inputs too
    path = str(tmp_path / "lenet.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    assert again.architecture == "lenet"
    np.testing.assert_allclose(again.predict_samples(x, samples=6, seed=4), draws, atol=1e-6)


def test_lenet_classifier_rejects_what_it_cannot_do(mnist_sample):
    with pytest.raises(ValueError, match="concrete=False"):
        MCDropoutClassifier(10, architecture="lenet", concrete=True)
    with pytest.raises(ValueError, match="architecture"):
        MCDropoutClassifier(10, architecture="resnet")
    model = MCDropoutClassifier(10, architecture="lenet")
    with pytest.raises(ValueError, match="784 values"):
        model.fit(np.zeros((4, 10, 10, 1), np.float32), np.zeros(4, int), verbose=0)
