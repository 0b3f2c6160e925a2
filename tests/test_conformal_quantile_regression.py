"""Conformalized quantile regression (CQR, Romano et al. 2019): the mixture quantile, the score, coverage.

The mixture quantile is checked against closed forms (one Gaussian; a symmetric mixture's median and
its symmetric quantiles) and against its defining equation F(q) = level evaluated one component at a
time. Coverage: a synthetic heteroscedastic regression, y = sin(x) + s(x) e with s(x) = 0.1 + 0.4 |x|,
predicted by an over-confident model (T Gaussian draws with the right mean up to a small epistemic
wobble and half the true spread). Its own 90 % band covers far less than 90 %; CQR's interval, over
R = 1,000 random calibration / test splits of a pool of 1,000 rows, covers k / (n + 1) on average,
k = ceil((n + 1) 0.9), the exact mean for distinct scores (Romano et al. 2019, Theorem 1), checked
within a Bonferroni z of the standard error over splits, as in test_conformal.py.
"""

from statistics import NormalDist

import keras
import numpy as np
import pytest
from lookup_models import LookupRegressor, index_column, mean_and_se, random_splits, rows

import tfvb
from tfvb.calibrate import ConformalRegressor, conformal, interval_scores, mixture_quantile
from tfvb.calibrate.quantile import quantile_rank
from tfvb.calibrate.quantile_bands import levels, with_band

REPEATS = 1000
POOL = 1000
DRAWS = 8
#: Two-sided normal quantile of a family-wise level of 1e-3 over the 3 exact-mean checks (Bonferroni).
Z_EXACT = NormalDist().inv_cdf(1 - 1e-3 / 6)


class GaussianDraws:
    """A stored regressor with T Gaussian draws per row: `predict_samples` gives their means and variances."""

    def __init__(self, means, variances):
        self.means, self.variances = np.asarray(means), np.asarray(variances)

    def predict_samples(self, x, samples=None, seed=None):
        return {"mean": self.means[:, rows(x)], "variance": self.variances[:, rows(x)]}

    def predict_uncertainty(self, x, samples=None, seed=None):
        m, v = self.means[:, rows(x)], self.variances[:, rows(x)]
        mean = m.mean(axis=0)
        return {"mean": mean, "variance": v.mean(axis=0) + m.var(axis=0)}


class PointDraws(GaussianDraws):
    """A stored regressor with T point predictions per row (an ensemble of plain networks)."""

    def predict_samples(self, x, samples=None, seed=None):
        return self.means[:, rows(x)]


def _heteroscedastic(n=POOL, seed=0):
    """(x, y, true noise sd, an over-confident model's Gaussian draws)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=n)
    sd = 0.1 + 0.4 * np.abs(x)
    y = np.sin(x) + sd * rng.normal(size=n)
    means = np.sin(x) + 0.05 * rng.normal(size=(DRAWS, n))
    return x, y, sd, GaussianDraws(means, np.broadcast_to((0.5 * sd) ** 2, (DRAWS, n)))


@pytest.fixture(scope="module")
def pool():
    """(y, sd, the model, its predictions with the 90 % band of its draws): the band computed once."""
    _, y, sd, model = _heteroscedastic()
    x = index_column(POOL)
    return y, sd, model, with_band(model, x, model.predict_uncertainty(x), 0.9)


def test_one_component_is_the_gaussian_quantile(rng):
    mean, std = rng.normal(size=(1, 50)), rng.uniform(0.1, 3.0, size=(1, 50))
    for level in (0.005, 0.05, 0.3, 0.5, 0.9, 0.999):
        want = mean[0] + std[0] * NormalDist().inv_cdf(level)
        np.testing.assert_allclose(mixture_quantile(mean, std, level), want, rtol=0, atol=1e-12)


def test_a_symmetric_mixture_has_its_centre_as_median_and_symmetric_quantiles(rng):
    # Components at most 4 sd apart: further, the CDF is flat at 0.5 to float precision across the gap
    # (any point there is a median, to 1e-16).
    centre, std = rng.normal(size=20), rng.uniform(0.2, 2, size=20)
    half = rng.uniform(0, 2, size=20) * std
    mean = np.stack([centre - half, centre + half])
    std = np.stack([std, std])
    np.testing.assert_allclose(mixture_quantile(mean, std, 0.5), centre, rtol=0, atol=1e-12)
    for level in (0.05, 0.25):
        lo, hi = mixture_quantile(mean, std, level), mixture_quantile(mean, std, 1 - level)
        np.testing.assert_allclose(lo + hi, 2 * centre, rtol=0, atol=1e-11)
    # Far-apart components: the 25 % quantile is the lower one's median, to within its neighbour's tail.
    np.testing.assert_allclose(mixture_quantile(np.array([[-20.0], [20.0]]), np.ones((2, 1)), 0.25), [-20.0],
                               atol=1e-12)


def test_the_mixture_cdf_at_the_quantile_is_the_level_component_by_component(rng):
    mean, std = rng.normal(size=(7, 30)), rng.uniform(0.05, 2.0, size=(7, 30))
    for level in (0.05, 0.5, 0.95):
        q = mixture_quantile(mean, std, level)
        cdf = [np.mean([NormalDist(mean[t, j], std[t, j]).cdf(q[j]) for t in range(7)]) for j in range(30)]
        np.testing.assert_allclose(cdf, level, rtol=0, atol=1e-12)


def test_point_masses_give_the_generalized_inverse():
    # F jumps by 1/3 at 0, 1 and 2: the smallest z with F(z) >= level.
    mean, std = np.array([[0.0], [1.0], [2.0]]), np.zeros((3, 1))
    got = [float(mixture_quantile(mean, std, a)[0]) for a in (0.2, 0.5, 0.9)]
    np.testing.assert_allclose(got, [0.0, 1.0, 2.0], rtol=0, atol=1e-12)


def test_bad_mixtures_are_refused():
    with pytest.raises(ValueError, match=r"Expected `mean` and a non-negative `std` of the same shape .* "
                                         r"Received: mean.shape=\(2, 1\), std.shape=\(2, 2\)"):
        mixture_quantile(np.zeros((2, 1)), np.ones((2, 2)), 0.5)
    with pytest.raises(ValueError, match="smallest std -1"):
        mixture_quantile(np.zeros((2, 1)), -np.ones((2, 1)), 0.5)
    with pytest.raises(ValueError, match=r"Expected `level` to be a number in the open interval \(0, 1\)"):
        mixture_quantile(np.zeros((2, 1)), np.ones((2, 1)), 1.0)


def test_the_score_and_interval_are_romanos():
    u = {"mean": np.zeros(3), "variance": np.ones(3), "lower_quantile": np.array([-1.0, -1.0, -1.0]),
         "upper_quantile": np.array([1.0, 2.0, 1.0])}
    np.testing.assert_array_equal(interval_scores(u, np.array([0.0, 3.0, -4.0]), "quantile"), [-1.0, 1.0, 3.0])
    model = LookupRegressor(u)
    calibrated = ConformalRegressor(model, -0.25, coverage=0.9, score="quantile")  # a band too wide narrows
    out = calibrated.predict_uncertainty(index_column(3))
    np.testing.assert_array_equal(out["lower"], [-0.75] * 3)
    np.testing.assert_array_equal(out["upper"], [0.75, 1.75, 0.75])
    with pytest.raises(ValueError, match=r"Expected `quantile` to be a non-negative number .* "
                                         r"score='absolute'. Received: quantile=-0.25"):
        ConformalRegressor(model, -0.25, score="absolute")


def test_the_band_of_gaussian_draws_is_their_mixture_quantile_and_of_point_draws_the_empirical_one():
    _, _, _, model = _heteroscedastic(n=40)
    x = index_column(40)
    u = with_band(model, x, model.predict_uncertainty(x), 0.8)
    a_lo, a_hi = levels(0.8)
    np.testing.assert_allclose([a_lo, a_hi], [0.1, 0.9], rtol=1e-12)
    std = np.sqrt(model.variances)
    np.testing.assert_array_equal(u["lower_quantile"], mixture_quantile(model.means, std, a_lo))
    np.testing.assert_array_equal(u["upper_quantile"], mixture_quantile(model.means, std, a_hi))
    points = PointDraws(model.means, model.variances)
    v = with_band(points, x, points.predict_uncertainty(x), 0.8)
    np.testing.assert_array_equal(v["upper_quantile"], np.quantile(model.means, 0.9, axis=0))
    # A band the model predicts itself is used as given, without draws.
    given = LookupRegressor({"mean": np.zeros(40), "variance": np.ones(40), "lower_quantile": -np.ones(40),
                             "upper_quantile": np.ones(40)})
    assert with_band(given, x, given.predict_uncertainty(x), 0.8)["upper_quantile"].tolist() == [1.0] * 40


@pytest.mark.parametrize("coverage, n_cal", [(0.9, 19), (0.8, 50), (0.9, 200)])
def test_cqr_covers_k_over_n_plus_1_over_random_splits(pool, coverage, n_cal):
    y, _, _, u = pool
    # The band of the draws at this coverage's levels, computed once for the pool: each split then runs
    # through `conformal` at numpy speed (the draws path is the same function, checked above).
    band = with_band(GaussianDraws(pool[2].means, pool[2].variances), index_column(POOL), u, coverage)
    model, x = LookupRegressor(band), index_column(POOL)
    covered, naive = [], []
    for cal, test in random_splits(POOL, n_cal, REPEATS, seed=n_cal):
        out = conformal(model, x[cal], y[cal], coverage=coverage, score="quantile").predict_uncertainty(x[test])
        covered.append(np.mean((out["lower"] <= y[test]) & (y[test] <= out["upper"])))
        naive.append(np.mean((out["lower_quantile"] <= y[test]) & (y[test] <= out["upper_quantile"])))
    mean, se = mean_and_se(covered)
    assert coverage - 3 * se <= mean <= coverage + 1 / (n_cal + 1) + 3 * se, (mean, se)
    assert abs(mean - quantile_rank(n_cal, coverage) / (n_cal + 1)) <= Z_EXACT * se, (mean, se)
    # Negative control: the over-confident model's own band undercovers by far.
    naive_mean, naive_se = mean_and_se(naive)
    assert naive_mean < coverage - 0.1 - 3 * naive_se, naive_mean


def test_cqr_through_the_draws_matches_the_precomputed_band_and_follows_the_noise(pool):
    y, sd, model, u = pool
    x = index_column(POOL)
    calibrated = conformal(model, x[:500], y[:500], coverage=0.9, score="quantile")
    assert calibrated.quantile == conformal(LookupRegressor(u), x[:500], y[:500], coverage=0.9,
                                            score="quantile").quantile > 0  # the band is too narrow: widened
    out = calibrated.predict_uncertainty(x[500:])
    # The interval is the model's band moved out by q on both sides, so its width follows the noise sd the
    # draws' spread follows (0.1 + 0.4 |x|, up to their epistemic wobble); the absolute score's is flat.
    width = out["upper"] - out["lower"]
    np.testing.assert_allclose(width, out["upper_quantile"] - out["lower_quantile"] + 2 * calibrated.quantile,
                               rtol=1e-12)
    assert np.corrcoef(width, sd[500:])[0, 1] > 0.99
    flat = conformal(model, x[:500], y[:500], coverage=0.9).predict_uncertainty(x[500:])
    np.testing.assert_allclose(np.ptp(flat["upper"] - flat["lower"]), 0, atol=1e-12)
    # One split's coverage: calibration (Beta, variance ~ 0.09 / (n + 2)) and test (binomial, 0.09 / m)
    # sampling, 4 standard deviations of both.
    hit = np.mean((out["lower"] <= y[500:]) & (y[500:] <= out["upper"]))
    assert abs(hit - 0.9) < 4 * np.sqrt(0.09 / 502 + 0.09 / 500), hit


def test_cqr_of_coverage_reports_and_without_quantiles_or_draws_is_refused(pool):
    y, _, _, u = pool
    c = tfvb.calibrate.interval_coverage(u, y, coverage=0.9, splits=50)
    assert abs(c["conformal_quantile"]["coverage"] - 0.9) < 0.02
    assert c["conformal_quantile"]["mean_width"] < c["conformal_absolute"]["mean_width"]
    assert "conformal_quantile" not in tfvb.calibrate.interval_coverage({"mean": u["mean"], "variance":
                                                                         u["variance"]}, y, splits=3)
    with pytest.raises(ValueError, match=r"Expected a prediction dict with `lower_quantile` and `upper_quantile` "
                                         r"for score='quantile'.* Received: keys \['mean', 'variance'\]"):
        interval_scores({"mean": u["mean"], "variance": u["variance"]}, y, "quantile")


def test_a_real_bnn_regressor_gets_cqr_intervals_that_reload(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype("float32")
    y = x[:, 0] + 0.5 * rng.normal(size=200)
    model = tfvb.models.BNNRegressor(hidden_units=(8,), input_dim=3, seed=0)
    calibrated = conformal(model, x[:100], y[:100], coverage=0.8, score="quantile", samples=6, seed=2)
    u = calibrated.predict_uncertainty(x[100:])
    # The band of the model's own draws with the same seed, widened or narrowed by q everywhere.
    draws = model.predict_samples(x[100:], samples=6, seed=2)
    lower = mixture_quantile(draws["mean"], np.sqrt(draws["variance"]), 0.1)
    np.testing.assert_allclose(u["lower"], lower - calibrated.quantile, rtol=1e-10, atol=1e-10)
    path = str(tmp_path / "cqr.keras")
    calibrated.save(path)
    reloaded = keras.saving.load_model(path)
    assert (type(reloaded), reloaded.score, reloaded.quantile) == (ConformalRegressor, "quantile",
                                                                   calibrated.quantile)
    again = reloaded.predict_uncertainty(x[100:])
    for key in u:
        np.testing.assert_allclose(again[key], u[key], rtol=1e-6, atol=1e-6, err_msg=key)
