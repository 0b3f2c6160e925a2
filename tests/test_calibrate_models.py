"""Every tfvb predictive model calibrates, and its calibrated model saves and reloads with the same outputs.

Small untrained, uncompiled models (calibration needs no particular accuracy, and an untrained
model needs no optimizer): the BNNs, MC dropout, deep ensembles and a `tfvb.bayesianize` network,
for classification and regression. (A compiled model that never trained does not reload inside
another: Keras then refuses its optimizer, built at load with more variables than the saved one had.)
"""

import re

import keras
import numpy as np
import pytest

import tfvb
from tfvb.calibrate import conformal, conformal_sets, temperature_scale

N = 120


def _dense_net(outputs, inputs=(28, 28, 1)):
    return keras.Sequential([keras.Input(inputs), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(outputs)])


def _classifiers():
    def bnn():
        return tfvb.models.BNNClassifier(10, hidden_units=(16,), seed=0)

    def mc_dropout():
        images, labels = tfvb.data.mnist_sample()
        model = tfvb.models.MCDropoutClassifier(10, hidden_units=(16,), dropout_rate=0.2, seed=0)
        return model.adapt(images[:N], labels[:N])

    def ensemble():
        return tfvb.models.DeepEnsemble(lambda: _dense_net(10), n=3, seed=0, task="classification")

    def bayesianized():
        return tfvb.bayesianize(_dense_net(10), layer="flipout", task="classification")

    return {"bnn": bnn, "mc_dropout": mc_dropout, "ensemble": ensemble, "bayesianized": bayesianized}


def _regressors():
    def bnn():
        return tfvb.models.BNNRegressor(hidden_units=(16,), input_dim=3, seed=0)

    def mc_dropout():
        x, y = _regression_data()
        return tfvb.models.MCDropoutRegressor(hidden_units=(16,), dropout_rate=0.2, seed=0).adapt(x, y)

    def ensemble():
        return tfvb.models.DeepEnsemble(lambda: _dense_net(1, inputs=(3,)), n=3, seed=0, task="regression")

    return {"bnn": bnn, "mc_dropout": mc_dropout, "ensemble": ensemble}


def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2 * N, 3)).astype("float32")
    return x, x[:, 0] + 0.5 * rng.normal(size=2 * N)


def _same(a, b):
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(np.asarray(a[key], np.float64), np.asarray(b[key], np.float64), rtol=1e-5,
                                   atol=1e-6, err_msg=key)


# An untrained model is no better than uniform on the calibration digits: T goes to the upper bound, with a
# warning that says so.
@pytest.mark.filterwarnings("ignore:temperature_scale. the NLL is smallest at the edge")
@pytest.mark.parametrize("name", sorted(_classifiers()))
def test_every_classifier_is_tempered_and_gets_sets_that_reload(name, tmp_path):
    images, labels = tfvb.data.mnist_sample()
    model = _classifiers()[name]()
    scaled = temperature_scale(model, images[:N], labels[:N], samples=4, seed=1)
    sets = conformal_sets(scaled, images[N:2 * N], labels[N:2 * N], coverage=0.8, score="raps", samples=4, seed=1)
    u = sets.predict_uncertainty(images[2 * N:2 * N + 20])
    assert u["prediction_set"].shape == (20, 10) and u["mean"].shape == (20, 10)
    np.testing.assert_allclose(u["mean"].sum(axis=1), 1.0, rtol=1e-6)
    path = str(tmp_path / f"{name}.keras")
    sets.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.base.base) is type(model)
    _same(reloaded.predict_uncertainty(images[2 * N:2 * N + 20]), u)


@pytest.mark.parametrize("name, score", [("bnn", "normalized"), ("ensemble", "normalized"), ("mc_dropout", "absolute")])
def test_every_regressor_gets_intervals_that_reload(name, score, tmp_path):
    x, y = _regression_data()
    model = _regressors()[name]()
    calibrated = conformal(model, x[:N], y[:N], coverage=0.8, score=score, samples=4, seed=1)
    u = calibrated.predict_uncertainty(x[N:])
    assert np.all(u["lower"] < u["mean"]) and np.all(u["mean"] < u["upper"])
    path = str(tmp_path / f"{name}.keras")
    calibrated.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.base) is type(model)
    _same(reloaded.predict_uncertainty(x[N:]), u)


def test_a_plain_object_calibrates_but_does_not_save(tmp_path):
    class Constant:
        def predict_uncertainty(self, x, samples=None, seed=None):
            return {"mean": np.zeros(len(x)), "variance": np.ones(len(x))}

    x, y = _regression_data()
    calibrated = conformal(Constant(), x[:N], y[:N])
    assert calibrated.predict_uncertainty(x[N:])["upper"].shape == (N,)
    with pytest.raises(ValueError, match="Expected a Keras model as the base of a ConformalRegressor to save it. "
                                         "Received: Constant"):
        calibrated.save(str(tmp_path / "constant.keras"))


@pytest.mark.filterwarnings("ignore:temperature_scale. the NLL is smallest at the edge")
@pytest.mark.parametrize("format", ["tf_saved_model", "litert", "onnx"])
def test_export_of_a_calibrated_model_is_refused_with_what_to_serve_instead(format, tmp_path):
    # Keras' own export would say "never called"; calling the model then says it predicts in numpy.
    images, labels = tfvb.data.mnist_sample()
    scaled = temperature_scale(_classifiers()["bnn"](), images[:N], labels[:N], samples=4, seed=1)
    sets = conformal_sets(scaled, images[N:2 * N], labels[N:2 * N], coverage=0.8, samples=4, seed=1)
    x, y = _regression_data()
    intervals = conformal(_regressors()["bnn"](), x[:N], y[:N], coverage=0.8, samples=4, seed=1)
    for calibrated, number in ((scaled, scaled.temperature), (sets, sets.quantile), (intervals, intervals.quantile)):
        with pytest.raises(NotImplementedError, match=rf"Received: a {type(calibrated).__name__}.*"
                                                      rf"serves the\s+uncalibrated.*{re.escape(repr(number))}"):
            calibrated.export(str(tmp_path / "out.tflite" if format == "litert" else tmp_path / "out"), format=format)
    # Sets on a temperature-scaled model: the model to export is the one under both, and both steps are named
    # in order with what they need (the message named `model.base`, itself a calibrated model, and left out
    # the temperature, RAPS' lam and k_reg, and the draws' T and seed; `samples=T` only where T is fixed).
    with pytest.raises(NotImplementedError) as refused:
        sets.export(str(tmp_path / "out.tflite" if format == "litert" else tmp_path / "out"), format=format)
    message = str(refused.value)
    assert "`model.base.base.export(...)` serves the uncalibrated BNNClassifier" in message
    assert message.index(repr(scaled.temperature)) < message.index(repr(sets.quantile))
    assert f"lam={sets.lam!r}, k_reg={sets.k_reg!r}" in message and "T = 4, seed 1" in message
    assert ("samples=T" in message) == (format != "tf_saved_model")
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore:temperature_scale. the NLL is smallest at the edge")
def test_predict_takes_batch_size_for_every_base_and_refuses_datasets():
    import tensorflow as tf

    images, labels = tfvb.data.mnist_sample()
    x = images[2 * N:2 * N + 20]
    for name in ("bnn", "mc_dropout"):
        scaled = temperature_scale(_classifiers()[name](), images[:N], labels[:N], samples=4, seed=1)
        whole, rows = scaled.predict(x), scaled.predict(x, batch_size=7, verbose=0)
        assert whole.shape == rows.shape == (20, 10)
        # As in Keras, the batch size does not change the predictions: MC dropout's masks too are those of
        # one call (they used to repeat every 7 rows).
        np.testing.assert_allclose(rows, whole, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"Expected `x` as an array .* Received: .*Dataset"):
        scaled.predict(tf.data.Dataset.from_tensor_slices(x).batch(8))


def test_a_tempered_classifier_predicts_with_the_draws_its_temperature_was_fitted_on():
    # The draws of one call of the base model on all the inputs, past the 512 rows the wrapper once took
    # per call (MC dropout's masks then repeated from row 512 on).
    from tfvb.calibrate.temperature import TemperatureScaled, draw_log_probs, tempered_probabilities

    images, labels = tfvb.data.mnist_sample()
    base = _classifiers()["mc_dropout"]()
    x = np.concatenate([images[:512], images[:88]])  # rows 512 + i are the images of rows i
    scaled = TemperatureScaled(base, 1.5, samples=4, seed=3)
    got = scaled.predict_uncertainty(x)["mean"]
    want = tempered_probabilities(draw_log_probs(base, x, 4, 3), 1.5)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert not np.allclose(got[512:], got[:88])  # the same images, other masks


def _flipout_net(outputs, inputs=3, dropout=0.0):
    layers = [keras.Input((inputs,)), tfvb.layers.DenseFlipout(8, activation="relu", seed=0)]
    layers += [keras.layers.Dropout(dropout)] if dropout else []
    return keras.Sequential(layers + [tfvb.layers.DenseFlipout(outputs, seed=1)])


@pytest.mark.parametrize("score", ["absolute", "normalized", "quantile"])
def test_a_plain_keras_regressor_with_tfvb_layers_gets_intervals_that_reload(score, tmp_path):
    x, y = _regression_data()
    model = _flipout_net(1)  # not compiled: its task is given
    calibrated = conformal(model, x[:N], y[:N], coverage=0.8, score=score, samples=6, seed=1, task="regression")
    u = calibrated.predict_uncertainty(x[N:])
    # The draws of tfvb.predict_uncertainty with the kept T and seed.
    want = tfvb.predict_uncertainty(model, x[N:], samples=6, seed=1, task="regression")
    np.testing.assert_allclose(u["mean"], want["mean"], rtol=1e-12)
    assert np.all(u["lower"] < u["upper"])
    path = str(tmp_path / "flipout.keras")
    calibrated.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.base) is keras.Sequential and reloaded.quantile == calibrated.quantile
    _same(reloaded.predict_uncertainty(x[N:]), u)


@pytest.mark.filterwarnings("ignore:temperature_scale. the NLL is smallest at the edge")
def test_a_compiled_keras_classifier_with_dropout_is_tempered_and_gets_sets_that_reload(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3 * N, 3)).astype("float32")
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1)
    model = _flipout_net(3, dropout=0.3)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # the task, from the loss
    model.fit(x[:N], labels[:N], epochs=1, verbose=0)
    scaled = temperature_scale(model, x[N:2 * N], labels[N:2 * N], samples=5, seed=1, mc_dropout=True)
    sets = conformal_sets(scaled, x[N:2 * N], labels[N:2 * N], coverage=0.8, samples=5, seed=1)
    u = sets.predict_uncertainty(x[2 * N:])
    draws = tfvb.predict_samples(model, x[2 * N:], samples=5, seed=1, mc_dropout=True)
    want = np.exp(np.log(keras.ops.softmax(draws).numpy()) / scaled.temperature)
    np.testing.assert_allclose(u["mean"], (want / want.sum(-1, keepdims=True)).mean(0), rtol=1e-5, atol=1e-7)
    assert not np.allclose(scaled.predict(x[2 * N:]), temperature_scale(model, x[N:2 * N], labels[N:2 * N], samples=5,
                                                                         seed=1).predict(x[2 * N:]))  # dropout on
    path = str(tmp_path / "flipout_sets.keras")
    sets.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.base.mc_dropout and type(reloaded.base.base) is keras.Sequential
    _same(reloaded.predict_uncertainty(x[2 * N:]), u)


def test_a_keras_model_whose_task_cannot_be_told_is_refused_until_given():
    x, y = _regression_data()
    with pytest.raises(ValueError, match=r"Expected task='regression' for `conformal` on 'sequential.*', a "
                                         r"keras.Model whose task tfvb cannot infer .* Received: task=None"):
        conformal(_flipout_net(1), x[:N], y[:N])
    with pytest.raises(ValueError, match=r"Expected task='classification' \(or None\) for `conformal_sets`, which "
                                         r"calibrates a classifier. Received: task='regression'"):
        conformal_sets(_flipout_net(3), x[:N], np.zeros(N, int), task="regression")
    softmax = keras.Sequential([keras.Input((3,)), tfvb.layers.DenseFlipout(3, activation="softmax")])
    with pytest.raises(ValueError, match=r"Expected a regressor for `conformal`. Received: 'sequential.*', a "
                                         r"classifier by its compiled loss or softmax head"):
        conformal(softmax, x[:N], y[:N])
    deterministic = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"Expected a keras.Model that `tfvb.predict_uncertainty` can sample for "
                                         r"`conformal`. Received: Sequential .*at least one tfvb Bayesian layer"):
        conformal(deterministic, x[:N], y[:N], task="regression")
    with pytest.raises(ValueError, match=r"Expected mc_dropout=False for a model with its own `predict_uncertainty`"):
        conformal(_regressors()["bnn"](), x[:N], y[:N], mc_dropout=True)


@pytest.mark.filterwarnings("ignore:temperature_scale. the NLL is smallest at the edge")
def test_tfvb_predict_uncertainty_answers_a_calibrated_model_with_its_own_draws():
    x, y = _regression_data()
    images, labels = tfvb.data.mnist_sample()
    intervals = conformal(_regressors()["bnn"](), x[:N], y[:N], coverage=0.8, samples=4, seed=1)
    sets = conformal_sets(_classifiers()["bnn"](), images[:N], labels[:N], coverage=0.8, samples=4, seed=1)
    scaled = temperature_scale(_classifiers()["bnn"](), images[:N], labels[:N], samples=4, seed=1)
    for calibrated, inputs in ((intervals, x[N:]), (sets, images[N:N + 20]), (scaled, images[N:N + 20])):
        # Its own T and seed when none are given (not 100 fresh draws); those given otherwise.
        _same(tfvb.predict_uncertainty(calibrated, inputs), calibrated.predict_uncertainty(inputs))
        _same(tfvb.predict_uncertainty(calibrated, inputs, samples=3, seed=5),
              calibrated.predict_uncertainty(inputs, samples=3, seed=5))
    assert {"lower", "upper"} <= set(tfvb.predict_uncertainty(intervals, x[N:]))
    with pytest.raises(ValueError, match=r"Expected `task` to be None or 'regression', the task of the "
                                         r"ConformalRegressor given. Received: task='classification'"):
        tfvb.predict_uncertainty(intervals, x[N:], task="classification")
    with pytest.raises(ValueError, match=r"Expected a model with Monte Carlo draws for tfvb.predict_samples. "
                                         r"Received: ConformalRegressor.*tfvb.predict_samples\(model.base, x\)"):
        tfvb.predict_samples(intervals, x[N:])
    np.testing.assert_allclose(tfvb.predict_samples(scaled, images[N:N + 5]), scaled.predict_samples(images[N:N + 5]))


@pytest.mark.filterwarnings("ignore:temperature_scale. the NLL is smallest at the edge")
def test_prediction_sets_and_alpha_are_refused_with_what_to_use_instead():
    x, y = _regression_data()
    images, labels = tfvb.data.mnist_sample()
    intervals = conformal(_regressors()["bnn"](), x[:N], y[:N], samples=4, seed=1)
    with pytest.raises(ValueError, match=r"Expected a ConformalClassifier \(tfvb.calibrate.conformal_sets\) for "
                                         r"`prediction_set`. Received: ConformalRegressor; its intervals are"):
        intervals.prediction_set(x[N:])
    scaled = temperature_scale(_classifiers()["bnn"](), images[:N], labels[:N], samples=4, seed=1)
    with pytest.raises(ValueError, match=r"Received: TemperatureScaled; calibrate it with "
                                         r"tfvb.calibrate.conformal_sets\(model, x, y"):
        scaled.prediction_set(images[:5])
    with pytest.raises(ValueError, match=r"Expected coverage=1 - alpha for `conformal_sets` \(e.g. coverage=0.95\)"
                                         r".* Received: alpha=0.05"):
        conformal_sets(scaled, images[:N], labels[:N], alpha=0.05)
    with pytest.raises(ValueError, match=r"Expected coverage=1 - alpha for `conformal`.* Received: alpha=0.1"):
        conformal(_regressors()["bnn"](), x[:N], y[:N], alpha=0.1)
