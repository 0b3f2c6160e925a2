"""Conformal prediction sets (APS, RAPS): coverage on real digits over many random splits, the scores, saving.

An MC-dropout MLP is fitted once on 1,000 bundled MNIST digits; its MC
predictive (20 passes) on the other 1,000 is re-split R = 1,000 times into n
calibration digits and a test remainder. The mean test coverage must be at
least 1 - alpha - 3 SE for every variant; randomized scores are continuous,
so theirs must also be at most 1 - alpha + 1/(n + 1) + 3 SE (Romano et al.
2020, Theorem 1). Non-randomized sets may cover more than that when scores
tie, which the test does not forbid.
"""

import keras
import numpy as np
import pytest
from lookup_models import (
    LookupClassifier,
    LookupRegressor,
    MeanOnlyClassifier,
    index_column,
    mean_and_se,
    mnist_classifier,
    random_splits,
)

import tfvb
from tfvb.calibrate import ConformalClassifier, conformal_sets, set_scores, temperature_scale

REPEATS = 1000


@pytest.fixture(scope="module")
def digits():
    """(labels, MC predictive probabilities) of the 1,000 digits the model was not trained on."""
    images, labels = tfvb.data.mnist_sample()
    mean = mnist_classifier().predict_uncertainty(images[1000:], samples=20, seed=0)["mean"]
    return labels[1000:], mean


def set_coverages(mean, labels, n_cal, coverage, **kwargs):
    model, x = MeanOnlyClassifier(mean), index_column(len(labels))
    hits, sizes = [], []
    for i, (cal, test) in enumerate(random_splits(len(labels), n_cal, REPEATS, seed=n_cal)):
        # A seed per split: the u of randomized scores are drawn afresh, as the guarantee averages over them.
        calibrated = conformal_sets(model, x[cal], labels[cal], coverage=coverage, seed=i, **kwargs)
        mask, size = calibrated.prediction_set(x[test])
        hits.append(mask[np.arange(len(test)), labels[test]].mean())
        sizes.append(size.mean())
    return mean_and_se(hits) + (float(np.mean(sizes)),)


def _cases():
    """Every score x randomization x (coverage, n); two run by default, the rest with `-m slow`."""
    fast = {("aps", False, 0.9, 99), ("raps", True, 0.95, 400)}
    return [pytest.param(*case, marks=() if case in fast else pytest.mark.slow)
            for case in [(s, r, c, n) for s in ("aps", "raps") for r in (False, True) for c, n in ((0.9, 99),
                                                                                                 (0.95, 400))]]


@pytest.mark.parametrize("score, randomized, coverage, n_cal", _cases())
def test_set_coverage_over_random_splits(digits, score, randomized, coverage, n_cal):
    labels, mean = digits
    covered, se, size = set_coverages(mean, labels, n_cal, coverage, score=score, randomized=randomized)
    assert covered >= coverage - 3 * se, (covered, se)
    if randomized:
        assert covered <= coverage + 1 / (n_cal + 1) + 3 * se, (covered, se)
    assert 1.0 <= size < 10.0 if not randomized else 0.0 < size < 10.0


def test_scores_by_hand():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    np.testing.assert_allclose(set_scores(probs), [[0.5, 0.8, 1.0], [1.0, 0.6, 0.9]])
    # RAPS adds lam per rank beyond k_reg: ranks 2 and 3 cost 0.1 and 0.2 with k_reg = 1.
    np.testing.assert_allclose(set_scores(probs, "raps", lam=0.1, k_reg=1), [[0.5, 0.9, 1.2], [1.2, 0.6, 1.0]])
    # Randomized: rho + u p with one u per example.
    u = np.random.default_rng(7).uniform(size=(2, 1))
    np.testing.assert_allclose(set_scores(probs, randomized=True, rng=7),
                               [[0, 0.5, 0.8], [0.9, 0, 0.6]] + u * probs)


def test_sets_are_the_top_classes_and_hold_the_label_exactly_when_its_score_is_below_the_quantile(digits):
    labels, mean = digits
    model = MeanOnlyClassifier(mean)
    calibrated = conformal_sets(model, index_column(500), labels[:500], coverage=0.9)
    mask, size = calibrated.prediction_set(index_column(1000)[500:])
    np.testing.assert_array_equal(size, mask.sum(axis=1))
    ranked = np.take_along_axis(mask, np.argsort(-mean[500:], axis=1, kind="stable"), axis=1)
    assert np.all(ranked[:, :-1] >= ranked[:, 1:])  # a prefix of the classes by probability
    scores = set_scores(mean[500:])[np.arange(500), labels[500:]]
    np.testing.assert_array_equal(mask[np.arange(500), labels[500:]], scores <= calibrated.quantile)
    u = calibrated.predict_uncertainty(index_column(1000)[500:])
    assert set(u) == {"mean", "prediction_set", "set_size"}


def test_the_real_model_after_temperature_scaling_saved_and_reloaded(tmp_path):
    images, labels = tfvb.data.mnist_sample()
    model = mnist_classifier()
    scaled = temperature_scale(model, images[1000:1400], labels[1000:1400], samples=8, seed=1)
    sets = conformal_sets(scaled, images[1400:1800], labels[1400:1800], coverage=0.9, score="raps",
                          randomized=True, samples=8, seed=1)
    mask, size = sets.prediction_set(images[1800:])
    assert mask.shape == (200, 10) and mask.dtype == bool
    path = str(tmp_path / "sets.keras")
    sets.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is ConformalClassifier and type(reloaded.base.base) is type(model)
    assert (reloaded.quantile, reloaded.score, reloaded.randomized) == (sets.quantile, "raps", True)
    again, again_size = reloaded.prediction_set(images[1800:])
    np.testing.assert_array_equal(again, mask)
    np.testing.assert_array_equal(again_size, size)


def test_bad_inputs_are_refused(rng):
    probs = rng.dirichlet(np.ones(3), size=(2, 40))
    model, x, labels = LookupClassifier(probs), index_column(40), rng.integers(0, 3, 40)
    with pytest.raises(ValueError, match=r"Expected a classifier for `conformal_sets`. Received: a regression model "
                                         r".*use tfvb.calibrate.conformal"):
        conformal_sets(LookupRegressor({"mean": np.zeros(40), "variance": np.ones(40)}), x, labels)
    with pytest.raises(ValueError, match=r"Expected `coverage` to be a number in the open interval \(0, 1\)"):
        conformal_sets(model, x, labels, coverage=-0.1)
    with pytest.raises(ValueError, match="Expected at least 19 calibration examples for coverage=0.95"):
        conformal_sets(model, x[:10], labels[:10], coverage=0.95)
    with pytest.raises(ValueError, match=r"Expected class labels in \[0, 2\]"):
        conformal_sets(model, x, labels + 1)
    with pytest.raises(ValueError, match="Expected `x` and `y` with the same number of rows"):
        conformal_sets(model, x[:20], labels)
    with pytest.raises(ValueError, match="Expected `score` to be one of"):
        conformal_sets(model, x, labels, score="lac")
    with pytest.raises(ValueError, match="Expected `k_reg` to be a non-negative integer"):
        conformal_sets(model, x, labels, score="raps", k_reg=-1)
    # set_scores read 1.7 as 1 and 0.5 as 0; a numpy integer (a grid of k_reg values) was refused.
    for k_reg in (1.7, 0.5, True):
        with pytest.raises(ValueError, match=rf"Expected `k_reg` to be a non-negative integer. Received: "
                                             rf"k_reg={k_reg!r}"):
            set_scores(probs[0], "raps", k_reg=k_reg)
    np.testing.assert_array_equal(set_scores(probs[0], "raps", k_reg=np.int64(2)),
                                  set_scores(probs[0], "raps", k_reg=2))
    assert conformal_sets(model, x, labels, score="raps", k_reg=np.int64(2)).k_reg == 2
    with pytest.raises(ValueError, match=r"non-negative rows with a positive sum. Received: smallest value -0.1"):
        set_scores([[0.6, 0.5, -0.1]])
    with pytest.raises(ValueError, match=r"Received: smallest value 0, smallest row sum 0"):
        set_scores([[0.0, 0.0, 0.0], [0.2, 0.3, 0.5]])  # gave NaN scores
    for quantile in (float("nan"), "0.5", None):
        with pytest.raises(ValueError, match=r"Expected `quantile` to be a number"):
            ConformalClassifier(model, quantile)  # NaN: every set empty
    # set_coverage with seed=None: fresh splits and draws (it failed inside numpy).
    result = tfvb.calibrate.set_coverage({"mean": probs[0]}, labels, coverage=0.8, randomized=True, splits=3,
                                         seed=None)
    assert 0 <= result["coverage"] <= 1
    onehot = conformal_sets(model, x, np.eye(3)[labels])
    assert onehot.quantile == conformal_sets(model, x, labels).quantile
