"""Calibration error, reliability diagram and OOD AUROC."""

import numpy as np
import pytest

from tfvb import evaluate
from tfvb.evaluate import expected_calibration_error, ood_auroc, reliability_diagram
from tfvb.evaluate.calibration import calibration_bins


def _binary(confidence, correct):
    """Two-class probabilities whose top class is 0 with the given confidence, and labels."""
    probs = np.stack([confidence, 1 - confidence], axis=1)
    return probs, np.where(correct, 0, 1)


def test_ece_of_a_constant_overconfident_classifier_is_exact():
    probs, labels = _binary(np.full(1000, 0.9), np.arange(1000) < 600)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3, abs=1e-12)


def test_ece_of_a_calibrated_classifier_is_within_sampling_error(rng):
    n = 20000
    conf = rng.uniform(0.5, 1.0, n)
    probs, labels = _binary(conf, rng.random(n) < conf)
    bins = calibration_bins(probs, labels, 15)
    filled = bins["count"] > 0
    # acc_b - conf_b is about N(0, sd_b^2), sd_b = sqrt(c(1-c) / n_b): E[ECE] ~ sqrt(2/pi) sum_b w_b sd_b,
    # and ECE's own standard deviation is far below that, so twice the sum is many of them away.
    sd = np.sqrt(bins["confidence"][filled] * (1 - bins["confidence"][filled]) / bins["count"][filled])
    bound = np.sum(bins["count"][filled] / n * sd)
    assert expected_calibration_error(probs, labels) < 2 * bound


def test_ece_matches_a_direct_loop(rng):
    probs = rng.dirichlet(np.ones(4), size=500)
    labels = rng.integers(0, 4, 500)
    conf, pred = probs.max(1), probs.argmax(1)
    want = 0.0
    for lo, hi in zip(np.linspace(0, 1, 11)[:-1], np.linspace(0, 1, 11)[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            want += inside.mean() * abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
    assert expected_calibration_error(probs, labels, num_bins=10) == pytest.approx(want, abs=1e-12)


def test_ood_auroc_matches_pairwise_count_with_ties(rng):
    s_in = rng.integers(0, 5, 60).astype(float)
    s_out = rng.integers(2, 8, 40).astype(float)
    pairs = (s_out[:, None] > s_in[None, :]).mean() + 0.5 * (s_out[:, None] == s_in[None, :]).mean()
    assert ood_auroc(s_in, s_out) == pytest.approx(pairs, abs=1e-12)
    assert ood_auroc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert ood_auroc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert ood_auroc(np.ones(5), np.ones(3)) == 0.5


def test_reliability_diagram_writes_png(tmp_path, rng):
    probs = rng.dirichlet(np.ones(3), size=200)
    labels = rng.integers(0, 3, 200)
    path = tmp_path / "reliability.png"
    fig = reliability_diagram(probs, labels, path=str(path), title="test")
    assert fig.axes[0].get_xlabel() == "confidence"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs():
    probs = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"Expected `probs` of shape \(N, C\)"):
        expected_calibration_error(probs[0], [0])
    with pytest.raises(ValueError, match=r"Expected integer `labels` of shape \(4,\)"):
        expected_calibration_error(probs, [0, 1])
    with pytest.raises(ValueError, match=r"Expected `labels` in \[0, 2\]. Received labels in \[0, 3\]"):
        expected_calibration_error(probs, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="Expected `num_bins` to be a positive integer"):
        expected_calibration_error(probs, [0, 1, 2, 0], num_bins=0)
    with pytest.raises(ValueError, match="Expected non-empty score arrays"):
        ood_auroc([], [1.0])
    with pytest.raises(ValueError, match="Expected `scores_out` to be finite"):
        ood_auroc([1.0], [np.nan])


def test_brier_score_closed_forms_and_a_direct_loop(rng):
    # Certain and right: 0; certain and wrong: 2; uniform over C classes: 1 - 1/C.
    assert evaluate.brier_score(np.eye(3), [0, 1, 2]) == 0.0
    assert evaluate.brier_score(np.eye(3), [1, 2, 0]) == 2.0
    assert np.isclose(evaluate.brier_score(np.full((4, 5), 0.2), [0, 1, 2, 3]), 1 - 1 / 5)
    probs = rng.dirichlet(np.ones(4), size=50)
    labels = rng.integers(0, 4, size=50)
    loop = np.mean([sum((probs[i, c] - (c == labels[i])) ** 2 for c in range(4)) for i in range(50)])
    assert np.isclose(evaluate.brier_score(probs, labels), loop)
    with pytest.raises(ValueError, match="labels"):
        evaluate.brier_score(probs, labels[:-1])


def test_ood_aupr_matches_a_direct_average_precision_and_its_limits(rng):
    # Perfect separation: 1; all scores equal: the share of positives; a hand-computed case.
    assert evaluate.ood_aupr([0.1, 0.2], [0.5, 0.9]) == 1.0
    assert np.isclose(evaluate.ood_aupr(np.zeros(6), np.zeros(2)), 2 / 8)
    # scores desc: out 0.9 (P=1, R=.5), in 0.8, out 0.7 (P=2/3, R=1): AP = .5 * 1 + .5 * 2/3.
    assert np.isclose(evaluate.ood_aupr([0.8, 0.1], [0.9, 0.7]), 0.5 + 0.5 * 2 / 3)
    s_in, s_out = rng.normal(size=300), rng.normal(0.8, 1.0, size=100)
    scores = np.r_[s_in, s_out]
    labels = np.r_[np.zeros(300), np.ones(100)]
    order = np.argsort(-scores)
    hits = np.cumsum(labels[order])
    loop = sum(hits[i] / (i + 1) for i in range(400) if labels[order][i] == 1) / 100  # no ties here
    assert np.isclose(evaluate.ood_aupr(s_in, s_out), loop)
    with pytest.raises(ValueError, match="non-empty"):
        evaluate.ood_aupr([], [1.0])


def test_true_class_probabilities_renormalize_and_floor_only_an_exact_zero():
    # float32 rows summing to 1 within rounding: renormalized in float64, so every score sees the same rows.
    probs = np.array([[0.7, 0.2, 0.1 + 4e-4], [0.0, 1.0, 0.0], [0.25, 0.25, 0.5]], np.float32)
    p = evaluate.true_class_probabilities(probs, [0, 0, 2])
    assert p.dtype == np.float64
    assert np.isclose(p[0], 0.7 / (1 + 4e-4), rtol=1e-6) and p[2] == 0.5
    # An exact 0 (a softmax underflowing): float64's smallest normal number, about 708 nats, not inf.
    assert p[1] == np.finfo(np.float64).tiny and np.isclose(-np.log(p[1]), 708.4, atol=0.1)
    # Nothing else is clipped: a 1e-30 probability costs its own 69 nats (an epsilon floor would cap it).
    assert np.isclose(-np.log(evaluate.true_class_probabilities([[1e-30, 1 - 1e-30]], [0])[0]), 30 * np.log(10))
    assert np.allclose(evaluate.true_class_probabilities(np.eye(3), np.eye(3)), 1.0)  # one-hot labels
    with pytest.raises(ValueError, match=r"apply a softmax to logits"):
        evaluate.true_class_probabilities([[2.0, -1.0]], [0])
    with pytest.raises(ValueError, match=r"Expected `labels` in \[0, 1\]"):
        evaluate.true_class_probabilities([[0.5, 0.5]], [2])
