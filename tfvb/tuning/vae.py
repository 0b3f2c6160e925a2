"""HyperModels of the VAE family: CVAE (ranked by val_elbo) and IWAE (by an IWAE-k log-likelihood)."""

import keras
import keras_tuner

from tfvb import _checks, callbacks, evaluate
from tfvb.tuning._hypermodel import LOG_LR, HyperModel


class CVAEHyperModel(HyperModel):
    """Convolutional VAE: latent size, filters, learning rate, KL warm-up; ranked by val_elbo.

    Args:
        image_shape: (H, W, C) of the images.
        space: overrides of `default_space()`.
        objective: a `keras_tuner.Objective` replacing val_elbo (max).
        seed: the models' noise seed.
    """

    objective = keras_tuner.Objective("val_elbo", direction="max")

    def __init__(self, image_shape=(28, 28, 1), space=None, objective=None, seed=None, **kwargs):
        super().__init__(space=space, objective=objective, seed=seed, **kwargs)
        self.image_shape = _checks.int_tuple("image_shape", image_shape)

    @classmethod
    def default_space(cls):
        return {"latent_dim": [2, 8, 16, 32], "filters": [16, 32, 64], "learning_rate": dict(LOG_LR),
                "kl_warmup_epochs": [0, 5, 10]}

    def build(self, hp):
        from tfvb.models import CVAE

        width = self.value(hp, "filters")
        self.value(hp, "kl_warmup_epochs")  # declared here so every trial records it
        model = CVAE(latent_dim=self.value(hp, "latent_dim"), filters=(width, 2 * width),
                     image_shape=self.image_shape, seed=self.seed)
        return self.compile(hp, model)

    def fit(self, hp, model, *args, **kwargs):
        warmup = self.value(hp, "kl_warmup_epochs")
        if warmup:
            kwargs["callbacks"] = [callbacks.KLWarmup(epochs=warmup)] + list(kwargs.get("callbacks") or [])
        return model.fit(*args, **kwargs)


class ValidationLogLikelihood(keras.callbacks.Callback):
    """Adds `val_log_likelihood` (IWAE-k estimate of log p(x), nats per image) to the epoch logs.

    Listed before keras-tuner's own callbacks, so they rank trials by it.
    """

    def __init__(self, images, k=100, seed=0):
        super().__init__()
        self.images = images
        self.k = _checks.positive_int("k", k)
        self.seed = seed

    def estimate(self, model):
        """The IWAE-k estimate of log p(x) on the images, nats per image (the same seed every time)."""
        return float(evaluate.log_likelihood(model, self.images, k=self.k, seed=self.seed, verbose=0).mean)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_log_likelihood"] = self.estimate(self.model)


def _validation_images(validation_data):
    if validation_data is None:
        raise ValueError("Expected `validation_data` (images) for the objective val_log_likelihood. "
                         "Received: validation_data=None")
    if isinstance(validation_data, (tuple, list)):
        validation_data = validation_data[0]
    return validation_data


class IWAEHyperModel(CVAEHyperModel):
    """IWAE (MLP, one stochastic layer): k, latent size, widths, learning rate, KL warm-up.

    Ranked by `val_log_likelihood`, the IWAE-`eval_k` estimate of log p(x)
    on the validation images, the same for every trial whatever its `k`.

    Args:
        image_shape, space, objective, seed: as in `CVAEHyperModel`.
        eval_k: importance samples of the validation estimate.
    """

    objective = keras_tuner.Objective("val_log_likelihood", direction="max")

    def __init__(self, image_shape=(28, 28, 1), eval_k=100, space=None, objective=None, seed=None, **kwargs):
        super().__init__(image_shape=image_shape, space=space, objective=objective, seed=seed, **kwargs)
        self.eval_k = _checks.positive_int("eval_k", eval_k)

    @classmethod
    def default_space(cls):
        return {"k": [1, 5, 50], "latent_dim": [20, 50], "units": [100, 200], "num_layers": [1, 2],
                "gradient": "iwae", "learning_rate": dict(LOG_LR), "kl_warmup_epochs": [0, 5, 10]}

    def build(self, hp):
        from tfvb.models import IWAE

        self.value(hp, "kl_warmup_epochs")
        model = IWAE(k=self.value(hp, "k"), latent_dim=self.value(hp, "latent_dim"),
                     hidden_units=self.hidden_units(hp), gradient=self.value(hp, "gradient"),
                     image_shape=self.image_shape, seed=self.seed)
        # Burda et al.'s Adam epsilon: the default 1e-7 is unstable on the IWAE bound.
        return self.compile(hp, model, epsilon=1e-4)

    def fit(self, hp, model, *args, **kwargs):
        if getattr(self.objective, "name", self.objective) == "val_log_likelihood":  # an Objective or its name
            images = _validation_images(kwargs.get("validation_data"))
            # First in the list: keras-tuner's callbacks read the value it adds.
            kwargs["callbacks"] = [ValidationLogLikelihood(images, self.eval_k)] + list(kwargs.get("callbacks") or [])
        return super().fit(hp, model, *args, **kwargs)
