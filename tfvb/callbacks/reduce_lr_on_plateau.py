"""A plateau learning-rate schedule whose state survives a restart."""

import keras

from tfvb.callbacks._restorable import RestorableState


class ReduceLROnPlateau(RestorableState, keras.callbacks.ReduceLROnPlateau):
    """`keras.callbacks.ReduceLROnPlateau` whose counters can be backed up.

    The learning rate itself is an optimizer variable (saved with the
    weights); the best value, patience and cooldown counters are saved and
    restored by `tfvb.callbacks.BackupAndRestore(..., track=[this])`, so an
    interrupted run lowers the rate on the same epochs as an uninterrupted one.

    Args: as `keras.callbacks.ReduceLROnPlateau`.

    Example:
        >>> images, _ = tfvb.data.mnist_sample()                     # digits bundled with tfvb
        >>> train = tfvb.data.image_dataset(images[:200], batch_size=100, seed=0)
        >>> val = tfvb.data.image_dataset(images[200:300], binarize="fixed", shuffle=False)
        >>> model = tfvb.models.CVAE(latent_dim=2, filters=(4, 8), seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> schedule = tfvb.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=10)
        >>> history = model.fit(train, validation_data=val, epochs=2, verbose=0,
        ...                     callbacks=[schedule, tfvb.callbacks.BackupAndRestore("run", track=[schedule])])
    """

    def get_state(self):
        return {"wait": int(self.wait), "best": float(self.best), "cooldown_counter": int(self.cooldown_counter)}, []

    def _apply_state(self, scalars, arrays):
        self.wait, self.best = scalars["wait"], scalars["best"]
        self.cooldown_counter = scalars["cooldown_counter"]
