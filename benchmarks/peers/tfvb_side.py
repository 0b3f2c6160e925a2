"""tfvb's side of the peers benchmark: one row, timed once, in a process of its own.

    python benchmarks/peers/tfvb_side.py ROW --threads 1 [--sizes JSON] [--sanity-epochs 3]

Prints one JSON line: {"wall": s, "cpu": s, "loss": ...} for a timing run; with
`--sanity-epochs E` the losses after E epochs and the row's sanity measure
instead (see `run.py`). TensorFlow's intra- and inter-op pools get `--threads`
threads; `run.py` also pins the process to as many CPUs.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from rows import ADAM_EPSILON, LEARNING_RATE, POSTERIOR_SIGMA, SIZES, binarized, mnist_train  # noqa: E402


def clocks():
    return time.perf_counter(), time.process_time()


def since(start):
    wall, cpu = clocks()
    return {"wall": wall - start[0], "cpu": cpu - start[1]}


def epoch_clock(keras):
    class EpochClock(keras.callbacks.Callback):
        """Wall and CPU time of each epoch after the first, from the end of the one before (so the
        iterator's shut-down and start-up between epochs count, as a user waits for them)."""

        def __init__(self):
            super().__init__()
            self.epochs, self.last = [], None

        def on_epoch_end(self, epoch, logs=None):
            if self.last is not None:
                self.epochs.append(since(self.last))
            self.last = clocks()

    return EpochClock()


def vae_model(k):

    import tfvb

    model = tfvb.models.IWAE(k=k, seed=0)
    model.compile(optimizer=tfvb.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPSILON))
    return model


def bnn_model(n):

    import tfvb

    model = tfvb.models.BNNClassifier(10, hidden_units=(400, 400), layer="flipout", num_examples=n,
                                      posterior_sigma_init=POSTERIOR_SIGMA, seed=0)
    model.compile(optimizer=tfvb.optimizers.Adam(LEARNING_RATE))
    return model


def train(row, sizes, epochs):
    """fit(epochs) on the row's data: (per-epoch times after the first, the history, the model)."""
    import keras

    import tfvb

    grey, labels = mnist_train(sizes["digits"])
    images = grey.reshape(-1, 28, 28, 1)
    if row == "bnn_epoch":
        model = bnn_model(len(images))
        data = tfvb.data.image_dataset(images, labels, batch_size=sizes["bnn_batch"], binarize=None)
    else:
        model = vae_model(sizes["iwae_k"] if row == "iwae_epoch" else 1)
        data = tfvb.data.image_dataset(images, batch_size=sizes["vae_batch"])
    clock = epoch_clock(keras)
    history = model.fit(data, epochs=epochs, verbose=0, callbacks=[clock])
    return clock.epochs, {k: [float(v) for v in vs] for k, vs in history.history.items()}, model


def evaluation_digits(sizes):
    """The IWAE-5000 row's fixed binarized digits (read and drawn before any clock starts, as torch_side's)."""
    return binarized(mnist_train(sizes["ll_digits"])[0]).reshape(-1, 28, 28, 1)


def log_likelihood(model, x, k):
    import tfvb

    return float(tfvb.evaluate.log_likelihood(model, x, k=k, verbose=0, seed=0).mean)


def predict(model, x, sizes):
    return model.predict_uncertainty(x, samples=sizes["draws"], seed=0)


def vae_parts(row, sizes):
    """The VAE epoch's two parts (`vae_step`, `vae_data`): a function running one pass and returning its
    value (the pass's mean loss; its mean pixel)."""
    import tensorflow as tf

    import tfvb

    grey = mnist_train(sizes["digits"])[0].reshape(-1, 28, 28, 1)
    batch = sizes["vae_batch"]
    if row == "vae_step":
        # The model's compiled train_step on batches made beforehand: no tf.data, no Keras loop.
        model = vae_model(1)
        step = tf.function(model.train_step)
        batches = [tf.constant(b) for b in np.split(binarized(grey), range(batch, len(grey), batch))]

        def run():
            model.reset_metrics()  # the value: the pass's mean loss, as `fit` reports an epoch's
            for b in batches:
                logs = step(b)
            return float(logs["loss"])

        return run
    # The pipeline as `fit` iterates it: one iterator of the repeated dataset (tfvb's `fit` makes one per
    # `fit`), its batches taken inside a compiled loop as the train function takes them. (A `reduce` or
    # a Python loop would add a new iterator's start-up, or Python, to every pass.)
    data = tfvb.data.image_dataset(grey, batch_size=batch)
    steps = len(data)
    iterator = iter(data.repeat())

    @tf.function
    def one_pass():
        total = tf.constant(0.0)
        for _ in tf.range(steps):
            total += tf.reduce_sum(next(iterator))
        return total / (len(grey) * 784)

    def run():
        return float(one_pass())

    return run


def timing(row, sizes):
    if row in ("vae_step", "vae_data"):
        run = vae_parts(row, sizes)
        run()  # compiles, or warms the pipeline's functions
        start = clocks()
        value = run()
        return {**since(start), "loss" if row == "vae_step" else "mean_pixel": value}
    if row in ("iwae_epoch", "vae_epoch", "bnn_epoch"):
        times, history, _ = train(row, sizes, sizes["epochs"])
        return {**times[-1], "loss": history["loss"][-1]}
    if row == "iwae5000":
        model = vae_model(sizes["iwae_k"])
        x = evaluation_digits(sizes)  # the data is read before the clock, on both sides
        log_likelihood(model, x, sizes["ll_k"])  # compiles
        start = clocks()
        value = log_likelihood(model, x, sizes["ll_k"])
        return {**since(start), "log_likelihood": value}
    if row == "bnn_predict":
        model = bnn_model(sizes["digits"])
        # The digits are read before the clock, as torch_side reads them (reading the gzipped training
        # file took about 0.19 s, which the stored bnn_predict rows of peers.json count on tfvb's side).
        x = mnist_train(sizes["predict_digits"])[0].reshape(-1, 28, 28, 1)
        predict(model, x, sizes)  # compiles
        start = clocks()
        mean = predict(model, x, sizes)["mean"]
        return {**since(start), "mean_max_probability": float(mean.max(axis=-1).mean())}
    raise ValueError(f"Expected one of the rows of rows.py. Received: {row!r}")


def sanity(row, sizes, epochs):
    """What both sides must agree on after `epochs` epochs of the row's model (see run.py)."""
    train_row = {"iwae5000": "iwae_epoch", "bnn_predict": "bnn_epoch"}.get(row, row)
    _, history, model = train(train_row, sizes, epochs)
    result = {"train_loss": history["loss"][-1]}
    if train_row == "bnn_epoch":
        held_out, labels = mnist_train(sizes["digits"] + 1000)
        probs = model.predict_uncertainty(held_out[-1000:].reshape(-1, 28, 28, 1), samples=sizes["draws"],
                                          seed=0)["mean"]
        result["held_out_accuracy"] = float((probs.argmax(-1) == labels[-1000:]).mean())
    else:
        result["log_likelihood_k50"] = log_likelihood(model, evaluation_digits(sizes), 50)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("row")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default=None, help="JSON of rows.SIZES entries to override")
    parser.add_argument("--sanity-epochs", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = {**SIZES, **json.loads(args.sizes or "{}")}
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    result = sanity(args.row, sizes, args.sanity_epochs) if args.sanity_epochs else timing(args.row, sizes)
    import tfvb

    result["version"] = {"tfvb": tfvb.__version__, "tensorflow": tf.__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
