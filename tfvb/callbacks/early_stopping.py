"""Early stopping whose state survives a restart."""

import keras
import numpy as np


class EarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` whose state can be backed up.

    Its state (best value and epoch, best weights, patience counter) is saved
    and restored by `tfvb.callbacks.BackupAndRestore(..., track=[this])`, so
    an interrupted run stops on the same epoch, with the same best weights,
    as an uninterrupted one. With `restore_best_weights=True` a run ends on
    its best epoch's weights whether or not the patience ran out.

    Args: as `keras.callbacks.EarlyStopping`.

    Example:
        >>> stop = tfvb.callbacks.EarlyStopping(monitor="val_loss", patience=30, restore_best_weights=True)
        >>> backup = tfvb.callbacks.BackupAndRestore("run/backup", track=[stop])
        >>> model.fit(train, validation_data=val, epochs=1000, callbacks=[stop, backup])
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending_state = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._pending_state is not None:
            self._apply(self._pending_state)
            self._pending_state = None

    # -- state for BackupAndRestore ---------------------------------------------------------------
    def get_state(self):
        """(JSON-able scalars, list of arrays) describing where the run stands."""
        best = None if self.best is None else float(self.best)
        scalars = {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch),
                   "stopped_epoch": int(self.stopped_epoch)}
        return scalars, [np.asarray(w) for w in (self.best_weights or [])]

    def set_state(self, scalars, arrays):
        # Applied now and again after `on_train_begin`, which resets the counters.
        self._pending_state = (scalars, arrays)
        self._apply(self._pending_state)

    def _apply(self, state):
        scalars, arrays = state
        self.wait, self.best_epoch = scalars["wait"], scalars["best_epoch"]
        self.stopped_epoch = scalars["stopped_epoch"]
        self.best = scalars["best"]
        self.best_weights = list(arrays) if arrays else None
