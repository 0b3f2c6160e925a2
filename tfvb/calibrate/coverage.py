"""How well intervals and prediction sets cover held-out data: the numbers a model card reports.

`interval_coverage(u, y)` and `set_coverage(u, y)` take predictions already
made on held-out data (a `predict_uncertainty` dict) and their true targets,
and measure:

- **Gaussian predictive intervals** (regression): mean -+ z sqrt(variance),
  z the standard normal's (1 + coverage) / 2 quantile. No calibration; their
  coverage is as good as the model's variance.
- **Split conformal intervals and sets**: the held-out rows are split at
  random into a calibration part (a fraction `calibration_fraction`) and a
  test part, q_hat is fitted on the first (`tfvb.calibrate.conformal` /
  `conformal_sets`'s rule, the ceil((n + 1)(1 - alpha))-th score) and
  coverage and width (or set size) measured on the second; this is repeated
  over `splits` random splits and averaged (CQR's too, `conformal_quantile`,
  when the predictions carry the model's `lower_quantile` / `upper_quantile`,
  as `tfvb.calibrate.conformal(..., score="quantile")` reports them). The held-out rows were not used
  in training, so calibration and test rows are exchangeable and each split's
  coverage is at least 1 - alpha in expectation.

Each result carries the mean over splits and its spread, so a card says
"90.3 % +- 0.6 (100 random halvings of 5,000 digits)" rather than one draw.

Example:
    >>> rng = np.random.default_rng(0)
    >>> mean = rng.normal(size=2000); y = mean + rng.normal(size=2000)        # a calibrated N(mean, 1)
    >>> u = {"mean": mean, "variance": np.ones(2000)}
    >>> c = tfvb.calibrate.interval_coverage(u, y, coverage=0.9)
    >>> round(c["gaussian"]["coverage"], 1), round(c["conformal_absolute"]["coverage"], 1)
    (0.9, 0.9)
"""

from statistics import NormalDist

import numpy as np

from tfvb import _checks
from tfvb.calibrate import _predictive, intervals, quantile, quantile_bands, sets

__all__ = ["interval_coverage", "set_coverage"]


def _splits(n, calibration_fraction, splits, seed):
    """`splits` random (calibration, test) index pairs of n rows."""
    calibration_fraction = _checks.open_unit_interval("calibration_fraction", calibration_fraction)
    splits = _checks.positive_int("splits", splits)
    n_cal = int(round(n * calibration_fraction))
    if n_cal < 1 or n - n_cal < 1:
        raise ValueError(f"Expected at least one calibration and one test row. Received: {n} rows with "
                         f"calibration_fraction={calibration_fraction}")
    rng = np.random.default_rng(seed)
    for _ in range(splits):
        order = rng.permutation(n)
        yield order[:n_cal], order[n_cal:]


def _options(kwargs, function):
    """Refuse options the function does not take: `alpha` with what to pass instead, others as Python would."""
    _predictive.refuse_alpha(kwargs, function)
    if kwargs:
        raise TypeError(f"{function}() got an unexpected keyword argument {next(iter(kwargs))!r}")


_OTHER = {"regression": "tfvb.calibrate.interval_coverage (for a regressor's intervals)",
          "classification": "tfvb.calibrate.set_coverage (for a classifier's prediction sets)"}


def _require_task(u, task, function):
    """Refuse a prediction dict of the other task, naming the function for it; leave the rest to the checks."""
    if not isinstance(u, dict) or "mean" not in u:
        raise ValueError(f"Expected `u`, a `predict_uncertainty` dict with at least `mean`. Received: "
                         f"{type(u).__name__}{' with keys ' + str(sorted(u)) if isinstance(u, dict) else ''}")
    try:
        found = _predictive.task_of(u)
    except ValueError:  # neither a classifier's nor a regressor's: the function's own checks say what is wrong
        return
    if found != task:
        _predictive.require_task(u, task, function, instead=_OTHER)


def _summary(values, key):
    values = np.asarray(values, np.float64)
    return {key: float(values.mean()), f"{key}_sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}


def interval_coverage(u, y, coverage=0.9, splits=100, calibration_fraction=0.5, seed=0, conformal=True,
                      **kwargs):
    """Coverage and mean width of a regressor's intervals on held-out rows.

    Args:
        u: `predict_uncertainty` on the held-out rows (`mean`, and `variance` or `std`; with
            `lower_quantile` and `upper_quantile`, CQR is measured too).
        y: their targets, shaped like `u["mean"]`.
        coverage: the nominal coverage 1 - alpha, in (0, 1).
        splits: random calibration / test splits for the conformal intervals.
        calibration_fraction: the share of rows that calibrates in each split.
        seed: the splits' seed.
        conformal: False measures the Gaussian intervals only (e.g. too few rows to calibrate).

    Returns:
        {"gaussian": {"coverage", "mean_width"}, "conformal_absolute": {...},
        "conformal_normalized": {...}, ["conformal_quantile": {...},] "nominal", "rows", "splits",
        "calibration_rows"}; the conformal entries carry the mean over splits
        and its standard deviation (`coverage_sd`, `mean_width_sd`).

    Raises:
        ValueError: on coverage outside (0, 1), mismatched or non-finite arrays,
            or too few calibration rows for a finite quantile.
    """
    _options(kwargs, "interval_coverage")
    coverage = _checks.open_unit_interval("coverage", coverage)
    conformal = _checks.boolean("conformal", conformal)
    _require_task(u, "regression", "interval_coverage")
    mean = _checks.finite_array("u['mean']", np.asarray(u["mean"], np.float64))
    y = _checks.finite_array("y", _predictive.regression_targets(y, mean))
    std = intervals._std(u, mean)
    z = NormalDist().inv_cdf((1.0 + coverage) / 2.0)
    result = {"nominal": coverage, "rows": int(len(mean)), "splits": int(splits),
              "gaussian": {"coverage": float(np.mean(np.abs(y - mean) <= z * std)),
                           "mean_width": float(np.mean(2 * z * std))}}
    calibration_rows = None
    has_band = quantile_bands.LOWER in u and quantile_bands.UPPER in u
    for score in intervals.SCORES if conformal else ():
        if score == "quantile" and not has_band:
            continue
        s = intervals.interval_scores(u, y, score)
        if score == "quantile":  # width q_hi - q_lo + 2 q
            lower, upper = intervals._band(u, mean)
            base, scale = upper - lower, np.ones_like(std)
        else:
            base, scale = np.zeros_like(std), std if score == "normalized" else np.ones_like(std)
        covered, widths = [], []
        for cal, test in _splits(len(mean), calibration_fraction, splits, seed):
            quantile.require_finite(len(cal), coverage)
            q = quantile.conformal_quantile(s[cal], coverage)
            covered.append(np.mean(s[test] <= q))
            widths.append(np.mean(base[test] + 2 * q * scale[test]))
            calibration_rows = len(cal)
        result[f"conformal_{score}"] = {**_summary(covered, "coverage"), **_summary(widths, "mean_width")}
    result["calibration_rows"] = calibration_rows
    return result


def set_coverage(u, y, coverage=0.9, score="aps", randomized=False, splits=100, calibration_fraction=0.5, seed=0,
                 **kwargs):
    """Coverage and mean size of a classifier's conformal prediction sets on held-out rows.

    Args:
        u: `predict_uncertainty` on the held-out rows (`mean`: class probabilities (N, C)).
        y: their labels, integers (N,) or one-hot rows (N, C).
        coverage: the nominal coverage 1 - alpha, in (0, 1).
        score: "aps" or "raps" (`tfvb.calibrate.set_scores` with its default penalty).
        randomized: Romano et al.'s randomized scores (smaller sets, possibly empty), a new
            draw of u for every split; False: u = 1 (never-empty, larger sets).
        splits: random calibration / test splits.
        calibration_fraction: the share of rows that calibrates in each split.
        seed: the splits' seed.

    Returns:
        {"coverage", "coverage_sd", "mean_set_size", "mean_set_size_sd",
        "nominal", "score", "randomized", "rows", "splits", "calibration_rows"}.
    """
    _options(kwargs, "set_coverage")
    coverage = _checks.open_unit_interval("coverage", coverage)
    randomized = _checks.boolean("randomized", randomized)
    _require_task(u, "classification", "set_coverage")
    s = sets.set_scores(u["mean"], score=score)  # checks the probabilities' shape and values
    labels = _predictive.class_labels(y, s.shape[1])
    if len(labels) != len(s):
        raise ValueError(f"Expected one label per row of u['mean']. Received: {len(labels)} labels for "
                         f"{len(s)} rows")
    rows = np.arange(len(labels))
    true = s[rows, labels]
    covered, sizes, calibration_rows = [], [], None
    draws = np.random.default_rng(None if seed is None else [seed, 1])  # None: fresh draws, as the splits
    for cal, test in _splits(len(labels), calibration_fraction, splits, seed):
        if randomized:
            s = sets.set_scores(u["mean"], score=score, randomized=True, rng=draws)
            true = s[rows, labels]
        quantile.require_finite(len(cal), coverage)
        q = quantile.conformal_quantile(true[cal], coverage)
        covered.append(np.mean(true[test] <= q))
        sizes.append(np.mean(np.sum(s[test] <= q, axis=1)))
        calibration_rows = len(cal)
    return {**_summary(covered, "coverage"), **_summary(sizes, "mean_set_size"), "nominal": coverage,
            "score": score, "randomized": randomized, "rows": int(len(labels)), "splits": int(splits),
            "calibration_rows": calibration_rows}
