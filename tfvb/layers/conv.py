"""Bayesian 2-D convolutions: reparameterization, Flipout, local reparameterization (channels_last).

The kernel K of shape (kh, kw, in_channels, filters) has a Gaussian
posterior N(mu, softplus(rho)^2) and a prior from `tfvb.priors`:

    Conv2DReparameterization        y = conv(x, mu + sigma o eps)       one draw per batch
    Conv2DFlipout                   y = conv(x, mu) + conv(x o s, sigma o eps) o r
                                    s (per example, input channel), r (per example,
                                    filter) uniform on {-1, +1}, broadcast over space
    Conv2DLocalReparameterization   y ~ N(conv(x, mu), conv(x^2, sigma^2))
                                    independently per example, pixel and filter

Flipout's signs act per channel, not per pixel: example n then sees the
kernel mu + dK o (s_n r_n^T), a proper weight perturbation with the same
distribution as a fresh draw. `num_samples=T` applies T independent kernels
in one grouped convolution.

Example:
    >>> images, _ = tfvb.data.mnist_sample()      # (2000, 28, 28, 1), bundled with tfvb
    >>> conv = Conv2DFlipout(6, 5, padding="same", activation="relu", seed=0)
    >>> y = conv(images[:16], training=True)      # KL(q || p) in conv.losses
    >>> y.shape, len(conv.losses)
    (TensorShape([16, 28, 28, 6]), 1)

References:
    Wen, Vicol, Ba, Tran, Grosse. Flipout: Efficient Pseudo-Independent
    Weight Perturbations on Mini-Batches. ICLR 2018.
    Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
    Kingma, Salimans, Welling. Variational Dropout and the Local
    Reparameterization Trick. NeurIPS 2015.
"""

import keras
import tensorflow as tf

from tfvb import _checks, randomness
from tfvb.layers._variational import VariationalLayer, grouped_convolutions

__all__ = ["Conv2DReparameterization", "Conv2DFlipout", "Conv2DLocalReparameterization",
           "Convolution2DReparameterization", "Convolution2DFlipout"]


def pair(name, value):
    """An integer or a pair of integers as a pair (Keras' `kernel_size`, `strides`, ...)."""
    out = _checks.int_tuple(name, value)
    if len(out) == 1:
        out = out * 2
    if len(out) != 2:
        raise ValueError(f"Expected `{name}` to be an integer or a pair of integers. Received: {name}={value!r}")
    return out


def samples_as_channels(x, channels):
    """(T, N, H, W, C) -> (N, H, W, T * C): sample t's channels in the t-th group (a grouped convolution's input)."""
    t, n, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2], tf.shape(x)[3]
    return tf.reshape(tf.transpose(x, [1, 2, 3, 0, 4]), tf.stack([n, h, w, t * channels]))


def channels_as_samples(y, samples, filters):
    """(N, H, W, T * F) -> (T, N, H, W, F): the inverse of `samples_as_channels` on the output side."""
    out = tf.shape(y)
    y = tf.reshape(y, tf.stack([out[0], out[1], out[2], samples, filters]))
    return tf.transpose(y, [3, 0, 1, 2, 4])


def conv_by_patches(x, kernels, strides, padding, dilation_rate):
    """x (T, N, H, W, C) convolved with its own kernel (T, kh, kw, C, F) per sample: (T, N, H', W', F).

    The kh x kw shifted (strided) slices of the input, concatenated, times the flattened kernels in
    one batched matmul: ops LiteRT and ONNX both run (LiteRT cannot run a grouped Conv2D, nor the
    TensorList loop of a map). Needs static H and W.
    """
    kh, kw, c, f = (int(d) for d in kernels.shape[1:])
    (sh, sw), (dh, dw) = strides, dilation_rate
    h, w = int(x.shape[2]), int(x.shape[3])
    flat = tf.reshape(x, [-1, h, w, c])
    if padding == "same":
        out_h, out_w = -(-h // sh), -(-w // sw)
        pad_h = max((out_h - 1) * sh + (kh - 1) * dh + 1 - h, 0)
        pad_w = max((out_w - 1) * sw + (kw - 1) * dw + 1 - w, 0)
        flat = tf.pad(flat, [[0, 0], [pad_h // 2, pad_h - pad_h // 2], [pad_w // 2, pad_w - pad_w // 2], [0, 0]])
    else:
        out_h, out_w = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    patches = tf.concat([flat[:, i * dh: i * dh + (out_h - 1) * sh + 1: sh, j * dw: j * dw + (out_w - 1) * sw + 1: sw]
                         for i in range(kh) for j in range(kw)], axis=-1)
    t, n = tf.shape(x)[0], tf.shape(x)[1]
    y = tf.matmul(tf.reshape(patches, tf.stack([t, -1, kh * kw * c])), tf.reshape(kernels, tf.stack([t, -1, f])))
    return tf.reshape(y, tf.stack([t, n, out_h, out_w, f]))


def sample_rank_error(x):
    return ValueError(
        "Expected inputs of shape (batch, height, width, channels) or (num_samples, batch, "
        f"height, width, channels) with `num_samples`. Received: inputs.shape={tuple(x.shape)}"
    )


class _VariationalConv2D(VariationalLayer):
    """Convolution algebra shared by the estimators; inputs (N, H, W, C) -> (N, H', W', filters)."""

    _default_rank = 4

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                 activation=None, use_bias=True, prior=None, kl="auto", posterior_sigma_init=0.01,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None, num_examples=None,
                 **kwargs):
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

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"Expected inputs of shape (batch, height, width, channels) with known channels for "
                f"{self.name}. Received: input_shape={tuple(input_shape)}"
            )
        self._check_fits(input_shape)
        self._add_posterior(self.kernel_size + (int(input_shape[-1]), self.filters), self.filters)
        # As keras.layers.Conv2D: inputs with other channels are refused when the layer is called.
        self.input_spec = keras.layers.InputSpec(min_ndim=4, axes={-1: int(input_shape[-1])})

    def _check_fits(self, input_shape):
        """Raise ValueError when a known height or width is smaller than the (dilated) kernel needs."""
        out = self._output_shape(tuple(input_shape))[1:3]
        if any(n is not None and n <= 0 for n in out):
            span = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
            raise ValueError(
                f"Expected inputs of at least {span[0]}x{span[1]} pixels for {self.name}'s {self.kernel_size[0]}x"
                f"{self.kernel_size[1]} kernel (padding='valid', dilation_rate={self.dilation_rate}), or "
                f"padding='same'. Received: input_shape={tuple(input_shape)}"
            )

    def _output_shape(self, input_shape):
        spatial = []
        for n, k, s, d in zip(input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate):
            if n is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-n // s))
            else:
                spatial.append((n - d * (k - 1) - 1) // s + 1)
        return (input_shape[0], *spatial, self.filters)

    def _linear(self, x, kernel):
        self._check_fits(x.shape)
        return tf.nn.conv2d(
            x, kernel, strides=(1, *self.strides, 1), padding=self.padding.upper(),
            dilations=(1, *self.dilation_rate, 1),
        )

    @staticmethod
    def _sign_shape(t):
        shape = tf.shape(t)
        return tf.stack([shape[0], 1, 1, shape[3]])

    def _linear_per_sample(self, x, kernels):
        """x (N, H, W, C) shared or (T, N, H, W, C), kernels (T, kh, kw, C, F) -> (T, N, H', W', F).

        On a GPU the T kernels become one convolution: stacked along the filters
        for a shared input, or a grouped convolution with T groups otherwise; on
        CPU, T convolutions in one `tf.map_fn` (faster there, see `_map_samples`).
        """
        if x.shape.rank == 5 and randomness.is_portable():
            return conv_by_patches(x, kernels, self.strides, self.padding, self.dilation_rate)
        if x.shape.rank in (4, 5) and not grouped_convolutions():
            return self._map_samples(x, kernels)
        t = tf.shape(kernels)[0]
        kh, kw, c, f = self.kernel_size[0], self.kernel_size[1], kernels.shape[3], self.filters
        stacked = tf.reshape(tf.transpose(kernels, [1, 2, 3, 0, 4]), [kh, kw, c, -1])
        if x.shape.rank == 4:
            y = self._linear(x, stacked)
        elif x.shape.rank == 5:
            y = self._linear(samples_as_channels(x, c), stacked)
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
            "dilation_rate": self.dilation_rate,
        }


@keras.saving.register_keras_serializable(package="tfvb")
class Conv2DReparameterization(_VariationalConv2D):
    """2-D convolution trained by Bayes by Backprop: one kernel draw per call.

        K = mu + softplus(rho) o eps,  y = activation(conv(x, K) + b)

    Args:
        filters, kernel_size, strides, padding, dilation_rate: as in
            `keras.layers.Conv2D` (channels_last only).
        activation, use_bias, prior, kl, posterior_sigma_init,
            kernel_initializer, bias_initializer, seed, num_examples: as in
            `tfvb.layers.DenseReparameterization`.

    Example:
        >>> conv = Conv2DReparameterization(16, 3, activation="relu", seed=0)
        >>> y = conv(tf.ones((2, 28, 28, 1)), training=True)

    References:
        Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._reparameterization(x, seed, scale)


@keras.saving.register_keras_serializable(package="tfvb")
class Conv2DFlipout(_VariationalConv2D):
    """2-D convolution with Flipout: one shared perturbation, signs per example and channel.

        dK = softplus(rho) o eps,  y_n = conv(x_n, mu) + conv(x_n o s_n, dK) o r_n

    Arguments as in `Conv2DReparameterization`.

    Example:
        >>> conv = Conv2DFlipout(16, 3, activation="relu", seed=0)
        >>> y = conv(tf.ones((2, 28, 28, 1)), training=True)

    References:
        Wen et al. Flipout: Efficient Pseudo-Independent Weight Perturbations
        on Mini-Batches. ICLR 2018.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._flipout(x, seed, scale, batch_slice)


@keras.saving.register_keras_serializable(package="tfvb")
class Conv2DLocalReparameterization(_VariationalConv2D):
    """2-D convolution with the local reparameterization trick: sample the output, not the kernel.

        y_n ~ N(conv(x_n, mu), conv(x_n^2, sigma^2))   independently per example, pixel and filter

    The mean and variance are exact for each output given x (each output is
    a sum of independent Gaussian weights times inputs), at the cost of one
    convolution more than the mean pass, with noise independent across
    examples. Pixels that share weights are treated as independent, which
    is what makes the estimator cheap: an approximation for convolutions
    (the marginal of each output is exact, their joint is not). A sampled
    KL (kl="sample") uses a separate kernel draw. Arguments as in
    `Conv2DReparameterization`.

    Example:
        >>> conv = Conv2DLocalReparameterization(16, 3, activation="relu", seed=0)
        >>> y = conv(tf.ones((2, 28, 28, 1)), training=True)

    References:
        Kingma, Salimans, Welling. Variational Dropout and the Local
        Reparameterization Trick. NeurIPS 2015.
    """

    def _sample(self, x, seed, scale, batch_slice=None):
        return self._local_sample(x, seed, scale, batch_slice)

    def _sample_many(self, x, num_samples, seed):
        if x.shape.rank not in (4, 5):
            raise sample_rank_error(x)
        return self._local_sample_many_checked(x, num_samples, seed)


# tfp.layers' names (and Keras' Convolution2D alias of Conv2D), for ported code.
Convolution2DReparameterization = Conv2DReparameterization
Convolution2DFlipout = Conv2DFlipout
