"""Conformal prediction sets for classifiers: APS (Romano et al. 2020) and RAPS (Angelopoulos et al. 2021).

With predictive probabilities p(c | x) (a Bayesian model's MC average), sort
the classes by decreasing probability; for class c at rank o(c) (1-based)
let rho(c) be the total probability of the classes ranked above it. The
score of a candidate label c is

    aps    s(x, c) = rho(c) + u p(c | x)
    raps   s(x, c) = rho(c) + u p(c | x) + lam max(0, o(c) - k_reg)

with u = 1 (randomized=False, the default) or u ~ Uniform(0, 1) drawn per
example (randomized=True). On a calibration split, q_hat = the
ceil((n + 1)(1 - alpha))-th smallest of the scores s(x_i, y_i)
(`tfvb.calibrate.conformal_quantile`), and the prediction set is

    C(x) = {c : s(x, c) <= q_hat}

which is the most probable classes, in order, until their probabilities
(plus the RAPS penalty) pass q_hat. Since y in C(x) exactly when
s(x, y) <= q_hat, for exchangeable data

    P(y in C(x)) >= 1 - alpha.

Non-randomized sets (the default) keep this guarantee and are never empty
unless q_hat < the top probability; their coverage can exceed 1 - alpha +
1/(n + 1) when scores tie (a confident model's top probabilities round to the
same float). Randomized sets (Romano et al.'s u) break the ties: their
coverage is within [1 - alpha, 1 - alpha + 1/(n + 1)] and their sets are
smaller on average, but a set may be empty and the same input may get
different sets from different draws of u: u is drawn per row of a call from
`seed`, so with a fixed seed the same call gives the same sets, while an input
moved to another row (or another batch) gets another u.

RAPS's penalty (lam > 0) stops the long tail of tiny probabilities from
entering the set: ranks beyond k_reg cost lam each, so sets stay small when
the model's low-ranked probabilities are noisy. Angelopoulos et al. choose
lam and k_reg on held-out data; the defaults here (lam = 0.01, k_reg = 1)
are a starting point, not tuned, and any choice keeps the guarantee.

Example:
    >>> images, labels = tfvb.data.mnist_sample()                  # 2,000 digits bundled with tfvb
    >>> model = tfvb.models.MCDropoutClassifier(10, hidden_units=(64,), dropout_rate=0.1, seed=0)
    >>> model.compile(keras.optimizers.Adam(1e-3))
    >>> history = model.fit(images[:1000], labels[:1000], epochs=2, verbose=0)
    >>> sets = tfvb.calibrate.conformal_sets(model, images[1000:1500], labels[1000:1500], coverage=0.9,
    ...                                      samples=20)
    >>> mask, size = sets.prediction_set(images[1500:])           # (500, 10) booleans, (500,) sizes
    >>> mask.shape, bool(mask[np.arange(500), labels[1500:]].mean() > 0.8)
    ((500, 10), True)

References:
    Romano, Sesia, Candès. Classification with Valid and Adaptive Coverage. NeurIPS 2020.
    Angelopoulos, Bates, Malik, Jordan. Uncertainty Sets for Image Classifiers
    using Conformal Prediction. ICLR 2021.
"""

import math
import numbers

import numpy as np

from tfvb import _checks
from tfvb.calibrate import _predictive, _wrapper, quantile

__all__ = ["conformal_sets", "ConformalClassifier", "set_scores", "SCORES"]

SCORES = ("aps", "raps")


def set_scores(probs, score="aps", randomized=False, lam=0.01, k_reg=1, rng=None):
    """s(x, c) for every class c (see the module docstring): probabilities (N, C) -> scores (N, C).

    Args:
        probs: predictive class probabilities (N, C) (rows renormalized to sum to 1).
        score: "aps" or "raps" (the penalty `lam` and `k_reg` apply to "raps" only).
        randomized: u ~ Uniform(0, 1) per example instead of u = 1.
        lam, k_reg: RAPS's penalty per rank beyond `k_reg`.
        rng: a numpy Generator (or seed) for the u of randomized scores.
    """
    score = _checks.one_of("score", score, set(SCORES))
    randomized = _checks.boolean("randomized", randomized)
    probs = _checks.finite_array("probs", np.asarray(probs, np.float64))
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"Expected class probabilities of shape (N, C), C >= 2. Received: shape={probs.shape}")
    sums = probs.sum(axis=1, keepdims=True)
    if probs.size and (probs.min() < 0 or sums.min() <= 0):
        raise ValueError(f"Expected class probabilities: non-negative rows with a positive sum. Received: smallest "
                         f"value {probs.min():.4g}, smallest row sum {sums.min():.4g}")
    probs = probs / sums
    order = np.argsort(-probs, axis=1, kind="stable")
    ranked = np.take_along_axis(probs, order, axis=1)
    above = np.cumsum(ranked, axis=1) - ranked  # rho: probability of the classes ranked before
    u = np.random.default_rng(rng).uniform(size=(len(probs), 1)) if randomized else 1.0
    ranked_scores = above + u * ranked
    if score == "raps":
        lam = _checks.non_negative_float("lam", lam)
        k_reg = _k_reg(k_reg)
        ranked_scores = ranked_scores + lam * np.maximum(0, np.arange(1, probs.shape[1] + 1) - k_reg)
    scores = np.empty_like(ranked_scores)
    np.put_along_axis(scores, order, ranked_scores, axis=1)
    return scores


def _k_reg(value):
    """RAPS's k_reg: a non-negative integer (a numpy integer too), refused otherwise (1.7 was read as 1)."""
    return _checks.integer("k_reg", value, minimum=0)


def conformal_sets(model, x, y, coverage=0.9, score="aps", randomized=False, lam=0.01, k_reg=1, samples=None,
                   seed=0, task=None, mc_dropout=False, **kwargs):
    """Calibrate a classifier's prediction sets on a held-out split (APS / RAPS, see the module docstring).

    Args:
        model: a classifier with `predict_uncertainty` returning `mean` (N, C), or a keras.Model with tfvb
            layers that `tfvb.predict_uncertainty` samples.
        x: calibration inputs, not used in training (nor in temperature scaling).
        y: their labels, integers (N,) or one-hot rows (N, C).
        coverage: the target coverage 1 - alpha, in (0, 1).
        score: "aps" or "raps".
        randomized: Romano et al.'s randomized scores (see the module docstring).
        lam, k_reg: RAPS's penalty.
        samples: the model's draws per prediction (None: its default); kept for its predictions.
        seed: the draws' seed and that of u, kept likewise.
        task: "classification" for a keras.Model whose compiled loss or softmax head does not tell; None
            otherwise.
        mc_dropout: for a keras.Model, whether its Dropout layers drop in every draw; kept.
        **kwargs: passed to `predict_uncertainty`.

    Returns:
        A `ConformalClassifier`: `prediction_set(x)` gives the (N, C) mask and the set sizes.

    Raises:
        ValueError: on coverage outside (0, 1), a regressor, mismatched or
            non-finite `x` and `y`, labels outside [0, C), or too few calibration points.
    """
    # The options are checked before the Monte Carlo prediction, which may take minutes.
    _predictive.refuse_alpha(kwargs, "conformal_sets")
    calibrated = ConformalClassifier(model, 0.0, coverage=coverage, score=score, randomized=randomized, lam=lam,
                                     k_reg=k_reg, samples=samples, seed=seed, task=task, mc_dropout=mc_dropout)
    coverage = calibrated.coverage
    x, y = _predictive.calibration_inputs(x, y)
    quantile.require_finite(len(x), coverage)
    u = _predictive.predict(calibrated.source, x, samples, seed, **kwargs)
    _predictive.require_task(u, "classification", "conformal_sets")
    labels = _predictive.class_labels(y, u["mean"].shape[1])
    scores = calibrated._scores(u["mean"], seed, calibration=True)
    calibrated.quantile = quantile.conformal_quantile(scores[np.arange(len(labels)), labels], coverage)
    return calibrated


@_wrapper.register
class ConformalClassifier(_wrapper.CalibratedModel):
    """A classifier with conformal prediction sets (see the module docstring).

    Args:
        base: the classifier.
        quantile: q_hat.
        coverage, score, randomized, lam, k_reg: as in `conformal_sets`.
        samples, seed, task, mc_dropout: as in `CalibratedModel` (`samples`, `seed`: the defaults of its
            predictions).
    """

    TASK = "classification"
    FUNCTION = "conformal_sets"

    def __init__(self, base, quantile, coverage=0.9, score="aps", randomized=False, lam=0.01, k_reg=1, samples=None,
                 seed=None, task=None, mc_dropout=False, **kwargs):
        super().__init__(base, samples=samples, seed=seed, task=task, mc_dropout=mc_dropout, **kwargs)
        if isinstance(quantile, (bool, str)) or not isinstance(quantile, numbers.Real) or math.isnan(quantile):
            raise ValueError(f"Expected `quantile` to be a number (+inf: every set holds every class). Received: "
                             f"quantile={quantile!r}")
        self.quantile = float(quantile)
        self.coverage = _checks.open_unit_interval("coverage", coverage)
        self.score = _checks.one_of("score", score, set(SCORES))
        self.randomized = _checks.boolean("randomized", randomized)
        self.lam = _checks.non_negative_float("lam", lam)
        self.k_reg = _k_reg(k_reg)

    def _scores(self, probs, seed, calibration=False):
        # The u of the calibration and of the predictions come from distinct streams of one seed.
        rng = None if seed is None else np.random.default_rng([int(seed) % 2**32, 0 if calibration else 1])
        return set_scores(probs, self.score, self.randomized, self.lam, self.k_reg, rng)

    def prediction_set(self, x, samples=None, seed=None, **kwargs):
        """(mask, size): the boolean (N, C) prediction sets and their sizes (N,)."""
        u = self.predict_uncertainty(x, samples=samples, seed=seed, **kwargs)
        return u["prediction_set"], u["set_size"]

    def predict_uncertainty(self, x, samples=None, seed=None, **kwargs):
        """The base model's `predict_uncertainty` plus `prediction_set` (N, C) and `set_size` (N,)."""
        samples, seed = self._defaults(samples, seed)
        u = _predictive.predict(self.source, x, samples, seed, **kwargs)
        mask = self._scores(u["mean"], seed) <= self.quantile
        return {**u, "prediction_set": mask, "set_size": mask.sum(axis=1)}

    def _served_calibration(self):
        u = ("u ~ Uniform(0, 1) per example (randomized=True: this model draws it from its seed)" if self.randomized
             else "u = 1")
        return (f"the {self.score.upper()} sets: the classes whose `tfvb.calibrate.set_scores(mean of the draws' "
                f"probabilities, score={self.score!r}, randomized={self.randomized}, lam={self.lam!r}, "
                f"k_reg={self.k_reg!r})` <= q_hat = {self.quantile!r} ({u})")

    def get_config(self):
        return {**super().get_config(), "quantile": self.quantile, "coverage": self.coverage, "score": self.score,
                "randomized": self.randomized, "lam": self.lam, "k_reg": self.k_reg}
