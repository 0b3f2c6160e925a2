"""The protocol on one split: the grid search, every grid point trained at once, and the final networks.

The first 80% of the training rows train one network per (p, tau) of the
grid (per (p, l) when heteroscedastic) as one `MCDropoutGrid`; the best
validation log-likelihood picks the pair, which is retrained on all
training rows and scored on the test rows. The `tuned` score also picks a
factor c on the noise variance (a continuous tau for homoscedastic
networks) on the same validation rows.

Example:
    >>> from tfvb.uci_protocol.settings import Protocol
    >>> data = tfvb.data.uci("bostonHousing", split=0)
    >>> protocol = Protocol.of(data, epochs=5, samples=100, validation_samples=100)   # a smoke-sized run
    >>> record, final, i = grid_search_split(data, protocol)
    >>> regressor = final.regressor(i)          # the chosen network as a tfvb.models.MCDropoutRegressor
    >>> sorted(k for k in ("rmse", "ll") if k in record)
    ['ll', 'rmse']
"""

import itertools
import math
import time

import numpy as np

from tfvb import _checks
from tfvb.calibrate.coverage import interval_coverage
from tfvb.calibrate.quantile import minimum_calibration_size
from tfvb.uci_protocol.grid import MCDropoutGrid
from tfvb.uci_protocol.settings import TRAIN_FRACTION, VARIANCE_SCALES

__all__ = ["grid_search_split", "split_coverage", "COVERAGES"]

#: Nominal coverages of the intervals each split reports.
COVERAGES = (0.9, 0.95)
#: Random calibration / test halvings of a split's test rows behind its conformal numbers.
CONFORMAL_SPLITS = 100


def split_coverage(mean, variance, y, seed=0):
    """{"90": ..., "95": ...}: coverage and mean width (original units) of one split's test intervals.

    Gaussian predictive intervals (mean -+ z sqrt(variance), the MC mean and
    total variance) and split conformal intervals (absolute and normalized
    scores, calibrated on a random half of the test rows and measured on the
    other half, `CONFORMAL_SPLITS` times): `tfvb.calibrate.interval_coverage`.
    """
    u = {"mean": np.asarray(mean, np.float64), "variance": np.asarray(variance, np.float64)}
    out = {}
    for c in COVERAGES:
        # A test set too small to calibrate on half of it (fewer than 2 x 19 rows at 95 %) gets Gaussian numbers only.
        enough = round(len(u["mean"]) / 2) >= minimum_calibration_size(c)
        r = interval_coverage(u, y, coverage=c, splits=CONFORMAL_SPLITS, seed=seed, conformal=enough)
        out[f"{round(100 * c)}"] = {k: {"coverage": r[k]["coverage"], "mean_width": r[k]["mean_width"]}
                                    for k in ("gaussian", "conformal_absolute", "conformal_normalized") if k in r}
    return out


def grid_search_split(data, protocol, cache=None, selection=None):
    """Gal's updated UCI protocol on one split (a `tfvb.data.UCIData`), seeded by `protocol.split_seed`.

    Args:
        data: the split.
        protocol: a `Protocol` (variant, grid, epochs, MC passes, seed).
        cache: a dict kept across calls (splits) to reuse grids and their traced loops.
        selection: a record this function returned for the same split and
            protocol: its chosen pair, tuned pair and noise factor are taken
            instead of running the grid, and only the final networks are
            trained (the same networks, seeds and data as in that run, so the
            test scores repeat up to floating-point summation order).

    Returns:
        (record, final, index): a dict of the choices and scores, the fitted
        final `MCDropoutGrid`, and the index in it of the faithful choice.
    """
    start = time.perf_counter()
    heteroscedastic, seed = protocol.heteroscedastic, protocol.split_seed(data.split)
    second = protocol.lengthscales if heteroscedastic else protocol.taus
    pairs = list(itertools.product(protocol.dropout_rates, second))
    p = np.array([a for a, _ in pairs])
    tau = np.ones(len(pairs)) if heteroscedastic else np.array([b for _, b in pairs])
    ls = np.array([b for _, b in pairs]) if heteroscedastic else np.full(len(pairs), protocol.lengthscales[0])
    scales = np.asarray(VARIANCE_SCALES, dtype=np.float64)
    unit = int(np.flatnonzero(scales == 1.0)[0])

    def make(idx, s):
        key = (len(idx), data.x_train.shape[1], data.n_hidden, heteroscedastic, protocol.concrete)
        if cache is not None and key in cache:
            return cache[key].reset(p[idx], tau[idx], ls[idx], s)
        grid = MCDropoutGrid(data.x_train.shape[1], p[idx], tau[idx], hidden_units=(data.n_hidden,),
                             lengthscale=ls[idx], heteroscedastic=heteroscedastic, seed=s,
                             concrete=protocol.concrete)
        if cache is not None:
            cache[key] = grid
        return grid

    def fit(grid, x, y):
        return grid.fit(x, y, protocol.epochs, protocol.batch_size)

    if selection is None:
        n_fit = int(TRAIN_FRACTION * len(data.x_train))
        grid = fit(make(np.arange(len(pairs)), seed), data.x_train[:n_fit], data.y_train[:n_fit])
        val = grid.mc_scores(data.x_train[n_fit:], data.y_train[n_fit:], samples=protocol.validation_samples,
                             variance_scales=scales)["ll"]
        best = int(np.argmax(val[:, unit]))
        tuned, tuned_k = np.unravel_index(int(np.argmax(val)), val.shape)
        validation_ll = val[:, unit].round(5).tolist()
    else:
        best, tuned, scale = _selected(selection, pairs, heteroscedastic)
        scales = np.append(scales, scale)
        tuned_k = len(scales) - 1
        validation_ll = selection.get("validation_ll")
    chosen = sorted({best, int(tuned)})
    final = fit(make(np.array(chosen), seed + 1), data.x_train, data.y_train)
    test = final.mc_scores(data.x_test, data.y_test, samples=protocol.samples,
                           variance_scales=[1.0, scales[tuned_k]])
    i, j = chosen.index(best), chosen.index(int(tuned))

    def describe(g):
        return {"dropout_rate": float(p[g]), "tau": None if heteroscedastic else float(tau[g]),
                "lengthscale": float(ls[g])}

    record = {
        "split": data.split,
        **describe(best),
        "validation_ll": validation_ll,
        "rmse": float(test["rmse"][i]),
        "ll": float(test["ll"][i, 0]),
        "tuned": {**describe(int(tuned)), "variance_scale": float(scales[tuned_k]),
                  "rmse": float(test["rmse"][j]), "ll": float(test["ll"][j, 1])},
        "coverage": split_coverage(test["mean"][i], test["epistemic"][i] + test["aleatoric"][i], data.y_test,
                                   seed=seed),
        "seconds": time.perf_counter() - start,
    }
    if protocol.concrete:
        record["learned_dropout_rates"] = final.layer_dropout_rates[i].round(6).tolist()
    return record, final, i


def _selected(record, pairs, heteroscedastic):
    """(best index, tuned index, noise factor) of a `grid_search_split` record in this grid's pairs."""
    key = "lengthscale" if heteroscedastic else "tau"

    def index(r, what):
        pair = (r.get("dropout_rate"), r.get(key))
        for i, (a, b) in enumerate(pairs):
            if pair[0] is not None and pair[1] is not None and math.isclose(a, pair[0]) and math.isclose(b, pair[1]):
                return i
        raise ValueError(
            f"Expected the {what} (dropout_rate, {key}) of `selection` to be a point of the grid "
            f"{[tuple(float(v) for v in q) for q in pairs]}. Received: {pair}"
        )

    tuned = record.get("tuned") or {}
    scale = _checks.positive_float("selection['tuned']['variance_scale']", tuned.get("variance_scale", float("nan")))
    return index(record, "chosen pair"), index(tuned, "tuned pair"), scale
