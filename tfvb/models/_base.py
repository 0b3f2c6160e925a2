"""Pieces every tfvb model's `train_step`/`test_step` shares.

Loss scaling: each step averages per-example losses over the *global* batch
(`tf.nn.compute_average_loss`), so under `tf.distribute` the summed replica
gradients equal the single-device gradient of the same ELBO.
"""

import keras
import tensorflow as tf


def unpack_batch(data):
    """Split a Keras batch into (x, y, sample_weight); accepts (x,), (x, y), (x, y, w) and bare x."""
    return keras.utils.unpack_x_y_sample_weight(data)


def average_loss(per_example_loss, sample_weight=None):
    """Mean over the global batch (all replicas), weighted by `sample_weight` when given."""
    per_example_loss = tf.convert_to_tensor(per_example_loss)
    if sample_weight is not None:
        sample_weight = tf.cast(tf.reshape(sample_weight, tf.shape(per_example_loss)), per_example_loss.dtype)
    return tf.nn.compute_average_loss(per_example_loss, sample_weight=sample_weight)


def update_trackers(trackers, values, sample_weight=None):
    """Update `keras.metrics.Mean` trackers by name from per-example values; return all results."""
    for tracker in trackers:
        if tracker.name in values:
            tracker.update_state(values[tracker.name], sample_weight=sample_weight)
    return {t.name: t.result() for t in trackers}


def replicas_in_sync():
    return tf.distribute.get_strategy().num_replicas_in_sync
