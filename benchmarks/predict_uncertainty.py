"""predict_uncertainty: T weight draws in one vectorized call against a loop of T calls.

The model is a BNNClassifier (Flipout MLP, 784-400-400-10 by default) on a
batch of N test images. Three ways to get T = 100 predictive samples and
Gal's measures from them:

    vectorized    model.predict_uncertainty(x, samples=T)   (one call per batch)
    loop          T x model(x, training=True), then the same summary (what the
                  issue asks to compare against: eager Keras calls)
    loop_compiled T x a tf.function of model(x, training=True): the loop with
                  the Python/Keras call overhead compiled away

Reported: seconds per full T-sample prediction (median over repeats) and
the ratios loop / vectorized (> 1 means the vectorized call is faster).

Usage:
    python benchmarks/predict_uncertainty.py --samples 100 --examples 1000 --json predict_uncertainty.json
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import runtime, write_json  # noqa: E402

from tfvb.uncertainty import classification_uncertainty  # noqa: E402


def timed(fn, repeats):
    fn()  # trace / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--hidden", default="400,400")
    parser.add_argument("--layer", default="flipout")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras

    from tfvb.models import BNNClassifier

    hidden = tuple(int(h) for h in args.hidden.split(","))
    model = BNNClassifier(10, hidden_units=hidden, layer=args.layer, num_examples=8000, seed=0,
                          posterior_sigma_init=0.05)
    x = np.random.default_rng(0).random((args.examples, 28, 28, 1), dtype=np.float32)
    t = args.samples

    def vectorized():
        return model.predict_uncertainty(x, samples=t, batch_size=args.examples)

    def loop():
        probs = np.stack([model(x, training=True).numpy() for _ in range(t)])
        return classification_uncertainty(probs)

    step = tf.function(lambda x: model(x, training=True))
    x_tensor = tf.constant(x)

    def loop_compiled():
        probs = np.stack([step(x_tensor).numpy() for _ in range(t)])
        return classification_uncertainty(probs)

    seconds = {}
    all_times = {}
    for name, fn in [("vectorized", vectorized), ("loop", loop), ("loop_compiled", loop_compiled)]:
        seconds[name], all_times[name] = timed(fn, args.repeats)
    report = {
        "benchmark": "predict_uncertainty",
        "what": f"T={t} predictive samples for N={args.examples} images, {args.layer} MLP {hidden}",
        "seconds": seconds,
        "all_seconds": all_times,
        "ratio_loop_over_vectorized": seconds["loop"] / seconds["vectorized"],
        "ratio_compiled_loop_over_vectorized": seconds["loop_compiled"] / seconds["vectorized"],
        **runtime(tf, keras=keras.__version__),
    }
    print(f"vectorized {seconds['vectorized']:.3f}s, loop {seconds['loop']:.3f}s, "
          f"compiled loop {seconds['loop_compiled']:.3f}s; ratio loop/vectorized "
          f"{report['ratio_loop_over_vectorized']:.2f}, compiled loop/vectorized "
          f"{report['ratio_compiled_loop_over_vectorized']:.2f}")
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
