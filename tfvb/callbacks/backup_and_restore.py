"""Back up the training state atomically at every epoch; resume an interrupted `fit` where it stopped.

Layout of `backup_dir`:

    epoch-000012/      weights.weights.h5 (model, optimizer, seed states),
                       tracked.npz (arrays of tracked callbacks), state.json
    epoch-000011/      the previous good backup
    LATEST             the name of the newest complete backup

A backup is written into a fresh temporary folder, flushed to disk, renamed
into place and only then named in `LATEST` (itself replaced atomically).
`state.json` records the sha256 of the files beside it. A kill at any moment
therefore leaves the previous backup intact; a backup that does not verify is
skipped in favour of the one before it.

Several workers (MultiWorkerMirroredStrategy): the workers hold the same
weights, so only the chief (`strategy.extended.should_checkpoint`) writes,
(the others save to a scratch folder they delete, so that any collective in
saving runs on every worker) and every worker restores from the chief's
folder -- give all of them the
same `backup_dir` on a file system they share. The workers read it at the
start of `fit`, before the first step's collectives, so they all resume the
same epoch; a worker killed mid-epoch (or the chief killed in a write) is
handled by restarting all of them.
"""

import hashlib
import json
import os
import shutil
import tempfile
import warnings

import keras
import numpy as np

from tfvb import _atomic, _checks

_LATEST, _STATE, _WEIGHTS, _ARRAYS = "LATEST", "state.json", "weights.weights.h5", "tracked.npz"


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_file(path):
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _state_checksum(state):
    """sha256 of a backup's state (without its checksum): a state.json edited by hand is not trusted."""
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _fingerprint(model):
    """The class and the variables' shapes (in order: names differ between instances) of a model: what a
    backup must match to be restored into it."""
    return {"class": type(model).__name__, "shapes": [list(v.shape) for v in model.weights]}


def _plain(value):
    """`value` as JSON would give it back (tuples as lists, numpy scalars as numbers), to compare configs."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def _without_names(value):
    """A config without its layers' names (Keras numbers them per process: `dense_3` in a rerun)."""
    if isinstance(value, dict):
        return {k: _without_names(v) for k, v in value.items() if k != "name"}
    if isinstance(value, list):
        return [_without_names(v) for v in value]
    return value


def _model_config(model):
    """The model's settings (`get_config`, names left out), or None when it has none to give."""
    try:
        return _without_names(_plain(model.get_config()))
    except Exception:  # a user model without a serializable config: only its architecture is compared
        return None


def _learning_rate(model):
    """The optimizer's learning rate as a float, or None (no optimizer, or a schedule)."""
    optimizer = getattr(model, "optimizer", None)
    rate = getattr(optimizer, "learning_rate", None) if optimizer is not None else None
    try:
        return float(keras.ops.convert_to_numpy(rate))
    except (TypeError, ValueError):
        return None


def _config_difference(saved, current):
    """The settings that differ between two configs, as 'key: backup -> this run' (the first few)."""
    keys = sorted(set(saved) | set(current), key=str)
    diffs = [f"{k}={saved.get(k, '(absent)')!r} in the backup, {current.get(k, '(absent)')!r} in this run"
             for k in keys if saved.get(k) != current.get(k)]
    return "; ".join(diffs[:4]) + ("; ..." if len(diffs) > 4 else "")


class BackupAndRestore(keras.callbacks.Callback):
    """Resumable training that survives a kill at any moment, including during a backup.

    Like `keras.callbacks.BackupAndRestore`, it saves the model (weights,
    optimizer state and tfvb's seed states) at the end of every epoch and, when
    `fit` starts with a backup present, resumes after the last saved epoch.
    Unlike it, every backup is written atomically and the previous one is kept
    until the next is complete, so a torn write can never break a resume; the
    metrics of every epoch so far are kept (`history`, the whole run's curve
    even after restarts); and callbacks passed in `track` (for example
    `tfvb.callbacks.EarlyStopping`) have their state saved and restored too.

    Put it last in the `callbacks` list, after the callbacks it tracks.

    A backup resumes only the run that wrote it: one of another architecture,
    other model settings (`get_config`) or other steps per epoch (other data or
    batch size) is refused, naming the difference. The optimizer comes back
    with its state and the learning rate it had reached, unless this fit was
    compiled with another rate than the backed-up run (a rerun at a lower rate
    after a divergence): that rate is used, with a warning. The restored epoch
    applies to this `fit` only.

    Args:
        backup_dir: a folder used by this run only.
        track: callbacks with `get_state() -> (dict, list of arrays)` and
            `set_state(dict, arrays)` to back up with the model.
        keep: number of complete backups kept (at least 2: the newest and a
            fallback).
        delete_on_end: remove `backup_dir` when `fit` returns normally.

    Attributes:
        history: {metric: [value per epoch]} for every epoch of the run,
            including those before a restart.
        restored_epoch: the number of epochs restored at the last start (0: none).

    Example:
        >>> images, _ = tfvb.data.mnist_sample()                     # digits bundled with tfvb
        >>> train = tfvb.data.image_dataset(images[:200], batch_size=100, seed=0)
        >>> val = tfvb.data.image_dataset(images[200:300], binarize="fixed", shuffle=False)
        >>> model = tfvb.models.CVAE(latent_dim=2, filters=(4, 8), seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> backup = tfvb.callbacks.BackupAndRestore("run/backup")
        >>> history = model.fit(train, epochs=3, callbacks=[backup], verbose=0)   # killed, run again: continues
        >>> len(backup.history["loss"])
        3
    """

    def __init__(self, backup_dir, track=(), keep=2, delete_on_end=True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"Expected `backup_dir` to be a folder path. Received: backup_dir={backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.track = list(track)
        for cb in self.track:
            if not (callable(getattr(cb, "get_state", None)) and callable(getattr(cb, "set_state", None))):
                raise ValueError("Expected callbacks with get_state()/set_state() in `track`. "
                                 f"Received: {type(cb).__name__}")
        self.keep = _checks.positive_int("keep", keep)
        if self.keep < 2:
            raise ValueError(f"Expected `keep` >= 2 (the newest backup and a fallback). Received: keep={keep}")
        self.delete_on_end = bool(delete_on_end)
        self.history = {}
        self.restored_epoch = 0
        self._run = {"config": None, "steps": None, "learning_rate": None}

    # -- restore ------------------------------------------------------------------------------------
    def _candidates(self):
        if not os.path.isdir(self.backup_dir):
            return []
        names = sorted((n for n in os.listdir(self.backup_dir) if n.startswith("epoch-") and "." not in n),
                       reverse=True)
        latest = os.path.join(self.backup_dir, _LATEST)
        if os.path.isfile(latest):
            with open(latest) as f:
                first = f.read().strip()
            if first in names:
                names.remove(first)
                names.insert(0, first)
        return [os.path.join(self.backup_dir, n) for n in names]

    def _read(self, folder):
        """The state of a complete, verified backup, or None."""
        try:
            with open(os.path.join(folder, _STATE)) as f:
                state = json.load(f)
            if "checksum" in state and state.pop("checksum") != _state_checksum(state):
                return None  # state.json itself was changed after it was written
            for name, digest in state["files"].items():
                if _sha256(os.path.join(folder, name)) != digest:
                    return None
            return state
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _check_folder(self):
        if os.path.exists(self.backup_dir) and not os.path.isdir(self.backup_dir):
            raise ValueError(f"Expected `backup_dir` to be a folder path. Received: backup_dir={self.backup_dir!r}, "
                             "a file")

    def _check_same_model(self, folder, state):
        """Refuse a backup of another model (another architecture or class), naming the first difference."""
        saved, current = state.get("model"), _fingerprint(self.model)
        if saved is None or saved == current:
            return
        if saved["class"] != current["class"]:
            difference = f"a {saved['class']} was backed up, this model is a {current['class']}"
        elif len(saved["shapes"]) != len(current["shapes"]):
            difference = f"{len(saved['shapes'])} variables were backed up, this model has {len(current['shapes'])}"
        else:
            i = next(i for i, (a, b) in enumerate(zip(saved["shapes"], current["shapes"])) if a != b)
            difference = (f"variable {self.model.weights[i].path!r} has shape {current['shapes'][i]} in this model "
                          f"and {saved['shapes'][i]} in the backup")
        raise ValueError(f"Expected a backup of this model's architecture in {folder}. Received: {difference}. "
                         "Use a new `backup_dir` for a different model")

    def _check_same_run(self, folder, state):
        """Refuse a backup of another run of the same architecture: other settings (the model's config) or
        other data or batch size (the steps per epoch). Resuming it would continue under the backup's N,
        objective or schedule without a word. Backups written before these were recorded are not checked."""
        saved = state.get("run") or {}
        differences = []
        if saved.get("config") is not None and self._run["config"] is not None \
                and saved["config"] != self._run["config"]:
            differences.append("the model's settings differ: "
                               + _config_difference(saved["config"], self._run["config"]))
        if saved.get("steps") is not None and self._run["steps"] is not None and saved["steps"] != self._run["steps"]:
            differences.append(f"the backed-up run had {saved['steps']} steps per epoch, this fit has "
                               f"{self._run['steps']} (other data or another batch size)")
        if differences:
            raise ValueError(f"Expected a backup of this run in {folder}. Received: {'; '.join(differences)}. "
                             "Use a new `backup_dir` for a different run (or delete this one to start afresh)")

    def on_train_begin(self, logs=None):
        self._check_folder()
        # A restored epoch belongs to the fit that restored it (Keras reads `_initial_epoch` after this call).
        self.model._initial_epoch = None
        self.history, self.restored_epoch = {}, 0
        self._run = {"config": _model_config(self.model), "steps": (self.params or {}).get("steps"),
                     "learning_rate": _learning_rate(self.model)}
        for folder in self._candidates():
            state = self._read(folder)
            if state is None:
                warnings.warn(f"tfvb BackupAndRestore: skipping incomplete or corrupt backup {folder}", stacklevel=2)
                continue
            self._restore(folder, state)
            return

    def _restore(self, folder, state):
        self._check_same_model(folder, state)
        self._check_same_run(folder, state)
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(folder, _WEIGHTS))
        self._keep_a_new_learning_rate(folder, state)
        arrays = {}
        if os.path.isfile(os.path.join(folder, _ARRAYS)):
            with np.load(os.path.join(folder, _ARRAYS)) as npz:
                arrays = {k: npz[k] for k in npz.files}
        for i, cb in enumerate(self.track):
            count = state["tracked"][i]["arrays"]
            cb.set_state(state["tracked"][i]["scalars"], [arrays[f"t{i}_{j}"] for j in range(count)])
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.restored_epoch = int(state["epoch"])
        self.model._initial_epoch = self.restored_epoch
        if state.get("stop_training"):
            # A tracked callback (early stopping) had ended the run at the backed-up epoch: the resumed fit ends
            # where the uninterrupted one did, with no epoch more (the weights it chose are the backup's).
            self.model._initial_epoch = max(self.restored_epoch, int((self.params or {}).get("epochs") or 0))

    def _keep_a_new_learning_rate(self, folder, state):
        """The optimizer's variables come back with the backup, its learning rate among them: right for a
        resume (a schedule may have lowered it), wrong for a rerun compiled with another rate (after a
        divergence, say). The rate this run was compiled with wins when it differs from the one the backed-up
        run was compiled with."""
        compiled, before = self._run["learning_rate"], (state.get("run") or {}).get("learning_rate")
        if compiled is None or before is None or np.isclose(compiled, before, rtol=1e-6, atol=0):
            return
        restored = _learning_rate(self.model)
        self.model.optimizer.learning_rate.assign(compiled)
        warnings.warn(f"tfvb BackupAndRestore: resuming {folder} at the learning rate this fit was compiled with, "
                      f"{compiled:g} (the backed-up run was compiled with {before:g} and had reached {restored:g})",
                      stacklevel=2)

    # -- back up ------------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self.model._initial_epoch = None  # used by now: a later fit of this model starts where it is told

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self._save(epoch + 1)

    def _writes(self):
        """Whether this process writes backups: the chief under multi-worker training, else always."""
        strategy = getattr(self.model, "distribute_strategy", None)
        return bool(getattr(getattr(strategy, "extended", None), "should_checkpoint", True))

    def _save(self, epochs_done):
        if not self._writes():
            # Saving may run collectives (variables made under the strategy's scope are broadcast from
            # the chief): the other workers save too, as Keras' own callback does, to a scratch folder.
            scratch = tempfile.mkdtemp(prefix="tfvb-backup-worker-")
            try:
                self.model.save_weights(os.path.join(scratch, _WEIGHTS))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        optimizer = getattr(self.model, "optimizer", None)
        variables = list(self.model.weights) + (list(optimizer.variables) if optimizer is not None else [])
        need = 2 * sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables) + (1 << 20)
        _atomic.require_free_space(self.backup_dir, need, f"the backup of epoch {epochs_done} (the backup of "
                                                          f"epoch {epochs_done - 1}, if any, is kept to resume from)")
        name = f"epoch-{epochs_done:06d}"
        tmp = tempfile.mkdtemp(dir=self.backup_dir, prefix=f"{name}.tmp-")
        self.model.save_weights(os.path.join(tmp, _WEIGHTS))
        tracked, arrays = [], {}
        for i, cb in enumerate(self.track):
            scalars, values = cb.get_state()
            tracked.append({"scalars": scalars, "arrays": len(values)})
            arrays.update({f"t{i}_{j}": v for j, v in enumerate(values)})
        if arrays:
            np.savez(os.path.join(tmp, _ARRAYS), **arrays)
        files = {}
        for fname in sorted(os.listdir(tmp)):
            _fsync_file(os.path.join(tmp, fname))
            files[fname] = _sha256(os.path.join(tmp, fname))
        state = {"epoch": epochs_done, "history": self.history, "tracked": tracked, "files": files,
                 "model": _fingerprint(self.model), "run": self._run,
                 "stop_training": bool(getattr(self.model, "stop_training", False))}
        state["checksum"] = _state_checksum(state)
        with open(os.path.join(tmp, _STATE), "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        final = os.path.join(self.backup_dir, name)
        if os.path.isdir(final):  # the same epoch backed up again (a re-run of a restored epoch)
            shutil.rmtree(final)
        os.replace(tmp, final)
        _write_atomic(os.path.join(self.backup_dir, _LATEST), name + "\n")
        self._prune(keep_name=name)

    def _prune(self, keep_name):
        entries = sorted(os.listdir(self.backup_dir))
        complete = [n for n in entries if n.startswith("epoch-") and "." not in n]
        for n in complete[:-self.keep]:
            if n != keep_name:
                shutil.rmtree(os.path.join(self.backup_dir, n), ignore_errors=True)
        for n in entries:  # temporary folders of writes that were killed
            if ".tmp-" in n:
                shutil.rmtree(os.path.join(self.backup_dir, n), ignore_errors=True)

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None
        if self.delete_on_end and self._writes():  # not reached when fit raises: the backup stays for the resume
            shutil.rmtree(self.backup_dir, ignore_errors=True)
