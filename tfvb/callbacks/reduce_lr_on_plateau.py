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
        >>> schedule = tfvb.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=10)
        >>> model.fit(ds, validation_data=val, epochs=500,
        ...           callbacks=[schedule, tfvb.callbacks.BackupAndRestore("run", track=[schedule])])
    """

    def get_state(self):
        return {"wait": int(self.wait), "best": float(self.best), "cooldown_counter": int(self.cooldown_counter)}, []

    def _apply_state(self, scalars, arrays):
        self.wait, self.best = scalars["wait"], scalars["best"]
        self.cooldown_counter = scalars["cooldown_counter"]
