"""T weight draws of a Bayesian convolution: a `tf.map_fn` over the draws against one stacked or grouped convolution.

`VariationalLayer._linear_per_sample` of the convolutions runs the T kernels
of a T-sample pass (`predict_uncertainty`, `num_samples=T`) in one of two
ways: on CPU a `tf.map_fn` of T convolutions (`_map_samples`), on a GPU one
convolution with the T kernels stacked along the filters (inputs shared by
the samples) or grouped, T groups (per-sample inputs). Which one runs is
`tfvb.layers._variational.grouped_convolutions()`; here each way is traced
with that choice forced, on the same layer, inputs and kernels, and the two
are checked to give the same values before they are timed.

Cases (LeNet-5's two convolutions as `BNNClassifier(architecture="lenet")`
builds them, and a decoder's stride-2 transposed convolution):

    conv_shared_28x28x1        Conv2DFlipout(6, 5, "same") on N images shared by the T draws
    conv_per_sample_14x14x6    Conv2DFlipout(16, 5, "valid") on (T, N, 14, 14, 6): one input per draw
    conv_transpose_per_sample  Conv2DTransposeFlipout(32, 3, strides=2, "same") on (T, N_t, 7, 7, 64)

Each repeat times one compiled forward call of each way, the order
alternating from repeat to repeat; reported per case: seconds per call
(median) and the paired ratio stacked-or-grouped / map on the wall clock and
on process CPU time (min / median / max over the pairs; above 1: the map is
faster).

    python benchmarks/conv_map.py --threads 1 --json benchmarks/results/conv_map.json
"""

import argparse
import importlib
import os
import statistics
import sys
import time
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import process_settings, runtime, write_json  # noqa: E402

CLOCKS = ("wall", "cpu")
WAYS = ("map", "stacked_or_grouped")


def cases(tf, samples, batch, transpose_batch):
    """{name: (layer module, layer, inputs, kernels)}: fixed random inputs and kernels of the case's shapes."""
    import tfvb

    def uniform(shape, seed):
        return tf.random.stateless_uniform(shape, seed=[seed, 0])

    def normal(shape, seed):
        return 0.1 * tf.random.stateless_normal(shape, seed=[seed, 1])

    shared = tfvb.layers.Conv2DFlipout(6, 5, padding="same", seed=0)
    shared.build((None, 28, 28, 1))
    per_sample = tfvb.layers.Conv2DFlipout(16, 5, padding="valid", seed=0)
    per_sample.build((None, 14, 14, 6))
    transpose = tfvb.layers.Conv2DTransposeFlipout(32, 3, strides=2, padding="same", seed=0)
    transpose.build((None, 7, 7, 64))
    return {
        "conv_shared_28x28x1": ("tfvb.layers.conv", shared, uniform((batch, 28, 28, 1), 1),
                                normal((samples, 5, 5, 1, 6), 2)),
        "conv_per_sample_14x14x6": ("tfvb.layers.conv", per_sample, uniform((samples, batch, 14, 14, 6), 3),
                                    normal((samples, 5, 5, 6, 16), 4)),
        "conv_transpose_per_sample": ("tfvb.layers.conv_transpose", transpose,
                                      uniform((samples, transpose_batch, 7, 7, 64), 5),
                                      normal((samples, 3, 3, 32, 64), 6)),
    }


def compiled(tf, module, layer, x, kernels, grouped):
    """A zero-argument callable running the layer's T-kernel convolution one way, and its output."""
    def call():
        return layer._linear_per_sample(x, kernels)

    fn = tf.function(call, autograph=False)
    with mock.patch.object(importlib.import_module(module), "grouped_convolutions", lambda: grouped):
        out = fn()  # traced here, with the way forced
    return (lambda: fn().numpy()), out.numpy()


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def spread(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def compare(tf, name, module, layer, x, kernels, repeats):
    fns, outs = {}, {}
    for way in WAYS:
        fns[way], outs[way] = compiled(tf, module, layer, x, kernels, grouped=way == "stacked_or_grouped")
    import numpy as np

    scale = float(np.abs(outs["map"]).max())
    difference = float(np.abs(outs["map"] - outs["stacked_or_grouped"]).max())
    times = {way: [] for way in WAYS}
    for r in range(repeats):
        for way in (WAYS if r % 2 == 0 else WAYS[::-1]):
            times[way].append(timed(fns[way]))
    ratios = {c: [g[c] / m[c] for g, m in zip(times["stacked_or_grouped"], times["map"])] for c in CLOCKS}
    return {
        "case": name, "inputs": list(x.shape), "kernels": list(kernels.shape), "output": list(outs["map"].shape),
        "max_abs_difference": difference, "max_abs_output": scale,
        "seconds": {way: {c: statistics.median(t[c] for t in times[way]) for c in CLOCKS} for way in WAYS},
        "ratio_stacked_or_grouped_over_map": {c: spread(ratios[c]) for c in CLOCKS},
        "pairs": {c: [round(v, 4) for v in ratios[c]] for c in CLOCKS},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100, help="T: kernel draws")
    parser.add_argument("--batch", type=int, default=128, help="N: images of the convolution cases")
    parser.add_argument("--transpose-batch", type=int, default=16, help="images of the transposed-convolution case")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per way and case (interleaved)")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--cases", nargs="*", default=None, help="case names (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    except RuntimeError:  # TensorFlow already started (e.g. under pytest): its threads stay as they are
        pass
    rows = []
    for name, (module, layer, x, kernels) in cases(tf, args.samples, args.batch, args.transpose_batch).items():
        if args.cases and name not in args.cases:
            continue
        row = compare(tf, name, module, layer, x, kernels, args.repeats)
        rows.append(row)
        shown = "   ".join(f"{c} " + " / ".join(f"{row['ratio_stacked_or_grouped_over_map'][c][k]:.2f}"
                                                for k in ("min", "median", "max")) for c in CLOCKS)
        print(f"{name} {row['inputs']} x {row['kernels']}: map {row['seconds']['map']['cpu'] * 1e3:.1f} ms CPU, "
              f"stacked/grouped {row['seconds']['stacked_or_grouped']['cpu'] * 1e3:.1f} ms CPU; "
              f"stacked_or_grouped / map (min / median / max) {shown}; "
              f"max |difference| {row['max_abs_difference']:.1e} of {row['max_abs_output']:.1f}", flush=True)
    result = {
        "benchmark": "conv_map",
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "samples": args.samples, "batch": args.batch, "transpose_batch": args.transpose_batch,
        "repeats": args.repeats, "threads": args.threads,
        **process_settings(),
        "rows": rows,
        **runtime(tf),
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
