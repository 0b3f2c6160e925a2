"""Training time that adds up over restarts."""

import time

import keras

from tfvb.callbacks._restorable import RestorableState


class WallClock(RestorableState, keras.callbacks.Callback):
    """Seconds spent in `fit`'s epochs, summed over every restart of a resumed run.

    Back it up with `tfvb.callbacks.BackupAndRestore(..., track=[clock])`;
    `seconds` is then the real training budget of the whole run, and each
    epoch's logs carry `epoch_seconds`.
    """

    def __init__(self):
        super().__init__()
        self.seconds = 0.0
        self._start = None

    def on_train_begin(self, logs=None):
        self.seconds = 0.0
        super().on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        spent = time.perf_counter() - self._start
        self.seconds += spent
        if logs is not None:
            logs["epoch_seconds"] = spent

    def get_state(self):
        return {"seconds": self.seconds}, []

    def _apply_state(self, scalars, arrays):
        self.seconds = float(scalars["seconds"])
