"""The training step of every MNIST zoo entry, timed, and its epoch on the 50,000 training digits.

Issue 24 asks for the epoch time of each MNIST zoo recipe on the official
training digits before and after the speed changes. A whole epoch of the
slowest entries takes minutes, so this times steps: each entry's stored model
(`tfvb.zoo.load(name)`: the entry's architecture, whatever its weights) is
compiled with Adam as its recipe does, then `fit` runs two epochs over 6,000
official training digits in the recipe's batches (the VAE family on
`tfvb.data.image_dataset` with dynamic binarization, batch 100; the
classifiers on the grey digits, batch 128). The time per step is read between
the 5th and the last step of the second epoch (process CPU time and wall
clock); the epoch on 50,000 digits is that times the recipe's steps per epoch
(500 or 391), plus nothing for the epoch's fixed cost, which 50,000-digit
epochs amortize.

"Before" and "after" are two checkouts run with the same command, e.g.

    git worktree add /tmp/before a34ac66
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/zoo_epochs.py --label before --json /tmp/before.json
    .venv/bin/python benchmarks/zoo_epochs.py --label after --json /tmp/after.json
    .venv/bin/python benchmarks/zoo_epochs.py --compare /tmp/before.json /tmp/after.json \\
        --out benchmarks/results/zoo_epochs.md

The script uses only what both versions have (`tfvb.optimizers.Adam` when it
exists, else `keras.optimizers.Adam`, the recipes' optimizer before it).
"""

import argparse
import json
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "mnist")
VAE_ENTRIES = ("vae_mnist", "iwae_mnist", "iwae_mnist_dreg", "vae2_mnist", "iwae2_mnist", "cvae_mnist",
               "cvae_mnist_l16")
CLASSIFIER_ENTRIES = ("bnn_flipout_mnist", "bnn_reparam_mnist", "mc_dropout_mnist", "ensemble_mnist")
TRAIN_DIGITS = 50_000  # the recipes' gradient steps: training digits 0-49,999


def _adam(tfvb, keras, entry):
    adam = getattr(getattr(tfvb, "optimizers", None), "Adam", keras.optimizers.Adam)
    return adam(1e-3, epsilon=1e-4) if entry in VAE_ENTRIES else adam(1e-3)


def time_entry(name, images, labels, steps_first=5):
    import keras

    import tfvb

    model = tfvb.zoo.load(name)
    model.compile(optimizer=_adam(tfvb, keras, name))
    vae = name in VAE_ENTRIES
    batch = 100 if vae else 128
    data = (tfvb.data.image_dataset(images, batch_size=batch, seed=0) if vae else
            tfvb.data.image_dataset(images, labels, batch_size=batch, binarize=None, seed=0))
    steps = -(-len(images) // batch)
    marks = {}

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch_index, logs=None):
            if self.epoch == 1 and batch_index in (steps_first - 1, steps - 2):
                marks[batch_index] = (time.perf_counter(), time.process_time())

    model.fit(data, epochs=2, verbose=0, callbacks=[Clock()])
    (w0, c0), (w1, c1) = marks[steps_first - 1], marks[steps - 2]
    n = steps - 1 - steps_first
    per_step = {"wall_ms": (w1 - w0) / n * 1e3, "cpu_ms": (c1 - c0) / n * 1e3}
    epoch_steps = -(-TRAIN_DIGITS // batch)
    return {**per_step, "batch": batch, "epoch_steps": epoch_steps, "parameters": int(model.count_params()),
            "epoch_wall_s": per_step["wall_ms"] * epoch_steps / 1e3,
            "epoch_cpu_s": per_step["cpu_ms"] * epoch_steps / 1e3}


def measure(args):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import tfvb

    images, labels = tfvb.data.mnist_arrays("train", args.data)
    images, labels = images[:args.digits], labels[:args.digits]
    known = VAE_ENTRIES + CLASSIFIER_ENTRIES
    unknown = [e for e in args.entries if e not in known]
    if unknown:
        raise SystemExit(f"Expected MNIST zoo entries among {', '.join(known)}. Received: {', '.join(unknown)}")
    results = {}
    for name in args.entries:
        results[name] = time_entry(name, images, labels)
        print(f"{name:20s} {results[name]['cpu_ms']:8.2f} ms/step CPU  {results[name]['wall_ms']:8.2f} wall  "
              f"epoch of {TRAIN_DIGITS} digits ~{results[name]['epoch_cpu_s']:.0f} s CPU", flush=True)
    return {"label": args.label, "version": tfvb.__version__, "threads": args.threads, "digits": args.digits,
            "results": results}


def compare(before_path, after_path):
    with open(before_path) as f:
        before = json.load(f)
    with open(after_path) as f:
        after = json.load(f)
    lines = [f"Step of each MNIST zoo entry's model and its epoch on {TRAIN_DIGITS:,} training digits, "
             f"{before['label']} vs {after['label']} ({after['threads']} thread(s), process CPU time; "
             "`benchmarks/zoo_epochs.py`).", "",
             "| entry | batch | ms/step before | ms/step after | after / before | epoch before (s) | epoch after (s) |",
             "|---|---|---|---|---|---|---|"]
    changed = []
    for name, a in after["results"].items():
        b = before["results"].get(name)
        if b is None:
            continue
        ratio, mark = a["cpu_ms"] / b["cpu_ms"], ""
        if a.get("parameters", 0) and b.get("parameters", 0) and a["parameters"] != b["parameters"]:
            # The entry's model itself changed between the checkouts (e.g. an ensemble's members): its
            # step cost scales with its size, so the ratio is per parameter and marked.
            ratio, mark = ratio * b["parameters"] / a["parameters"], " *"
            changed.append(f"`{name}`: {b['parameters']:,} -> {a['parameters']:,} parameters")
        lines.append(f"| `{name}` | {a['batch']} | {b['cpu_ms']:.1f} | {a['cpu_ms']:.1f} | "
                     f"{ratio:.2f}{mark} | {b['epoch_cpu_s']:.0f} | {a['epoch_cpu_s']:.0f} |")
    if changed:
        lines += ["", "\\* The entry's model differs between the two checkouts (" + "; ".join(changed) +
                  "): the ratio is per parameter."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", nargs="+", default=list(VAE_ENTRIES + CLASSIFIER_ENTRIES))
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder of the official MNIST IDX files")
    parser.add_argument("--digits", type=int, default=6000, help="training digits per timed epoch")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--label", default="")
    parser.add_argument("--json", default=None)
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), default=None)
    parser.add_argument("--out", default=None, help="with --compare: write the markdown table here")
    args = parser.parse_args(argv)
    if args.compare:
        text = compare(*args.compare)
        print(text)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
        return text
    report = measure(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
