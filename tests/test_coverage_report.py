"""tfvb.calibrate.interval_coverage / set_coverage: a card's coverage numbers, on models whose answer is known."""

from statistics import NormalDist

import numpy as np
import pytest

import tfvb


def _binomial_sd(p, n):
    return np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("coverage", [0.9, 0.95])
def test_a_calibrated_gaussian_covers_its_nominal_share_and_its_widths_are_exact(coverage):
    rng = np.random.default_rng(0)
    n = 4000
    mean, sd = rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)
    y = mean + sd * rng.normal(size=n)
    c = tfvb.calibrate.interval_coverage({"mean": mean, "variance": sd**2}, y, coverage=coverage, splits=50)
    z = NormalDist().inv_cdf((1 + coverage) / 2)
    assert abs(c["gaussian"]["coverage"] - coverage) < 4 * _binomial_sd(coverage, n)
    assert c["gaussian"]["mean_width"] == pytest.approx(2 * z * sd.mean())
    # Normalized scores of a calibrated Gaussian are |N(0,1)|: q_hat -> z, so the widths match the Gaussian's.
    assert c["conformal_normalized"]["mean_width"] == pytest.approx(2 * z * sd.mean(), rel=0.05)
    for score in ("absolute", "normalized"):
        got = c[f"conformal_{score}"]
        # The mean over splits of a coverage that is >= nominal in expectation, within its error of the mean.
        assert got["coverage"] > coverage - 4 * _binomial_sd(coverage, n / 2) / np.sqrt(50)
        assert got["coverage"] < coverage + 1 / (n / 2 + 1) + 4 * _binomial_sd(coverage, n / 2)
        assert 0 < got["coverage_sd"] < 0.05
    assert c["rows"] == n and c["calibration_rows"] == n // 2 and c["nominal"] == coverage


def test_an_overconfident_model_undercovers_with_gaussian_intervals_but_not_with_conformal_ones():
    rng = np.random.default_rng(1)
    n = 3000
    mean = rng.normal(size=n)
    y = mean + 2.0 * rng.normal(size=n)  # the truth has sd 2; the model claims 1
    c = tfvb.calibrate.interval_coverage({"mean": mean, "std": np.ones(n)}, y, coverage=0.9, splits=40)
    expected = 2 * NormalDist().cdf(NormalDist().inv_cdf(0.95) / 2) - 1  # P(|N(0, 4)| <= 1.645)
    assert abs(c["gaussian"]["coverage"] - expected) < 4 * _binomial_sd(expected, n)
    assert c["conformal_absolute"]["coverage"] > 0.88
    assert c["conformal_absolute"]["mean_width"] == pytest.approx(2 * 2 * NormalDist().inv_cdf(0.95), rel=0.06)


def test_sets_of_a_calibrated_classifier_cover_and_a_sure_classifier_gets_singletons():
    rng = np.random.default_rng(2)
    n, classes = 4000, 5
    logits = 2.0 * rng.normal(size=(n, classes))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(classes, p=p) for p in probs])  # labels drawn from the model: calibrated
    c = tfvb.calibrate.set_coverage({"mean": probs}, labels, coverage=0.9, splits=50)
    assert c["coverage"] > 0.9 - 4 * _binomial_sd(0.9, n / 2) / np.sqrt(50)
    assert c["coverage"] < 0.9 + 4 * _binomial_sd(0.9, n / 2)
    assert 1 < c["mean_set_size"] < classes
    sure = tfvb.calibrate.set_coverage({"mean": np.eye(classes)[labels] * 0.96 + 0.01}, labels, coverage=0.9,
                                       splits=10)
    assert sure["coverage"] == 1.0 and sure["mean_set_size"] == 1.0
    raps = tfvb.calibrate.set_coverage({"mean": probs}, labels, coverage=0.9, score="raps", splits=20)
    assert raps["score"] == "raps" and raps["coverage"] > 0.88
    # Randomized sets keep the coverage (to within 1/(n+1) above it) and are smaller on average.
    randomized = tfvb.calibrate.set_coverage({"mean": probs}, labels, coverage=0.9, randomized=True, splits=50)
    assert abs(randomized["coverage"] - 0.9) < 4 * _binomial_sd(0.9, n / 2) / np.sqrt(50) + 1 / (n / 2 + 1)
    assert randomized["mean_set_size"] < c["mean_set_size"] and randomized["randomized"]


def test_bad_inputs_are_refused():
    u = {"mean": np.zeros(10), "variance": np.ones(10)}
    with pytest.raises(ValueError, match="coverage"):
        tfvb.calibrate.interval_coverage(u, np.zeros(10), coverage=1.5)
    with pytest.raises(ValueError, match="y.shape"):
        tfvb.calibrate.interval_coverage(u, np.zeros(11))
    with pytest.raises(ValueError, match="calibration"):
        tfvb.calibrate.interval_coverage(u, np.zeros(10), calibration_fraction=1.0)
    with pytest.raises(ValueError, match="finite"):
        tfvb.calibrate.interval_coverage({"mean": np.full(10, np.nan), "variance": np.ones(10)}, np.zeros(10))
    with pytest.raises(ValueError, match="too few|calibration"):
        tfvb.calibrate.interval_coverage(u, np.zeros(10), coverage=0.95)  # 5 calibration rows cannot give 95 %
    probs = np.full((10, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"labels in \[0, 2\]"):
        tfvb.calibrate.set_coverage({"mean": probs}, np.full(10, 3))
    with pytest.raises(ValueError, match="one label per row"):
        tfvb.calibrate.set_coverage({"mean": probs}, np.zeros(9, int))
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        tfvb.calibrate.set_coverage({"mean": np.ones(10)}, np.zeros(10, int))


def test_the_other_task_and_alpha_are_refused_with_what_to_use_instead():
    regression = {"mean": np.zeros(40), "variance": np.ones(40)}
    classification = {"mean": np.full((40, 3), 1 / 3), "entropy": np.full(40, np.log(3))}
    with pytest.raises(ValueError, match=r"Expected a regressor for `interval_coverage`. Received: a classification "
                                         r"model .*; use tfvb.calibrate.set_coverage"):
        tfvb.calibrate.interval_coverage(classification, np.zeros(40))
    with pytest.raises(ValueError, match=r"Expected a classifier for `set_coverage`. Received: a regression model "
                                         r"\(predict_uncertainty keys \['mean', 'variance'\]\); use "
                                         r"tfvb.calibrate.interval_coverage"):
        tfvb.calibrate.set_coverage(regression, np.zeros(40, int))
    with pytest.raises(ValueError, match=r"Expected coverage=1 - alpha for `interval_coverage` \(e.g. "
                                         r"coverage=0.9\).* Received: alpha=0.1"):
        tfvb.calibrate.interval_coverage(regression, np.zeros(40), alpha=0.1)
    with pytest.raises(ValueError, match=r"Expected coverage=1 - alpha for `set_coverage`.* Received: alpha=0.1"):
        tfvb.calibrate.set_coverage(classification, np.zeros(40, int), alpha=0.1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'splitz'"):
        tfvb.calibrate.set_coverage(classification, np.zeros(40, int), splitz=3)
