"""Temperature scaling: a known temperature recovered, an over-confident model's held-out NLL lowered, saving.

Recovery: labels are drawn from softmax(z / T0) (one draw) or from the mean of
softmax(z_s / T0) over S draws, for synthetic logits z; the fitted T must lie
within 4 standard errors of T0, the standard error of log T from the observed
information (the NLL's second derivative in log T at the optimum).
"""

import keras
import numpy as np
import pytest
from lookup_models import LookupClassifier, LookupRegressor, MeanOnlyClassifier, index_column, mnist_classifier

import tfvb
from tfvb.calibrate import TemperatureScaled, temperature_scale
from tfvb.calibrate.temperature import temperature_nll
from tfvb.uncertainty import classification_uncertainty


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _labels_from(probs, rng):
    return (rng.random((len(probs), 1)) > np.cumsum(probs, axis=1)).sum(axis=1)


def _log_t_standard_error(log_probs, labels, log_t, h=1e-3):
    """1 / sqrt(observed information) of log T: n NLL''(log T) by central differences."""
    f = [temperature_nll(log_probs, labels, np.exp(log_t + d)) for d in (-h, 0.0, h)]
    return 1.0 / np.sqrt(len(labels) * (f[0] - 2 * f[1] + f[2]) / h**2)


@pytest.mark.parametrize("draws", [1, 5])
def test_a_known_temperature_is_recovered(draws, rng):
    n, classes, true_t = 4000, 5, 2.5
    z = rng.normal(scale=3.0, size=(n, classes))
    z_draws = z[None] + rng.normal(size=(draws, n, classes)) * (draws > 1)
    labels = _labels_from(_softmax(z_draws / true_t).mean(axis=0), rng)
    model = LookupClassifier(_softmax(z_draws))  # the model predicts softmax(z_s): over-confident by T0
    scaled = temperature_scale(model, index_column(n), labels)
    se = _log_t_standard_error(np.log(model.draws), labels, np.log(scaled.temperature))
    assert abs(np.log(scaled.temperature) - np.log(true_t)) < 4 * se, (scaled.temperature, se)
    # The fit is the minimum: the NLL is higher a little either side.
    nll = [temperature_nll(np.log(model.draws), labels, scaled.temperature * f) for f in (0.99, 1.0, 1.01)]
    assert nll[1] < nll[0] and nll[1] < nll[2]


def test_each_draw_is_tempered_before_the_average(rng):
    draws = rng.dirichlet(np.ones(4) * 0.3, size=(6, 50))
    model = LookupClassifier(draws)
    scaled = TemperatureScaled(model, temperature=1.7)
    tempered = np.stack([_softmax(np.log(d) / 1.7) for d in draws])  # one draw at a time
    want = classification_uncertainty(tempered)
    got = scaled.predict_uncertainty(index_column(50))
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-12, err_msg=key)
    untouched = TemperatureScaled(model, temperature=1.0).predict_uncertainty(index_column(50))
    for key, value in classification_uncertainty(draws).items():
        np.testing.assert_allclose(untouched[key], value, rtol=1e-10, atol=1e-12, err_msg=key)


def test_a_model_with_its_mean_only_is_tempered_on_the_log_mean(rng):
    mean = rng.dirichlet(np.ones(3), size=40)
    got = TemperatureScaled(MeanOnlyClassifier(mean), temperature=0.5).predict_uncertainty(index_column(40))
    np.testing.assert_allclose(got["mean"], _softmax(np.log(mean) / 0.5), rtol=1e-10)
    assert sorted(got) == ["entropy", "mean", "prediction"]


def _nll(probs, labels):
    return -np.log(probs[np.arange(len(labels)), labels])


def _held_out_gain(model, scaled, images, labels):
    """Per-example NLL before minus after (paired), on the test rows."""
    before = _nll(model.predict_uncertainty(images, samples=10, seed=0)["mean"], labels)
    return before - _nll(scaled.predict(images), labels)


def test_a_sharpened_model_gets_its_temperature_back_and_a_lower_held_out_nll():
    """The MC-dropout MLP with every pass's logits multiplied by 5 (T = 0.2): over-confident by construction."""
    images, labels = tfvb.data.mnist_sample()
    sharpened = TemperatureScaled(mnist_classifier(), temperature=0.2, samples=10, seed=0)
    cal, test = slice(1000, 1500), slice(1500, 2000)
    scaled = temperature_scale(sharpened, images[cal], labels[cal], samples=10, seed=0)
    own = temperature_scale(mnist_classifier(), images[cal], labels[cal], samples=10, seed=0).temperature
    # Tempering a tempered draw divides its logits twice: T_hat = own / 0.2, to the search's tolerance.
    assert scaled.temperature == pytest.approx(own / 0.2, rel=1e-5)
    gain = _held_out_gain(sharpened, scaled, images[test], labels[test])
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain)), gain.mean()


@pytest.mark.slow
def test_an_over_confident_model_gets_a_lower_held_out_nll():
    """An MC-dropout MLP with almost no dropout, trained to memorize 300 digits, on 850 held-out ones."""
    images, labels = tfvb.data.mnist_sample()
    model = mnist_classifier(train=300, hidden=256, dropout_rate=0.01, epochs=30)
    cal, test = slice(300, 1150), slice(1150, 2000)
    scaled = temperature_scale(model, images[cal], labels[cal], samples=10, seed=0)
    assert scaled.temperature > 1.2  # softened
    gain = _held_out_gain(model, scaled, images[test], labels[test])
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain)), gain.mean()


def test_saved_and_reloaded_it_predicts_the_same(tmp_path):
    images, labels = tfvb.data.mnist_sample()
    model = mnist_classifier()
    scaled = temperature_scale(model, images[1000:1300], labels[1000:1300], samples=8, seed=4)
    path = str(tmp_path / "scaled.keras")
    scaled.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is TemperatureScaled and type(reloaded.base) is type(model)
    assert (reloaded.temperature, reloaded.samples, reloaded.seed) == (scaled.temperature, 8, 4)
    want, got = scaled.predict_uncertainty(images[1300:1400]), reloaded.predict_uncertainty(images[1300:1400])
    assert set(got) == {"mean", "entropy", "expected_entropy", "mutual_information", "variation_ratio", "prediction"}
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-7, err_msg=key)


def test_a_perfectly_separated_split_warns_at_the_bound():
    probs = np.array([[0.9, 0.1], [0.2, 0.8]] * 10)[None]
    with pytest.warns(UserWarning, match="smallest at the edge of bounds.*classifies perfectly drives T to 0"):
        scaled = temperature_scale(LookupClassifier(probs), index_column(20), np.array([0, 1] * 10))
    assert scaled.temperature == pytest.approx(0.01, rel=1e-3)
    with pytest.warns(UserWarning, match="no better than uniform .* drive T to infinity"):
        scaled = temperature_scale(LookupClassifier(probs), index_column(20), np.array([1, 0] * 10))
    assert scaled.temperature == pytest.approx(100.0, rel=1e-3)


def test_bad_inputs_are_refused(rng):
    model, x = LookupClassifier(rng.dirichlet(np.ones(3), size=(2, 30))), index_column(30)
    labels = _labels_from(model.draws.mean(axis=0), rng)
    with pytest.raises(ValueError, match=r"Expected a classifier for `temperature_scale`. Received: a regression "
                                         r"model .*use tfvb.calibrate.conformal \(intervals for regressors\)"):
        temperature_scale(LookupRegressor({"mean": np.zeros(30), "variance": np.ones(30)}), x, labels)
    with pytest.raises(ValueError, match=r"Expected class labels in \[0, 2\]. Received labels in \[0, 3\]"):
        temperature_scale(model, x, np.r_[labels[:-1], 3])
    with pytest.raises(ValueError, match="Expected `x` and `y` with the same number of rows"):
        temperature_scale(model, x, labels[:10])
    with pytest.raises(ValueError, match="Expected `y` to be finite"):
        temperature_scale(model, x, np.r_[labels[:-1], np.nan])
    with pytest.raises(ValueError, match=r"Expected `bounds` = \(T_min, T_max\) with 0 < T_min < T_max"):
        temperature_scale(model, x, labels, bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="Expected `temperature` to be a positive finite number. Received: "
                                         "temperature=0"):
        TemperatureScaled(model, temperature=0)
    onehot = np.eye(3)[labels]
    assert temperature_scale(model, x, onehot).temperature == temperature_scale(model, x, labels).temperature
