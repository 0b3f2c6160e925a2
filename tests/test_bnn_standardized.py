"""BNNRegressor standardizes its inputs and targets inside the model, as MCDropoutRegressor does.

The statistics are the data's mean and standard deviation (checked exactly),
saved with the model, and every output comes back in the targets' units.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb.models import BNNRegressor


def _table(n=256, seed=0):
    """Inputs far from standard and targets with a large offset and scale: y = 1000 f(x) + 5000."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 3)) * [10.0, 0.01, 3.0] + [50.0, -2.0, 0.0]).astype("float32")
    f = x[:, 0] / 10.0 - 2.0 * (x[:, 1] + 2.0) / 0.01 + 0.1 * rng.normal(size=n)
    return x, (1000.0 * f + 5000.0).astype("float32")


def test_adapt_learns_the_data_mean_and_standard_deviation():
    x, y = _table()
    model = BNNRegressor(hidden_units=(4,), seed=0).adapt(x, y)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    np.testing.assert_allclose(model.x_mean.numpy(), x64.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(model.x_scale.numpy(), x64.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(model.y_mean.numpy(), [y64.mean()], rtol=1e-6)
    np.testing.assert_allclose(model.y_scale.numpy(), [y64.std()], rtol=1e-6)
    assert model.num_examples == len(x) and model.input_dim == 3
    # fit on arrays learns the same statistics, from the training rows only (validation_split's are held out).
    fitted = BNNRegressor(hidden_units=(4,), seed=0)
    fitted.compile(optimizer="adam")
    fitted.fit(x, y, epochs=1, batch_size=64, validation_split=0.25, verbose=0)
    np.testing.assert_allclose(fitted.y_mean.numpy(), [y64[:192].mean()], rtol=1e-6)
    np.testing.assert_allclose(fitted.x_scale.numpy(), x64[:192].std(axis=0), rtol=1e-6)
    assert fitted.num_examples == 192
    both = BNNRegressor(hidden_units=(4,), seed=0)  # validation_data overrides validation_split, as in Keras
    both.compile(optimizer="adam")
    both.fit(x, y, epochs=1, batch_size=64, validation_split=0.25, validation_data=(x[:8], y[:8]), verbose=0)
    assert both.num_examples == len(x)


def test_targets_with_a_large_offset_and_scale_are_fitted_and_predicted_in_their_units():
    x, y = _table(512)
    model = BNNRegressor(hidden_units=(32,), posterior_sigma_init=0.01, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    u = model.predict_uncertainty(x, samples=50, seed=0)
    rmse = float(np.sqrt(np.mean((u["mean"] - y) ** 2)))
    # The signal's spread is ~2,000; a fit in normalized units gets within a few percent of it.
    assert rmse < 0.1 * y.std(), (rmse, y.std())
    assert abs(float(u["mean"].mean()) - float(y.mean())) < 0.05 * y.std()
    # Variances in squared target units: the aleatoric part is the learned noise, of the residuals' size.
    assert 0.2 < np.sqrt(u["aleatoric"].mean()) / rmse < 5
    np.testing.assert_allclose(u["variance"], u["epistemic"] + u["aleatoric"], rtol=1e-5)
    s = model.predict_samples(x[:8], samples=50, seed=0)
    np.testing.assert_allclose(s["mean"].mean(axis=0), u["mean"][:8], rtol=1e-5)
    np.testing.assert_allclose(model.predict(x[:8], verbose=0)[:, 0], model(x[:8])[:, 0].numpy(), rtol=1e-6)
    assert np.abs(model.predict(x[:8], verbose=0)[:, 0] - y[:8]).max() < 0.3 * y.std()


def test_nll_and_elbo_are_in_the_targets_units_and_loss_is_the_standardized_objective():
    x, y = _table(64)
    # A posterior of tiny scale: every weight draw is the posterior mean, so the NLL is known in closed form.
    model = BNNRegressor(hidden_units=(8,), posterior_sigma_init=1e-6, seed=0).adapt(x, y)
    model.compile(optimizer="adam")
    logs = model.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)
    std = np.exp(float(model.noise_log_std[0])) * float(model.y_scale[0])
    mean = model(x).numpy()[:, 0].astype(np.float64)
    nll = np.mean(0.5 * ((y - mean) / std) ** 2 + np.log(std) + 0.5 * np.log(2 * np.pi))
    assert logs["nll"] == pytest.approx(nll, rel=1e-4)
    assert logs["elbo"] == pytest.approx(-(logs["nll"] + logs["kl"]), rel=1e-5)
    # loss: the NLL of the standardized targets (nll - log s_y) plus KL / N.
    log_scale = np.log(float(model.y_scale[0]))
    assert logs["loss"] == pytest.approx(logs["nll"] - log_scale + logs["kl"], rel=1e-4)
    assert logs["rmse"] == pytest.approx(np.sqrt(np.mean((y - mean) ** 2)), rel=1e-4)


@pytest.mark.parametrize("noise", ["homoscedastic", "heteroscedastic"])
def test_the_standardization_saves_and_loads_with_the_model(tmp_path, noise):
    x, y = _table(64)
    model = BNNRegressor(hidden_units=(8,), noise=noise, posterior_sigma_init=0.1, seed=0)
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config() and loaded.is_adapted
    for name in ("x_mean", "x_scale", "y_mean", "y_scale"):
        np.testing.assert_array_equal(getattr(loaded, name).numpy(), getattr(model, name).numpy())
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    a, b = model.predict_uncertainty(x, samples=5, seed=3), loaded.predict_uncertainty(x, samples=5, seed=3)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    a, b = model.predict_samples(x, samples=5, seed=3), loaded.predict_samples(x, samples=5, seed=3)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    rebuilt = BNNRegressor.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt(x).numpy(), model(x).numpy())
    # A second fit keeps the statistics learned by the first (new arrays do not re-standardize the weights).
    loaded.compile(optimizer="adam")
    loaded.fit(x * 2, y * 2, epochs=1, batch_size=32, verbose=0)
    np.testing.assert_array_equal(loaded.y_mean.numpy(), model.y_mean.numpy())


def test_a_dataset_before_adapt_is_refused_as_mc_dropout_refuses_it():
    x, y = _table(64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    model = BNNRegressor(hidden_units=(4,), num_examples=64, seed=0)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"BNNRegressor learns the standardization of its inputs and targets from "
                                         r"the training data: call `model.adapt\(x, y\)` on arrays before `fit` on "
                                         r"a dataset. Received: x of type .*Dataset"):
        model.fit(ds, epochs=1, verbose=0)
    unsized = BNNRegressor(hidden_units=(4,), seed=0)  # without N either: the same message, first
    unsized.compile(optimizer="adam")
    with pytest.raises(ValueError, match="call `model.adapt"):
        unsized.fit(ds, epochs=1, verbose=0)
    unsized.adapt(x, y)  # learns N too
    unsized.fit(ds, epochs=1, verbose=0)
    assert unsized.num_examples == 64 and float(unsized.y_scale[0]) == pytest.approx(float(y.std()), rel=1e-5)


@pytest.mark.parametrize("noise", ["homoscedastic", "heteroscedastic"])
def test_weights_written_before_the_model_standardized_load_as_the_identity(noise):
    """Files from before (the zoo's bnn_flipout_uci_boston) hold no statistics: the model then predicts as
    it was trained, on inputs and targets as given, and a further `fit` does not re-standardize."""
    x, y = _table(32)
    model = BNNRegressor(hidden_units=(4,), noise=noise, input_dim=3, posterior_sigma_init=0.1, seed=0)
    store = {}
    model.save_own_variables(store)
    own = model._trainable_variables + model._non_trainable_variables
    new = {str(i) for i, v in enumerate(own) if v.name in ("x_mean", "x_scale", "y_mean", "y_scale", "adapted")}
    assert len(new) == 5
    old = {k: v for k, v in store.items() if k not in new}
    fresh = BNNRegressor(hidden_units=(4,), noise=noise, input_dim=3, posterior_sigma_init=0.1, seed=0).adapt(x, y)
    fresh.load_own_variables(old)
    assert fresh.is_adapted
    for name, value in (("x_mean", 0.0), ("x_scale", 1.0), ("y_mean", 0.0), ("y_scale", 1.0)):
        np.testing.assert_array_equal(getattr(fresh, name).numpy(), value)


def test_the_zoos_uci_regressor_loads_adapted_and_predicts_as_it_was_trained():
    # Retrained after the change: its recipe feeds inputs and targets it normalized itself, so the statistics the
    # model learned in `fit` are close to the identity (files from before the change: the test above).
    from tfvb import zoo

    model = zoo.load("bnn_flipout_uci_boston")
    assert model.is_adapted
    np.testing.assert_allclose(model.y_scale.numpy(), 1.0, rtol=1e-3)
    np.testing.assert_allclose(model.x_mean.numpy(), 0.0, atol=1e-3)
    assert zoo.golden_check("bnn_flipout_uci_boston", model) <= 1e-4  # its stored outputs, unchanged
