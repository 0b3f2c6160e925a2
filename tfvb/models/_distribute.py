"""What tfvb models need from Keras 3 to train under tf.distribute with several workers.

Keras 3 (3.x, TensorFlow backend) builds a model from the first batch of
`fit`/`evaluate` before tracing any step: it reduces the distributed batch
with `strategy.reduce("MEAN", batch, axis=None)` only to learn its shapes
and dtypes. MultiWorkerMirroredStrategy's reduce takes one tensor, not a
nest, so any batch with more than one element (x and y, or a dataset of
tuples) fails at the first step with "Attempt to convert a value
(PerReplica:{...}) with an unsupported type" -- the error of keras#20585 and
ray#47464 (keras' own multi-worker tutorial) -- and even where it works it
runs a collective over a whole batch of data. `LocalBatchBuild` gives Keras
this replica's own part of the batch instead: the same shapes and dtypes,
no communication, any nesting.
"""

import keras
import tensorflow as tf

__all__ = ["LocalBatchBuild"]


def _local(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return tf.distribute.get_strategy().experimental_local_results(value)[0]
    return value


class LocalBatchBuild:
    """Mixin for a keras.Model: the symbolic build before `fit`/`evaluate` reads a local batch, not a reduced one."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None and getattr(self, "_distribute_strategy", None) is not None:
            for _, _, batches in iterator:
                with self._distribute_strategy.scope():
                    data_batch = keras.tree.map_structure(_local, next(batches))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
