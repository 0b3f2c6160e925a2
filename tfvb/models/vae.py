"""The convolutional variational autoencoder (CVAE)."""

import warnings

import keras

from tfvb import _checks, objectives
from tfvb.models._vae_base import LatentVariableModel
from tfvb.models.networks import conv_decoder, conv_encoder


@keras.saving.register_keras_serializable(package="tfvb")
class CVAE(LatentVariableModel):
    """Convolutional VAE with a Bernoulli likelihood, trained on the ELBO.

    Generative model and approximate posterior:

        z ~ N(0, I),   x | z ~ Bernoulli(sigmoid(decoder(z)))
        q(z | x) = N(mean(x), diag(exp(logvar(x))))

    The train step maximizes ELBO = E_q[log p(x|z)] - beta * KL(q(z|x) || p(z))
    with one reparameterized sample, using either estimator of Kingma & Welling:
    `kl="analytic"` (estimator B: closed-form Gaussian KL) or `kl="sample"`
    (estimator A: log p(x|z) + log p(z) - log q(z|x) at the sampled z; the
    word `tfvb.layers` use too, formerly "mc").
    The default networks are those of the TensorFlow CVAE tutorial; `encoder=`
    and `decoder=` take your own Keras models instead (checked when the model
    is built, saved in its `.keras` file, served by `export`).

    Args:
        latent_dim: size of z.
        filters: channels of the encoder's stride-2 convolutions (decoder mirrors them).
        image_shape: (H, W, C), H and W divisible by 2 ** len(filters).
        kl: "analytic" or "sample" ("mc" is a deprecated spelling of "sample").
        beta: weight of the KL term (anneal with `tfvb.callbacks.KLWarmup`).
        seed: seed for the reparameterization noise.
        encoder: None (the default network), or a keras.Model mapping images
            (None,) + image_shape to q(z|x)'s mean and log-variance: one tensor
            (None, 2 * latent_dim), the mean then the log-variance, or two
            tensors [mean, log_variance] of shape (None, latent_dim) (as in
            keras.io's VAE example).
        decoder: None, or a keras.Model mapping latents (None, latent_dim) to
            Bernoulli **logits** of shape (None,) + image_shape (no final
            sigmoid: `decode(z, apply_sigmoid=True)` and `sample` apply it).

    Metrics (per image, nats): `loss` (negative beta-ELBO), `elbo`,
    `reconstruction` (-E log p(x|z)), `kl`.

    Example:
        >>> images, labels = tfvb.data.mnist_sample()        # 2,000 digits bundled with tfvb
        >>> model = tfvb.models.CVAE(latent_dim=2, seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> history = model.fit(tfvb.data.image_dataset(images[:500]), epochs=2, verbose=0)
        >>> mean, logvar = model.encode(images[:4])       # q(z|x)
        >>> samples = model.sample(16)                    # Bernoulli means of p(x|z), z ~ p(z)
        >>> samples.shape
        TensorShape([16, 28, 28, 1])

    Your own networks (here an MLP pair; any Sequential, Functional or subclassed model):
        >>> encoder = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
        ...                             keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2 * 2)])
        >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64, activation="relu"),
        ...                             keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))])
        >>> model = tfvb.models.CVAE(latent_dim=2, encoder=encoder, decoder=decoder, seed=0)
        >>> model.decode(np.zeros((3, 2), "float32"), apply_sigmoid=True).shape
        TensorShape([3, 28, 28, 1])

    References:
        Kingma & Welling. Auto-Encoding Variational Bayes. ICLR 2014.
    """

    metric_names = ("loss", "elbo", "reconstruction", "kl")

    def __init__(self, latent_dim=2, filters=(32, 64), image_shape=(28, 28, 1), kl="analytic", beta=1.0,
                 seed=None, encoder=None, decoder=None, **kwargs):
        super().__init__(image_shape=image_shape, latent_dim=latent_dim, beta=beta, seed=seed, **kwargs)
        self.filters = _checks.int_tuple("filters", filters)
        if kl == "mc":
            warnings.warn('kl="mc" is deprecated: use kl="sample".', DeprecationWarning, stacklevel=2)
            kl = "sample"
        self.kl = _checks.one_of("kl", kl, {"analytic", "sample"})
        self.set_networks(encoder, decoder,
                          lambda: conv_encoder(self.image_shape, self.latent_dim, self.filters,
                                               dtype=self.dtype_policy),  # the model's policy, not the global one
                          lambda: conv_decoder(self.latent_dim, self.image_shape, self.filters,
                                               dtype=self.dtype_policy))
        self.build((None,) + self.image_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kl": self.kl}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if config.get("kl") == "mc":  # files saved before the estimator was named "sample"
            config = {**config, "kl": "sample"}
        return super().from_config(config, custom_objects)

    def per_example_terms(self, x, training):
        mean, logvar = self._encode(x)
        z = self.reparameterize(mean, logvar)
        log_px_z = objectives.bernoulli_log_prob(x, self._decode(z), event_ndims=len(self.image_shape))
        if self.kl == "analytic":
            kl = objectives.gaussian_kl(mean, logvar)
        else:
            kl = objectives.gaussian_log_prob(z, mean, logvar) - objectives.standard_normal_log_prob(z)
        return {
            "loss": -objectives.elbo(log_px_z, kl, self.beta),
            "elbo": objectives.elbo(log_px_z, kl),
            "reconstruction": -log_px_z,
            "kl": kl,
        }
