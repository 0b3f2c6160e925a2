"""The UCI protocol one configuration at a time, as the reference implementation runs it.

Each (dropout rate, tau) of the grid is a separate `MCDropoutRegressor` trained
with `model.fit`, and the T Monte Carlo samples come from a Python loop of T
prediction calls (Gal's `[model.predict(X_test, batch_size=500) for _ in
range(T)]`). This is the baseline for the speed ratio of `benchmarks/uci.py`.
Keras 3's `predict` builds a tf.data pipeline on every call (~0.3 s each
here), so the loop calls `predict_on_batch` (~1 ms), the analogue of Keras 2's
`predict` on a small array: the ratio is then conservative.

The whole reference takes hours per data set, so by default it measures a
part and extrapolates: `--configs K` trains K of the grid's networks (each for
the full number of epochs) and `--passes P` times P prediction calls per
evaluation set; the estimate is 12 fits + 1 retrain at the measured mean fit
time and 12 loops of T_val calls + 1 of T calls at the measured steady time per
call (plus each loop's first, tracing, call). `--full` runs it
all (and then also reports RMSE and LL).

    python benchmarks/uci_reference.py bostonHousing --split 0 --configs 2 --passes 100 \\
        --vectorized --json benchmarks/results/uci_reference_bostonHousing.json

`--vectorized` times the library's protocol on the same splits in the same
run (the ratio's two sides under the same machine load); `--compare` takes
it from an earlier `benchmarks/uci.py` JSON instead.
"""

import argparse
import itertools
import json
import os
import sys
import time

import numpy as np


def predict_loop(model, x, passes, total):
    """A Python loop of `passes` stochastic predictions, one call per MC sample.

    Returns the samples and the estimated seconds of `total` calls: the first
    call (which traces the predict function) plus total - 1 steady calls.
    """
    start = time.perf_counter()
    out = [np.asarray(model.predict_on_batch(x))[:, 0]]
    first = time.perf_counter() - start
    start = time.perf_counter()
    out += [np.asarray(model.predict_on_batch(x))[:, 0] for _ in range(passes - 1)]
    steady = (time.perf_counter() - start) / max(1, passes - 1)
    return np.stack(out), first + (total - 1) * steady


def run_split(data, configs=None, passes=None, samples=None, validation_samples=None, epochs=None, seed=0,
              log=print):
    """The reference protocol on one split; `samples`, `validation_samples`, `epochs`: None for the protocol's."""
    import keras

    from tfvb.evaluate import mc_test_log_likelihood, rmse
    from tfvb.models import MCDropoutRegressor
    from tfvb.uci_protocol import settings

    samples = settings.SAMPLES if samples is None else samples
    validation_samples = settings.VALIDATION_SAMPLES if validation_samples is None else validation_samples
    epochs = settings.EPOCH_MULTIPLIER * data.n_epochs if epochs is None else epochs
    grid = list(itertools.product(data.dropout_rates, data.tau_values))
    chosen = grid if configs is None else grid[:configs]
    n_fit = int(settings.TRAIN_FRACTION * len(data.x_train))
    x_fit, y_fit = data.x_train[:n_fit], data.y_train[:n_fit]
    x_val, y_val = data.x_train[n_fit:], data.y_train[n_fit:]

    def train(x, y, p, tau, s):
        model = MCDropoutRegressor(hidden_units=(data.n_hidden,), dropout_rate=p, tau=tau,
                                   lengthscale=settings.LENGTHSCALE, seed=s)
        model.compile(optimizer=keras.optimizers.Adam(settings.LEARNING_RATE))
        start = time.perf_counter()
        model.fit(x, y, batch_size=settings.BATCH_SIZE, epochs=epochs, verbose=0)
        return model, time.perf_counter() - start

    fit_seconds, predict_seconds, val_ll = [], [], []
    for g, (p, tau) in enumerate(chosen):
        model, seconds = train(x_fit, y_fit, p, tau, seed + g)
        fit_seconds.append(seconds)
        t = validation_samples if passes is None else min(passes, validation_samples)
        f, loop_seconds = predict_loop(model, x_val, t, validation_samples)
        predict_seconds.append(loop_seconds)
        val_ll.append(mc_test_log_likelihood(y_val, f, tau=tau))
        log(f"  config {g + 1}/{len(chosen)} p={p} tau={tau}: fit {seconds:.1f}s, "
            f"{validation_samples} predict calls {loop_seconds:.1f}s, val ll {val_ll[-1]:.3f}")
    best = int(np.argmax(val_ll))
    p, tau = chosen[best]
    model, seconds = train(data.x_train, data.y_train, p, tau, seed + 100)
    fit_seconds.append(seconds)
    t = samples if passes is None else min(passes, samples)
    f, loop_seconds = predict_loop(model, data.x_test, t, samples)
    predict_seconds.append(loop_seconds)
    estimate = (len(grid) * float(np.mean(fit_seconds[:-1])) + fit_seconds[-1]
                + len(grid) * float(np.mean(predict_seconds[:-1])) + predict_seconds[-1])
    record = {
        "split": data.split, "configs_trained": len(chosen), "passes_timed": passes,
        "fit_seconds": fit_seconds, "predict_loop_seconds": predict_seconds,
        "estimated_protocol_seconds": estimate, "dropout_rate": p, "tau": tau,
    }
    if configs is None and passes is None:
        record.update(rmse=rmse(data.y_test, f.mean(0)), ll=mc_test_log_likelihood(data.y_test, f, tau=tau))
    return record


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfvb.uci_protocol import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--split", type=int, nargs="+", default=[0])
    parser.add_argument("--configs", type=int, default=None, help="train only the first K grid points")
    parser.add_argument("--passes", type=int, default=None, help="time only P predict calls per set")
    parser.add_argument("--full", action="store_true", help="run everything (ignores --configs/--passes)")
    parser.add_argument("--samples", type=int, default=settings.SAMPLES)
    parser.add_argument("--validation-samples", type=int, default=settings.VALIDATION_SAMPLES)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epoch-multiplier", type=int, default=settings.EPOCH_MULTIPLIER,
                        help="epochs = this x n_epochs")
    parser.add_argument("--vectorized", action="store_true",
                        help="also time the vectorized protocol (tfvb.uci_protocol) on the same splits "
                             "in this run, and report the ratio")
    parser.add_argument("--compare", default=None,
                        help="a benchmarks/uci.py JSON: report the ratio against its seconds per split")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.full:
        args.configs = args.passes = None

    from tfvb.uci_protocol import Protocol, protocol_split, set_cpu_threads

    set_cpu_threads(args.threads)  # no-op when TensorFlow already started (e.g. under pytest)
    from tfvb.data import UCIFolder

    folder = UCIFolder(args.folder)
    records, vectorized = [], []
    start = time.perf_counter()
    for k in args.split:
        data = folder.split(k)
        epochs = args.epochs if args.epochs is not None else args.epoch_multiplier * data.n_epochs
        print(f"{data.name} split {k}, {epochs} epochs", flush=True)
        if args.vectorized:
            protocol = Protocol.of(folder, samples=args.samples, validation_samples=args.validation_samples,
                                   epochs=epochs)
            record = protocol_split(data, protocol)
            vectorized.append(record["seconds"])
            print(f"  vectorized protocol: {record['seconds']:.1f}s", flush=True)
        records.append(run_split(data, args.configs, args.passes, args.samples, args.validation_samples,
                                 epochs, seed=1000 * k, log=lambda s: print(s, flush=True)))
    summary = {
        "dataset": data.name,
        "mode": "full" if args.configs is None and args.passes is None else "measured part, extrapolated",
        "splits": args.split,
        "estimated_seconds_per_split": float(np.mean([r["estimated_protocol_seconds"] for r in records])),
        "measured_seconds": time.perf_counter() - start,
        "samples": args.samples, "validation_samples": args.validation_samples, "epochs": epochs,
        "threads": args.threads,
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "per_split": records,
    }
    if vectorized:
        summary["vectorized_seconds_per_split"] = float(np.mean(vectorized))
        summary["vectorized_measured"] = "in this run, on the same splits, before the reference"
        summary["speedup"] = summary["estimated_seconds_per_split"] / summary["vectorized_seconds_per_split"]
    elif args.compare:
        with open(args.compare) as f:
            fast = json.load(f)
        summary["vectorized_seconds_per_split"] = fast["seconds_per_split"]
        summary["speedup"] = summary["estimated_seconds_per_split"] / fast["seconds_per_split"]
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_split"}))
    return summary


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
