"""Split conformal prediction intervals for regressors: finite-sample coverage for any model.

A regressor predicts a mean m(x) and a total predictive variance v(x)
(epistemic + aleatoric). On a calibration split (x_i, y_i), i = 1..n, not used
in training, the nonconformity scores are

    score="absolute"     s_i = |y_i - m(x_i)|                 interval m(x) -+ q_hat
    score="normalized"   s_i = |y_i - m(x_i)| / sqrt(v(x_i))   interval m(x) -+ q_hat sqrt(v(x))

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

Conformalized quantile regression (CQR, Romano et al. 2019) is not offered:
it calibrates predicted quantiles (alpha/2 and 1 - alpha/2 heads trained with
the pinball loss), and no tfvb model predicts quantiles; the normalized score
is the analogue for models that predict a variance.

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
from tfvb.calibrate import _predictive, _wrapper, quantile

__all__ = ["conformal", "ConformalRegressor", "interval_scores", "SCORES"]

SCORES = ("absolute", "normalized")


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


def interval_scores(u, y, score="absolute"):
    """Nonconformity scores |y - mean| (absolute) or |y - mean| / std (normalized) of a prediction dict.

    Args:
        u: a regressor's `predict_uncertainty` dict (`mean`, and `variance` or `std`).
        y: the targets, shaped like `u["mean"]` ((N,) or (N, D); (N, 1) accepted for (N,)).
        score: "absolute" or "normalized".

    Returns:
        numpy array of the scores, shaped like `u["mean"]`.
    """
    score = _checks.one_of("score", score, set(SCORES))
    mean = np.asarray(u["mean"], np.float64)
    residual = np.abs(_predictive.regression_targets(y, mean) - mean)
    if score == "absolute":
        return residual
    std = _std(u, mean)
    if not np.all(std > 0):
        raise ValueError("Expected a positive predicted standard deviation for score='normalized'. Received "
                         f"{int(np.sum(~(std > 0)))} zero or NaN values (use score='absolute')")
    return residual / std


def conformal(model, x, y, coverage=0.9, score="absolute", samples=None, seed=0, **kwargs):
    """Calibrate a regressor's intervals on a held-out split (split conformal, see the module docstring).

    Args:
        model: a regressor with `predict_uncertainty` returning `mean` and `variance`.
        x: calibration inputs, not used in training.
        y: their targets, (N,) or (N, D).
        coverage: the target coverage 1 - alpha, in (0, 1).
        score: "absolute" (|y - mean|) or "normalized" (|y - mean| / std).
        samples: the model's draws per prediction (None: its default); kept for its predictions.
        seed: the draws' seed, kept likewise (None: fresh draws on each call).
        **kwargs: passed to `predict_uncertainty` (e.g. `batch_size`).

    Returns:
        A `ConformalRegressor`: its `predict_uncertainty` adds `lower` and `upper`.

    Raises:
        ValueError: on coverage outside (0, 1), a classifier, mismatched or
            non-finite `x` and `y`, or too few calibration points.
    """
    coverage = _checks.open_unit_interval("coverage", coverage)
    score = _checks.one_of("score", score, set(SCORES))
    x, y = _predictive.calibration_inputs(x, y)
    quantile.require_finite(len(x), coverage)
    u = _predictive.require_task(_predictive.predict(model, x, samples, seed, **kwargs), "regression", "conformal")
    q = quantile.conformal_quantile(interval_scores(u, y, score), coverage)
    return ConformalRegressor(model, q, coverage=coverage, score=score, samples=samples, seed=seed)


@_wrapper.register
class ConformalRegressor(_wrapper.CalibratedModel):
    """A regressor with split-conformal intervals [lower, upper] (see the module docstring).

    Args:
        base: the regressor.
        quantile: q_hat, a float (or one per target).
        coverage: the coverage it was calibrated for.
        score: "absolute" or "normalized".
        samples, seed: the defaults of its predictions.
    """

    def __init__(self, base, quantile, coverage=0.9, score="absolute", samples=None, seed=None, **kwargs):
        super().__init__(base, samples=samples, seed=seed, **kwargs)
        q = np.asarray(quantile, np.float64)
        if q.ndim > 1 or q.size == 0 or np.any(np.isnan(q)) or np.any(q < 0):
            raise ValueError(f"Expected `quantile` to be a non-negative number (or one per target). "
                             f"Received: quantile={quantile!r}")
        self.quantile = float(q) if q.ndim == 0 else q
        self.coverage = _checks.open_unit_interval("coverage", coverage)
        self.score = _checks.one_of("score", score, set(SCORES))

    def predict_uncertainty(self, x, samples=None, seed=None, **kwargs):
        """The base model's `predict_uncertainty` plus `lower` and `upper`, the conformal interval."""
        samples, seed = self._defaults(samples, seed)
        u = _predictive.predict(self.base, x, samples, seed, **kwargs)
        mean = np.asarray(u["mean"], np.float64)
        half = self.quantile * (_std(u, mean) if self.score == "normalized" else np.ones_like(mean))
        with np.errstate(invalid="ignore"):  # inf * 0 (an infinite quantile, a zero std) is an infinite interval
            half = np.where(np.isnan(half), np.inf, half)
        return {**u, "lower": mean - half, "upper": mean + half}

    def _served_calibration(self):
        half = "q x std" if self.score == "normalized" else "q"
        return f"the conformal interval (lower, upper = mean -/+ {half}, q = {self.quantile!r})"

    def get_config(self):
        q = self.quantile if np.ndim(self.quantile) == 0 else [float(v) for v in self.quantile]
        return {**super().get_config(), "quantile": q, "coverage": self.coverage, "score": self.score}
