"""The recipes' shared helpers: how a card says a run converged, and the standard errors of a classifier card."""

import numpy as np
import pytest

from tfvb.zoo import driver


def _classifier_recipe():
    return driver.recipe("bnn_flipout_mnist").recipe  # zoo/_classifier_recipe.py, as the entry's recipe imports it


def test_a_card_says_whether_the_stop_rule_or_the_epoch_cap_ended_the_run():
    _classifier_recipe()  # puts zoo/ on the path
    from _convergence import convergence_metrics

    assert convergence_metrics({"stopped_early": True, "best_epoch": 56, "epochs_run": 76}) == \
        {"epochs_to_convergence": 56}
    # Still improving when the cap cut it: no epoch of convergence to report, the cap instead.
    assert convergence_metrics({"stopped_early": False, "best_epoch": 199, "epochs_run": 200}) == \
        {"epochs_to_convergence": None, "epoch_cap": 200}


def _predictions(n, m, seed=0):
    rng = np.random.default_rng(seed)
    logits = 2.0 * rng.normal(size=(n, 10))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(10, p=p) for p in probs])  # calibrated by construction
    score_in, score_out = rng.normal(0.0, 1.0, n), rng.normal(1.0, 1.0, m)  # a binormal AUROC of about 0.76
    return probs, labels, {"entropy": score_in, "mutual_information": score_in}, \
        {"entropy": score_out, "mutual_information": score_out}


def test_classifier_standard_errors_match_their_closed_forms():
    recipe = _classifier_recipe()
    probs, y, u_in, u_out = _predictions(3000, 2000)
    se = recipe.standard_errors(probs, y, u_in, u_out, resamples=300)
    n = len(y)
    accuracy = np.mean(probs.argmax(1) == y)
    assert se["accuracy_se"] == pytest.approx(np.sqrt(accuracy * (1 - accuracy) / n))
    nll = -np.log(probs[np.arange(n), y])
    assert se["nll_se"] == pytest.approx(nll.std(ddof=1) / np.sqrt(n))
    brier = ((probs - np.eye(10)[y]) ** 2).sum(1)
    assert se["brier_se"] == pytest.approx(brier.std(ddof=1) / np.sqrt(n))
    # The AUROC's bootstrap standard error against Hanley & McNeil's (1982) formula.
    from tfvb.evaluate import ood_auroc

    a, m = ood_auroc(u_in["entropy"], u_out["entropy"]), len(u_out["entropy"])
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    hanley = np.sqrt((a * (1 - a) + (m - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (n * m))
    assert se["ood_auroc_entropy_se"] == pytest.approx(hanley, rel=0.2)
    # ECE is not a mean over examples: its bootstrap spread is positive, small, and the same for the same seed.
    assert 0 < se["ece_se"] < 0.02
    assert recipe.standard_errors(probs, y, u_in, u_out, resamples=300) == se


def test_predictive_metrics_floor_only_an_exact_zero():
    """A confident mistake's NLL counts in full (a 1e-12 floor had hidden up to 27.6 nats a digit)."""
    recipe = _classifier_recipe()
    probs, y, u_in, u_out = _predictions(200, 200)
    probs = probs.copy()
    probs[0] = 1e-20
    probs[0, (y[0] + 1) % 10] = 1 - 9e-20
    measured = recipe.predictive_metrics({**u_in, "mean": probs}, u_out, y, conformal=False)
    nll = -np.log(probs[np.arange(200), y] / probs.sum(1))
    assert measured["nll"] == pytest.approx(nll.mean()) and nll[0] > 45
