r"""Bayesian dense layers: reparameterization, Flipout and local reparameterization.

Each is a drop-in `keras.layers.Dense` whose kernel has a Gaussian posterior
$q(W) = \mathcal{N}(\mu, \operatorname{softplus}(\rho)^2)$ and a prior $p(W)$ (see `tfvb.priors`). In a
stochastic pass (`training=True`) and a posterior-mean one the layer records $\mathrm{KL}(q \,\|\, p)$ with
`add_loss` (so Keras' `evaluate` and `val_loss` report the objective `fit` reports); tfvb's models scale
it by the data set size (in a model of your own, pass `num_examples=N` and the layer adds
$\mathrm{KL} / N$). The three estimators of the forward pass differ in their gradient variance and cost:

| layer | forward pass | noise |
|---|---|---|
| `DenseReparameterization` | $y = x(\mu + \sigma \circ \epsilon)$ | one $\epsilon$ per batch |
| `DenseFlipout` | $y = x\mu + ((x \circ s)(\sigma \circ \epsilon)) \circ r$ | one $\epsilon$, signs $s,r$ per example |
| `DenseLocalReparameterization` | $y \sim \mathcal{N}(x\mu,\ x^2 \sigma^2)$ | per example and unit |

All three give each example the same marginal output distribution; Flipout
and local reparameterization decorrelate the examples of a batch, so the
gradient variance falls roughly like 1/batch.

Example:
    >>> x = np.random.default_rng(0).normal(size=(8, 20)).astype("float32")
    >>> layer = DenseFlipout(64, activation="relu", prior=tfvb.priors.Normal(1.0), seed=0)
    >>> y = layer(x, training=True)            # one stochastic pass, KL in layer.losses
    >>> y_mean = layer(x)                      # posterior mean weights
    >>> y_t = layer(x, num_samples=100)        # (100, batch, 64), independent draws
    >>> y_t.shape
    TensorShape([100, 8, 64])

References:
    Blundell, Cornebise, Kavukcuoglu, Wierstra. Weight Uncertainty in Neural
    Networks. ICML 2015.
    Kingma, Salimans, Welling. Variational Dropout and the Local
    Reparameterization Trick. NeurIPS 2015.
    Wen, Vicol, Ba, Tran, Grosse. Flipout: Efficient Pseudo-Independent
    Weight Perturbations on Mini-Batches. ICLR 2018.
"""

import keras
import tensorflow as tf

from tfvb import _checks, randomness
from tfvb.layers._variational import VariationalLayer

__all__ = ["DenseReparameterization", "DenseFlipout", "DenseLocalReparameterization"]


class _VariationalDense(VariationalLayer):
    """Dense algebra shared by the three estimators; inputs (..., in) -> (..., units)."""

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        prior=None,
        kl="auto",
        posterior_sigma_init=0.01,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        num_examples=None,
        **kwargs,
    ):
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            prior=prior,
            kl=kl,
            posterior_sigma_init=posterior_sigma_init,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            seed=seed,
            num_examples=num_examples,
            **kwargs,
        )
        self.units = _checks.positive_int("units", units)
        self.supports_masking = True  # as keras.layers.Dense: a mask passes through unchanged

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Expected the last axis of the inputs of {self.name} to be known. Received: input_shape={input_shape}"
            )
        self._record_rank(input_shape)
        self._add_posterior((int(input_dim), self.units), self.units)
        # As keras.layers.Dense: inputs of another width are refused when the layer is called.
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: int(input_dim)})

    def _output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    @staticmethod
    def _linear(x, kernel):
        if len(x.shape) == 2:
            return tf.matmul(x, kernel)
        return tf.tensordot(x, kernel, axes=1)

    @staticmethod
    def _sign_shape(t):
        return tf.shape(t)

    def _linear_per_sample(self, x, kernels):
        """x (N, ..., in) shared or (T, N, ..., in) per sample, kernels (T, in, units) -> (T, N, ..., units)."""
        per_sample = self._is_per_sample(x)
        if x.shape.rank == 2:
            return tf.einsum("ni,tio->tno", x, kernels)
        if x.shape.rank == 3 and per_sample:
            return tf.matmul(x, kernels)
        # Inputs with more axes (a sequence (N, L, in), ...): every position shares the kernel.
        shape = tf.shape(x)
        lead = shape[:-1] if per_sample else tf.concat([tf.shape(kernels)[:1], shape[:-1]], 0)
        if per_sample:
            y = tf.matmul(tf.reshape(x, tf.stack([shape[0], -1, shape[-1]])), kernels)
        else:
            y = tf.einsum("ni,tio->tno", tf.reshape(x, tf.stack([-1, shape[-1]])), kernels)
        return tf.reshape(y, tf.concat([lead, [self.units]], 0))

    def _sample_many(self, x, num_samples, seed):
        """T draws: T kernels in Python and SavedModels; in graphs traced for LiteRT and ONNX
        (`tfvb.randomness.portable_noise`) the pre-activations themselves, N(x mu, x^2 sigma^2).

        The portable generator costs tens of int64 ops per number, and T kernels need in x units numbers
        each where the outputs need N x units. For a dense layer the two are the same distribution for
        each input (its units are sums of independent Gaussian weights over disjoint columns), so every
        summary per input is unchanged; only draw t of two inputs no longer shares this layer's weights.
        That holds when each example shows the layer one row at one place of the graph; a layer that sees
        several rows per example (a sequence (N, L, in)) or is called at several places of a functional
        model draws T kernels there too, shared by the rows as the posterior's weights are.
        """
        if randomness.is_portable() and self._one_row_per_example(x):
            return self._local_sample_many_checked(x, num_samples, seed)
        return super()._sample_many(x, num_samples, seed)

    def _one_row_per_example(self, x):
        """Inputs (N, in) or per draw (T, N, in), and one call site: drawing the outputs is then exact."""
        rank = x.shape.rank
        one_row = rank == 2 or (rank == 3 and self._is_per_sample(x))
        return one_row and len(getattr(self, "_inbound_nodes", ())) <= 1

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="tfvb")
class DenseReparameterization(_VariationalDense):
    """Dense layer trained by Bayes by Backprop: one kernel draw per call.

        W = mu + softplus(rho) o eps,  eps ~ N(0, I),  y = activation(x W + b)

    Every example of the batch shares the draw, so the examples' gradients
    are correlated (see `DenseFlipout` for the decorrelated version).

    Args:
        units: output dimension.
        activation: Keras activation (name or callable); None for linear.
        use_bias: whether to add a (point-estimate) bias.
        prior: a `tfvb.priors` prior; None means `Normal(1.0)`.
        kl: "analytic" (closed form), "sample" (log q(W) - log p(W) at the
            drawn W) or "auto" (closed form when the prior has one).
        posterior_sigma_init: initial posterior standard deviation.
        kernel_initializer: initializer of the posterior mean mu.
        bias_initializer: initializer of the bias.
        seed: integer seed of the layer's draws (None: random).
        num_examples: the training-set size N, in a model of your own: the
            layer then adds KL / N to the loss (the negative ELBO per
            example). None adds the whole KL (tfvb's models divide it).

    Example:
        >>> layer = DenseReparameterization(10, seed=1)
        >>> y = layer(tf.ones((4, 3)), training=True); kl = layer.losses[0]

    References:
        Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._reparameterization(x, seed, scale)


@keras.saving.register_keras_serializable(package="tfvb")
class DenseFlipout(_VariationalDense):
    """Dense layer with Flipout: a shared perturbation, decorrelated per example by signs.

        dW = softplus(rho) o eps,  y_n = x_n mu + ((x_n o s_n) dW) o r_n,
        s_n, r_n uniform on {-1, +1}

    About twice the matrix products of `DenseReparameterization`, for
    nearly independent per-example perturbations. Arguments as in
    `DenseReparameterization`; `num_samples=T` draws T independent kernels.

    Example:
        >>> layer = DenseFlipout(10, activation="relu", seed=1)
        >>> y = layer(tf.ones((4, 3)), training=True)

    References:
        Wen et al. Flipout: Efficient Pseudo-Independent Weight Perturbations
        on Mini-Batches. ICLR 2018.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._flipout(x, seed, scale, batch_slice)


@keras.saving.register_keras_serializable(package="tfvb")
class DenseLocalReparameterization(_VariationalDense):
    """Dense layer with the local reparameterization trick: sample the pre-activations.

        y ~ N(x mu, x^2 sigma^2) independently per example and unit, y = mu_y + sd_y o eps

    Exact for each example's pre-activations, with per-example noise and
    one matrix product more than the mean pass. No kernel is drawn, so a
    sampled KL (kl="sample", needed for the scale-mixture prior) uses a
    separate kernel draw. Arguments as in `DenseReparameterization`.

    Example:
        >>> layer = DenseLocalReparameterization(10, seed=1)
        >>> y = layer(tf.ones((4, 3)), training=True)

    References:
        Kingma, Salimans, Welling. Variational Dropout and the Local
        Reparameterization Trick. NeurIPS 2015.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._local_sample(x, seed, scale, batch_slice)

    def _sample_many(self, x, num_samples, seed):
        return self._local_sample_many_checked(x, num_samples, seed)
