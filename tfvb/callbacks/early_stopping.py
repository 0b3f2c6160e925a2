"""Early stopping whose state survives a restart."""

import keras
import numpy as np

from tfvb.callbacks._restorable import RestorableState


class EarlyStopping(RestorableState, keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` whose state can be backed up.

    Its state (best value and epoch, best weights, patience counter) is saved
    and restored by `tfvb.callbacks.BackupAndRestore(..., track=[this])`, so
    an interrupted run stops on the same epoch, with the same best weights,
    as an uninterrupted one. With `restore_best_weights=True` a run ends on
    its best epoch's weights whether or not the patience ran out.

    Args: as `keras.callbacks.EarlyStopping`.

    Example:
        >>> images, _ = tfvb.data.mnist_sample()                     # digits bundled with tfvb
        >>> train = tfvb.data.image_dataset(images[:200], batch_size=100, seed=0)
        >>> val = tfvb.data.image_dataset(images[200:300], binarize="fixed", shuffle=False)
        >>> model = tfvb.models.CVAE(latent_dim=2, filters=(4, 8), seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> stop = tfvb.callbacks.EarlyStopping(monitor="val_loss", patience=30, restore_best_weights=True)
        >>> backup = tfvb.callbacks.BackupAndRestore("run/backup", track=[stop])
        >>> history = model.fit(train, validation_data=val, epochs=3, callbacks=[stop, backup], verbose=0)
    """

    def get_state(self):
        """(JSON-able scalars, list of arrays) describing where the run stands."""
        best = None if self.best is None else float(self.best)
        scalars = {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch),
                   "stopped_epoch": int(self.stopped_epoch)}
        return scalars, [np.asarray(w) for w in (self.best_weights or [])]

    def _apply_state(self, scalars, arrays):
        self.wait, self.best_epoch = scalars["wait"], scalars["best_epoch"]
        self.stopped_epoch = scalars["stopped_epoch"]
        self.best = scalars["best"]
        self.best_weights = list(arrays) if arrays else None
