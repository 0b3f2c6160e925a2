r"""Variational objectives as pure functions on tensors.

Every function returns per-example values in nats; models average them in
their `train_step`. The diagonal Gaussian's density and KL divergence are
closed forms in the log-variance (`tfvb.gaussian`), never through the scale
e^(logvar/2): that round trip overflows to inf or NaN at log-variances whose
exact values are finite.

Notation: $x$ an observation, $z$ a latent, $q(z \mid x)$ the encoder, and
$\log w = \log p(x, z) - \log q(z \mid x)$ the log importance weight of a
sample $z \sim q(z \mid x)$. With $K$ samples:

$$
\mathrm{ELBO} = \mathbb{E}_q[\log w] \quad (K = 1), \qquad
\mathcal{L}_K = \mathbb{E}\left[\log \frac{1}{K} \sum_{k=1}^{K} w_k\right]
\quad \text{(IWAE, Burda et al., 2016)}.
$$

$\mathcal{L}_K$ increases with $K$ and its gap to $\log p(x)$ shrinks like
$O(1/K)$; the jackknife estimator of Nowozin (2018) removes the leading bias terms.
"""

import itertools
import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvb import _checks, gaussian

tfd = tfp.distributions

__all__ = [
    "log_mean_exp",
    "gaussian_kl",
    "gaussian_log_prob",
    "standard_normal_log_prob",
    "bernoulli_log_prob",
    "softplus_sum",
    "elbo",
    "iwae_bound",
    "dreg_surrogate",
    "jackknife_bound",
    "jackknife_coefficients",
]


def log_mean_exp(x, axis=0):
    """Numerically stable log(mean(exp(x))) along `axis`.

    Subtracts the maximum before exponentiating, so values of -1e4 nats (a
    log-likelihood of a whole image) neither underflow nor overflow. A slice
    that is -inf everywhere gives -inf, not NaN. Integer `x` is computed
    in float32; an empty `axis` is refused (its mean is undefined).
    """
    return _log_mean_exp(_samples("x", x, axis), axis)


def _log_mean_exp(x, axis):
    n = tf.cast(tf.shape(x)[axis], x.dtype)
    return tf.reduce_logsumexp(x, axis=axis) - tf.math.log(n)


def _samples(name, x, axis):
    """`x` as a floating tensor (integers cast to float32), refused when `axis` is known to hold no sample."""
    x = tf.convert_to_tensor(x)
    if x.dtype.is_integer:
        x = tf.cast(x, tf.float32)
    elif not x.dtype.is_floating:
        raise TypeError(f"Expected `{name}` to hold real numbers. Received: {name}.dtype={x.dtype.name}")
    rank = x.shape.rank
    if rank is not None and isinstance(axis, (int, np.integer)) and -rank <= axis < rank and x.shape[axis] == 0:
        raise ValueError(f"Expected `{name}` to hold at least one sample along axis {axis}. "
                         f"Received: {name}.shape={tuple(x.shape)}")
    return x


def _in_dtype_of_mean(mean, logvar, **others):
    """mean, logvar and `others` as tensors of mean's floating dtype (logvar's when mean is a Python list).

    Under mixed precision a float32 log-variance head may meet a float16 mean:
    like a Keras layer autocasting its inputs, the computation follows the mean.
    """
    dtype = getattr(mean, "dtype", None)
    dtype = getattr(logvar, "dtype", None) if dtype is None else dtype  # (a numpy dtype is falsy)
    dtype = tf.float32 if dtype is None else tf.as_dtype(dtype)
    if not dtype.is_floating:
        raise TypeError(f"Expected `mean` with a floating-point dtype. Received: mean.dtype={dtype.name}")
    out = []
    for name, value in {"mean": mean, "logvar": logvar, **others}.items():
        value = tf.convert_to_tensor(value, dtype_hint=dtype)
        if not (value.dtype.is_floating or value.dtype.is_integer):
            raise TypeError(f"Expected `{name}` to be real-valued, to be cast to mean's dtype {dtype.name}. "
                            f"Received: {name}.dtype={value.dtype.name}")
        out.append(tf.cast(value, dtype))
    return out


def gaussian_kl(mean, logvar, prior_mean=0.0, prior_logvar=0.0):
    """KL(N(mean, exp(logvar)) || N(prior_mean, exp(prior_logvar))), summed over the last axis.

    Per dimension, with t = logvar - prior_logvar and u = e^(t/2) - 1,

        KL = (e^t - 1 - t) / 2 + (mean - prior_mean)^2 e^(-prior_logvar) / 2
           = u (u / 2 + 1) - t / 2 + (mean - prior_mean)^2 e^(-prior_logvar) / 2,

    the second form exact near t = 0 (expm1) and overflowing only where the
    KL does. logvar and the prior are cast to mean's dtype.
    """
    mean, logvar, prior_mean, prior_logvar = _in_dtype_of_mean(
        mean, logvar, prior_mean=prior_mean, prior_logvar=prior_logvar)
    t = logvar - prior_logvar
    u = tf.math.expm1(0.5 * t)
    shift = gaussian.standardized_residual(mean, prior_mean, prior_logvar)
    return tf.reduce_sum(u * (0.5 * u + 1.0) - 0.5 * t + 0.5 * tf.square(shift), axis=-1)


def gaussian_log_prob(z, mean, logvar):
    """log N(z; mean, diag(exp(logvar))), summed over the last axis; z and logvar are cast to mean's dtype."""
    mean, logvar, z = _in_dtype_of_mean(mean, logvar, z=z)
    return -tf.reduce_sum(gaussian.heteroscedastic_nll(z, mean, logvar), axis=-1)


def standard_normal_log_prob(z):
    """log N(z; 0, I), summed over the last axis."""
    z = tf.convert_to_tensor(z)
    return tf.reduce_sum(tfd.Normal(tf.zeros((), z.dtype), tf.ones((), z.dtype)).log_prob(z), axis=-1)


def bernoulli_log_prob(x, logits, event_ndims=3):
    """log p(x | logits) of independent Bernoullis, summed over the last `event_ndims` axes.

        log p(x | l) = sum_d x_d log sigmoid(l_d) + (1 - x_d) log sigmoid(-l_d)
                     = sum_d x_d l_d - sum_d softplus(l_d)

    `x` may hold grey values in [0, 1] (the cross-entropy form), as used for
    continuous-valued MNIST; binarized data gives the exact Bernoulli likelihood.
    `x` broadcasts against `logits` (e.g. images (B, ...) against k samples
    of logits (k, B, ...)). This is `tfd.Independent(tfd.Bernoulli(logits))
    .log_prob(x)` for finite logits, computed in the second form: with k
    samples per image it runs over k x pixels values, the largest tensor of
    an importance-weighted step, and tfp's elementwise form takes about
    three times as long there (forward and gradient).
    """
    logits = tf.convert_to_tensor(logits)
    x = tf.cast(x, logits.dtype)
    if event_ndims == 0:
        return x * logits - tf.nn.softplus(logits)
    event = logits.shape[-event_ndims:]
    size = math.prod(event) if None not in event else -1
    logits = tf.reshape(logits, tf.concat([tf.shape(logits)[:-event_ndims], [size]], axis=0))
    x = tf.reshape(x, tf.concat([tf.shape(x)[:-event_ndims], [size]], axis=0))
    return tf.reduce_sum(x * logits, axis=-1) - softplus_sum(logits)


def softplus_sum(logits):
    """sum_d softplus(l_d) = sum_d log(1 + e^{l_d}) over the last axis, as `bernoulli_log_prob` needs it.

    With t = tanh(l / 2), sigmoid(l) = (1 + t) / 2 and

        softplus(l) = max(l, 0) - log sigmoid(|l|) = max(l, 0) - log((1 + |t|) / 2),

    and the logarithm is taken of products of 8 factors (1 + |t|) / 2 in
    [1/2, 1] (at least 2^-8: no underflow), one logarithm per 8 values
    instead of one each: tanh and products are what a CPU does fast, exp and
    log are not. Rounding stays within float32's relative 1e-7 of the sum.
    The gradient, sigmoid(l) = (1 + t) / 2, reuses t.
    """
    return _softplus_sum(tf.convert_to_tensor(logits))


@tf.custom_gradient
def _softplus_sum(logits):
    t = tf.tanh(0.5 * logits)
    total = tf.reduce_sum(tf.nn.relu(logits), axis=-1) - log_sigmoid_abs_sum(t)

    def grad(upstream):
        return (0.5 * upstream)[..., None] * (1.0 + t)

    return total, grad


def log_sigmoid_abs_sum(t):
    """sum_d log sigmoid(|l_d|) over the last axis, from t = tanh(l / 2): sigmoid(|l|) = (1 + |t|) / 2.

    The logarithm is taken of products of 8 factors (at least 2^-8), so one
    per 8 values (the last axis must be divisible by 8 for that; otherwise
    4, 2 or 1).
    """
    size = t.shape[-1]
    group = next((g for g in (8, 4, 2) if size is not None and size % g == 0), 1)
    factors = 1.0 + tf.abs(t)
    if group > 1:
        factors = tf.reduce_prod(tf.reshape(factors, tf.concat([tf.shape(t)[:-1], [size // group, group]], 0)), -1)
    # Each factor carries a 1/2, applied to the products (1/8 of the values).
    return tf.reduce_sum(tf.math.log(factors * (0.5**group)), axis=-1)


def elbo(reconstruction_log_prob, kl, beta=1.0):
    """ELBO = E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)), per example.

    With `beta=1` this is the evidence lower bound; other values give the
    beta-VAE objective (and KL warm-up when beta is annealed from 0 to 1).
    """
    return reconstruction_log_prob - beta * kl


def iwae_bound(log_w, axis=0):
    """The importance-weighted bound L_K = log (1/K) sum_k w_k along `axis`.

    K = 1 is the ELBO. Differentiating it gives the standard IWAE gradient
    sum_k w~_k grad log w_k, with normalized weights w~ = softmax(log w).
    """
    return _log_mean_exp(_samples("log_w", log_w, axis), axis)


def dreg_surrogate(log_w, axis=0):
    """Doubly reparameterized (DReG) surrogate for the encoder gradient.

    Returns sum_k stop_gradient(w~_k^2) log w_k. Its gradient with respect to
    the encoder parameters is the DReG estimator of grad L_K (Tucker et al.,
    2018) *provided* `log_w` was computed with the parameters of q(z|x)
    stopped in the log q term (the gradient flows only through z). Use the
    plain `iwae_bound` for the decoder's gradient.

    References:
        Tucker, Lawson, Gu, Maddison. Doubly Reparameterized Gradient
        Estimators for Monte Carlo Objectives. ICLR 2019.
    """
    w = tf.stop_gradient(tf.nn.softmax(log_w, axis=axis))
    return tf.reduce_sum(tf.square(w) * log_w, axis=axis)


def jackknife_coefficients(k, order):
    """Coefficients c_j of the order-m generalized jackknife over L_K, L_{K-1}, ..., L_{K-m}.

    c(K, m, j) = (-1)^j (K - j)^m / ((m - j)! j!)   (Nowozin, 2018, eq. 16); they sum to 1.
    """
    return [(-1) ** j * (k - j) ** order / (math.factorial(order - j) * math.factorial(j))
            for j in range(order + 1)]


def _leave_one_out_bound(log_w):
    # log sum_{i != j} w_i for every j, from prefix and suffix cumulative logsumexps:
    # exact and stable even when one weight dominates.
    prefix = tf.math.cumulative_logsumexp(log_w, axis=-1, exclusive=True)
    suffix = tf.math.cumulative_logsumexp(log_w, axis=-1, exclusive=True, reverse=True)
    k = tf.cast(tf.shape(log_w)[-1], log_w.dtype)
    loo = tf.experimental.numpy.logaddexp(prefix, suffix) - tf.math.log(k - 1.0)
    return tf.reduce_mean(loo, axis=-1)


def _subset_bound(log_w, k, drop, max_subsets, seed):
    """Average of L_{K-drop} over subsets of size K - drop (all of them, or a random sample)."""
    n_subsets = math.comb(k, drop)
    # Keep the gathered tensor near 4M elements per example at most.
    budget = max(1, min(max_subsets, (1 << 22) // max(k - drop, 1)))
    if n_subsets <= budget:
        dropped = np.array(list(itertools.combinations(range(k), drop)), dtype=np.int64)
    else:
        rng = np.random.default_rng(seed)
        dropped = np.stack([rng.choice(k, size=drop, replace=False) for _ in range(budget)])
    keep = np.ones((len(dropped), k), dtype=bool)
    np.put_along_axis(keep, dropped, False, axis=1)
    kept = np.nonzero(keep)[1].reshape(len(dropped), k - drop)
    sub = tf.gather(log_w, kept, axis=-1)  # (..., S, K - drop)
    return tf.reduce_mean(log_mean_exp(sub, axis=-1), axis=-1)


def jackknife_bound(log_w, order=1, axis=0, max_subsets=1000, seed=0):
    """Jackknife variational inference estimate of log p(x) (Nowozin, 2018).

    The IWAE estimator L_K has bias of order 1/K. The order-m generalized
    jackknife combines L_K, L_{K-1}, ..., L_{K-m}, each averaged over the
    subsets of the K samples of that size,

        L^J_{K,m} = sum_{j=0}^m c(K, m, j) mean_{|S| = K-j} L(S),

    cancelling the bias terms up to O(K^-(m+1)). It is no longer a lower
    bound. Leave-one-out averages are exact (prefix/suffix logsumexp); for
    j >= 2, when there are more than `max_subsets` subsets, a fixed-seed
    random sample of them is averaged (unbiased for the same quantity).

    The combination is computed in float64 whatever the input dtype: its
    coefficients grow like K^m and alternate in sign, so in float32 the
    cancellation of K L_K - (K - 1) L_{K-1} costs nats at K = 5000.

    Args:
        log_w: log importance weights; the K samples lie along `axis`.
        order: the jackknife order m >= 0 (0 gives the IWAE bound).
        axis: the sample axis.
        max_subsets: the most subsets enumerated per j >= 2 (a positive integer).
        seed: seed of the subset sample when the subsets are not enumerated (a non-negative integer).

    Returns:
        The estimate per example (the sample axis removed), in log_w's floating dtype (float32 for integers).

    References:
        Nowozin. Debiasing Evidence Approximations: On Importance-weighted
        Autoencoders and Jackknife Variational Inference. ICLR 2018.
    """
    order = _checks.integer("order", order, minimum=0)
    max_subsets = _checks.positive_int("max_subsets", max_subsets)
    seed = _checks.integer("seed", seed, minimum=0)  # numpy's generators take no negative seed
    log_w = _samples("log_w", log_w, axis)
    dtype = log_w.dtype
    log_w = tf.experimental.numpy.moveaxis(tf.cast(log_w, tf.float64), axis, -1)
    k = log_w.shape[-1]
    if k is None:
        raise ValueError("Expected the number of samples K (the size of `axis`) to be known statically.")
    if k <= order:
        raise ValueError(
            f"Expected more samples than the jackknife order (K > order). Received: K={k}, order={order}"
        )
    total = 0.0
    for j, c in enumerate(jackknife_coefficients(k, order)):
        if j == 0:
            bound = log_mean_exp(log_w, axis=-1)
        elif j == 1:
            bound = _leave_one_out_bound(log_w)
        else:
            bound = _subset_bound(log_w, k, j, max_subsets, seed + j)
        total = total + tf.cast(c, log_w.dtype) * bound
    return tf.cast(total, dtype)


def check_k(k):
    """Validate a number of importance samples."""
    return _checks.positive_int("k", k)
