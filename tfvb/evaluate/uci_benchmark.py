"""Gal's UCI protocol for MC dropout as a resumable benchmark run with a JSON summary.

`uci_benchmark(folder, ...)` runs `tfvb.models.mc_dropout_grid.run_protocol`
on a folder in the benchmark layout and returns (and with `json_path` writes,
atomically after every split) a summary: RMSE and test log-likelihood, mean and
standard error over the splits, the `tuned` variant's scores, per-split records,
wall time, the settings and Gal's published numbers for the data set. With
`resume=True` the splits already in `json_path` are kept (when written with the
same settings) and only the others run, so an interrupted run loses at most
the splits in progress. Both `benchmarks/uci.py` and
`tfvb zoo benchmark mc_dropout_uci_<name> --protocol` call it.

Example:
    >>> s = uci_benchmark("../shared/data/uci/bostonHousing", splits=2, epoch_multiplier=100,
    ...                   json_path="boston.json", resume=True)
    >>> s["rmse"], s["ll"]        # [mean, standard error] over the splits run

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation. ICML 2016.
"""

import json
import os
import sys
import time

from tfvb import _checks
from tfvb.evaluate.regression import mean_and_standard_error

__all__ = ["uci_benchmark", "protocol_settings", "result_file", "RESULT_FILES", "HETEROSCEDASTIC_LENGTHSCALES"]

#: Prior lengthscales of the heteroscedastic variant's grid (dropout rate x lengthscale).
HETEROSCEDASTIC_LENGTHSCALES = (1e-2, 1e-1, 1.0)
VARIANTS = ("faithful", "heteroscedastic", "concrete")

#: (variant, epoch multiplier, file-name suffix) of the runs kept in benchmarks/results as
#: `uci_<dataset><suffix>.json`; read by the table (`benchmarks/uci_report.py`) and the zoo cards.
RESULT_FILES = (
    ("faithful", 10, ""),
    ("faithful", 100, "_100x"),
    ("heteroscedastic", 10, "_improved"),
    ("heteroscedastic", 100, "_heteroscedastic_100x"),
    ("concrete", 10, "_concrete"),
    ("concrete", 100, "_concrete_100x"),
)


def result_file(dataset, variant="faithful", epoch_multiplier=10):
    """The file name under benchmarks/results of a `variant` run at `epoch_multiplier` x n_epochs."""
    for v, m, suffix in RESULT_FILES:
        if (v, m) == (variant, epoch_multiplier):
            return f"uci_{dataset}{suffix}.json"
    raise ValueError(f"Expected (variant, epoch_multiplier) in {[(v, m) for v, m, _ in RESULT_FILES]}. "
                     f"Received: ({variant!r}, {epoch_multiplier!r})")


def protocol_settings(data, variant="faithful", samples=10_000, validation_samples=1000, epoch_multiplier=10,
                      epochs=None, dropout_rates=None, taus=None, seed=0):
    """The settings a run's records depend on (a resumed run must match them)."""
    if variant not in VARIANTS:
        raise ValueError(f"Expected `variant` in {VARIANTS}. Received: variant={variant!r}")
    from tfvb.models.mc_dropout_grid import CONCRETE_INITIAL_RATE

    heteroscedastic = variant in ("heteroscedastic", "concrete")
    if dropout_rates is None and variant == "concrete":
        dropout_rates = (CONCRETE_INITIAL_RATE,)
    if epochs is None:
        epochs = _checks.positive_int("epoch_multiplier", epoch_multiplier) * data.n_epochs
        multiplier = int(epoch_multiplier)
    else:
        epochs, multiplier = _checks.positive_int("epochs", epochs), None
    return {
        "variant": variant,
        "samples": _checks.positive_int("samples", samples),
        "validation_samples": _checks.positive_int("validation_samples", validation_samples),
        "epochs": epochs,
        "epoch_multiplier": multiplier,
        "dropout_rates": [float(p) for p in (dropout_rates or data.dropout_rates)],
        "taus": None if heteroscedastic else [float(t) for t in (taus or data.tau_values)],
        "lengthscales": list(HETEROSCEDASTIC_LENGTHSCALES if heteroscedastic else (1e-2,)),
        "batch_size": 128,
        "validation_split": "first 80% of the training rows",
        "seed": int(seed),
    }


def _mean_se(values):
    return list(mean_and_standard_error(values))


def summarize(name, records, protocol, seconds, resumed=0, earlier_wall=0.0, command=None):
    """The JSON summary of a run's per-split records."""
    from tfvb.data.uci import MC_DROPOUT_ANCHORS

    per_split = [r["seconds"] for r in records]
    return {
        "dataset": name,
        "variant": protocol["variant"],
        "splits_run": len(records),
        "rmse": _mean_se([r["rmse"] for r in records]),
        "ll": _mean_se([r["ll"] for r in records]),
        "tuned": {
            "what": "noise-variance factor (a continuous tau) chosen on the validation rows",
            "rmse": _mean_se([r["tuned"]["rmse"] for r in records]),
            "ll": _mean_se([r["tuned"]["ll"] for r in records]),
        },
        # Wall time of the splits' own work (sum over splits; with jobs=N the run's wall time is ~1/N).
        "seconds": float(sum(per_split)),
        "seconds_per_split": float(sum(per_split) / len(per_split)) if per_split else 0.0,
        "wall_seconds_this_run": seconds,
        "wall_seconds": earlier_wall + seconds,  # over this run and the runs it resumed
        "splits_resumed": resumed,
        "anchor": MC_DROPOUT_ANCHORS.get(name),
        "protocol": protocol,
        "command": command if command is not None else " ".join([os.path.basename(sys.executable)] + sys.argv),
        "per_split": records,
    }


def read_previous(path, protocol):
    """(records, wall seconds) of an earlier run written to `path` with the same settings.

    Raises ValueError naming each differing setting, or when the file is not such a summary.
    """
    if not os.path.exists(path):
        return [], 0.0
    try:
        with open(path) as f:
            previous = json.load(f)
        old, records = previous["protocol"], previous["per_split"]
        wall = float(previous.get("wall_seconds", previous.get("wall_seconds_this_run", 0.0)))
        if not isinstance(old, dict) or not isinstance(records, list):
            raise TypeError("`protocol` must be an object and `per_split` a list")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"Cannot resume from {path}: expected a JSON summary of a UCI benchmark run ({e}).") from e
    changed = {k: (old.get(k), v) for k, v in protocol.items() if old.get(k) != v}
    if changed:
        raise ValueError(
            f"Cannot resume from {path}: it was written with different settings "
            + ", ".join(f"{k}={a!r} (this run: {b!r})" for k, (a, b) in changed.items())
            + ". Write to another file or do not resume."
        )
    return records, wall


def write_json(path, summary):
    """Write `summary` to `path` atomically: an interruption leaves the previous complete file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(partial, path)


def uci_benchmark(folder, splits=None, jobs=1, json_path=None, resume=False, variant="faithful",
                  samples=10_000, validation_samples=1000, epoch_multiplier=10, epochs=None,
                  dropout_rates=None, taus=None, seed=0, log=None, command=None):
    """Run Gal's updated UCI protocol on `folder`; returns the summary (the one written to `json_path`).

    Args:
        folder: a UCI folder in the benchmark layout, or its name under the data root.
        splits: run the first N splits (default all).
        jobs: worker processes, each running whole splits with one TensorFlow thread.
        json_path: write the summary here, atomically, after every split.
        resume: keep the splits already in `json_path` (same settings) and run only the others.
        variant: "faithful" (the published protocol; `tuned` adds a noise-variance
            factor chosen on the validation rows), "heteroscedastic" (grid:
            dropout rate x lengthscale in HETEROSCEDASTIC_LENGTHSCALES) or
            "concrete" (heteroscedastic with learned per-layer dropout rates
            from 0.1; grid: the lengthscales).
        samples, validation_samples: MC passes on the test and validation rows.
        epoch_multiplier: epochs = this x the folder's n_epochs (10: the protocol
            as written; 100: the setting of Gal's published table).
        epochs: override the epochs (smoke tests).
        dropout_rates, taus: override the folder's grid.
        seed: split k is seeded by seed + 1000 k.
        log: called with one line of text per finished split.
        command: recorded in the summary (default: this process's command line).
    """
    from tfvb.data import uci
    from tfvb.models.mc_dropout_grid import run_protocol

    if resume and not json_path:
        raise ValueError("Expected `json_path` (the file to resume from) with resume=True. Received: json_path=None")
    first = uci(folder, split=0)
    protocol = protocol_settings(first, variant, samples, validation_samples, epoch_multiplier, epochs,
                                 dropout_rates, taus, seed)
    done, earlier_wall = read_previous(json_path, protocol) if resume else ([], 0.0)
    start = time.perf_counter()

    def summary(records):
        return summarize(first.name, records, protocol, time.perf_counter() - start, len(done), earlier_wall,
                         command)

    def write(records):
        if json_path:
            write_json(json_path, summary(records))

    records = run_protocol(
        folder, splits=splits, jobs=jobs, done=done, on_split=write, log=log,
        heteroscedastic=variant in ("heteroscedastic", "concrete"), concrete=variant == "concrete",
        samples=protocol["samples"],
        validation_samples=protocol["validation_samples"], epochs=protocol["epochs"],
        dropout_rates=protocol["dropout_rates"], taus=taus, lengthscales=tuple(protocol["lengthscales"]), seed=seed,
    )
    result = summary(records)
    if json_path:
        write_json(json_path, result)
    return result
