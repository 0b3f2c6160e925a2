"""Training to convergence, resumable at any moment: the loop the zoo's recipes share.

The learning rate is multiplied by `lr_factor` when the monitored validation
value has not improved for `lr_patience` epochs, and training stops when it
has not improved for `stop_patience` epochs, ending on the best epoch's
weights. The whole state (weights, optimizer, noise, data order, schedule
and stopping counters) is backed up atomically every epoch in
`<folder>/backup`, and kept until the run's own files (final weights and
training record, each written atomically) are on disk, so a recipe killed at
any moment continues where it stopped when run again; a run that had
already ended runs no further epoch.
"""

import os
import shutil

from tfvb import _atomic, callbacks

WEIGHTS, RECORD, BACKUP = "trained.weights.h5", "training.json", "backup"


def convergence_metrics(training):
    """The card's `epochs_to_convergence` from a training record (`fit_to_convergence`'s).

    A run the stop rule ended converged at its best epoch. A run the epoch cap
    ended did not converge by the rule: `epochs_to_convergence` is None and
    `epoch_cap` the epoch it was cut at (its best epoch is in the record).
    """
    if training.get("stopped_early"):
        return {"epochs_to_convergence": training["best_epoch"]}
    return {"epochs_to_convergence": None, "epoch_cap": training["epochs_run"]}


def finished_backup(backup_dir, max_epochs):
    """The epoch count of a backup whose run had already ended (stopped early or out of epochs), else None."""
    latest = os.path.join(backup_dir, "LATEST")
    if not os.path.isfile(latest):
        return None
    with open(latest) as f:
        state_path = os.path.join(backup_dir, f.read().strip(), "state.json")
    try:
        state = _atomic.read_json(state_path)
        epoch, stopped = int(state["epoch"]), int(state["tracked"][0]["scalars"]["stopped_epoch"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None  # BackupAndRestore itself verifies the backups and falls back to an older one
    return epoch if stopped > 0 or epoch >= max_epochs else None


def finished_run(model, done, record_path, backup_dir):
    """The training record of a run whose final weights and record are on disk (the weights loaded), else None.

    A torn final file (written by a tfvb whose writes were not atomic) is ignored when the run's backup is
    still there to resume from, and named in a ValueError when it is not.
    """
    if not (os.path.isfile(done) and os.path.isfile(record_path)):
        return None
    try:
        training = _atomic.read_json(record_path)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:  # the file holds the optimizer's state too
            optimizer.build(model.trainable_variables)
        model.load_weights(done)
        return training
    except (OSError, ValueError) as e:
        if os.path.isfile(os.path.join(backup_dir, "LATEST")):
            return None  # the backup continues the run; both files are written again
        raise ValueError(f"Expected the finished run's weights {done} and record {record_path}. Received: "
                         f"{type(e).__name__}: {e}; delete {os.path.dirname(done)} to train again") from e


def fit_to_convergence(model, train, val, folder, *, max_epochs, stop_patience, lr_patience, lr_factor=0.5,
                       min_lr=1e-5, monitor="val_loss", rule="", y=None, batch_size=None):
    """Fit a compiled `model` on `train` (`y`, `batch_size`: as `fit`'s); resumes from `folder`.

    Returns the training record: epochs run, best epoch, best monitored
    value, the rule in words, wall time and the whole run's history.
    """
    done, record_path = os.path.join(folder, WEIGHTS), os.path.join(folder, RECORD)
    backup_dir = os.path.join(folder, BACKUP)
    training = finished_run(model, done, record_path, backup_dir)
    if training is not None:
        return training
    stop = callbacks.EarlyStopping(monitor=monitor, patience=stop_patience, restore_best_weights=True)
    schedule = callbacks.ReduceLROnPlateau(monitor=monitor, factor=lr_factor, patience=lr_patience, min_lr=min_lr)
    clock = callbacks.WallClock()
    # The backup outlives `fit`; a run that had already ended runs no further epoch (epochs = its count),
    # and early stopping's `on_train_end` puts back the best epoch's weights.
    backup = callbacks.BackupAndRestore(backup_dir, track=[stop, schedule, clock], delete_on_end=False)
    epochs = finished_backup(backup_dir, max_epochs) or max_epochs
    model.fit(train, y, batch_size=batch_size, validation_data=val, epochs=epochs, verbose=2,
              callbacks=[stop, schedule, clock, backup])
    history = {k: [round(v, 5) if k != "learning_rate" else float(v) for v in vs] for k, vs in backup.history.items()}
    epochs_run = len(history["loss"])
    training = {
        "epochs_run": epochs_run, "best_epoch": stop.best_epoch + 1, "stopped_early": epochs_run < max_epochs,
        "monitor": monitor, "best_val_loss": round(float(stop.best), 5),
        "rule": (f"{rule}; learning rate x{lr_factor} after {lr_patience} epochs without a better {monitor} "
                 f"(min {min_lr}); stop after {stop_patience} epochs without one (at most {max_epochs}); the best "
                 "epoch's weights restored"),
        "train_wall_time_s": round(clock.seconds, 1),
        "history": history,
    }
    with _atomic.replacing(done) as tmp:
        model.save_weights(tmp)
    _atomic.write_json(record_path, training)
    shutil.rmtree(backup_dir, ignore_errors=True)
    return training
