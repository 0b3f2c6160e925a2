"""`uci_benchmark(folder, ...)`: Gal's UCI protocol as a resumable run with a JSON summary.

Reads the folder once, runs the protocol's splits (in worker processes with
`jobs` > 1) and returns the summary of `tfvb.uci_protocol.results`; with
`json_path` it is rewritten atomically after every split, and with
`resume=True` the splits already there (written with the same settings) are
kept, so an interrupted run loses at most the splits in progress.
`benchmarks/uci.py`, `tfvb zoo benchmark mc_dropout_uci_<name> --protocol`
and `tfvb.evaluate.uci_benchmark` are this function.

Example:
    >>> s = uci_benchmark("bostonHousing", splits=2, json_path="boston.json", resume=True)  # doctest: +SKIP
    >>> s["rmse"], s["ll"]        # [mean, standard error] over the splits run  # doctest: +SKIP

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation. ICML 2016.
"""

import time

from tfvb.data import UCIFolder
from tfvb.uci_protocol import results
from tfvb.uci_protocol.run import iter_protocol, split_count
from tfvb.uci_protocol.settings import EPOCH_MULTIPLIER, SAMPLES, VALIDATION_SAMPLES, Protocol

__all__ = ["uci_benchmark"]


def uci_benchmark(folder, splits=None, jobs=1, json_path=None, resume=False, variant="faithful",
                  samples=SAMPLES, validation_samples=VALIDATION_SAMPLES, epoch_multiplier=EPOCH_MULTIPLIER,
                  epochs=None, dropout_rates=None, taus=None, seed=0, log=None, command=None, add_coverage=False):
    """Run Gal's updated UCI protocol on `folder`; returns the summary (the one written to `json_path`).

    Args:
        folder: a UCI folder in the benchmark layout, or its name under the data root.
        splits: run the first N splits (default all).
        jobs: worker processes, each running whole splits with one TensorFlow thread.
        json_path: write the summary here, atomically, after every split.
        resume: keep the splits already in `json_path` (same settings) and run only the others.
        variant: "faithful", "heteroscedastic" or "concrete" (`tfvb.uci_protocol.settings`).
        samples, validation_samples: MC passes on the test and validation rows.
        epoch_multiplier: epochs = this x the folder's n_epochs (100, the default: the setting
            of Gal's published table; 10: the protocol as written).
        epochs: override the epochs (smoke tests).
        dropout_rates, taus: override the folder's grid.
        seed: split k is seeded by seed + 1000 k.
        log: called with one line of text per finished split.
        command: recorded in the summary (default: this process's command line).
        add_coverage: with `resume`, the kept splits whose records have no interval coverage (runs made
            before it was reported) get it: each such split's final networks are trained again from its
            record's choices (no grid search; the same networks, seeds and data, so its test scores repeat)
            and their test intervals measured. The record keeps its scores; the repeat's are stored beside
            the coverage (`coverage_from`) and the summary gives the largest difference (`coverage_added`).
    """
    if resume and not json_path:
        raise ValueError("Expected `json_path` (the file to resume from) with resume=True. Received: json_path=None")
    if add_coverage and not resume:
        raise ValueError("Expected resume=True with add_coverage=True (coverage is added to the splits of an "
                         "earlier run). Received: resume=False")
    folder = UCIFolder(folder)
    protocol = Protocol.of(folder, variant, samples, validation_samples, epoch_multiplier, epochs,
                           dropout_rates, taus, seed)
    done, earlier_wall = results.read_previous(json_path, protocol, folder.name) if resume else ([], 0.0)
    n = split_count(folder, splits)
    beyond = sorted(int(r["split"]) for r in done if int(r["split"]) >= n)
    if beyond:  # the summary rewritten after each split would drop them from the file
        raise ValueError(f"Expected at least {beyond[-1] + 1} splits to resume {json_path}, which holds finished "
                         f"splits up to {beyond[-1]}; resuming with fewer would drop them from the file. Received: "
                         f"splits={splits} (pass splits={beyond[-1] + 1} or more, or another json_path)")
    records = {int(r["split"]): r for r in done}
    start = time.perf_counter()

    def summary():
        return results.summarize(folder.name, [records[k] for k in sorted(records)], protocol,
                                 time.perf_counter() - start, len(done), earlier_wall, command)

    missing = {k: r for k, r in records.items() if add_coverage and not r.get("coverage")}
    todo = sorted(set(missing) | {k for k in range(n) if k not in records})
    for record in iter_protocol(folder, protocol, todo, jobs, selections=missing):
        k = record["split"]
        if k in missing:
            again = {key: record[key] for key in ("rmse", "ll", "seconds")}
            record = {**missing[k], "coverage": record["coverage"], "coverage_from": {
                "what": "the split's final networks trained again from this record's choices", **again}}
            line = (f"{folder.name} split {k}: coverage added (repeat: rmse {again['rmse']:.4f} ll {again['ll']:.4f}; "
                    f"run: rmse {record['rmse']:.4f} ll {record['ll']:.4f}) {again['seconds']:.1f}s")
        else:
            line = (f"{folder.name} split {k} ({len(records) + 1}/{n}): rmse {record['rmse']:.4f} "
                    f"ll {record['ll']:.4f} (tuned ll {record['tuned']['ll']:.4f}) p={record['dropout_rate']} "
                    f"tau={record['tau']} {record['seconds']:.1f}s")
        records[k] = record
        if log is not None:
            log(line)
        if json_path:
            results.write_json(json_path, summary())
    result = summary()
    if json_path:
        results.write_json(json_path, result)
    return result
