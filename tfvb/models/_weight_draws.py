"""T weight draws of a Bayesian neural network, vectorized in groups of bounded memory.

`predict_uncertainty` and `predict_samples` need T networks drawn from q(W)
run on N inputs. A loop of T calls pays per-op overhead T times; all T draws
at once need T copies of every kernel and T activations per input. The draws
therefore come in groups of T_g, sized so that a group's kernels and its
widest activation on `REFERENCE_BATCH` inputs each stay near
`MAX_ACTIVATION_ELEMENTS` floats, and each group runs as one compiled call
(`_draw_fn`, traced once per model and T_g) on chunks of the inputs. Draw t
is the same network for every chunk and for every call with the same seed.
"""

import numpy as np
import tensorflow as tf

from tfvb import _checks, _traced, randomness
from tfvb.models import _divergence, _inputs

__all__ = ["WeightDraws", "MAX_ACTIVATION_ELEMENTS", "REFERENCE_BATCH"]

#: Bound on the floats of one vectorized call of `predict_uncertainty`: of its group of kernel draws, and of its
#: largest activation (draws x inputs x width). 128 MiB each, whatever T.
MAX_ACTIVATION_ELEMENTS = 1 << 25
#: The batch a group of weight draws is sized for (see `WeightDraws._sample_plan`).
REFERENCE_BATCH = 256


class WeightDraws:
    """Mixin for `BNNBase`: T weight draws on N inputs, block by block, memory bounded for any T.

    The model provides `_check_inputs`, `_forward(x, training, num_samples, seed)`,
    `_bayesian_layers` (with `kernel_loc`), `dense_layers`, `seed_generator` and
    `require_built` (from `_divergence.FiniteWeightsOnly`); a model whose widest
    activation is not a dense layer's overrides `_widest_activation`.
    """

    def _prediction_inputs(self, x, method):
        """`x` checked for a prediction from a built model with finite weights."""
        self.require_built(method)
        _divergence.require_finite_weights(self, "predict with")
        x, _, _ = _inputs.user_data(x, method=method)
        return self._check_inputs(x)

    def _sample_plan(self, samples, batch_size):
        """(draws per group, inputs per call), fixed by the model and T alone.

        A group holds as many draws as keep the widest activation of a call on
        REFERENCE_BATCH inputs near MAX_ACTIVATION_ELEMENTS floats, and its draws of
        every kernel within that bound too; inputs are chunked so that a call stays
        within it. (A group per call keeps batches whole: shrinking the batch to fit
        all T draws at once made T = 1000 LeNet draws about 4x slower than a loop of
        T calls in a single probe of that earlier code, with no stored result, from
        per-op overhead on tiny batches.)
        """
        widest = self._widest_activation()
        group = max(
            1,
            min(
                samples,
                MAX_ACTIVATION_ELEMENTS // (REFERENCE_BATCH * widest),
                MAX_ACTIVATION_ELEMENTS // self._kernel_elements(),
            ),
        )
        if batch_size is None:
            batch_size = max(1, MAX_ACTIVATION_ELEMENTS // (group * widest))
        return group, _checks.positive_int("batch_size", batch_size)

    def _kernel_elements(self):
        """Floats of one draw of every kernel."""
        return max(1, sum(int(np.prod(layer.kernel_loc.shape)) for layer in self._bayesian_layers))

    def _sample_blocks(self, x, samples, batch_size, seed):
        """Yield (rows, outputs (T_g, rows, out)): the T draws on the N inputs, block by block.

        The draws come in groups of T_g (`_sample_plan`), one seed per group: the
        call's seed for the first (with T <= T_g the draws are those of one call),
        folded with g for group g. Draw t is therefore the same network for every
        chunk of inputs and for every call with the same seed, whatever the batch
        (local-reparameterization layers excepted: they draw their outputs, per example,
        keyed by the chunk too, `randomness.chunk_of_rows`, so that no two chunks share
        that noise); memory stays bounded for any T.
        """
        samples = _checks.positive_int("samples", samples)
        group, batch_size = self._sample_plan(samples, batch_size)
        n = int(x.shape[0])
        if n == 0:
            raise ValueError(f"Expected at least one input. Received: inputs.shape={tuple(x.shape)}")
        if seed is None:
            seed = self.seed_generator.next()  # one base seed per call
        base = randomness.seed_tensor(seed)
        fn = self._draw_fn(group, x)  # one trace: a last, shorter group is drawn whole and cut
        for g, first in enumerate(range(0, samples, group)):
            count = min(group, samples - first)
            key = base if g == 0 else tf.cast(tf.random.experimental.stateless_fold_in(base, g), tf.int64)
            for i in range(0, n, batch_size):
                out = fn(x[i : i + batch_size], key, tf.constant(i, tf.int64))
                yield slice(i, min(n, i + batch_size)), out if count == group else out[:count]

    def _draw_fn(self, count, x):
        """`count` weight draws on inputs like `x`, compiled once per model and count for any batch."""

        def draw(x, seed, first_row):
            with randomness.chunk_of_rows(first_row):
                return self._forward(x, training=False, num_samples=count, seed=seed)

        return _traced.traced_once(self, f"_tfvb_draw_fn_{count}", draw,
                                   tf.TensorSpec((None,) + tuple(x.shape[1:]), x.dtype),
                                   tf.TensorSpec((2,), tf.int64), tf.TensorSpec((), tf.int64), autograph=False)

    def _sample_outputs(self, x, samples, batch_size, seed):
        """All T draws stacked: (T, N, out) (memory grows with T: `predict_uncertainty` streams instead)."""
        groups, rows = [], []
        for block_rows, out in self._sample_blocks(x, samples, batch_size, seed):
            if block_rows.start == 0 and rows:
                groups.append(tf.concat(rows, axis=1))
                rows = []
            rows.append(out)
        groups.append(tf.concat(rows, axis=1))
        return tf.concat(groups, axis=0)

    def _widest_activation(self):
        """Floats per example in the largest activation of one pass (for the default chunk size)."""
        return max([layer.units for layer in self.dense_layers] + [1])
