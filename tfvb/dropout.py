"""Dropout as approximate variational inference: the masks, the weight decay and the concrete-dropout KL.

One home for the formulas of `tfvb.models.MCDropoutRegressor` /
`MCDropoutClassifier` and of the UCI protocol's batched grid
(`tfvb.uci_protocol.MCDropoutGrid`), which must train the same networks.

Bernoulli dropout on the input h of a dense layer, from uniforms u ~ U(0, 1):

    m = 1[u >= p],    h~ = h * m / (1 - p)          (inverted dropout: E[h~] = h)

With N training examples, prior lengthscale l and noise precision tau, the
L2 coefficient of the kernels that makes the objective a (scaled) ELBO is

    lambda = l^2 (1 - p) / (2 N tau)                 (Gal & Ghahramani 2016)

Concrete dropout learns p per layer: the drop is a relaxed Bernoulli of
temperature t,

    z = sigmoid((logit p + log u - log(1 - u)) / t),    h~ = h * (1 - z) / (1 - p),

(z -> 1[u > 1 - p] as t -> 0), and the KL per example of a layer with
kernel W and input width K is

    l^2 ||W||^2 / (2 N (1 - p)) + (K / N) (p log p + (1 - p) log(1 - p))

(the paper's weight and dropout regularizers l^2 / N and 2 / N, halved for a
data term that is the negative log-likelihood itself).

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation: Representing Model
    Uncertainty in Deep Learning. ICML 2016.
    Gal, Hron, Kendall. Concrete Dropout. NeurIPS 2017.
"""

import numpy as np
import tensorflow as tf

__all__ = ["bernoulli_dropout", "concrete_dropout", "weight_decay", "concrete_weight_decay", "concrete_kl",
           "dropout_logit", "rate_from_logit"]

#: Inside the logs of concrete dropout, as in the paper's code.
EPSILON = 1e-7


def bernoulli_dropout(h, u, rate):
    """h * m / (1 - p) with m = 1[u >= p], for uniforms u shaped like h (or broadcasting to it).

    `rate` p is a float or a tensor broadcasting to h. Both the threshold and
    1 - p are rounded to h's dtype once, from p in its own precision (a
    float64 p gives the float32 keep probability nearest to 1 - p).
    """
    keep = tf.cast(1.0 - rate, h.dtype)
    # The draw is compared in the uniforms' precision (float32 under mixed precision too).
    return h * (tf.cast(u >= tf.cast(rate, u.dtype), h.dtype) / keep)


def concrete_dropout(h, rate, u, temperature):
    """h * (1 - z) / (1 - p): z the relaxed Bernoulli(p) drop of uniforms u at `temperature` (broadcasting).

    z and 1 - p are computed in the precision of `rate` and `u` (float32 under mixed precision: the logs
    of small rates underflow in float16), then applied to h in h's dtype.
    """
    drop = tf.sigmoid((tf.math.log(rate + EPSILON) - tf.math.log(1.0 - rate + EPSILON) + tf.math.log(u + EPSILON)
                       - tf.math.log(1.0 - u + EPSILON)) / temperature)
    return h * tf.cast(1.0 - drop, h.dtype) / tf.cast(1.0 - rate, h.dtype)


def weight_decay(lengthscale, dropout_rate, num_examples, tau=1.0):
    """lambda = l^2 (1 - p) / (2 N tau), the kernels' L2 coefficient (floats or numpy arrays)."""
    return lengthscale**2 * (1.0 - dropout_rate) / (2.0 * num_examples * tau)


def concrete_weight_decay(lengthscale, num_examples):
    """l^2 / (2 N): concrete dropout's kernel coefficient before its division by 1 - p (`concrete_kl`)."""
    return lengthscale**2 / (2.0 * num_examples)


def concrete_kl(squared_norm, rate, fan_in, decay, inv_n):
    """One layer's concrete-dropout KL per example: decay ||W||^2 / (1 - p) + (K / N)(p log p + (1 - p) log(1 - p)).

    Args:
        squared_norm: ||W||^2 of the layer's kernel.
        rate: the layer's dropout rate p (a tensor).
        fan_in: K, the layer's input width.
        decay: `concrete_weight_decay(l, N)`.
        inv_n: 1 / N.
    """
    entropy = rate * tf.math.log(rate + EPSILON) + (1.0 - rate) * tf.math.log(1.0 - rate + EPSILON)
    return decay * squared_norm / (1.0 - rate) + fan_in * inv_n * entropy


def dropout_logit(rate):
    """logit p = log p - log(1 - p), the unconstrained parameter concrete dropout learns (numpy)."""
    rate = np.asarray(rate, dtype=np.float64)
    return np.log(rate) - np.log1p(-rate)


def rate_from_logit(logit):
    """p = sigmoid(logit), in float64 (numpy)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logit, dtype=np.float64)))
