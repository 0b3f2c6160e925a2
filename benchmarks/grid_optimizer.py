"""The UCI grid trainer's hand-written Adam against `keras.optimizers.Adam`, in the same run.

`tfvb.uci_protocol.MCDropoutGrid` trains the protocol's 12 networks as one
batched model inside one `tf.function` loop, updating them with Keras' Adam
rule written out in four lines (m, v, bias correction, step). Could it call
`keras.optimizers.Adam.apply` instead? Here the Keras optimizer is put in a
subclass; both sides train the same grid (the protocol's grid search: 12
networks on the first 80% of split 0's training rows) from the same start.
The script checks that their weights agree to the bit and times `fit` in
interleaved pairs, so a slow spell of a shared machine hits both.

Reported per data set: seconds per fit of each side (median) and the paired
ratios keras / hand-written (min, median, max): 1.00 would mean no cost.
Stored run (benchmarks/results/grid_optimizer.json, the command below with
`--repeats 9`: one run of 9 pairs, 2 loaded cores, one thread): Boston median
1.11 (pairs 0.89-1.45; a small grid's step is dispatch-bound, and Keras adds
its bookkeeping ops per variable), protein median 0.99 (pairs 0.70-1.06).
The grid keeps its own update.

    python benchmarks/grid_optimizer.py --json benchmarks/results/grid_optimizer.json
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from _timing import runtime, write_json  # noqa: E402

#: (folder, epochs per timed fit): a dispatch-bound small set and a compute-heavier large one.
DATASETS = (("bostonHousing", 400), ("protein-tertiary-structure", 4))


def keras_adam_grid_class():
    """MCDropoutGrid updated by `keras.optimizers.Adam.apply`, its state restored by `reset`."""
    import keras

    from tfvb.uci_protocol import MCDropoutGrid

    class KerasAdamGrid(MCDropoutGrid):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.optimizer = keras.optimizers.Adam(self.learning_rate)
            self.optimizer.build(self.variables)
            self._optimizer_start = [v.numpy() for v in self.optimizer.variables]

        def reset(self, *args, **kwargs):
            super().reset(*args, **kwargs)
            if hasattr(self, "_optimizer_start"):  # the base's __init__ resets before the optimizer exists
                for v, start in zip(self.optimizer.variables, self._optimizer_start):
                    v.assign(start)
            return self

        def _apply_gradients(self, grads):
            self.optimizer.apply(grads, self.variables)

    return KerasAdamGrid


def grid_search_data(name, rows=455, features=13, hidden=50):
    """(x, y, hidden units, grid) of the protocol's grid search on split 0, or synthetic data of that shape."""
    import itertools

    from tfvb.data import UCIFolder
    from tfvb.uci_protocol import settings

    try:
        folder = UCIFolder(name)
        data = folder.split(0)
        x, y, hidden = data.x_train, data.y_train, folder.n_hidden
        pairs = list(itertools.product(folder.dropout_rates, folder.tau_values))
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(rows, features))
        y = x @ rng.normal(size=features) + rng.normal(size=rows)
        pairs = list(itertools.product((0.005, 0.01, 0.05, 0.1), (0.1, 0.15, 0.2)))
        name += " (synthetic)"
    n_fit = int(settings.TRAIN_FRACTION * len(x))
    return name, x[:n_fit], y[:n_fit], hidden, [p for p, _ in pairs], [t for _, t in pairs]


def compare(name, epochs, repeats):
    from tfvb.uci_protocol import MCDropoutGrid

    name, x, y, hidden, rates, taus = grid_search_data(name)
    sides = {"keras": keras_adam_grid_class(), "hand_written": MCDropoutGrid}
    grids = {k: cls(x.shape[1], rates, taus, hidden_units=(hidden,), seed=0) for k, cls in sides.items()}

    def fit(side):
        grids[side].reset(rates, taus, seed=0).fit(x, y, epochs)

    for side in grids:  # trace, and check that both sides train the same networks
        fit(side)
    same = all(np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(grids["keras"].variables, grids["hand_written"].variables))
    times = {side: [] for side in grids}
    for r in range(repeats):
        order = list(grids) if r % 2 == 0 else list(grids)[::-1]
        for side in order:
            start = time.perf_counter()
            fit(side)
            times[side].append(time.perf_counter() - start)
    ratios = [k / h for k, h in zip(times["keras"], times["hand_written"])]
    return {
        "dataset": name, "networks": len(rates), "rows": len(x), "hidden": hidden, "epochs": epochs,
        "identical_weights": same,
        "seconds_keras": statistics.median(times["keras"]),
        "seconds_hand_written": statistics.median(times["hand_written"]),
        "ratio_keras_over_hand_written": {"min": min(ratios), "median": statistics.median(ratios), "max": max(ratios)},
        "times": times,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed fits per side and data set")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra-op threads (a protocol worker's)")
    parser.add_argument("--datasets", nargs="*", default=None, help="folder names (default: boston and protein)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per timed fit (default: per data set)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from tfvb.uci_protocol import set_cpu_threads

    set_cpu_threads(args.threads)
    import tensorflow as tf

    datasets = [(d, dict(DATASETS).get(d, 10)) for d in args.datasets] if args.datasets else DATASETS
    rows = []
    for name, epochs in datasets:
        row = compare(name, args.epochs or epochs, args.repeats)
        rows.append(row)
        q = row["ratio_keras_over_hand_written"]
        print(
            f"{row['dataset']}: {row['networks']} networks x {row['epochs']} epochs, identical weights "
            f"{row['identical_weights']}; keras {row['seconds_keras']:.2f}s, hand-written "
            f"{row['seconds_hand_written']:.2f}s; ratio min/median/max {q['min']:.3f}/{q['median']:.3f}/{q['max']:.3f}",
            flush=True,
        )
    result = {
        "benchmark": "grid_optimizer",
        "threads": args.threads,
        "repeats": args.repeats,
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "rows": rows,
        **runtime(tf),
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
