"""Bayesian 2-D transposed convolutions: reparameterization and Flipout (channels_last).

Drop-in `keras.layers.Conv2DTranspose` layers for a Bayesian decoder. The
kernel K of shape (kh, kw, filters, in_channels) (Keras' layout) has a
Gaussian posterior N(mu, softplus(rho)^2) and a prior from `tfvb.priors`:

    Conv2DTransposeReparameterization   y = convT(x, mu + sigma o eps)      one draw per batch
    Conv2DTransposeFlipout              y = convT(x, mu) + convT(x o s, sigma o eps) o r
                                        s (per example, input channel), r (per example,
                                        filter) uniform on {-1, +1}, broadcast over space

A transposed convolution is linear in its kernel, like a convolution, so
Flipout's argument carries over unchanged: example n sees the kernel
mu + dK o (r_n s_n^T), distributed as a fresh draw because dK is symmetric
about 0. The output size follows Keras' rule for `padding`, `strides`,
`output_padding` and `dilation_rate`. `num_samples=T` applies T independent
kernels in one (grouped, for per-sample inputs) transposed convolution.

Example:
    >>> up = Conv2DTransposeFlipout(32, 3, strides=2, padding="same", activation="relu", seed=0)
    >>> y = up(tf.ones((2, 7, 7, 64)), training=True)     # (2, 14, 14, 32); KL in up.losses

References:
    Wen, Vicol, Ba, Tran, Grosse. Flipout: Efficient Pseudo-Independent
    Weight Perturbations on Mini-Batches. ICLR 2018.
    Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
"""

import numbers

import keras
import tensorflow as tf

from tfvb import _checks
from tfvb.layers._variational import VariationalLayer, grouped_convolutions
from tfvb.layers.conv import channels_as_samples, pair, sample_rank_error, samples_as_channels

__all__ = ["Conv2DTransposeReparameterization", "Conv2DTransposeFlipout"]


def output_length(size, kernel, stride, padding, output_padding, dilation):
    """Keras' output length of a transposed convolution along one axis (None stays None)."""
    if size is None:
        return None
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (size - 1) * stride + kernel + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


def _output_padding(value, strides):
    """None, or a pair of non-negative integers each below its stride (Keras' rule)."""
    if value is None:
        return None
    pads = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        pads = tuple(pads)
    except TypeError:
        pads = ()
    if len(pads) != 2 or any(isinstance(p, bool) or not isinstance(p, numbers.Integral) or not 0 <= p < s
                             for p, s in zip(pads, strides)):
        raise ValueError(f"Expected `output_padding` to be None or one or two non-negative integers, each "
                         f"smaller than its stride {strides}. Received: output_padding={value!r}")
    return tuple(int(p) for p in pads)


class _VariationalConv2DTranspose(VariationalLayer):
    """Transposed-convolution algebra shared by the estimators: (N, H, W, C) -> (N, H', W', filters)."""

    _default_rank = 4

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, prior=None, kl="auto",
                 posterior_sigma_init=0.01, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 seed=None, num_examples=None, **kwargs):
        super().__init__(
            activation=activation, use_bias=use_bias, prior=prior, kl=kl,
            posterior_sigma_init=posterior_sigma_init, kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer, seed=seed, num_examples=num_examples, **kwargs,
        )
        self.filters = _checks.positive_int("filters", filters)
        self.kernel_size = pair("kernel_size", kernel_size)
        self.strides = pair("strides", strides)
        self.padding = _checks.one_of("padding", str(padding).lower(), {"valid", "same"})
        self.dilation_rate = pair("dilation_rate", dilation_rate)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Expected `strides` or `dilation_rate` to be 1 (TensorFlow supports one of them "
                             f"above 1). Received: strides={strides!r}, dilation_rate={dilation_rate!r}")
        self.output_padding = _output_padding(output_padding, self.strides)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"Expected inputs of shape (batch, height, width, channels) with known channels for "
                f"{self.name}. Received: input_shape={tuple(input_shape)}"
            )
        self._add_posterior(self.kernel_size + (self.filters, int(input_shape[-1])), self.filters)
        # As keras.layers.Conv2DTranspose: inputs with other channels are refused when the layer is called.
        self.input_spec = keras.layers.InputSpec(min_ndim=4, axes={-1: int(input_shape[-1])})

    def _spatial(self, sizes):
        pads = self.output_padding or (None, None)
        return [output_length(n, k, s, self.padding, p, d)
                for n, k, s, p, d in zip(sizes, self.kernel_size, self.strides, pads, self.dilation_rate)]

    def _output_shape(self, input_shape):
        return (input_shape[0], *self._spatial(input_shape[1:3]), self.filters)

    def _transpose(self, x, kernel, filters):
        shape = tf.shape(x)
        height, width = self._spatial([x.shape[1], x.shape[2]])
        height = shape[1] if height is None else height
        width = shape[2] if width is None else width
        return tf.nn.conv2d_transpose(
            x, kernel, tf.stack([shape[0], height, width, filters]), strides=(1, *self.strides, 1),
            padding=self.padding.upper(), dilations=(1, *self.dilation_rate, 1),
        )

    def _linear(self, x, kernel):
        return self._transpose(x, kernel, self.filters)

    @staticmethod
    def _sign_shape(t):
        shape = tf.shape(t)
        return tf.stack([shape[0], 1, 1, shape[3]])

    def _linear_per_sample(self, x, kernels):
        """x (N, H, W, C) shared or (T, N, H, W, C), kernels (T, kh, kw, F, C) -> (T, N, H', W', F).

        On a GPU, shared inputs: the T kernels stacked along the filters, one
        transposed convolution to T * F channels; per-sample inputs: a grouped
        transposed convolution, T groups of C -> F channels. On CPU, T transposed
        convolutions in one `tf.map_fn` (faster there, see `_map_samples`).
        """
        if x.shape.rank in (4, 5) and not grouped_convolutions():
            return self._map_samples(x, kernels)
        t = tf.shape(kernels)[0]
        kh, kw, f = self.kernel_size[0], self.kernel_size[1], self.filters
        if x.shape.rank == 4:
            stacked = tf.reshape(tf.transpose(kernels, [1, 2, 0, 3, 4]), tf.stack([kh, kw, -1, tf.shape(kernels)[4]]))
            y = self._transpose(x, stacked, t * f)
        elif x.shape.rank == 5:
            grouped = samples_as_channels(x, kernels.shape[4])
            grouped = tf.ensure_shape(grouped, [None, x.shape[2], x.shape[3], None])
            stacked = tf.reshape(tf.transpose(kernels, [1, 2, 3, 0, 4]), tf.stack([kh, kw, f, -1]))
            y = self._transpose(grouped, stacked, t * f)
        else:
            raise sample_rank_error(x)
        return channels_as_samples(y, t, f)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "dilation_rate": self.dilation_rate,
        }


@keras.saving.register_keras_serializable(package="tfvb")
class Conv2DTransposeReparameterization(_VariationalConv2DTranspose):
    """2-D transposed convolution trained by Bayes by Backprop: one kernel draw per call.

        K = mu + softplus(rho) o eps,  y = activation(convT(x, K) + b)

    Args:
        filters, kernel_size, strides, padding, output_padding, dilation_rate:
            as in `keras.layers.Conv2DTranspose` (channels_last only).
        activation, use_bias, prior, kl, posterior_sigma_init,
            kernel_initializer, bias_initializer, seed, num_examples: as in
            `tfvb.layers.DenseReparameterization`.

    Example:
        >>> up = Conv2DTransposeReparameterization(1, 3, strides=2, padding="same", seed=0)
        >>> logits = up(tf.ones((2, 14, 14, 32)), training=True)    # (2, 28, 28, 1)

    References:
        Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._reparameterization(x, seed, scale)


@keras.saving.register_keras_serializable(package="tfvb")
class Conv2DTransposeFlipout(_VariationalConv2DTranspose):
    """2-D transposed convolution with Flipout: one shared perturbation, signs per example and channel.

        dK = softplus(rho) o eps,  y_n = convT(x_n, mu) + convT(x_n o s_n, dK) o r_n

    Arguments as in `Conv2DTransposeReparameterization`.

    Example:
        >>> up = Conv2DTransposeFlipout(32, 3, strides=2, padding="same", activation="relu", seed=0)
        >>> y = up(tf.ones((2, 7, 7, 64)), training=True)

    References:
        Wen et al. Flipout: Efficient Pseudo-Independent Weight Perturbations
        on Mini-Batches. ICLR 2018.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._flipout(x, seed, scale, batch_slice)
