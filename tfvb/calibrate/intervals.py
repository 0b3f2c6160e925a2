"""Split conformal prediction intervals for regressors: finite-sample coverage for any model.

A regressor predicts a mean m(x) and a total predictive variance v(x)
(epistemic + aleatoric), and predictive quantiles q_lo(x), q_hi(x) at the
levels alpha / 2 and 1 - alpha / 2. On a calibration split (x_i, y_i),
i = 1..n, not used in training, the nonconformity scores are

    score="absolute"     s_i = |y_i - m(x_i)|                 interval m(x) -+ q_hat
    score="normalized"   s_i = |y_i - m(x_i)| / sqrt(v(x_i))   interval m(x) -+ q_hat sqrt(v(x))
    score="quantile"     s_i = max(q_lo(x_i) - y_i,           interval [q_lo(x) - q_hat, q_hi(x) + q_hat]
                               y_i - q_hi(x_i))

and q_hat = the ceil((n + 1)(1 - alpha))-th smallest score
(`tfvb.calibrate.conformal_quantile`). For a test point exchangeable with
the calibration points,

    1 - alpha  <=  P(y in [lower(x), upper(x)])  <=  1 - alpha + 1 / (n + 1)

(Lei et al. 2018; the upper bound for distinct scores), whatever the model
and however wrong its variance: a miscalibrated model gets wider intervals,
not lower coverage. The absolute score gives every input the same width;
the normalized one lets the width follow the model's uncertainty (Lei et al.
2018, §5.2, "locally weighted"), which is where a Bayesian model's variance
earns its keep. The coverage is marginal (on average over x), not
conditional on x. With D > 1 targets, each has its own quantile and its own
marginal guarantee.

Too few calibration points (n < ceil((1 - alpha) / alpha), e.g. 9 at 90%)
would make q_hat infinite, the interval the whole real line: `conformal`
refuses them.

The quantile score is conformalized quantile regression (CQR, Romano et al.
2019): the model's own band [q_lo, q_hi], widened (q_hat > 0) or narrowed
(q_hat < 0: the band over-covers) by the same amount everywhere, so the
interval keeps the band's shape: wide where the predictive is wide, skewed
where it is skewed. q_lo and q_hi are the model's `lower_quantile` and
`upper_quantile` when its `predict_uncertainty` returns them (heads trained
with the pinball loss), else the quantiles of its Monte Carlo predictive:
of the mixture of its draws' Gaussians, or the empirical quantiles of its
point draws (`tfvb.calibrate.quantile_bands`). Where the normalized score
assumes the predictive is symmetric about the mean with a spread set by the
variance, CQR reads the spread from the predictive's own tails.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-3, 3, size=(600, 1)).astype("float32")
    >>> y = np.sin(x[:, 0]) + 0.3 * rng.normal(size=600)
    >>> model = tfvb.models.MCDropoutRegressor(hidden_units=(32,), dropout_rate=0.1, tau=10.0, seed=0)
    >>> model.compile(keras.optimizers.Adam(1e-2))
    >>> history = model.fit(x[:300], y[:300], epochs=5, verbose=0)
    >>> calibrated = tfvb.calibrate.conformal(model, x[300:500], y[300:500], coverage=0.9, samples=50)
    >>> u = calibrated.predict_uncertainty(x[500:])                      # the model's names, and lower/upper
    >>> covered = (u["lower"] <= y[500:]) & (y[500:] <= u["upper"])
    >>> sorted(u), bool(covered.mean() > 0.75)
    (['aleatoric', 'epistemic', 'lower', 'mean', 'std', 'upper', 'variance'], True)

References:
    Vovk, Gammerman, Shafer. Algorithmic Learning in a Random World. Springer, 2005.
    Lei, G'Sell, Rinaldo, Tibshirani, Wasserman. Distribution-Free Predictive
    Inference for Regression. JASA, 2018.
    Romano, Patterson, Candès. Conformalized Quantile Regression. NeurIPS 2019.
"""

import numpy as np

from tfvb import _checks
from tfvb.calibrate import _predictive, _wrapper, quantile, quantile_bands

__all__ = ["conformal", "ConformalRegressor", "interval_scores", "SCORES"]

SCORES = ("absolute", "normalized", "quantile")


def _std(u, mean):
    """The predicted standard deviation, shaped like `mean` ((N, 1) read as (N,)), checked finite and >= 0."""
    name = "std" if "std" in u else "variance"
    if name not in u:
        raise ValueError(f"Expected a regressor's `predict_uncertainty` dict with `variance` or `std`. Received: "
                         f"keys {sorted(u)}")
    value = _predictive.shaped_like(u[name], mean)
    if value.shape != mean.shape:
        raise ValueError(f"Expected u[{name!r}] of the shape of u['mean'], {mean.shape}. Received: "
                         f"u[{name!r}].shape={np.shape(u[name])}")
    bad = ~(np.isfinite(value) & (value >= 0))
    if bad.any():
        raise ValueError(f"Expected a finite, non-negative u[{name!r}]. Received: {int(bad.sum())} of {value.size} "
                         f"values NaN, infinite or negative (first: {float(value[bad].flat[0])!r})")
    return value if name == "std" else np.sqrt(value)


def _band(u, mean):
    """`lower_quantile`, `upper_quantile` of a prediction dict, shaped like `mean` and checked."""
    missing = [name for name in (quantile_bands.LOWER, quantile_bands.UPPER) if name not in u]
    if missing:
        raise ValueError(f"Expected a prediction dict with `{quantile_bands.LOWER}` and `{quantile_bands.UPPER}` for "
                         f"score='quantile' (`tfvb.calibrate.conformal` computes them from the model's draws). "
                         f"Received: keys {sorted(u)}")
    band = [_predictive.shaped_like(u[name], mean) for name in (quantile_bands.LOWER, quantile_bands.UPPER)]
    for name, value in zip((quantile_bands.LOWER, quantile_bands.UPPER), band):
        _checks.finite_array(f"u[{name!r}]", value)
        if value.shape != mean.shape:
            raise ValueError(f"Expected u[{name!r}] of the shape of u['mean'], {mean.shape}. Received: "
                             f"u[{name!r}].shape={np.shape(u[name])}")
    return band


def interval_scores(u, y, score="absolute"):
    """Nonconformity scores of a prediction dict: |y - mean| (absolute), |y - mean| / std (normalized), or
    max(lower_quantile - y, y - upper_quantile) (quantile, CQR's; negative inside the band).

    Args:
        u: a regressor's `predict_uncertainty` dict (`mean`, and `variance` or `std`; for the quantile
            score `lower_quantile` and `upper_quantile`).
        y: the targets, shaped like `u["mean"]` ((N,) or (N, D); (N, 1) accepted for (N,)).
        score: "absolute", "normalized" or "quantile".

    Returns:
        numpy array of the scores, shaped like `u["mean"]`.
    """
    score = _checks.one_of("score", score, set(SCORES))
    mean = np.asarray(u["mean"], np.float64)
    y = _predictive.regression_targets(y, mean)
    if score == "quantile":
        lower, upper = _band(u, mean)
        return np.maximum(lower - y, y - upper)
    residual = np.abs(y - mean)
    if score == "absolute":
        return residual
    std = _std(u, mean)
    if not np.all(std > 0):
        raise ValueError("Expected a positive predicted standard deviation for score='normalized'. Received "
                         f"{int(np.sum(~(std > 0)))} zero or NaN values (use score='absolute')")
    return residual / std


def conformal(model, x, y, coverage=0.9, score="absolute", samples=None, seed=0, task=None, mc_dropout=False,
              **kwargs):
    """Calibrate a regressor's intervals on a held-out split (split conformal, see the module docstring).

    Args:
        model: a regressor with `predict_uncertainty` returning `mean` and `variance` (any tfvb regressor),
            or a keras.Model with tfvb layers that `tfvb.predict_uncertainty` samples.
        x: calibration inputs, not used in training.
        y: their targets, (N,) or (N, D).
        coverage: the target coverage 1 - alpha, in (0, 1).
        score: "absolute" (|y - mean|), "normalized" (|y - mean| / std) or "quantile" (CQR:
            max(q_lo - y, y - q_hi) with the model's predictive quantiles at (1 -+ coverage) / 2).
        samples: the model's draws per prediction (None: its default); kept for its predictions.
        seed: the draws' seed, kept likewise (None: fresh draws on each call).
        task: "regression" for a keras.Model whose task its compiled loss does not tell (it is not
            compiled); None otherwise.
        mc_dropout: for a keras.Model, whether its Dropout layers drop in every draw; kept.
        **kwargs: passed to `predict_uncertainty` (e.g. `batch_size`).

    Returns:
        A `ConformalRegressor`: its `predict_uncertainty` adds `lower` and `upper` (and for the quantile
        score the uncalibrated band `lower_quantile`, `upper_quantile`).

    Raises:
        ValueError: on coverage outside (0, 1) (or `alpha` given), a classifier, mismatched or
            non-finite `x` and `y`, or too few calibration points.
    """
    _predictive.refuse_alpha(kwargs, "conformal")
    coverage = _checks.open_unit_interval("coverage", coverage)
    score = _checks.one_of("score", score, set(SCORES))
    calibrated = ConformalRegressor(model, 0.0, coverage=coverage, score=score, samples=samples, seed=seed, task=task,
                                    mc_dropout=mc_dropout)
    x, y = _predictive.calibration_inputs(x, y)
    quantile.require_finite(len(x), coverage)
    source = calibrated.source
    u = _predictive.require_task(_predictive.predict(source, x, samples, seed, **kwargs), "regression", "conformal")
    if score == "quantile":
        u = quantile_bands.with_band(source, x, u, coverage, samples, seed, **kwargs)
    calibrated.quantile = quantile.conformal_quantile(interval_scores(u, y, score), coverage)
    return calibrated


@_wrapper.register
class ConformalRegressor(_wrapper.CalibratedModel):
    """A regressor with split-conformal intervals [lower, upper] (see the module docstring).

    Args:
        base: the regressor.
        quantile: q_hat, a float (or one per target); negative only for the quantile score.
        coverage: the coverage it was calibrated for (for the quantile score, also the band's levels).
        score: "absolute", "normalized" or "quantile".
        samples, seed, task, mc_dropout: as in `CalibratedModel` (`samples`, `seed`: the defaults of its
            predictions).
    """

    TASK = "regression"
    FUNCTION = "conformal"

    def __init__(self, base, quantile, coverage=0.9, score="absolute", samples=None, seed=None, task=None,
                 mc_dropout=False, **kwargs):
        super().__init__(base, samples=samples, seed=seed, task=task, mc_dropout=mc_dropout, **kwargs)
        self.coverage = _checks.open_unit_interval("coverage", coverage)
        self.score = _checks.one_of("score", score, set(SCORES))
        self.quantile = quantile

    @property
    def quantile(self):
        return self._quantile

    @quantile.setter
    def quantile(self, value):
        q = np.asarray(value, np.float64)
        # CQR's q_hat is negative when the model's band covers more than asked: the interval narrows.
        if q.ndim > 1 or q.size == 0 or np.any(np.isnan(q)) or (self.score != "quantile" and np.any(q < 0)):
            sign = "" if self.score == "quantile" else "non-negative "
            raise ValueError(f"Expected `quantile` to be a {sign}number (or one per target) for score={self.score!r}. "
                             f"Received: quantile={value!r}")
        self._quantile = float(q) if q.ndim == 0 else q

    def predict_uncertainty(self, x, samples=None, seed=None, **kwargs):
        """The base model's `predict_uncertainty` plus `lower` and `upper`, the conformal interval (and for
        the quantile score the model's band `lower_quantile`, `upper_quantile` it widens)."""
        samples, seed = self._defaults(samples, seed)
        u = _predictive.predict(self.source, x, samples, seed, **kwargs)
        mean = np.asarray(u["mean"], np.float64)
        if self.score == "quantile":
            u = quantile_bands.with_band(self.source, x, u, self.coverage, samples, seed, **kwargs)
            lower, upper = _band(u, mean)
            return {**u, "lower": lower - self.quantile, "upper": upper + self.quantile}
        half = self.quantile * (_std(u, mean) if self.score == "normalized" else np.ones_like(mean))
        with np.errstate(invalid="ignore"):  # inf * 0 (an infinite quantile, a zero std) is an infinite interval
            half = np.where(np.isnan(half), np.inf, half)
        return {**u, "lower": mean - half, "upper": mean + half}

    def _served_calibration(self):
        if self.score == "quantile":
            a_lo, a_hi = quantile_bands.levels(self.coverage)
            return (f"the CQR interval (lower, upper = the draws' predictive quantiles at {a_lo:g}, {a_hi:g} "
                    f"-/+ q, q = {self.quantile!r})")
        half = "q x std" if self.score == "normalized" else "q"
        return f"the conformal interval (lower, upper = mean -/+ {half}, q = {self.quantile!r})"

    def get_config(self):
        q = self.quantile if np.ndim(self.quantile) == 0 else [float(v) for v in self.quantile]
        return {**super().get_config(), "quantile": q, "coverage": self.coverage, "score": self.score}
