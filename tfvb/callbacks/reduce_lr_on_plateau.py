"""A plateau learning-rate schedule whose state survives a restart."""

import keras


class ReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending_state = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._pending_state is not None:
            self._apply(self._pending_state)
            self._pending_state = None

    def get_state(self):
        return {"wait": int(self.wait), "best": float(self.best), "cooldown_counter": int(self.cooldown_counter)}, []

    def set_state(self, scalars, arrays):
        # Applied now and again after `on_train_begin`, which resets the counters.
        self._pending_state = scalars
        self._apply(scalars)

    def _apply(self, scalars):
        self.wait, self.best = scalars["wait"], scalars["best"]
        self.cooldown_counter = scalars["cooldown_counter"]
