"""The part every tfvb Bayesian layer shares: posterior, prior, KL, seeds, call modes.

The kernel has a mean-field Gaussian posterior q(W) = N(mu, sigma^2) with
sigma = softplus(rho) (so sigma > 0 under unconstrained optimisation); the
bias is a point estimate, as in `tfp.layers`. A layer is called in one of
three modes:

    layer(x, training=True)        one stochastic pass; its KL(q || p) is
                                   recorded with `add_loss` for the model
    layer(x)                       the posterior mean, W = mu (deterministic);
                                   the KL is recorded too, so that Keras'
                                   `evaluate` and `val_loss` report the
                                   objective `fit` reports
    layer(x, num_samples=T)        T independent weight draws in one
                                   vectorized call: x of shape (N, ...) or
                                   (T, N, ...) -> (T, N, ...)

`seed` (an int or a [2] integer tensor) makes a call's draws reproducible;
without it they come from the layer's own `keras.random.SeedGenerator`.

The KL in your own model. Keras minimizes the mean data loss over a batch
plus the layers' losses, so the negative ELBO per example needs each
layer's KL divided by the training-set size N:

    loss = (1/B) sum_b -log p(y_b | x_b, W)  +  sum_layers KL(q || p) / N

Give the layers `num_examples=N` and they add KL / N (a layer without it
adds the whole KL, which outweighs the data N-fold: tfvb's own models keep
that default and divide by N themselves). See the README's "Bayesian layers
in your own model".
Subclasses supply the linear operation (`_linear`, `_linear_per_sample`),
the shape of Flipout's sign vectors (`_sign_shape`), and the stochastic
pass `_sample`.

Mixed precision (`keras.mixed_precision.set_global_policy("mixed_float16")`
or "mixed_bfloat16"): mu and rho stay in the variable dtype (float32) and are
never autocast; the KL and every Gaussian draw are computed there too, so a
sampled KL sees the very kernel of the forward pass and the noise is the
noise a float32 run draws. Only the forward algebra (the convolutions and
matrix products, signs, output noise) runs in the compute dtype.
"""

import math

import keras
import tensorflow as tf
from keras.src.backend.common import global_state

from tfvb import _checks, randomness
from tfvb import priors as priors_lib
from tfvb.layers import _sampling_guard, _tfp_arguments

KL_MODES = ("auto", "analytic", "sample")
#: The smallest `posterior_sigma_init`: below it softplus(rho) underflows in float32 (KL = inf).
MIN_POSTERIOR_SIGMA_INIT = 1e-30
_FLOAT32_MAX = 3.4028234663852886e38
#: Samples a `tf.map_fn` over weight draws runs at once (see `VariationalLayer._map_samples`).
_PARALLEL_SAMPLES = 8


def _dims(t):
    """The shape of `t` as a list: Python ints where static (kept through reshapes), scalars elsewhere."""
    dynamic = tf.shape(t)
    return [d if d is not None else dynamic[i] for i, d in enumerate(t.shape)]


def grouped_convolutions():
    """Whether T kernels should run as one stacked/grouped convolution (GPU) or a map over T (CPU).

    Graphs traced for LiteRT and ONNX (`tfvb.randomness.portable_noise`) take the one convolution:
    LiteRT cannot lower a map's TensorList loop.
    """
    return randomness.is_portable() or bool(tf.config.list_logical_devices("GPU"))


def inverse_softplus(sigma):
    """rho with softplus(rho) = sigma, computed without overflow: sigma + log(1 - exp(-sigma))."""
    return sigma + math.log(-math.expm1(-sigma))


def check_posterior_sigma_init(value):
    """`posterior_sigma_init` as a float whose softplus round trip is exact enough in float32."""
    sigma = _checks.positive_float("posterior_sigma_init", value)
    if not MIN_POSTERIOR_SIGMA_INIT <= sigma < _FLOAT32_MAX:
        raise ValueError(
            "Expected `posterior_sigma_init` to be a positive finite number in "
            f"[{MIN_POSTERIOR_SIGMA_INIT:g}, {_FLOAT32_MAX:g}) (its inverse softplus must be representable "
            f"in float32, or sigma underflows to 0 and the KL is inf). Received: posterior_sigma_init={value!r}"
        )
    return sigma


class VariationalLayer(randomness.SavesSeedState, keras.layers.Layer):
    """Base class of tfvb's Bayesian layers (not used directly)."""

    def __init__(
        self,
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
        # Arguments of tfp.layers (kernel_divergence_fn, kl_weight, ...): read, or refused naming tfvb's.
        kwargs, num_examples, kl = _tfp_arguments.translate(kwargs, num_examples, kl)
        super().__init__(**kwargs)
        self.num_examples = None if num_examples is None else _checks.positive_int("num_examples", num_examples)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.prior = priors_lib.get(prior)
        self.kl = _checks.one_of("kl", kl, KL_MODES)
        if kl == "analytic" and not self.prior.has_analytic_kl:
            raise ValueError(
                f"Expected a prior with a closed-form KL for kl='analytic'. Received: prior={self.prior!r} "
                "(use kl='sample' or kl='auto')"
            )
        self.posterior_sigma_init = check_posterior_sigma_init(posterior_sigma_init)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Expected `seed` to be None or an integer. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._built_rank = None
        # Keras hands a call-context argument down a Functional graph: `model(x, num_samples=T)` on a
        # user's Sequential reaches the layer (and is refused there, see `_sampling_guard`) instead of
        # being dropped without a word.
        self._register_call_context_args("num_samples")

    # ---- posterior ---------------------------------------------------------------
    def _add_posterior(self, kernel_shape, bias_size):
        # autocast=False: under a mixed policy the posterior and its KL stay in float32
        # (a float16 KL summed over a layer's weights overflows); the forward casts explicitly.
        self.kernel_loc = self.add_weight(
            name="kernel_loc", shape=kernel_shape, initializer=self.kernel_initializer, autocast=False
        )
        # rho = softplus^-1(sigma_init): a small initial sigma lets training start
        # from a near-deterministic network (Blundell et al., 2015).
        rho = inverse_softplus(self.posterior_sigma_init)
        self.kernel_rho = self.add_weight(
            name="kernel_rho", shape=kernel_shape, initializer=keras.initializers.Constant(rho), autocast=False
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(bias_size,), initializer=self.bias_initializer)

    @property
    def kernel_scale(self):
        """The posterior standard deviations sigma = softplus(rho)."""
        return tf.nn.softplus(self.kernel_rho)

    @property
    def uses_analytic_kl(self):
        return self.kl == "analytic" or (self.kl == "auto" and self.prior.has_analytic_kl)

    def kl_divergence(self, kernel_sample=None, seed=None):
        """KL(q(W) || p(W)) summed over the kernel: closed form, or the estimate at a draw.

        The sampled estimate uses `kernel_sample` when given (the forward
        pass's weights), otherwise a fresh draw.
        """
        return self._kl(self.kernel_scale, kernel_sample, seed)

    def _kl(self, scale, kernel_sample=None, seed=None):
        loc = tf.convert_to_tensor(self.kernel_loc)
        if self.uses_analytic_kl:
            return self.prior.kl_divergence_sum(loc, scale)
        if kernel_sample is None:
            kernel_sample = loc + scale * self._normal(tf.shape(loc), self._seeds(seed, 1)[0])
        return tf.reduce_sum(self.prior.sample_kl(kernel_sample, loc, scale))

    def _compute(self, t):
        """`t` in the compute dtype (a no-op unless a mixed-precision policy is set)."""
        return tf.cast(t, self.compute_dtype)

    # ---- randomness --------------------------------------------------------------
    def _seeds(self, seed, n):
        """`n` independent stateless seeds, shape (n, 2)."""
        base = self.seed_generator.next() if seed is None else randomness.seed_tensor(seed)
        return randomness.stateless_split(tf.cast(base, tf.int64), n)

    def _normal(self, shape, seed):
        """N(0, 1) draws in the variable dtype: under mixed precision the same numbers as in float32."""
        return randomness.stateless_normal(shape, seed, dtype=self.variable_dtype)

    def _rademacher(self, shape, seed):
        """Independent signs, exactly +1 or -1."""
        bits = randomness.stateless_uniform(shape, seed, minval=0, maxval=2, dtype=tf.int32)
        return tf.cast(2 * bits - 1, self.compute_dtype)

    @staticmethod
    def _per_example(draw, shape, seed, batch_slice=None):
        """`draw(shape, seed)` for noise with one row per example (axis 0), distribution-aware.

        With `batch_slice` (offset, global size) under tf.distribute, the
        noise of the global batch is drawn and this replica's rows kept
        (`tfvb.randomness.per_example`). The model computes the slice once,
        before any layer runs: layers' `add_loss` lists are shared by the replicas.
        """
        return randomness.per_example(lambda s: draw(s, seed), shape, batch_slice)

    # ---- stochastic passes shared by subclasses ---------------------------------
    def _reparameterization(self, x, seed, scale):
        """One kernel draw W = mu + sigma * eps shared by the batch (Blundell et al., 2015)."""
        kernel = self.kernel_loc + scale * self._normal(tf.shape(self.kernel_loc), self._seeds(seed, 1)[0])
        return self._linear(x, self._compute(kernel)), kernel

    def _flipout(self, x, seed, scale, batch_slice=None):
        """Shared perturbation dW, decorrelated per example by random signs (Wen et al., 2018).

        y_n = x_n mu + ((x_n o s_n) dW) o r_n with s_n, r_n in {-1, +1}: each
        example sees the kernel mu + dW o (s_n r_n^T), which has the same
        distribution as W because dW is symmetric about 0.
        """
        s = self._seeds(seed, 3)
        delta = scale * self._normal(tf.shape(self.kernel_loc), s[0])
        perturbation = self._linear(
            x * self._per_example(self._rademacher, self._sign_shape(x), s[1], batch_slice), self._compute(delta))
        sign_out = self._per_example(self._rademacher, self._sign_shape(perturbation), s[2], batch_slice)
        mean = self._linear(x, self._compute(self.kernel_loc))
        return mean + perturbation * sign_out, self.kernel_loc + delta

    def _independent_samples(self, x, num_samples, seed):
        """T independent kernel draws applied in one batched op."""
        shape = tf.concat([[num_samples], tf.shape(self.kernel_loc)], axis=0)
        kernels = self.kernel_loc + self.kernel_scale * self._normal(shape, self._seeds(seed, 1)[0])
        return self._linear_per_sample(x, self._compute(kernels))

    def _map_samples(self, x, kernels):
        """`_linear` with each of the T kernels, as one graph op (a `tf.map_fn` over the samples).

        x (N, ...) shared by the samples, or (T, N, ...) per sample -> (T, N, ...).
        On CPU this beats one stacked or grouped convolution, which took 1.21x as long
        (process CPU time, median of 7 interleaved pairs, pairs 1.21-1.22) for T = 100 kernels
        on 128 shared 28x28x1 images, 1.29x (1.28-1.37) on per-sample 14x14x6 inputs and
        1.20x (1.18-1.23) for a stride-2 transposed convolution of 16 per-sample 7x7x64
        inputs (forward only, one thread, one run on loaded cores: benchmarks/conv_map.py,
        benchmarks/results/conv_map.json). No transposes of the (T x N) activations are needed.
        """
        if x.shape.rank == kernels.shape.rank - 1:
            return tf.map_fn(lambda kernel: self._linear(x, kernel), kernels, fn_output_signature=x.dtype,
                             parallel_iterations=_PARALLEL_SAMPLES)
        return tf.map_fn(lambda pair: self._linear(pair[0], pair[1]), (x, kernels), fn_output_signature=x.dtype,
                         parallel_iterations=_PARALLEL_SAMPLES)

    # ---- local reparameterization (Kingma et al., 2015), shared by dense and conv ----
    def _output_moments(self, x, scale):
        """Mean and standard deviation of the pre-activations given x: linear(x, mu), sqrt(linear(x^2, sigma^2)).

        The variance is computed in the variables' dtype (float32) whatever the compute dtype: under
        float16, sigma^2 of a small sigma underflows, and the floor it then needed (6.2e-5) overstated
        the variance of small posteriors several-fold. The 1e-12 floor keeps sqrt differentiable where an
        input is exactly zero.
        """
        mean = self._linear(x, self._compute(self.kernel_loc))
        var = self._linear(tf.square(tf.cast(x, scale.dtype)), tf.square(scale)) + 1e-12
        return mean, self._compute(tf.sqrt(var))

    def _local_sample(self, x, seed, scale, batch_slice=None):
        mean, std = self._output_moments(x, scale)
        eps = self._per_example(self._normal, tf.shape(mean), self._seeds(seed, 1)[0], batch_slice)
        return mean + std * self._compute(eps), None

    def _local_sample_many(self, x, num_samples, seed, sample_axis):
        """T draws of the pre-activations: x shared (rank r) or per sample (rank r + 1, T leading).

        The kernel is shared by the samples, so per-sample inputs fold T into the batch.
        """
        if sample_axis:
            lead = tf.shape(x)[:2]
            x = tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))
        mean, std = self._output_moments(x, self.kernel_scale)
        if sample_axis:
            mean = tf.reshape(mean, tf.concat([lead, tf.shape(mean)[1:]], 0))
            std = tf.reshape(std, tf.shape(mean))
            shape = tf.shape(mean)
        else:
            shape = tf.concat([[num_samples], tf.shape(mean)], 0)
        noise_seed = randomness.per_example_seed(self._seeds(seed, 1)[0])  # other noise per chunk of inputs
        return mean + std * self._compute(self._normal(shape, noise_seed))

    # ---- shapes ------------------------------------------------------------------
    #: The rank of the inputs the layer takes when it is not told otherwise (before it is built).
    _default_rank = 2

    @property
    def input_rank(self):
        """The rank of the inputs the layer was built for; with `num_samples`, one more axis holds per-sample
        inputs (T, batch, ...)."""
        return self._built_rank or self._default_rank

    def _record_rank(self, input_shape):
        self._built_rank = len(input_shape)

    def _is_per_sample(self, x):
        """Whether `x` (under `num_samples`) holds one input per sample on a leading axis; raises on other ranks."""
        rank = len(x.shape)
        if rank == self.input_rank:
            return False
        if rank == self.input_rank + 1:
            return True
        raise ValueError(
            f"Expected inputs of rank {self.input_rank} (as {self.name} was built), or {self.input_rank + 1} "
            f"(num_samples, batch, ...) with `num_samples`. Received: inputs.shape={tuple(x.shape)}"
        )

    def compute_output_shape(self, input_shape, num_samples=None):
        """The output shape for inputs of `input_shape`; with `num_samples=T`, (T, ...) ahead of it."""
        input_shape = tuple(input_shape)
        if num_samples is None:
            return tuple(self._output_shape(input_shape))
        if len(input_shape) == self.input_rank + 1:  # per-sample inputs: the sample axis is kept
            return (input_shape[0],) + tuple(self._output_shape(input_shape[1:]))
        return (num_samples,) + tuple(self._output_shape(input_shape))

    def compute_output_spec(self, inputs, training=None, num_samples=None, seed=None, batch_slice=None):
        shape = self.compute_output_shape(inputs.shape, num_samples=num_samples)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    # ---- call --------------------------------------------------------------------
    def call(self, inputs, training=None, num_samples=None, seed=None, batch_slice=None):
        inputs = tf.cast(inputs, self.compute_dtype)
        if num_samples is not None:
            _sampling_guard.refuse_graph_samples(self, num_samples)
            if not tf.is_tensor(num_samples):  # a tensor: a served graph's T, checked where it enters
                num_samples = _checks.positive_int("num_samples", num_samples)
            self._is_per_sample(inputs)  # a clear error on a wrong rank
            outputs = self._sample_many(inputs, num_samples, seed)
        elif training:
            scale = self.kernel_scale  # softplus once for the pass and its KL
            outputs, kernel = self._sample(inputs, seed, scale, batch_slice)
            self._add_kl(self._kl(scale, kernel_sample=kernel))
        else:
            _sampling_guard.note_deterministic(self, inputs)
            outputs = self._linear(inputs, self._compute(self.kernel_loc))
            # The same KL term as in training, so that a model's `evaluate` and `val_loss` report the objective
            # `fit` reports (Keras adds the layers' losses in both). A sampled KL uses a fixed draw: the
            # evaluation is repeatable and the layer's seed generator is left where training left it.
            self._add_kl(self._kl(self.kernel_scale, seed=(0 if self.seed is None else self.seed, 1)))
        if self.use_bias:
            outputs = outputs + self._compute(self.bias)
        return self.activation(outputs)

    def _add_kl(self, kl):
        kl = kl if self.num_examples is None else kl / float(self.num_examples)
        # The last call's KL term, apart from the other losses Keras keeps with it (an activity regularizer's):
        # tfvb's BNN models weigh the KL by 1 / N and add the others as Keras does (`BNNBase._estimate`).
        # Set in __dict__: Keras tracks what a layer's attributes hold, and this is a tensor of one call.
        self.__dict__["_tfvb_kl"] = kl
        # KL(q || p) belongs to the weights, not to each call: a layer called twice in one forward pass (shared
        # in a functional model, a Siamese pair) adds it once, as Keras counts a shared layer's weight
        # regularizer once. Keras starts a call context at the outermost call and clears the losses there.
        context = global_state.get_global_attribute("current_call_ctx")
        if context is not None and self.__dict__.get("_tfvb_kl_context") is context:
            return
        self.__dict__["_tfvb_kl_context"] = context
        self.add_loss(kl)

    def _sample_many(self, x, num_samples, seed):
        return self._independent_samples(x, num_samples, seed)

    def _local_sample_many_checked(self, x, num_samples, seed):
        return self._local_sample_many(x, num_samples, seed, sample_axis=self._is_per_sample(x))

    def tiled_call(self, h, num_samples, seed=None):
        """The layer on a batch tiled T times (row t * N + n is draw t of example n), with T weight draws.

        Folds the T draws out of the batch, applies T independent kernels in one call and folds them back,
        so that every other layer of a graph runs unchanged on a batch of T * N (how `tfvb.predict_samples`
        and `tfvb.models.BayesianNetwork` sample a whole Keras graph).
        """
        dims = _dims(h)
        out = self(tf.reshape(h, [num_samples, -1] + dims[1:]), num_samples=num_samples, seed=seed)
        return tf.reshape(out, [-1] + _dims(out)[2:])

    def get_config(self):
        return {
            **super().get_config(),
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "prior": keras.saving.serialize_keras_object(self.prior),
            "kl": self.kl,
            "posterior_sigma_init": self.posterior_sigma_init,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "seed": self.seed,
            "num_examples": self.num_examples,
        }
