"""Train-step throughput: tfvb's Bayesian MLP (Keras 3) against `tfp.layers` in tf_keras.

Both models have the same shape (flatten 28x28x1 -> 400 -> 400 -> 10 by
default), the same estimator (Flipout or reparameterization on every
layer), the same prior (N(0, 1), closed-form KL), the same objective
(mean NLL + KL / N), the same optimizer (Adam 1e-3), the same data
pipeline and batch, each trained through its own framework's `fit`.
Epochs of the two alternate, so load on a shared machine hits both alike;
the reported ratio is tfvb's steps/s over the reference's (medians over the
timed epochs; > 1 means tfvb is faster), with the median of the per-pair
ratios beside it.

The reference needs `tf_keras` (legacy Keras 2) and `tensorflow_probability`
in the benchmark's environment only; tfvb itself never imports tf_keras.

Usage:
    python benchmarks/bnn_layers.py --layer both --steps 60 --repeats 5 --json bnn_layers.json
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


def load_data(n, data_root):
    """The first n MNIST training images of the zoo's 10k file, or random images when absent."""
    from tfvb import paths

    root = data_root or paths.shared_data_dir(required=False)
    folder = os.path.join(root, "mnist") if root else ""
    if root and os.path.exists(os.path.join(folder, "mnist10k-images-idx3-ubyte.gz")):
        from tfvb.data import mnist_arrays

        x, y = mnist_arrays("mnist10k", data_dir=folder)
        return x[:n], y[:n], "MNIST (zoo 10k file, first %d)" % n
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n), "random 28x28 images"


def dataset(x, y, batch_size):
    return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch_size, drop_remainder=True).prefetch(2)


def tfvb_model(layer, hidden, n):
    import keras

    from tfvb.models import BNNClassifier

    model = BNNClassifier(10, hidden_units=hidden, layer=layer, num_examples=n, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def reference_model(layer, hidden, n):
    import tensorflow_probability as tfp
    import tf_keras

    tfd = tfp.distributions
    cls = {"flipout": tfp.layers.DenseFlipout, "reparameterization": tfp.layers.DenseReparameterization}[layer]

    def kl(q, p, _):
        return tfd.kl_divergence(q, p) / n

    layers = [tf_keras.layers.InputLayer((28, 28, 1)), tf_keras.layers.Flatten()]
    layers += [cls(u, activation="relu", kernel_divergence_fn=kl) for u in hidden]
    layers += [cls(10, kernel_divergence_fn=kl)]
    model = tf_keras.Sequential(layers)
    model.compile(optimizer=tf_keras.optimizers.Adam(1e-3),
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def time_epoch(model, data, steps):
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - start)


def compare(layer, args, x, y):
    hidden = tuple(int(h) for h in args.hidden.split(","))
    data = dataset(x, y, args.batch_size)
    models = {"tfvb": tfvb_model(layer, hidden, len(x)), "tfp_tf_keras": reference_model(layer, hidden, len(x))}
    for model in models.values():  # trace and warm up
        time_epoch(model, data, args.steps)
    rates = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            rates[name].append(time_epoch(model, data, args.steps))
    med = {name: statistics.median(r) for name, r in rates.items()}
    # Epochs run in tfvb/reference pairs: the median of the paired ratios discounts slow spells of a shared machine.
    paired = [a / b for a, b in zip(rates["tfvb"], rates["tfp_tf_keras"])]
    params = {name: int(sum(np.prod(v.shape) for v in m.trainable_weights)) for name, m in models.items()}
    return {
        "layer": layer,
        "steps_per_second": med,
        "examples_per_second": {k: v * args.batch_size for k, v in med.items()},
        "all_steps_per_second": rates,
        "trainable_parameters": params,
        "ratio_tfvb_over_reference": med["tfvb"] / med["tfp_tf_keras"],
        "median_paired_ratio": statistics.median(paired),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layer", choices=["flipout", "reparameterization", "both"], default="both")
    parser.add_argument("--hidden", default="400,400")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60, help="train steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per model (alternating)")
    parser.add_argument("--examples", type=int, default=8000)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)

    x, y, data_desc = load_data(args.examples, args.data_root)
    layers = ["flipout", "reparameterization"] if args.layer == "both" else [args.layer]
    results = [compare(layer, args, x, y) for layer in layers]
    import keras
    import tensorflow_probability as tfp
    import tf_keras

    report = {
        "benchmark": "bnn_layers",
        "what": "train-step throughput, tfvb BNNClassifier (Keras 3) vs tfp.layers MLP (tf_keras), "
        "same shape/data/batch",
        "data": data_desc,
        "batch_size": args.batch_size,
        "hidden_units": args.hidden,
        "steps_per_epoch": args.steps,
        "repeats": args.repeats,
        "results": results,
        **runtime(tf, keras=keras.__version__, tf_keras=tf_keras.__version__, tensorflow_probability=tfp.__version__),
    }
    for r in results:
        s = r["steps_per_second"]
        print(
            f"{r['layer']:>20}: tfvb {s['tfvb']:.1f} steps/s, tfp.layers/tf_keras {s['tfp_tf_keras']:.1f} steps/s, "
            f"ratio {r['ratio_tfvb_over_reference']:.2f} (median of paired epochs {r['median_paired_ratio']:.2f})"
        )
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
