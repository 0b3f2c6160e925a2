"""Optimizers whose update is one fused TensorFlow kernel per variable.

`tfvb.optimizers.Adam` is `keras.optimizers.Adam` (same arguments, same
state, same numbers up to float rounding) whose per-variable update runs as
TensorFlow's fused `ResourceApplyAdam` kernel: one pass over the variable and
its two moments instead of Keras' eight element-wise operations, each writing
a temporary the size of the variable. On a CPU that shortens a small model's
step: the 784-200-200-50 VAE's compiled training step (batch 100, about 4.1 ms
of process CPU time on one thread) took 0.91 of the time it took with Keras'
Adam (median over 5 rounds of 3 interleaved pairs, rounds 0.90-0.94; one run
on loaded cores: `fused_adam_step_over_keras_adam_step` of
`benchmarks/fit_overhead.py`, stored in benchmarks/results/fit_overhead.json).

The update Keras writes and the kernel computes are the same formula,

    m <- m + (g - m)(1 - beta_1)          v <- v + (g^2 - v)(1 - beta_2)
    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
    w <- w - alpha m / (sqrt(v) + epsilon)

so a model trained with either follows the same path, and each loads the
other's optimizer state (the variables are the same, in the same order).
Everything around the update is Keras' own: learning-rate schedules,
`weight_decay`, `clipnorm` / `clipvalue` / `global_clipnorm`, `use_ema`,
gradient accumulation and loss scaling for mixed precision. What the kernel
does not cover runs Keras' update unchanged: `amsgrad=True`, sparse
(`IndexedSlices`) gradients, and variables that are not float32 / float64.

tfvb's models take `optimizer="adam"` as this optimizer.
"""

import keras
import tensorflow as tf

__all__ = ["Adam"]

_FUSED_DTYPES = (tf.float32, tf.float64)


def _resource(variable):
    """The `tf.Variable` behind a Keras variable (or the variable itself)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


@keras.saving.register_keras_serializable(package="tfvb")
class Adam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` updating each variable with one fused kernel.

    Same arguments, defaults and state as `keras.optimizers.Adam`; see the
    module docstring for what runs fused and what falls back to Keras' update.

    Example:
        >>> import keras, tfvb
        >>> model = tfvb.models.IWAE(k=1, seed=0)
        >>> model.compile(optimizer=tfvb.optimizers.Adam(1e-3, epsilon=1e-4))
    """

    def _fused(self, gradient, variable):
        return (not self.amsgrad and not isinstance(gradient, tf.IndexedSlices)
                and tf.as_dtype(variable.dtype) in _FUSED_DTYPES)

    def update_step(self, gradient, variable, learning_rate):
        if not self._fused(gradient, variable):
            return super().update_step(gradient, variable, learning_rate)
        dtype = tf.as_dtype(variable.dtype)
        index = self._get_variable_index(variable)
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.constant(self.beta_1, dtype)
        beta_2 = tf.constant(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_resource(variable).handle,
            m=_resource(self._momentums[index]).handle,
            v=_resource(self._velocities[index]).handle,
            beta1_power=tf.pow(beta_1, local_step),
            beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.constant(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
