"""Latency of predict_uncertainty served (SavedModel, LiteRT) beside Python's, at T = 1, 10, 100.

    PYTHONPATH=. python benchmarks/serving_latency.py [--entries bnn_flipout_mnist mc_dropout_uci_boston]
        [--inputs 1 100] [--repeats 20] [--json benchmarks/results/serving_latency.json]

Each zoo entry is loaded (`tfvb.zoo.load`), exported to a SavedModel (T is an input) and to one LiteRT
file per T (T is fixed at export), and `predict_uncertainty` is timed on the same batch of `--inputs`
random inputs (each batch size of the list in turn). Python is
`model.predict_uncertainty(x, samples=T, seed=0)`; SavedModel is the `predict_uncertainty` signature
of `tf.saved_model.load`; LiteRT is the signature runner of `ai_edge_litert`.

The three runtimes are timed interleaved: after one warm-up call of each, every repeat calls each
runtime once, the order rotating from repeat to repeat, so a slow spell of a shared machine hits all
three. Reported per (entry, batch, T): milliseconds per call, min / median / max over the repeats, and
each served runtime's time over Python's in the same repeat (min / median / max over the repeats).
The process's CPU affinity, niceness, thread variables and load average go into the JSON with the
command: this benchmark reports absolute times, so they are what a reader compares runs by.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from _timing import process_settings

import tfvb

SAMPLES = (1, 10, 100)
RUNTIMES = ("python", "savedmodel", "litert")


def _inputs(model, n):
    from tfvb.serving import for_model

    spec = for_model(model).input_spec
    return np.random.default_rng(0).uniform(size=(n,) + tuple(spec.shape[1:])).astype("float32")


def _spread(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def interleaved_ms(calls, repeats):
    """{runtime: [ms per call]} of `repeats` rounds, each calling every runtime once in a rotating order."""
    for fn in calls.values():
        fn()  # warm-up: traces, allocates
    names = list(calls)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            calls[name]()
            times[name].append(1000 * (time.perf_counter() - start))
    return times


def measure(name, batches, repeats, folder):
    from ai_edge_litert.interpreter import Interpreter

    model = tfvb.zoo.load(name)
    saved = tf.saved_model.load(model.export(os.path.join(folder, name)))
    runners = {}
    for samples in SAMPLES:
        path = model.export(os.path.join(folder, f"{name}_{samples}.tflite"), format="litert", samples=samples)
        runners[samples] = Interpreter(model_path=path).get_signature_runner("predict_uncertainty")
    rows = []
    for n in batches:
        x = _inputs(model, n)
        for samples in SAMPLES:
            calls = {
                "python": lambda t=samples, x=x: model.predict_uncertainty(x, samples=t, seed=0),
                "savedmodel": lambda t=samples, x=x: saved.predict_uncertainty(x, tf.constant(t),
                                                                               tf.constant(0, tf.int64)),
                "litert": lambda run=runners[samples], x=x: run(x=x, seed=np.array(0, np.int64)),
            }
            times = interleaved_ms(calls, repeats)
            row = {"entry": name, "inputs": n, "samples": samples,
                   "ms": {k: _spread(v) for k, v in times.items()},
                   "over_python": {k: _spread([a / b for a, b in zip(times[k], times["python"])])
                                   for k in RUNTIMES[1:]},
                   "times_ms": {k: [round(v, 3) for v in vs] for k, vs in times.items()}}
            rows.append(row)
            cells = " | ".join(" / ".join(f"{row['ms'][k][s]:.2f}" for s in ("min", "median", "max"))
                               for k in RUNTIMES)
            ratios = " | ".join(f"{row['over_python'][k]['median']:.2f}" for k in RUNTIMES[1:])
            print(f"| {name} | {n} | {samples} | {cells} | {ratios} |", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="+", default=["bnn_flipout_mnist", "mc_dropout_uci_boston"])
    parser.add_argument("--inputs", type=int, nargs="+", default=[1], help="batch sizes, each timed in turn")
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds of one call per runtime")
    parser.add_argument("--label", default=None, help="what this run measures (e.g. a commit, the machine's load)")
    parser.add_argument("--json", default=None, help="write the rows, the command and the settings here")
    args = parser.parse_args(argv)
    print(f"predict_uncertainty latency, ms per call (min / median / max over {args.repeats} interleaved "
          f"repeats), and the served runtimes' time over Python's (median of the per-repeat ratios)")
    print("| entry | inputs | T | Python | SavedModel | LiteRT | SavedModel / Python | LiteRT / Python |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.entries:
            rows += measure(name, args.inputs, args.repeats, folder)
    if args.json:
        from ai_edge_litert import __version__ as litert_version

        result = {
            "benchmark": "serving_latency", "label": args.label,
            "command": " ".join([os.path.basename(sys.executable)]
                                + (sys.argv if argv is None else ["benchmarks/serving_latency.py", *argv])),
            "repeats": args.repeats, "inputs": args.inputs, "samples": list(SAMPLES),
            "process": process_settings(),
            "versions": {"tfvb": tfvb.__version__, "tensorflow": tf.__version__, "ai_edge_litert": litert_version},
            "cpu_count": os.cpu_count(),
            "rows": rows,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
