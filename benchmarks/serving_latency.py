"""Latency of predict_uncertainty served (SavedModel, LiteRT) beside Python's, at T = 1, 10, 100.

    PYTHONPATH=. python benchmarks/serving_latency.py [--entries bnn_flipout_mnist mc_dropout_uci_boston]
        [--inputs 1] [--repeats 20]

Each zoo entry is loaded (`tfvb.zoo.load`), exported to a SavedModel (T is an input) and to one LiteRT
file per T (T is fixed at export), and `predict_uncertainty` is timed on the same tiny batch: the
median of `repeats` calls after one warm-up call, in milliseconds. Python is
`model.predict_uncertainty(x, samples=T, seed=0)`; SavedModel is the `predict_uncertainty` signature
of `tf.saved_model.load`; LiteRT is the signature runner of `ai_edge_litert`.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

import tfvb

SAMPLES = (1, 10, 100)


def _median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _inputs(model, n):
    from tfvb.serving import for_model

    spec = for_model(model).input_spec
    return np.random.default_rng(0).uniform(size=(n,) + tuple(spec.shape[1:])).astype("float32")


def measure(name, n, repeats, folder):
    from ai_edge_litert.interpreter import Interpreter

    model = tfvb.zoo.load(name)
    x = _inputs(model, n)
    saved = tf.saved_model.load(model.export(os.path.join(folder, name)))
    rows = []
    for samples in SAMPLES:
        python = _median_ms(lambda t=samples: model.predict_uncertainty(x, samples=t, seed=0), repeats)
        served = _median_ms(lambda t=samples: saved.predict_uncertainty(x, tf.constant(t), tf.constant(0, tf.int64)),
                            repeats)
        path = model.export(os.path.join(folder, f"{name}_{samples}.tflite"), format="litert", samples=samples)
        runner = Interpreter(model_path=path).get_signature_runner("predict_uncertainty")
        litert = _median_ms(lambda run=runner: run(x=x, seed=np.array(0, np.int64)), repeats)
        rows.append((name, samples, python, served, litert))
        print(f"| {name} | {samples} | {python:.2f} | {served:.2f} | {litert:.2f} |", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="+", default=["bnn_flipout_mnist", "mc_dropout_uci_boston"])
    parser.add_argument("--inputs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"predict_uncertainty latency, median of {args.repeats} calls on {args.inputs} input(s), ms")
    print("| entry | T | Python | SavedModel | LiteRT |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.entries:
            measure(name, args.inputs, args.repeats, folder)


if __name__ == "__main__":
    main()
