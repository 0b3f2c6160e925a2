"""Split conformal intervals: coverage on real data over many random splits, the quantile, saving, errors.

The coverage tests fit an MC-dropout regressor once on 400 rows of the UCI
wine-quality-red data, predict the other 1,199 rows once, and re-split those
predictions R = 1,000 times into n calibration rows and a test remainder.
Given the pool, each split's scores are exchangeable, so the mean test
coverage over splits lies in [1 - alpha, 1 - alpha + 1/(n + 1)] exactly
(Lei et al. 2018, Theorem 2.2); the test allows 3 standard errors of the
mean over the R splits on either side. With distinct scores the mean is
exactly k / (n + 1), k = ceil((n + 1)(1 - alpha)): checked within a
Bonferroni z of 3.84 standard errors (family-wise 1e-3 over the 8 cases).
A naive (1 - alpha) sample quantile fails the same check at small n (the
negative control). The model's initialisation is seeded: the pool, and so
every number, is the same from run to run.
"""

import os
from statistics import NormalDist

import keras
import numpy as np
import pytest
from conftest import SHARED_DATA
from lookup_models import LookupClassifier, LookupRegressor, index_column, mean_and_se, random_splits

import tfvb
from tfvb.calibrate import ConformalRegressor, conformal, conformal_quantile, interval_scores
from tfvb.calibrate.quantile import quantile_rank

WINE = os.path.join(SHARED_DATA, "uci", "wine-quality-red")
needs_wine = pytest.mark.skipif(not os.path.isdir(WINE), reason="shared UCI data not present")
REPEATS = 1000
TRAIN = 400
#: Two-sided normal quantile of a family-wise level of 1e-3 over the 8 exact-mean checks (Bonferroni).
Z_EXACT = NormalDist().inv_cdf(1 - 1e-3 / 16)


@pytest.fixture(scope="module")
def wine():
    """(model, x, y, predictions of the rows after TRAIN): one fit, one prediction."""
    d = tfvb.data.uci(WINE, split=0)
    x = np.concatenate([d.x_train, d.x_test]).astype("float32")
    y = np.concatenate([d.y_train, d.y_test])
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    keras.utils.set_random_seed(0)
    model = tfvb.models.MCDropoutRegressor(hidden_units=(50,), dropout_rate=0.05, tau=2.0, seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(x[:TRAIN], y[:TRAIN], epochs=10, batch_size=64, verbose=0)
    return model, x, y, model.predict_uncertainty(x[TRAIN:], samples=50, seed=0)


def _covered(u, y):
    return (u["lower"] <= y) & (y <= u["upper"])


def split_coverages(prediction, y, n_cal, coverage, score, seed):
    """Test coverage of `conformal` on REPEATS random splits of a pool of predictions."""
    model, x = LookupRegressor(prediction), index_column(len(y))
    out = []
    for cal, test in random_splits(len(y), n_cal, REPEATS, seed):
        calibrated = conformal(model, x[cal], y[cal], coverage=coverage, score=score)
        out.append(_covered(calibrated.predict_uncertainty(x[test]), y[test]).mean())
    return mean_and_se(out)


def _cases():
    """Both scores x four (coverage, n); four run by default, the rest with `-m slow`."""
    fast = {("absolute", 0.9, 19), ("normalized", 0.8, 50), ("normalized", 0.9, 200), ("absolute", 0.95, 500)}
    return [pytest.param(*case, marks=() if case in fast else pytest.mark.slow)
            for case in [(s, c, n) for s in ("absolute", "normalized")
                         for c, n in ((0.9, 19), (0.8, 50), (0.9, 200), (0.95, 500))]]


@needs_wine
@pytest.mark.parametrize("score, coverage, n_cal", _cases())
def test_coverage_over_random_splits_is_within_the_finite_sample_bounds(wine, score, coverage, n_cal):
    _, _, y, prediction = wine
    mean, se = split_coverages(prediction, y[TRAIN:], n_cal, coverage, score, seed=n_cal)
    assert coverage - 3 * se <= mean <= coverage + 1 / (n_cal + 1) + 3 * se, (mean, se)
    # Sharper: with distinct scores a test point's rank among the n + 1 is uniform, so the mean is k / (n + 1).
    assert abs(mean - quantile_rank(n_cal, coverage) / (n_cal + 1)) <= Z_EXACT * se, (mean, se)


@needs_wine
def test_a_naive_sample_quantile_undercovers_where_the_conformal_one_does_not(wine):
    """Negative control: the test has the power to see the finite-sample correction."""
    _, _, y, prediction = wine
    y = y[TRAIN:]
    residual = np.abs(y - prediction["mean"])
    naive = [np.mean(residual[test] <= np.quantile(residual[cal], 0.9)) for cal, test in random_splits(len(y), 19,
                                                                                                        REPEATS)]
    mean, se = mean_and_se(naive)
    assert mean < 0.9 - 3 * se


@needs_wine
def test_normalized_intervals_follow_the_predicted_spread(wine):
    _, _, y, prediction = wine
    model, x = LookupRegressor(prediction), index_column(len(y) - TRAIN)
    calibrated = conformal(model, x[:500], y[TRAIN:TRAIN + 500], score="normalized")
    u = calibrated.predict_uncertainty(x[500:])
    np.testing.assert_allclose(u["upper"] - u["lower"], 2 * calibrated.quantile * u["std"], rtol=1e-12)
    absolute = conformal(model, x[:500], y[TRAIN:TRAIN + 500], score="absolute").predict_uncertainty(x[500:])
    np.testing.assert_allclose(absolute["upper"] - absolute["lower"], 2 * absolute["upper"][0] - 2 * u["mean"][0])


@needs_wine
def test_the_real_model_end_to_end_and_saved(wine, tmp_path):
    model, x, y, _ = wine
    cal, test = slice(TRAIN, TRAIN + 600), slice(TRAIN + 600, None)
    calibrated = conformal(model, x[cal], y[cal], coverage=0.9, score="normalized", samples=50, seed=3)
    u = calibrated.predict_uncertainty(x[test])
    assert set(u) == {"mean", "variance", "epistemic", "aleatoric", "std", "lower", "upper"}
    # The quantile is that of the model's own scores on the calibration rows, with the same draws.
    scores = interval_scores(model.predict_uncertainty(x[cal], samples=50, seed=3), y[cal], "normalized")
    assert calibrated.quantile == conformal_quantile(scores, 0.9) == np.sort(scores)[quantile_rank(600, 0.9) - 1]
    # One split's coverage varies with the calibration rows (Beta(k, n + 1 - k), variance ~ 0.09 / (n + 2)) and
    # the test rows (binomial, 0.09 / m): 4 standard deviations of both.
    coverage = _covered(u, y[test]).mean()
    assert abs(coverage - 0.9) < 4 * np.sqrt(0.09 / 602 + 0.09 / len(u["mean"])), coverage
    path = str(tmp_path / "conformal.keras")
    calibrated.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is ConformalRegressor and type(reloaded.base) is type(model)
    assert (reloaded.quantile, reloaded.score, reloaded.samples, reloaded.seed) == (calibrated.quantile, "normalized",
                                                                                   50, 3)
    again = reloaded.predict_uncertainty(x[test])
    for key in u:
        np.testing.assert_allclose(again[key], u[key], rtol=1e-6, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(reloaded.predict(x[test], verbose=0), u["mean"], rtol=1e-6, atol=1e-6)


def test_the_quantile_is_the_ceil_n_plus_1_rank():
    scores = np.arange(1.0, 20.0)  # n = 19
    assert conformal_quantile(scores, 0.9) == 18.0  # ceil(20 * 0.9) = 18
    assert conformal_quantile(scores, 0.95) == 19.0  # ceil(20 * 0.95) = 19
    assert conformal_quantile(scores[::-1], 0.5) == 10.0  # ceil(10) = 10, order does not matter
    assert conformal_quantile(np.arange(1.0, 100.0), 0.9) == 90.0  # (n + 1) 0.9 = 90.000...01 in floats
    assert conformal_quantile(scores[:5], 0.9) == np.inf  # ceil(6 * 0.9) = 6 > 5
    np.testing.assert_array_equal(conformal_quantile(np.stack([scores, 2 * scores], 1), 0.9), [18.0, 36.0])


def test_multi_output_targets_get_a_quantile_each():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(300, 2))
    y = mean + rng.normal(size=(300, 2)) * [1.0, 5.0]
    model = LookupRegressor({"mean": mean, "variance": np.ones_like(mean)})
    calibrated = conformal(model, index_column(300), y)
    assert calibrated.quantile.shape == (2,) and calibrated.quantile[1] > 3 * calibrated.quantile[0]
    assert interval_scores({"mean": mean, "variance": np.ones_like(mean)}, y).shape == (300, 2)


def _regressor(n=40):
    rng = np.random.default_rng(0)
    return LookupRegressor({"mean": rng.normal(size=n), "variance": np.ones(n)}), index_column(n), rng.normal(size=n)


@pytest.mark.parametrize("kwargs, message", [
    ({"coverage": 0.0}, r"Expected `coverage` to be a number in the open interval \(0, 1\). Received: coverage=0.0"),
    ({"coverage": 1}, r"open interval \(0, 1\). Received: coverage=1"),
    ({"coverage": 1.5}, r"Received: coverage=1.5"),
    ({"score": "cqr"}, r"Expected `score` to be one of \['absolute', 'normalized', 'quantile'\]"),
    ({"score": "quantile"}, r"Expected a regressor whose `predict_uncertainty` returns `lower_quantile` and "
                            r"`upper_quantile`, or with `predict_samples`.* Received: LookupRegressor"),
    ({"alpha": 0.1}, r"Expected coverage=1 - alpha for `conformal` \(e.g. coverage=0.9\).* Received: alpha=0.1"),
])
def test_bad_arguments_are_refused(kwargs, message):
    model, x, y = _regressor()
    with pytest.raises(ValueError, match=message):
        conformal(model, x, y, **kwargs)


def test_bad_calibration_data_are_refused():
    model, x, y = _regressor()
    with pytest.raises(ValueError, match=r"Expected `x` and `y` with the same number of rows. Received: "
                                         r"x.shape=\(40, 1\), y.shape=\(39,\)"):
        conformal(model, x, y[:-1])
    with pytest.raises(ValueError, match="Expected `y` to be finite. Received 1 NaN or inf values"):
        conformal(model, x, np.where(np.arange(40) == 3, np.nan, y))
    with pytest.raises(ValueError, match="Expected `x` to be finite"):
        conformal(model, np.full((40, 1), np.nan), y)
    with pytest.raises(ValueError, match=r"Expected at least 9 calibration examples for coverage=0.9 .*infinite "
                                         r"interval.* Received: n=8"):
        conformal(model, x[:8], y[:8])
    assert np.isfinite(conformal(model, x[:9], y[:9]).quantile)
    with pytest.raises(ValueError, match=r"Expected at least 19 calibration examples for coverage=0.95"):
        conformal(model, x[:18], y[:18], coverage=0.95)
    with pytest.raises(ValueError, match=r"Expected targets `y` of the predictions' shape \(40,\)"):
        conformal(model, x, np.ones((40, 3)))
    zero = LookupRegressor({"mean": np.zeros(40), "variance": np.zeros(40)})
    with pytest.raises(ValueError, match="Expected a positive predicted standard deviation for score='normalized'"):
        conformal(zero, x, y, score="normalized")
    # A variance of another shape than the mean was broadcast to (N, N) (a vector of 40 quantiles); a NaN or
    # negative one gave intervals that never or always covered.
    column = LookupRegressor({"mean": np.zeros(40), "variance": np.ones((40, 1))})  # (N, 1) beside (N,): read as (N,)
    np.testing.assert_allclose(conformal(column, x, y, score="normalized").quantile,
                               conformal(column, x, y, score="absolute").quantile)
    for variance, received in ((np.ones((40, 2)), r"u\['variance'\].shape=\(40, 2\)"),
                               (np.where(np.arange(40) == 5, np.nan, 1.0), r"1 of 40 values NaN, infinite or negative"),
                               (-np.ones(40), r"40 of 40 values NaN, infinite or negative \(first: -1.0\)")):
        bad = {"mean": np.zeros(40), "variance": variance}
        with pytest.raises(ValueError, match=rf"Expected .*u\['variance'\].* Received: {received}"):
            conformal(LookupRegressor(bad), x, y, score="normalized")
        with pytest.raises(ValueError, match=rf"Received: {received}"):
            tfvb.calibrate.interval_coverage(bad, y, splits=3)


def test_a_classifier_is_refused_and_pointed_to_the_sets():
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=(2, 40))
    with pytest.raises(ValueError, match=r"Expected a regressor for `conformal`. Received: a classification "
                                         r"model .*use tfvb.calibrate.conformal_sets"):
        conformal(LookupClassifier(probs), index_column(40), np.zeros(40))
    with pytest.raises(ValueError, match=r"Expected a predictive model: one with a `predict_uncertainty.*or a "
                                         r"keras.Model with tfvb layers.* Received: object"):
        conformal(object(), index_column(40), np.zeros(40))
