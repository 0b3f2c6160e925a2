"""A protocol run's JSON summary: its contents, atomic writes, resuming, and the kept runs' file names.

The summary holds RMSE and test log-likelihood as [mean, standard error]
over the splits, the `tuned` scores, per-split records, wall times, the
`Protocol` settings and Gal's published numbers for the data set. A run
that resumes from a summary keeps its splits only when it was written with
the same settings.

Runs kept in the checkout's benchmarks/results (`tfvb.paths.benchmark_results_dir`)
are named by (variant, epoch multiplier) in `RESULT_FILES`; the report table
and the zoo cards read them.
"""

import json
import os
import sys

from tfvb.evaluate.regression import mean_and_standard_error
from tfvb.uci_protocol.anchors import MC_DROPOUT_ANCHORS

__all__ = ["RESULT_FILES", "result_file", "summarize", "read_previous", "write_json"]

#: (variant, epoch multiplier, file-name suffix) of the runs kept in benchmarks/results as
#: `uci_<dataset><suffix>.json`.
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


def _mean_se(values):
    return list(mean_and_standard_error(values))


def coverage_summary(records):
    """Mean and standard error over splits of each split's interval coverage and width (splits that report it)."""
    with_coverage = [r["coverage"] for r in records if r.get("coverage")]
    if not with_coverage:
        return None
    out = {"splits": len(with_coverage)}
    for level in with_coverage[0]:
        kinds = dict.fromkeys(k for c in with_coverage for k in c[level])
        out[level] = {}
        for kind in kinds:
            have = [c[level][kind] for c in with_coverage if kind in c[level]]
            out[level][kind] = {what: _mean_se([h[what] for h in have]) for what in have[0]} | {"splits": len(have)}
    return out


def summarize(name, records, protocol, seconds, resumed=0, earlier_wall=0.0, command=None):
    """The JSON summary of a run's per-split records (`protocol`: the run's `Protocol`)."""
    per_split = [r["seconds"] for r in records]
    added = [r for r in records if "coverage_from" in r]
    return {
        "dataset": name,
        "variant": protocol.variant,
        "splits_run": len(records),
        "rmse": _mean_se([r["rmse"] for r in records]),
        "ll": _mean_se([r["ll"] for r in records]),
        "tuned": {
            "what": "noise-variance factor (a continuous tau) chosen on the validation rows",
            "rmse": _mean_se([r["tuned"]["rmse"] for r in records]),
            "ll": _mean_se([r["tuned"]["ll"] for r in records]),
        },
        "coverage": coverage_summary(records),
        **({"coverage_added": {
            "splits": len(added),
            "what": "coverage of splits run before it was reported: their final networks trained again from "
                    "the recorded choices (no grid search); the largest differences of the repeat's test "
                    "scores from the recorded ones, and the repeat's own mean and standard error",
            "max_abs_rmse_difference": max(abs(r["coverage_from"]["rmse"] - r["rmse"]) for r in added),
            "max_abs_ll_difference": max(abs(r["coverage_from"]["ll"] - r["ll"]) for r in added),
            "repeat_rmse": _mean_se([r["coverage_from"]["rmse"] for r in added]),
            "repeat_ll": _mean_se([r["coverage_from"]["ll"] for r in added]),
            "seconds": float(sum(r["coverage_from"]["seconds"] for r in added))}} if added else {}),
        # Wall time of the splits' own work (sum over splits; with jobs=N the run's wall time is ~1/N).
        "seconds": float(sum(per_split)),
        "seconds_per_split": float(sum(per_split) / len(per_split)) if per_split else 0.0,
        "wall_seconds_this_run": seconds,
        "wall_seconds": earlier_wall + seconds,  # over this run and the runs it resumed
        "splits_resumed": resumed,
        "anchor": MC_DROPOUT_ANCHORS.get(name),
        "protocol": protocol.as_dict(),
        "command": command if command is not None else " ".join([os.path.basename(sys.executable)] + sys.argv),
        "per_split": records,
    }


def read_previous(path, protocol, dataset=None):
    """(records, wall seconds) of an earlier run written to `path` with the same `Protocol`.

    ([], 0.0) when there is no file. Raises ValueError naming each differing
    setting, when the file is not such a summary, or when it holds another
    data set's splits than `dataset` (a name, as `summarize` writes it).
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
    if dataset is not None and previous.get("dataset") not in (None, dataset):
        raise ValueError(f"Cannot resume from {path}: it holds the splits of {previous['dataset']!r} "
                         f"(this run: {dataset!r}). Write to another file or do not resume.")
    changed = {k: (old.get(k), v) for k, v in protocol.as_dict().items() if old.get(k) != v}
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
