"""What every tfvb latent-variable model of images shares.

A model here has a diagonal-Gaussian encoder q(z|x), a standard-normal prior
p(z) and a Bernoulli decoder p(x|z) on logits. Subclasses provide the
networks and `per_example_terms`; this base class owns input checks, the
train/test steps, metrics, sampling, importance weights and export.
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, objectives, randomness, uncertainty
from tfvb.models import _base, _divergence, _inputs, _train_function, networks
from tfvb.models._compile import KerasCompile
from tfvb.models._distribute import LocalBatchBuild

# Guards against exp overflow/underflow of a runaway or collapsed posterior scale.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


#: Bytes a training step holds per value of the decoder's widest tensor: about 4.3 float32 copies of an
#: IWAE's logits were alive at the peak of a measured step; 6 leaves room.
STEP_BYTES_PER_VALUE = 6 * 4


def available_memory():
    """Bytes of memory available to a new allocation (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


class LatentVariableModel(
    LocalBatchBuild, KerasCompile, _divergence.FiniteWeightsOnly, _train_function.LeanTrainFunction,
    randomness.SavesSeedState, keras.Model,
):
    """Base class: subclasses set `self.encoder`, `self.decoder` (`set_networks`) and the metric names.

    Args:
        image_shape: shape of one image, (H, W, C).
        latent_dim: size of z.
        beta: weight of the KL (or log p(z) - log q) term; a non-trainable
            weight, so `tfvb.callbacks.KLWarmup` can anneal it and it is saved.
        seed: seed of the model's `keras.random.SeedGenerator`. Its state is
            saved with the weights, so `BackupAndRestore` resumes the noise too.

    Under `tf.distribute`, each replica draws the noise of the whole global
    batch and keeps its own slice: every example gets the noise it would get
    on one device, and replicas never share draws.
    """

    metric_names = ("loss",)

    def __init__(self, image_shape=(28, 28, 1), latent_dim=2, beta=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = _checks.int_tuple("image_shape", image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"Expected `image_shape` (H, W, C). Received: image_shape={image_shape!r}")
        self.latent_dim = _checks.positive_int("latent_dim", latent_dim)
        self.initial_beta = _checks.non_negative_float("beta", beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.beta = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_beta), trainable=False, name="beta"
        )
        self._trackers = [keras.metrics.Mean(name=n) for n in self.metric_names]

    # -- construction and serialization ---------------------------------------------------
    def set_networks(self, encoder, decoder, default_encoder, default_decoder):
        """`self.encoder` and `self.decoder`: the user's networks, checked and built, or the defaults.

        `encoder` maps images (None,) + image_shape to q(z|x)'s mean and
        log-variance, as one tensor (None, 2 * latent_dim) or two tensors
        (None, latent_dim); `decoder` maps latents (None, latent_dim) to
        Bernoulli logits (None,) + image_shape (see `networks.check_encoder`).
        `default_encoder` / `default_decoder` build the model's own when one is None.
        """
        if encoder is not None:
            networks.check_encoder(encoder, self.image_shape, self.latent_dim)
        if decoder is not None:
            networks.check_decoder(decoder, self.latent_dim, self.image_shape)
        #: Which networks are the user's (they are serialized into the config).
        self.user_networks = tuple(role for role, net in (("encoder", encoder), ("decoder", decoder))
                                   if net is not None)
        self.encoder = encoder if encoder is not None else default_encoder()
        self.decoder = decoder if decoder is not None else default_decoder()

    def build(self, input_shape=None):
        # The networks are built from `image_shape` in __init__; nothing depends on input_shape.
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "beta": self.initial_beta,
            "seed": self.seed,
            **{role: keras.saving.serialize_keras_object(getattr(self, role)) for role in self.user_networks},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for role in ("encoder", "decoder"):
            if isinstance(config.get(role), dict):
                config[role] = keras.saving.deserialize_keras_object(config[role], custom_objects=custom_objects)
        return super().from_config(config, custom_objects)

    @property
    def metrics(self):
        return self.own_metrics(self._trackers)

    objective_name = "its bound on log p(x) (the negative ELBO or IWAE bound per image)"

    def metric_target(self, x, y):
        return x  # compiled metrics compare the images with their reconstruction

    # -- inputs -------------------------------------------------------------------------------
    def check_inputs(self, x):
        """Static shape check plus runtime finite and [0, 1] checks (inside tf.function too)."""
        x = _checks.image_batch(x, self.image_shape)
        return _checks.assert_unit_interval(_checks.assert_finite(x))

    # -- the probabilistic model -------------------------------------------------------------
    def encode(self, x):
        """Mean and log-variance of q(z|x), each (batch, latent_dim).

        `x` is checked as `fit` and `model(x)` check it: its shape, finite, in [0, 1].
        """
        if _divergence.eager_call(x):
            _divergence.require_finite_weights(self, "encode with")
        return self._encode(self.check_inputs(x))

    def _encode(self, x):
        """`encode` of inputs already checked."""
        out = self.encoder(x)
        if isinstance(out, (list, tuple)):  # a user's encoder with two outputs [mean, log_variance]
            mean, logvar = (self.to_variable_dtype(t) for t in out)
        else:
            mean, logvar = tf.split(self.to_variable_dtype(out), 2, axis=-1)
        return mean, tf.clip_by_value(logvar, LOGVAR_MIN, LOGVAR_MAX)

    def decode(self, z, apply_sigmoid=False):
        """The decoder's Bernoulli **logits** of p(x|z) (pixel probabilities with `apply_sigmoid=True`).

        As in TensorFlow's convolutional VAE tutorial: `decode(z)` returns logits, the form the
        likelihood takes (`sigmoid_cross_entropy_with_logits`), and `decode(z, apply_sigmoid=True)`
        returns sigmoid(logits), the image's mean. `z` is (..., latent_dim); leading axes are kept.
        """
        apply_sigmoid = _checks.boolean("apply_sigmoid", apply_sigmoid)
        z = self.to_variable_dtype(tf.convert_to_tensor(z))
        if z.shape.rank is not None and (z.shape.rank < 1 or z.shape[-1] not in (None, self.latent_dim)):
            raise ValueError(f"Expected `z` of shape (..., {self.latent_dim}), latent_dim={self.latent_dim} values "
                             f"in its last axis. Received: z.shape={tuple(z.shape)}")
        if _divergence.eager_call(z):
            _divergence.require_finite_weights(self, "decode with")
        logits = self._decode(_checks.assert_finite(z, "z"))
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def _decode(self, z):
        """`decode` of latents the model drew itself (no checks: they stay off the gradient's path)."""
        z = self.to_variable_dtype(tf.convert_to_tensor(z))
        lead = tf.shape(z)[:-1]
        logits = self.to_variable_dtype(self.decoder(tf.reshape(z, [-1, self.latent_dim])))
        return tf.reshape(logits, tf.concat([lead, self.image_shape], axis=0))

    def to_variable_dtype(self, t):
        """A network's output in the variable dtype: under mixed precision the networks compute in
        float16/bfloat16, while the noise, the densities and the bounds stay in float32."""
        return tf.cast(t, self.variable_dtype)

    def initialize_output_bias(self, images, clip=1e-3):
        """Set the decoder's output bias to the logit of the mean training pixel (Burda et al.'s start).

        With that start the decoder predicts the average image before it has
        learned anything, so the first updates go to the latents instead of to
        the pixel marginals. On MLP decoders the bias is per pixel; on the
        convolutional decoder (one bias per channel) it is the logit of each
        channel's mean. Call it on the training images before `fit`.

        Args:
            images: training images of the model's `image_shape` (values in
                [0, 1]; grey levels are their Bernoulli means).
            clip: the mean pixel is clipped to [clip, 1 - clip] before the logit.

        Returns:
            The bias assigned, as a numpy array.

        Example:
            >>> images, _ = tfvb.data.mnist_sample()
            >>> model = tfvb.models.IWAE(k=1, seed=0)
            >>> bias = model.initialize_output_bias(images[:1000])
            >>> bias.shape, bool(bias.min() < -6 < 0 < bias.max())
            ((784,), True)

        References:
            Burda, Grosse & Salakhutdinov. Importance Weighted Autoencoders.
            ICLR 2016 (their code's `get_train_bias`).
        """
        x = self.check_inputs(_inputs.as_array("images", images)).numpy()
        if len(x) == 0:  # the mean of no image is NaN: refused before it reaches the decoder
            raise ValueError("Expected at least one image. Received: 0 images")
        clip = float(clip)
        if not 0.0 < clip < 0.5:
            raise ValueError(f"Expected `clip` in (0, 0.5). Received: clip={clip!r}")
        last = next((layer for layer in reversed(self.decoder.layers) if getattr(layer, "bias", None) is not None),
                    None)
        if last is None:
            raise ValueError("Expected a decoder whose last trainable layer has a bias. Received: decoder layers "
                             f"{[layer.name for layer in self.decoder.layers]}")
        mean = np.asarray(x, np.float64).mean(axis=0)
        size = int(np.prod(last.bias.shape))
        if size == mean.size:
            mean = mean.reshape(-1)
        elif size == self.image_shape[-1]:
            mean = mean.reshape(-1, size).mean(axis=0)
        else:
            raise ValueError(f"Expected the decoder's output bias to have one value per pixel ({mean.size}) or per "
                             f"channel ({self.image_shape[-1]}). Received: a bias of {size} values")
        p = np.clip(mean, clip, 1.0 - clip)
        bias = np.log(p) - np.log1p(-p)
        last.bias.assign(bias.reshape(last.bias.shape).astype(last.bias.dtype))
        return bias.astype(np.float32)

    def sample_prior(self, n, seed=None):
        return randomness.normal((n, self.latent_dim), self.seed_generator, seed)

    def sample(self, n, seed=None):
        """`n` images drawn from the model: Bernoulli means sigmoid(decode(z)), z ~ p(z)."""
        n = _checks.positive_int("n", n)
        _divergence.require_finite_weights(self, "sample from")
        return tf.sigmoid(self.decode(self.sample_prior(n, seed)))

    def posterior_predictive_draws(self, x, samples, seed=None):
        """Bernoulli means sigmoid(decode(z_t)) of T latents z_t ~ q(z|x), (T, N) + image_shape, as graph ops.

        `seed` (an int, a pair or an integer tensor) makes the draws those of
        the served `predict_samples` signature with the same seed.
        """
        mean, logvar = self.encode(x)
        return tf.sigmoid(self._decode(self.reparameterize(mean, logvar, k=samples, seed=seed)))

    def predict_samples(self, x, samples=100, seed=None):
        """The posterior predictive's T draws: Bernoulli means (T, N) + image_shape, numpy."""
        samples = _checks.positive_int("samples", samples)
        _divergence.require_finite_weights(self, "predict with")
        x = _inputs.user_data(x, method="predict_samples")[0]
        return self.posterior_predictive_draws(x, samples, seed).numpy()

    def predict_uncertainty(self, x, samples=100, seed=None):
        """Per pixel, from T latents z ~ q(z|x): `mean` Bernoulli mean, `epistemic` (its variance over z),
        `aleatoric` (the mean Bernoulli variance p (1 - p)), `variance` (their sum), `std`; numpy arrays
        of shape (N,) + image_shape (`tfvb.uncertainty.regression_uncertainty` on the pixels)."""
        _inputs.require_arrays(x, "predict_uncertainty")
        probs = self.predict_samples(x, samples, seed)
        t, n = probs.shape[:2]
        flat = probs.reshape(t, n, -1)
        out = uncertainty.regression_uncertainty(flat, flat * (1.0 - flat))
        return {k: v.reshape(probs.shape[1:]) for k, v in out.items()}

    def stateless_sample_logits(self, n, seed):
        """Logits of `n` model samples from an integer tensor `seed` (for serving)."""
        z = randomness.stateless_normal(tf.stack([n, self.latent_dim]), randomness.seed_tensor(seed))
        return self._decode(z)

    def reparameterize(self, mean, logvar, k=None, seed=None, batch_axis=0):
        """z = mean + exp(logvar / 2) * eps; with `k`, k samples stacked on a new leading axis.

        `batch_axis` is the axis of `mean` that holds the examples (1 for a
        mean that already has a leading sample axis, as a second stochastic
        layer's): under tf.distribute each example gets the noise it would get
        on one device.
        """
        shape = tf.shape(mean)
        sample_shape = tf.zeros([0], tf.int32) if k is None else tf.reshape(tf.cast(k, tf.int32), [1])
        batch_slice = randomness.replica_batch_slice(shape[batch_axis]) if _base.replicas_in_sync() > 1 else None
        eps = randomness.per_example(lambda s: randomness.normal(s, self.seed_generator, seed),
                                     tf.concat([sample_shape, shape], 0), batch_slice,
                                     axis=batch_axis if k is None else batch_axis + 1)
        return mean + tf.exp(0.5 * logvar) * eps

    def log_weight_parts(self, x, k, seed=None, stop_q_gradient=False):
        """(log p(x|z), log p(z) - log q(z|x)) for k samples z ~ q(z|x), each of shape (k, batch).

        With `stop_q_gradient`, the parameters of q are stopped in the log q
        term (gradients flow through z only), as the DReG estimator needs.
        """
        mean, logvar = self._encode(x)
        z = self.reparameterize(mean, logvar, k=k, seed=seed)
        if stop_q_gradient:
            mean, logvar = tf.stop_gradient(mean), tf.stop_gradient(logvar)
        log_px_z = self.log_px_given_z(x, z)
        return log_px_z, objectives.standard_normal_log_prob(z) - objectives.gaussian_log_prob(z, mean, logvar)

    def log_px_given_z(self, x, z):
        """log p(x|z) for images `x` (batch, ...) and latents `z` (..., batch, latent_dim): shape (..., batch)."""
        return objectives.bernoulli_log_prob(x, self._decode(z), event_ndims=len(self.image_shape))

    def log_importance_weights(self, x, k, seed=None, stop_q_gradient=False):
        """log w = log p(x|z) + log p(z) - log q(z|x) for k samples z ~ q(z|x): shape (k, batch)."""
        log_px_z, log_prior_ratio = self.log_weight_parts(x, k, seed=seed, stop_q_gradient=stop_q_gradient)
        return log_px_z + log_prior_ratio

    def call(self, inputs, training=None):
        """Reconstruction (Bernoulli means); z is the posterior mean unless training."""
        x = self.check_inputs(inputs)
        mean, logvar = self._encode(x)
        z = self.reparameterize(mean, logvar) if training else mean
        return tf.sigmoid(self._decode(z))

    # -- objectives ---------------------------------------------------------------------------
    def per_example_terms(self, x, training):
        """A dict of per-example tensors with at least "loss"; keys named like the metrics."""
        raise NotImplementedError

    #: Per-example terms that become losses under the tape (all others are metrics only).
    gradient_terms = ("loss",)

    def compute_gradients(self, tape, losses):
        return tape.gradient(losses["loss"], self.trainable_variables)

    # -- memory of a step -----------------------------------------------------------------------
    def values_per_sample(self):
        """Floats one latent sample puts in the decoder's largest tensor (at least the image's pixels)."""
        sizes = [math.prod(self.image_shape)]
        for layer in getattr(getattr(self, "decoder", None), "layers", []):
            try:
                sizes.append(math.prod(layer.output.shape[1:]))
            except (AttributeError, TypeError, ValueError):
                continue  # a layer without a single static output shape does not set the budget
        return max(sizes)

    def check_step_fits(self, x):
        """Raise ValueError, saying what fits, when a step on the batch `x` (k samples per image) would need
        more memory than the machine has available. Runs when a step is traced: free per step."""
        batch, k = x.shape[0], getattr(self, "k", 1)
        available = available_memory()
        if batch is None or available is None:
            return
        per_sample = self.values_per_sample() * STEP_BYTES_PER_VALUE
        need = k * batch * per_sample
        if need <= available:
            return
        if available >= k * per_sample:
            hint = f"at most {available // (k * per_sample)} images per batch fit at k={k}"
        else:
            hint = f"k={k} does not fit even one image per batch; k={max(1, available // per_sample)} does"
        raise ValueError(
            f"Expected a step of {type(self).__name__} that fits in memory ({available / 2**30:.1f} GB available). "
            f"Received: k={k} samples x {batch} images x {self.values_per_sample()} values, about "
            f"{need / 2**30:.1f} GB; {hint} (tfvb.evaluate.log_likelihood sizes its own steps for any k)"
        )

    def train_step(self, data):
        x, _, sample_weight = _base.unpack_batch(data)
        x = self.check_inputs(x)
        self.check_step_fits(x)
        with tf.GradientTape(persistent=len(self.gradient_terms) > 1) as tape:
            terms = self.per_example_terms(x, training=True)
            losses = {name: self.optimizer.scale_loss(_base.average_loss(terms[name], sample_weight))
                      for name in self.gradient_terms}
        grads = self.compute_gradients(tape, losses)
        del tape
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update(x, terms, sample_weight)

    def test_step(self, data):
        x, _, sample_weight = _base.unpack_batch(data)
        x = self.check_inputs(x)
        self.check_step_fits(x)
        terms = self.per_example_terms(x, training=False)
        return self._update(x, terms, sample_weight)

    def _update(self, x, terms, sample_weight):
        if getattr(self, "_compile_metrics", None) is not None:
            mean, _ = self._encode(x)  # the reconstruction from the posterior mean, as `call` returns
            self.update_compiled_metrics(x, None, tf.sigmoid(self._decode(mean)), sample_weight)
        return _base.update_trackers(self.metrics, terms, sample_weight)

    # -- fit / evaluate: check the data, honour sample weights ----------------------------------------
    def _user_data(self, x, y, kwargs, method):
        """(x, y, kwargs) of a fit/evaluate call, checked; `y` is ignored (it may hold labels).

        Keras drops `sample_weight` when `y` is None; a placeholder `y` keeps
        it, so a weighted fit maximizes the weighted ELBO.
        """
        _inputs.refuse_class_weight(self, kwargs)
        x, y, weights = _inputs.user_data(x, y, kwargs.pop("sample_weight", None), method=method, labels=True)
        _base.require_examples(x, method)
        if _inputs.num_rows(x) is not None:
            _checks.check_image_shape(np.shape(x), self.image_shape, "x")
        if weights is not None:
            kwargs["sample_weight"] = weights
            if y is None:
                y = np.zeros(len(weights), np.float32)
        kwargs = _inputs.validation_data(kwargs, labels=True)
        val = kwargs.get("validation_data")
        if isinstance(val, tuple) and len(val) == 3 and val[1] is None:
            kwargs["validation_data"] = (val[0], np.zeros(len(val[2]), np.float32), val[2])
        return x, y, kwargs

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` on images x (y is ignored), checked first; `sample_weight` weighs the examples.

        With weights w_n the step minimizes sum_n w_n loss_n / B (Keras' convention
        for sample weights) and the reported metrics are weighted means, e.g.
        `elbo` = sum_n w_n ELBO_n / sum_n w_n. Datasets give weights as
        (x, y, sample_weight) batches (y ignored).
        """
        x, y, kwargs = self._user_data(x, y, kwargs, "fit")
        counter = _base.StepCounter()
        x, kwargs = _base.fit_arguments(self, x, kwargs)
        kwargs["callbacks"].append(counter)
        history = super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)
        counter.check()  # a dataset of unknown size may still turn out empty
        return history

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        x, y, kwargs = self._user_data(x, y, kwargs, "evaluate")
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)
