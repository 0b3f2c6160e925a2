"""The importance-weighted autoencoder (IWAE) of Burda, Grosse & Salakhutdinov."""

import keras
import tensorflow as tf

from tfvb import _checks, objectives, randomness
from tfvb.models._vae_base import LOGVAR_MAX, LOGVAR_MIN, LatentVariableModel
from tfvb.models.networks import conv_decoder, conv_encoder, mlp


def _split_gaussian(h):
    mean, logvar = tf.split(h, 2, axis=-1)
    return mean, tf.clip_by_value(logvar, LOGVAR_MIN, LOGVAR_MAX)


@tf.custom_gradient
def _dense_softplus_sum(h, kernel, bias):
    """sum_d softplus(l_d) per row of the logits l = h W + b, and a gradient that never forms dl.

    With t = tanh(l / 2) (l / 2 comes from the product with W / 2: exact),
    softplus(l) = max(l, 0) - log sigmoid(|l|) as in `objectives.softplus_sum`,
    and d softplus(l) / dl = sigmoid(l) = (1 + t) / 2. For row weights
    a = upstream / 2 the gradients are then products with t itself,

        dW = (a h)^T t + outer(sum_r a_r h_r, 1),   dh = a (t W^T + 1 W^T),   db = t^T a + sum_r a_r,

    so the (rows, pixels) tensors written per step are t and what the sum
    needs, not also (1 + t) and the weighted logit gradient.
    """
    half = tf.nn.bias_add(tf.matmul(h, 0.5 * kernel), 0.5 * bias)
    t = tf.tanh(half)
    total = 2.0 * tf.reduce_sum(tf.nn.relu(half), axis=-1) - objectives.log_sigmoid_abs_sum(t)

    def grad(upstream):
        a = 0.5 * upstream
        ah = h * a[:, None]
        d_kernel = tf.matmul(ah, t, transpose_a=True) + tf.reduce_sum(ah, axis=0)[:, None]
        d_h = a[:, None] * (tf.matmul(t, kernel, transpose_b=True) + tf.reduce_sum(kernel, axis=1))
        d_bias = tf.linalg.matvec(t, a, transpose_a=True) + tf.reduce_sum(a)
        return d_h, d_kernel, d_bias

    return total, grad


@keras.saving.register_keras_serializable(package="tfvb")
class IWAE(LatentVariableModel):
    r"""Importance-weighted autoencoder trained on the k-sample bound.

    With $\log w_i = \log p(x, z_i) - \log q(z_i \mid x)$ for $z_1, \dots, z_k \sim q(z \mid x)$,

    $$
    \mathcal{L}_k = \mathbb{E}\left[\log \frac{1}{k} \sum_{i=1}^{k} w_i\right], \qquad
    \mathcal{L}_1 = \mathrm{ELBO} \le \mathcal{L}_k \le \mathcal{L}_{k+1} \le \log p(x).
    $$

    The k samples are drawn, decoded and weighted in one batched call.
    `k=1` is exactly the VAE trained with the single-sample (MC-KL) ELBO.

    Default networks are the paper's: 784-200-200-50 with tanh units and one
    stochastic layer. `stochastic_layers=2` gives their two-layer model
    (x -> 200-200 -> z1 (100) -> 100-100 -> z2 (50) and back), where
    `encode`/`decode` act on the first layer z1. `architecture="conv"` uses the
    CVAE's convolutional networks with one stochastic layer; `encoder=` and
    `decoder=` take your own networks (one stochastic layer), as `CVAE` does.

    Gradient estimators: `gradient="iwae"` differentiates L_k (normalized
    weights, no gradient through them); `gradient="dreg"` uses the doubly
    reparameterized estimator for the encoder (Tucker et al., 2019), which is
    unbiased for the same gradient with lower variance as k grows
    (one stochastic layer only).

    Args:
        k: number of importance samples per example.
        latent_dim: size of the top latent (z, or z2 with two layers).
        hidden_units: hidden widths of the first layer's MLPs.
        architecture: "mlp" or "conv".
        stochastic_layers: 1 or 2 ("mlp" only).
        latent_dim_1, hidden_units_2: first-layer latent size and second-layer widths (two layers).
        filters: convolution channels ("conv").
        encoder, decoder: your own keras.Models in place of the default
            networks, with the contract of `CVAE`'s (one stochastic layer only).
        gradient: "iwae" or "dreg".
        image_shape, beta, seed: as in `CVAE` (beta weights log p(z) - log q(z|x) in log w).

    Metrics (per image, nats): `loss` (-L_k), `iwae_bound` (L_k), `elbo` (mean log w).

    Example:
        >>> images, _ = tfvb.data.mnist_sample()             # 2,000 digits bundled with tfvb
        >>> model = tfvb.models.IWAE(k=50, seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-4))
        >>> history = model.fit(tfvb.data.image_dataset(images[:200]), epochs=1, verbose=0)
        >>> sorted(history.history)
        ['elbo', 'iwae_bound', 'loss']

    References:
        Burda, Grosse, Salakhutdinov. Importance Weighted Autoencoders. ICLR 2016.
        Tucker, Lawson, Gu, Maddison. Doubly Reparameterized Gradient Estimators
        for Monte Carlo Objectives. ICLR 2019.
    """

    metric_names = ("loss", "iwae_bound", "elbo")

    def __init__(self, k=50, latent_dim=50, hidden_units=(200, 200), architecture="mlp", stochastic_layers=1,
                 latent_dim_1=100, hidden_units_2=(100, 100), filters=(32, 64), gradient="iwae",
                 image_shape=(28, 28, 1), beta=1.0, seed=None, encoder=None, decoder=None, **kwargs):
        self.stochastic_layers = _checks.one_of("stochastic_layers", stochastic_layers, {1, 2})
        self.latent_dim_1 = _checks.positive_int("latent_dim_1", latent_dim_1)
        # encode/decode act on the first stochastic layer.
        first_latent = self.latent_dim_1 if stochastic_layers == 2 else latent_dim
        super().__init__(image_shape=image_shape, latent_dim=first_latent, beta=beta, seed=seed, **kwargs)
        self.k = _checks.positive_int("k", k)
        self.top_latent_dim = _checks.positive_int("latent_dim", latent_dim)
        self.hidden_units = _checks.int_tuple("hidden_units", hidden_units, allow_empty=True)
        self.hidden_units_2 = _checks.int_tuple("hidden_units_2", hidden_units_2, allow_empty=True)
        self.filters = _checks.int_tuple("filters", filters)
        self.architecture = _checks.one_of("architecture", architecture, {"mlp", "conv"})
        self.gradient = _checks.one_of("gradient", gradient, {"iwae", "dreg"})
        if architecture == "conv" and stochastic_layers != 1:
            raise ValueError(f"Expected stochastic_layers=1 with architecture='conv'. Received: {stochastic_layers}")
        if gradient == "dreg" and stochastic_layers != 1:
            raise ValueError("Expected stochastic_layers=1 with gradient='dreg' (DReG for hierarchical q "
                             f"is not implemented). Received: stochastic_layers={stochastic_layers}")
        if (encoder is not None or decoder is not None) and stochastic_layers != 1:
            raise ValueError("Expected stochastic_layers=1 with your own `encoder`/`decoder` (the two-layer model's "
                             "four networks are tfvb's). Received: stochastic_layers=2")
        policy = self.dtype_policy  # the inner layers compute as the model says (see networks.conv_encoder)
        if architecture == "conv":
            self.set_networks(encoder, decoder,
                              lambda: conv_encoder(self.image_shape, self.latent_dim, self.filters, dtype=policy),
                              lambda: conv_decoder(self.latent_dim, self.image_shape, self.filters, dtype=policy))
        else:
            pixels = int(tf.reduce_prod(self.image_shape))
            self.set_networks(
                encoder, decoder,
                lambda: mlp(self.image_shape, self.hidden_units, 2 * self.latent_dim, name="encoder", dtype=policy),
                lambda: mlp((self.latent_dim,), tuple(reversed(self.hidden_units)), pixels,
                            output_shape=self.image_shape, name="decoder", dtype=policy))
        if stochastic_layers == 2:
            self.encoder_2 = mlp((self.latent_dim,), self.hidden_units_2, 2 * self.top_latent_dim, name="encoder_2",
                                 dtype=policy)
            self.decoder_2 = mlp((self.top_latent_dim,), tuple(reversed(self.hidden_units_2)),
                                 2 * self.latent_dim, name="decoder_2", dtype=policy)
        self.build((None,) + self.image_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("latent_dim")
        return {
            **config,
            "k": self.k,
            "latent_dim": self.top_latent_dim,
            "hidden_units": self.hidden_units,
            "architecture": self.architecture,
            "stochastic_layers": self.stochastic_layers,
            "latent_dim_1": self.latent_dim_1,
            "hidden_units_2": self.hidden_units_2,
            "filters": self.filters,
            "gradient": self.gradient,
        }

    # -- the generative model and its weights ----------------------------------------------
    def sample_prior(self, n, seed=None):
        if self.stochastic_layers == 1:
            return super().sample_prior(n, seed)
        z2 = randomness.normal((n, self.top_latent_dim), self.seed_generator, seed)
        mean, logvar = _split_gaussian(self._flat(self.decoder_2, z2))
        return self.reparameterize(mean, logvar, seed=None if seed is None else seed + 1)

    def stateless_sample_logits(self, n, seed):
        if self.stochastic_layers == 1:
            return super().stateless_sample_logits(n, seed)
        # `sample_prior`'s draws for the same seed: z2 keyed by seed, z1's noise by seed + 1.
        seed = tf.cast(seed, tf.int64)
        z2 = randomness.stateless_normal(tf.stack([n, self.top_latent_dim]), randomness.seed_tensor(seed))
        mean, logvar = _split_gaussian(self._flat(self.decoder_2, z2))
        eps = randomness.stateless_normal(tf.shape(mean), randomness.seed_tensor(seed + 1), dtype=mean.dtype)
        return self._decode(mean + tf.exp(0.5 * logvar) * eps)

    def _flat(self, net, z):
        lead = tf.shape(z)[:-1]
        out = self.to_variable_dtype(net(tf.reshape(z, [-1, z.shape[-1]])))
        return tf.reshape(out, tf.concat([lead, tf.shape(out)[-1:]], axis=0))

    def log_px_given_z(self, x, z):
        """log p(x|z); for the MLP decoder with the fewest passes over the k x pixels logits.

        With h the decoder's last hidden layer and logits l = h W + b,
        log p(x|z) = sum_d x_d l_d - sum_d softplus(l_d). The first sum is
        h . (W x) + b . x: a product with the (batch, hidden) matrix W x (one
        per image) instead of a product and a sum over all k x pixels logits,
        and of their gradients; the second is `_dense_softplus_sum`.
        """
        if self.architecture != "mlp" or "decoder" in self.user_networks or self.compute_dtype != self.variable_dtype:
            # A decoder of another shape than tfvb's MLP; or mixed precision: the decoder computes in its
            # dtype and the likelihood in float32.
            return super().log_px_given_z(x, z)
        *hidden, last = [layer for layer in self.decoder.layers if isinstance(layer, keras.layers.Dense)]
        z = tf.cast(z, self.compute_dtype)
        lead = tf.shape(z)[:-1]
        # Image-major rows: each image's samples are contiguous, so its x term is one matrix-vector product.
        z = tf.transpose(tf.reshape(z, [-1, lead[-1], self.latent_dim]), [1, 0, 2])
        batch, samples = tf.shape(z)[0], tf.shape(z)[1]
        h = tf.reshape(z, [-1, self.latent_dim])
        for layer in hidden:
            h = layer(h)
        kernel, bias = tf.convert_to_tensor(last.kernel), tf.convert_to_tensor(last.bias)
        softplus_sum = _dense_softplus_sum(h, kernel, bias)
        x = tf.reshape(tf.cast(x, h.dtype), [batch, kernel.shape[-1]])
        h = tf.reshape(h, [batch, samples, kernel.shape[0]])
        x_term = tf.linalg.matvec(h, tf.matmul(x, kernel, transpose_b=True)) + tf.linalg.matvec(x, bias)[:, None]
        log_px = x_term - tf.reshape(softplus_sum, [batch, samples])
        return tf.reshape(tf.transpose(log_px), lead)

    def log_weight_parts(self, x, k, seed=None, stop_q_gradient=False):
        if self.stochastic_layers == 1:
            return super().log_weight_parts(x, k, seed=seed, stop_q_gradient=stop_q_gradient)
        mean1, logvar1 = self._encode(x)
        z1 = self.reparameterize(mean1, logvar1, k=k, seed=seed)  # (k, B, L1)
        mean2, logvar2 = _split_gaussian(self._flat(self.encoder_2, z1))
        # mean2 is (k, B, L2): the examples are on axis 1.
        z2 = self.reparameterize(mean2, logvar2, seed=None if seed is None else seed + 1, batch_axis=1)
        pmean1, plogvar1 = _split_gaussian(self._flat(self.decoder_2, z2))
        log_px_z = self.log_px_given_z(x, z1)
        log_prior = objectives.gaussian_log_prob(z1, pmean1, plogvar1) + objectives.standard_normal_log_prob(z2)
        log_q = objectives.gaussian_log_prob(z1, mean1, logvar1) + objectives.gaussian_log_prob(z2, mean2, logvar2)
        return log_px_z, log_prior - log_q

    # -- objective -------------------------------------------------------------------------------
    def per_example_terms(self, x, training):
        dreg = training and self.gradient == "dreg"
        log_px_z, log_ratio = self.log_weight_parts(x, self.k, stop_q_gradient=dreg)
        log_w = log_px_z + log_ratio
        bound = objectives.iwae_bound(log_w, axis=0)
        # beta < 1 (KL warm-up) weights log p(z) - log q(z|x) inside each log weight.
        log_w_beta = log_px_z + self.beta * log_ratio
        terms = {"loss": -objectives.iwae_bound(log_w_beta, axis=0), "iwae_bound": bound,
                 "elbo": tf.reduce_mean(log_w, axis=0)}
        if dreg:
            terms["dreg_loss"] = -objectives.dreg_surrogate(log_w_beta, axis=0)
        return terms

    @property
    def gradient_terms(self):
        return ("loss", "dreg_loss") if self.gradient == "dreg" else ("loss",)

    def compute_gradients(self, tape, losses):
        if self.gradient != "dreg":
            return tape.gradient(losses["loss"], self.trainable_variables)
        # Decoder: the plain IWAE gradient. Encoder: DReG, sum_i w~_i^2 dlog w_i/dz_i dz_i/dphi.
        # log w was built with q's parameters stopped, so its decoder gradient is unchanged.
        enc = self.encoder.trainable_variables
        enc_ids = {id(v) for v in enc}
        rest = [v for v in self.trainable_variables if id(v) not in enc_ids]
        grads = dict(zip(map(id, enc), tape.gradient(losses["dreg_loss"], enc)))
        grads.update(zip(map(id, rest), tape.gradient(losses["loss"], rest)))
        return [grads[id(v)] for v in self.trainable_variables]
