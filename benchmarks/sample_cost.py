"""What a T-sample prediction costs: `predict_uncertainty` against a Python loop of T stochastic calls.

For one batch of N = 256 MNIST-sized images, the time and the memory to get
T predictive samples and Gal's measures from them, for the three families
of tfvb's zoo:

    bnn          BNNClassifier LeNet-5, Flipout (the zoo's bnn_flipout_mnist architecture)
    mc_dropout   MCDropoutClassifier MLP 784-512-512-10, dropout 0.5 (the only MC-dropout classifier)
    ensemble     DeepEnsemble of T LeNet-5 (the zoo's ensemble_mnist members); T members = T samples

and two ways to get the samples:

    vectorized   model.predict_uncertainty(x, samples=T): all T draws in one call per memory-bounded chunk
    loop         T calls of a compiled single stochastic pass (tf.function(model(x, training=True)),
                 model(x) for MC dropout, each member for the ensemble), stacked, then the same summary

Each (model, T) runs in a fresh process. `peak_mb` is the process's
high-water resident memory after the first call of a way, minus its resident
memory once the model is built (the model, TensorFlow's runtime and the data
are not counted); the loop runs first, so the vectorized call's peak is
exact when above the loop's (else reported as "<= the loop's"). Times are
the median of `--repeats` calls of each way, interleaved (T = 1000: one
call each), after the first calls; `latency_s` is the time of one T-sample
prediction on the batch, `samples_per_s` is T x N / latency. The ensemble
stops at T = 100 members (1000 LeNets is not an ensemble anyone trains).

Usage (a few minutes on 2 loaded cores):
    python benchmarks/sample_cost.py --json benchmarks/results/sample_cost.json
    python benchmarks/sample_cost.py --samples 1,10 --models bnn        # a quick look
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

MODELS = ("bnn", "mc_dropout", "ensemble")
WAYS = ("vectorized", "loop")
MAX_ENSEMBLE = 100


def _rss_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _lenet():
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(6, 5, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2), keras.layers.Conv2D(16, 5, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(120, activation="relu"), keras.layers.Dense(84, activation="relu"),
        keras.layers.Dense(10)])


def _model(name, samples):
    import keras

    from tfvb.models import BNNClassifier, DeepEnsemble, MCDropoutClassifier

    if name == "bnn":
        return BNNClassifier(10, architecture="lenet", hidden_units=(120, 84), layer="flipout", num_examples=8000,
                             posterior_sigma_init=0.05, seed=0)
    if name == "mc_dropout":
        model = MCDropoutClassifier(10, hidden_units=(512, 512), dropout_rate=0.5, num_examples=8000, seed=0)
        model.build((None, 28, 28, 1))
        return model
    model = DeepEnsemble(_lenet, n=samples, seed=0)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def run_pair(name, samples, batch, repeats):
    """Both ways for one (model, T) in this process: memory from the first call of each, times interleaved."""
    import numpy as np
    import tensorflow as tf
    from _timing import interleaved

    from tfvb.uncertainty import classification_uncertainty

    model = _model(name, samples)
    x = np.random.default_rng(0).random((batch, 28, 28, 1), dtype=np.float32)
    if name == "ensemble":
        steps = [tf.function(lambda x, m=m: tf.nn.softmax(m(x))) for m in model.members]
    elif name == "mc_dropout":
        steps = [tf.function(lambda x: model(x))] * samples
    else:
        steps = [tf.function(lambda x: model(x, training=True))] * samples
    x_tensor = tf.constant(x)
    ways = {"loop": lambda: classification_uncertainty(np.stack([step(x_tensor).numpy() for step in steps])),
            "vectorized": lambda: model.predict_uncertainty(x, samples=samples)}
    base, peak, first = _rss_mb("VmRSS"), {}, {}
    for way in ("loop", "vectorized"):  # the lighter first: the high-water mark only grows
        start = time.perf_counter()
        ways[way]()
        first[way] = time.perf_counter() - start
        peak[way] = _rss_mb("VmHWM") - base
    medians, times = interleaved(ways, repeats=1 if samples >= 1000 else repeats, warmup=0)
    return [{"model": name, "samples": samples, "way": way, "batch": batch, "latency_s": medians[way],
             "all_s": times[way], "first_call_s": first[way], "samples_per_s": samples * batch / medians[way],
             # The vectorized call's peak is only known when above the loop's (it ran second).
             "peak_mb": peak[way], "peak_at_most": way == "vectorized" and peak[way] <= peak["loop"]}
            for way in WAYS]


def _child(name, samples, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--one", f"{name},{samples}", "--batch", str(args.batch),
           "--repeats", str(args.repeats), "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("[")]
    if out.returncode or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def pair_ratios(loop, vectorized):
    """loop / vectorized of each interleaved repeat (the i-th call of each way)."""
    return [a / b for a, b in zip(loop["all_s"], vectorized["all_s"])]


def table(rows):
    """Markdown: one row per (model, T), the two ways side by side, the ratio of their medians and the
    min-max of the per-repeat ratios (one value at T = 1000, timed once)."""
    by = {(r["model"], r["samples"], r["way"]): r for r in rows}
    lines = ["| model | T | predict_uncertainty s | loop of T calls s | loop / vectorized | pairs min-max "
             "| samples/s (vectorized) | peak MB vectorized | peak MB loop |", "|---|---|---|---|---|---|---|---|---|"]
    for name in MODELS:
        for t in sorted({r["samples"] for r in rows if r["model"] == name}):
            v, lo = by.get((name, t, "vectorized")), by.get((name, t, "loop"))
            if not v or not lo:
                continue
            pairs = pair_ratios(lo, v)
            lines.append(f"| {name} | {t} | {v['latency_s']:.3f} | {lo['latency_s']:.3f} | "
                         f"{lo['latency_s'] / v['latency_s']:.2f} | {min(pairs):.2f}-{max(pairs):.2f} "
                         f"({len(pairs)}) | {v['samples_per_s']:,.0f} | "
                         f"{'<= ' if v['peak_at_most'] else ''}{v['peak_mb']:.0f} | {lo['peak_mb']:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", default="1,10,100,1000")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads per process (0: all cores)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.one:
        import tensorflow as tf

        if args.threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        name, samples = args.one.split(",")
        print(json.dumps(run_pair(name, int(samples), args.batch, args.repeats)))
        return None

    from _timing import write_json

    start = time.time()
    rows = []
    for name in args.models.split(","):
        for t in (int(s) for s in args.samples.split(",")):
            if name == "ensemble" and t > MAX_ENSEMBLE:
                continue
            for row in _child(name, t, args):
                rows.append(row)
                print(f"{name:10s} T={t:5d} {row['way']:10s} {row['latency_s']:8.3f} s  "
                      f"{row['samples_per_s']:12,.0f} samples/s  peak {row['peak_mb']:7.1f} MB", flush=True)
    import tensorflow as tf
    from _timing import process_settings, runtime

    report = {"benchmark": "sample_cost", "command": " ".join([os.path.basename(sys.executable)] + (
                  sys.argv if argv is None else [os.path.relpath(__file__), *argv])),
              "batch": args.batch, "repeats": args.repeats, "rows": rows, "table": table(rows),
              "wall_s": time.time() - start, "threads": args.threads or "all cores",
              **process_settings(), **runtime(tf)}
    print(report["table"])
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
