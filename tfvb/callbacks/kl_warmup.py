"""KL warm-up: anneal the KL weight `beta` of a tfvb model over the first epochs."""

import keras

from tfvb import _checks


class KLWarmup(keras.callbacks.Callback):
    """Anneal the model's KL weight `beta` linearly from `start` to `target` over `epochs` epochs.

    Works with the tfvb models that have a `beta` weight: the VAE family (CVAE,
    IWAE). The BNNs anneal their KL term by steps instead, with their own
    `kl_warmup_steps` argument. The weight is part of the model's state, so
    `BackupAndRestore` resumes the schedule where it stopped.

    Example:
        >>> images, _ = tfvb.data.mnist_sample()                     # digits bundled with tfvb
        >>> train = tfvb.data.image_dataset(images[:200], batch_size=100, seed=0)
        >>> val = tfvb.data.image_dataset(images[200:300], binarize="fixed", shuffle=False)
        >>> model = tfvb.models.CVAE(latent_dim=2, filters=(4, 8), seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> history = model.fit(train, epochs=3, callbacks=[tfvb.callbacks.KLWarmup(epochs=2)], verbose=0)
        >>> float(model.beta.numpy())           # back at `target` once the warm-up is over
        1.0

    References:
        Bowman et al. Generating Sentences from a Continuous Space. CoNLL 2016;
        Sønderby et al. Ladder Variational Autoencoders. NeurIPS 2016.
    """

    def __init__(self, epochs=10, start=0.0, target=1.0):
        super().__init__()
        self.epochs = _checks.positive_int("epochs", epochs)
        self.start = _checks.non_negative_float("start", start)
        self.target = _checks.non_negative_float("target", target)

    def get_config(self):
        return {"epochs": self.epochs, "start": self.start, "target": self.target}

    def value(self, epoch):
        frac = min(1.0, epoch / self.epochs)
        return self.start + (self.target - self.start) * frac

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model, "beta"):
            hint = " (a BNN anneals its KL with `kl_warmup_steps=`)" if hasattr(self.model, "kl_warmup_steps") else ""
            raise ValueError(f"Expected a model with a `beta` weight (CVAE, IWAE). Received: "
                             f"{type(self.model).__name__}{hint}")
        self.model.beta.assign(self.value(epoch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = float(self.model.beta.numpy())
