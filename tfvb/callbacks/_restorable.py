"""The state protocol `tfvb.callbacks.BackupAndRestore` saves and restores for the callbacks it tracks."""


class RestorableState:
    """Mixin for a callback with `get_state() -> (scalars, arrays)` and `_apply_state(scalars, arrays)`.

    A restore can arrive before `on_train_begin`, which resets most Keras
    callbacks' counters, so `set_state` applies the state at once and again
    right after the callback's own `on_train_begin`. It is for that `fit`
    only: dropped at its first epoch and at its end, so a later `fit` with
    the same callback starts afresh.
    """

    _pending_state = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._pending_state is not None:
            self._apply_state(*self._pending_state)
            self._pending_state = None

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._pending_state = None

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        self._pending_state = None

    def set_state(self, scalars, arrays):
        self._pending_state = (scalars, arrays)
        self._apply_state(scalars, arrays)

    def get_state(self):
        raise NotImplementedError

    def _apply_state(self, scalars, arrays):
        raise NotImplementedError
