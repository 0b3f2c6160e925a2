"""Pieces every tfvb model's `train_step`/`test_step` shares.

Loss scaling: each step averages per-example losses over the *global* batch,
so under `tf.distribute` the summed replica gradients equal the
single-device gradient of the same ELBO. The global batch is counted (one
all-reduce of a scalar), not assumed to be `local batch x replicas`: the
last batch of an epoch is split unevenly between replicas.
"""

import keras
import tensorflow as tf

from tfvb.models import _divergence, _inputs


def unpack_batch(data):
    """Split a Keras batch into (x, y, sample_weight); accepts (x,), (x, y), (x, y, w) and bare x.

    Dicts are refused and the weights checked (finite, non-negative) at run time.
    """
    return _inputs.checked_batch(data)


def replicas_in_sync():
    return tf.distribute.get_strategy().num_replicas_in_sync


def global_batch_size(local_batch_size):
    """The number of examples in this step over all replicas (int32 scalar)."""
    local_batch_size = tf.cast(local_batch_size, tf.int32)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return local_batch_size
    return context.all_reduce(tf.distribute.ReduceOp.SUM, local_batch_size)


def average_loss(per_example_loss, sample_weight=None):
    """Sum over this replica's examples / size of the global batch (all replicas), weighted when given.

    Summed over replicas this is the single-device mean, whatever the number
    of replicas and however the batch was split.
    """
    per_example_loss = tf.convert_to_tensor(per_example_loss)
    if sample_weight is not None:
        sample_weight = tf.cast(tf.reshape(sample_weight, tf.shape(per_example_loss)), per_example_loss.dtype)
    return tf.nn.compute_average_loss(per_example_loss, sample_weight=sample_weight,
                                      global_batch_size=global_batch_size(tf.shape(per_example_loss)[0]))


def require_examples(x, method="fit"):
    """Raise when `x` is known to hold no example (arrays with 0 rows, a dataset of 0 batches).

    Keras runs an epoch of zero steps on empty data without a word; an empty
    input is always a mistake upstream (a wrong split, a filter that dropped
    everything), so say so before anything runs.
    """
    if isinstance(x, tf.data.Dataset):
        if int(x.cardinality()) == 0:
            raise ValueError(f"Expected a non-empty dataset for `{method}`. Received: a dataset of 0 batches")
        return
    first = x
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, dict) and first:
        first = next(iter(first.values()))
    shape = getattr(first, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] == 0:
        raise ValueError(f"Expected at least one example for `{method}`. Received: x.shape={tuple(shape)}")


def fit_arguments(model, x, kwargs):
    """`fit`'s data and keyword arguments adjusted for tfvb's data pipeline: (x, kwargs).

    The epoch counter of a `tfvb.data.image_dataset` goes first among the
    callbacks: it tells the dataset which epoch to draw its order and
    binarization for, so a resumed run sees the data an uninterrupted one
    sees. A `TerminateOnNonFinite` goes last, unless the user chose one (or
    Keras' TerminateOnNaN): a diverged run stops with an error. A dataset is
    never shuffled by Keras (it would only warn).

    An `image_dataset` given without `steps_per_epoch` (and not split between
    workers) reaches Keras repeated, with `steps_per_epoch` its number of
    batches, so that one iterator serves the whole `fit`. Keras otherwise makes
    a new iterator every epoch, and one more at each epoch's end that the next
    epoch discards; each instantiates the pipeline's functions anew, about
    20 ms of CPU in a single probe (no stored result): the two of an epoch
    together about a tenth of a 60-batch epoch of the VAE (60 steps of about
    6.5 ms). Every epoch's data is unchanged: a pass
    still starts when the epoch asks for its first batch, after the counter
    was set for it.
    """
    kwargs = dict(kwargs)
    batches = int(x.cardinality()) if isinstance(x, tf.data.Dataset) else None
    # Keras never asks past an epoch's last step when it knows the steps (`tfvb.models._train_function`).
    model._tfvb_steps_known = bool(
        kwargs.get("steps_per_epoch") is not None
        or (batches is not None and batches > 0)
        or (batches is None and x is not None and hasattr(x, "shape")))
    callbacks = _divergence.with_divergence_guard(kwargs.get("callbacks"))
    counter = getattr(x, "tfvb_epoch_counter", None)
    if counter is not None and counter not in callbacks:
        callbacks.insert(0, counter)
    kwargs["callbacks"] = callbacks
    if isinstance(x, tf.data.Dataset):
        kwargs.setdefault("shuffle", False)
        if (counter is not None and kwargs.get("steps_per_epoch") is None and batches > 0
                and not _multi_worker(model.distribute_strategy)):
            # Workers auto-sharding a repeated dataset would take batches across the passes' boundaries.
            x = x.repeat()
            x.tfvb_epoch_counter = counter
            kwargs["steps_per_epoch"] = batches
    return x, kwargs


class StepCounter(keras.callbacks.Callback):
    """Counts epochs and steps of a `fit`; `check()` raises when epochs ran without a single step."""

    def __init__(self):
        super().__init__()
        self.epochs = self.steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs += 1

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def check(self):
        if self.epochs and not self.steps:
            raise ValueError("Expected at least one batch of training data. Received: a dataset that "
                             f"yielded no batch in {self.epochs} epoch(s)")


def update_trackers(trackers, values, sample_weight=None):
    """Update `keras.metrics.Mean` trackers by name from per-example values; return all results."""
    for tracker in trackers:
        if tracker.name in values:
            tracker.update_state(values[tracker.name], sample_weight=sample_weight)
    results = {}
    for tracker in trackers:
        result = tracker.result()
        # The metrics passed to compile come as one tracker whose result is a dict of them.
        results.update(result if isinstance(result, dict) else {tracker.name: result})
    return step_logs(results)


def step_logs(results):
    """A step's {name: scalar} logs in the shape Keras can reduce across workers."""
    if _multi_worker(tf.distribute.get_strategy()):
        # Keras 3 reduces a step's logs across workers with `strategy.reduce("MEAN", v, axis=0)`,
        # which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
        # tensorflow/tensorflow#72388): give them the axis it reduces. Epoch logs come from the
        # trackers themselves and stay scalars.
        results = {name: tf.reshape(value, [1]) for name, value in results.items()}
    return results


def _multi_worker(strategy):
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        in_multi_worker_mode and in_multi_worker_mode())
