"""A leaner per-step train function than Keras' when an epoch's steps are known, on one device.

Keras 3's TensorFlow trainer runs every training step as a `tf.function`
over the iterator that calls the compiled step (a second `tf.function`),
wraps its outputs in a `tf.experimental.Optional` and unwraps them in Python
with two eager ops (`has_value`, `get_value`). The Optional is how it finds
the end of a dataset of unknown size. When the number of steps is known
(arrays, a dataset of known size, or `steps_per_epoch`), Keras never asks
past the end, and one `tf.function` that takes the next batch and runs the
step does the same work with less around it. Its concrete function is
called directly, so the trace cache is asked once per iterator, not once per
step (one iterator serves a whole `fit` of an `image_dataset`). In single
probes (one thread, process CPU time; no script or stored result): per call on
a trivial step, Keras' path about 0.7 ms and the concrete function about
0.27 ms; on the 784-200-200-50 VAE, about 0.4 ms of a ~6.5 ms step.
`benchmarks/fit_overhead.py` measures the whole `fit` against the bare steps
(`vae_fit_over_bare_steps`, `vae_keras_fit_over_bare_steps`), not the call.

Keras' own function is kept, and used, for everything else: distribution
strategies, `steps_per_execution` > 1, `jit_compile`, `run_eagerly`, and
datasets whose size is not known.
"""

import weakref

import tensorflow as tf


class LeanTrainFunction:
    """Mixin for a keras.Model: `make_train_function` with the lean path above.

    `fit` says whether the epoch's steps are known by setting
    `_tfvb_steps_known` (see `tfvb.models._base.fit_arguments`).
    """

    _tfvb_steps_known = False

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=True)
        keras_function = self.train_function
        if self.run_eagerly or self.jit_compile or self.steps_per_execution != 1:
            return keras_function
        step = self.train_step

        @tf.function(reduce_retracing=True)
        def step_on_iterator(iterator):
            return step(iterator.get_next())

        last = [lambda: None, None]  # a weak reference to the last call's iterator, and its concrete function

        def function(iterator):
            if (self._tfvb_steps_known and self._distribute_strategy is None and not tf.distribute.has_strategy()
                    and isinstance(iterator, tf.data.Iterator)):
                if last[0]() is not iterator:
                    # The concrete function, called directly, skips the per-call lookup of the traced one
                    # (its arguments hashed against the trace cache); one lookup per iterator instead.
                    last[:] = [weakref.ref(iterator), step_on_iterator.get_concrete_function(iterator)]
                return last[1](iterator)
            return keras_function(iterator)

        self.train_function = function
        return function
