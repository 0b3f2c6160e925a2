"""MC dropout on the UCI regression benchmark: Gal's updated protocol, every grid point at once.

For each split: train one network per (dropout rate, tau) of the folder's grid
on the first 80% of the training rows (1 hidden layer of n_hidden ReLU units,
batch 128, 10 x n_epochs epochs, lengthscale 1e-2), pick the pair with the best
validation log-likelihood, retrain it on the whole training split, and report
test RMSE and test log-likelihood from T MC passes; mean +- standard error over
the splits. The grid's networks train together (`tfvb.models.mc_dropout_grid`).
Test scores use T = 10,000 passes as Gal's code does; the grid's validation
log-likelihoods use 1,000 (`--validation-samples`; Gal's code uses 10,000),
which is most of the run time saved on the larger data sets.

    python benchmarks/uci.py ../shared/data/uci/bostonHousing --json benchmarks/results/uci_bostonHousing.json
    python benchmarks/uci.py FOLDER --splits 5 --variant heteroscedastic --json OUT

Variants: `faithful` (the protocol as published; the JSON's `tuned` entry adds
a noise-variance factor chosen on the validation rows) and `heteroscedastic`
(the network predicts its noise variance; grid: dropout rate x prior
lengthscale in {1e-2, 1e-1, 1}).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

HETEROSCEDASTIC_LENGTHSCALES = (1e-2, 1e-1, 1.0)


def mean_se(values):
    """[mean, standard error] with the sample standard deviation (ddof=1); SE 0 for one value."""
    v = np.asarray(values, dtype=np.float64)
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
    return [float(v.mean()), se]


def summarize(name, records, args, seconds):
    from tfvb.data.uci import MC_DROPOUT_ANCHORS

    protocol = {
        "variant": args.variant, "samples": args.samples, "validation_samples": args.validation_samples,
        "epochs": records[0]["epochs"] if records else None, "batch_size": 128, "lengthscale": 1e-2,
        "validation_split": "first 80% of the training rows", "seed": args.seed,
    }
    return {
        "dataset": name,
        "variant": args.variant,
        "splits_run": len(records),
        "rmse": mean_se([r["rmse"] for r in records]),
        "ll": mean_se([r["ll"] for r in records]),
        "tuned": {
            "what": "noise-variance factor (a continuous tau) chosen on the validation rows",
            "rmse": mean_se([r["tuned"]["rmse"] for r in records]),
            "ll": mean_se([r["tuned"]["ll"] for r in records]),
        },
        "seconds": seconds,
        "seconds_per_split": seconds / max(1, len(records)),
        "anchor": MC_DROPOUT_ANCHORS.get(name),
        "protocol": protocol,
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "per_split": records,
    }


def run(folder, splits=None, variant="faithful", samples=10_000, validation_samples=1000, epochs=None,
        dropout_rates=None, taus=None, seed=0, log=print, on_split=None):
    """Run the protocol on the first `splits` splits of `folder`; returns the per-split records."""
    from tfvb.data import uci
    from tfvb.models.mc_dropout_grid import grid_search_split

    first = uci(folder, split=0)
    n = first.n_splits if splits is None else min(splits, first.n_splits)
    records, cache = [], {}
    for k in range(n):
        data = first if k == 0 else uci(folder, split=k)
        record, _, _ = grid_search_split(
            data, heteroscedastic=variant == "heteroscedastic", samples=samples,
            validation_samples=validation_samples, epochs=epochs, dropout_rates=dropout_rates, taus=taus,
            lengthscales=HETEROSCEDASTIC_LENGTHSCALES if variant == "heteroscedastic" else (1e-2,),
            seed=seed + 1000 * k, cache=cache,
        )
        record["epochs"] = 10 * data.n_epochs if epochs is None else epochs
        records.append(record)
        log(f"{data.name} split {k + 1}/{n}: rmse {record['rmse']:.4f} ll {record['ll']:.4f} "
            f"(tuned ll {record['tuned']['ll']:.4f}) p={record['dropout_rate']} tau={record['tau']} "
            f"{record['seconds']:.1f}s")
        if on_split is not None:
            on_split(records)
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", help="a UCI folder in the benchmark layout (or its name under the data root)")
    parser.add_argument("--splits", type=int, default=None, help="run the first N splits (default: all)")
    parser.add_argument("--variant", choices=("faithful", "heteroscedastic"), default="faithful")
    parser.add_argument("--samples", type=int, default=10_000, help="MC passes T on the test rows")
    parser.add_argument("--validation-samples", type=int, default=1000, help="MC passes on the validation rows")
    parser.add_argument("--epochs", type=int, default=None, help="override 10 x n_epochs (for smoke tests)")
    parser.add_argument("--dropout-rates", type=float, nargs="+", default=None, help="override the grid")
    parser.add_argument("--taus", type=float, nargs="+", default=None, help="override the grid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    parser.add_argument("--json", default=None, help="write the summary here (updated after every split)")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        # Small ops: one inter-op thread avoids scheduling overhead; intra-op threads help the MC chunks.
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already started in this process (e.g. under pytest): keep its threads.
    from tfvb.data import uci

    name = uci(args.folder, split=0).name
    start = time.perf_counter()

    def write(records):
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump(summarize(name, records, args, time.perf_counter() - start), f, indent=1)

    records = run(args.folder, splits=args.splits, variant=args.variant, samples=args.samples,
                  validation_samples=args.validation_samples, epochs=args.epochs,
                  dropout_rates=args.dropout_rates, taus=args.taus, seed=args.seed,
                  log=lambda s: print(s, flush=True), on_split=write)
    summary = summarize(name, records, args, time.perf_counter() - start)
    write(records)
    print(json.dumps({k: summary[k] for k in ("dataset", "variant", "splits_run", "rmse", "ll", "tuned", "seconds")}))
    return summary


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
