"""Interrupted work recovers: torn backups, killed trainings, crashed or concurrent zoo writers."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

from tfvb import callbacks, data
from tfvb.callbacks import backup_and_restore
from tfvb.models import IWAE
from tfvb.zoo import store

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_workers")
EPOCHS = 5


class Interrupt(keras.callbacks.Callback):
    """Raises at the start of epoch `epoch` (`after_backup`: at its end, once the callbacks before it ran)."""

    def __init__(self, epoch, after_backup=False):
        super().__init__()
        self.at, self.after_backup = epoch, after_backup

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at and not self.after_backup:
            raise RuntimeError("interrupted")

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at and self.after_backup:
            raise RuntimeError("killed after the backup")


def _run(images, backup_dir, *more, epochs=EPOCHS):
    """A small IWAE on the README's pipeline (dynamic binarization, shuffling) with early stopping tracked."""
    keras.utils.set_random_seed(0)
    model = IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    train = data.image_dataset(images[:256], batch_size=64, seed=3)
    val = data.image_dataset(images[256:320], binarize="fixed", shuffle=False)
    stop = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    schedule = callbacks.ReduceLROnPlateau(factor=0.5, patience=1)
    backup = callbacks.BackupAndRestore(backup_dir, track=[stop, schedule])
    model.fit(train, validation_data=val, epochs=epochs, verbose=0, callbacks=[stop, schedule, *more, backup])
    return model, backup


@pytest.fixture(scope="module")
def straight(mnist_sample, tmp_path_factory):
    return _run(mnist_sample[0], str(tmp_path_factory.mktemp("straight") / "backup"))


def _assert_same(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_resume_with_the_image_pipeline_is_exact(mnist_sample, straight, tmp_path):
    folder = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(mnist_sample[0], folder, Interrupt(3))
    model, backup = _run(mnist_sample[0], folder)
    assert backup.restored_epoch == 3
    _assert_same(straight[0], model)
    assert backup.history == straight[1].history  # the whole run's curve, across the restart


def test_one_fit_over_an_image_dataset_sees_each_epochs_data_as_separate_fits_do(mnist_sample):
    """`fit` hands Keras an `image_dataset` repeated (one iterator for the whole fit): epoch e still trains on
    pass e's order and binarization, as Keras' own iterator per epoch (user-given `steps_per_epoch`) and
    one `fit` per epoch (`initial_epoch`) do; the weights agree to the bit."""
    images = mnist_sample[0][:200]

    def trained(fits):
        keras.utils.set_random_seed(0)
        model = IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=1)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        train = data.image_dataset(images, batch_size=64, seed=3)  # 4 batches, the last one short
        for kwargs in fits:
            model.fit(train, verbose=0, **kwargs)
        return model

    one = trained([{"epochs": 3}])
    _assert_same(one, trained([{"epochs": 3, "steps_per_epoch": 4}]))
    _assert_same(one, trained([{"epochs": e + 1, "initial_epoch": e} for e in range(3)]))
    two = trained([{"epochs": 2}])
    assert any(not np.array_equal(u, v) for u, v in zip(one.get_weights(), two.get_weights()))  # a real check


def test_a_backup_torn_mid_write_falls_back_to_the_previous_one(mnist_sample, straight, tmp_path, monkeypatch):
    folder = str(tmp_path / "backup")
    real_save = backup_and_restore.BackupAndRestore._save

    def dies_while_writing(self, epochs_done):
        if epochs_done == 3:  # the process "dies" after the weights, before the backup is complete
            os.makedirs(os.path.join(self.backup_dir, "epoch-000003.tmp-x"))
            self.model.save_weights(os.path.join(self.backup_dir, "epoch-000003.tmp-x", "weights.weights.h5"))
            raise RuntimeError("killed during the backup")
        return real_save(self, epochs_done)

    monkeypatch.setattr(backup_and_restore.BackupAndRestore, "_save", dies_while_writing)
    with pytest.raises(RuntimeError, match="killed during the backup"):
        _run(mnist_sample[0], folder)
    monkeypatch.setattr(backup_and_restore.BackupAndRestore, "_save", real_save)
    model, backup = _run(mnist_sample[0], folder)
    assert backup.restored_epoch == 2
    _assert_same(straight[0], model)


def test_a_corrupt_newest_backup_is_skipped_with_a_warning(mnist_sample, straight, tmp_path):
    folder = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(mnist_sample[0], folder, Interrupt(4))
    newest = os.path.join(folder, "epoch-000004", "weights.weights.h5")
    with open(newest, "r+b") as f:  # a disk that lost the end of the file
        f.truncate(os.path.getsize(newest) // 2)
    with pytest.warns(UserWarning, match="skipping incomplete or corrupt backup"):
        model, backup = _run(mnist_sample[0], folder)
    assert backup.restored_epoch == 3
    _assert_same(straight[0], model)


def test_a_hand_edited_state_is_not_trusted(mnist_sample, straight, tmp_path):
    folder = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(mnist_sample[0], folder, Interrupt(4))
    path = os.path.join(folder, "epoch-000004", "state.json")
    with open(path) as f:
        state = json.load(f)
    state["tracked"][0]["scalars"]["wait"] += 1  # outside the checksummed files: the early-stopping counter
    with open(path, "w") as f:
        json.dump(state, f)
    with pytest.warns(UserWarning, match="skipping incomplete or corrupt backup .*epoch-000004"):
        model, backup = _run(mnist_sample[0], folder)
    assert backup.restored_epoch == 3
    _assert_same(straight[0], model)


def test_a_backup_of_another_architecture_or_a_file_is_refused_before_training(mnist_sample, tmp_path):
    folder = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(mnist_sample[0], folder, Interrupt(2))
    other = IWAE(k=2, latent_dim=2, hidden_units=(16,), seed=1)
    other.compile(optimizer=keras.optimizers.Adam(1e-2))
    train = data.image_dataset(mnist_sample[0][:64], batch_size=64, seed=3)
    with pytest.raises(ValueError, match=r"Expected a backup of this model's architecture in .*epoch-000002. "
                                         r"Received: variable '.*' has shape \[.*16.*\] in this model and "
                                         r"\[.*8.*\] in the backup"):
        other.fit(train, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(folder)])
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("")
    epochs = []
    with pytest.raises(ValueError, match="Expected `backup_dir` to be a folder path. Received: .*, a file"):
        other.fit(train, epochs=3, verbose=0, callbacks=[
            keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: epochs.append(e)),
            callbacks.BackupAndRestore(str(a_file))])
    assert epochs == []  # refused before the first epoch, not after it


def test_a_full_disk_stops_at_the_backup_and_keeps_the_previous_one(mnist_sample, straight, tmp_path, monkeypatch):
    folder = str(tmp_path / "backup")
    real_usage, calls = shutil.disk_usage, []

    def fills_at_the_third_backup(path):
        usage = real_usage(path)
        calls.append(path)
        return usage._replace(free=1000) if len(calls) == 3 else usage

    monkeypatch.setattr(shutil, "disk_usage", fills_at_the_third_backup)
    with pytest.raises(OSError, match=r"No space|Expected at least .* MB free in .*backup to write the backup of "
                                      r"epoch 3 .*Received: 0.0 MB free"):
        _run(mnist_sample[0], folder)
    monkeypatch.setattr(shutil, "disk_usage", real_usage)
    model, backup = _run(mnist_sample[0], folder)
    assert backup.restored_epoch == 2
    _assert_same(straight[0], model)


def test_backup_arguments_are_checked():
    with pytest.raises(ValueError, match="Expected `backup_dir` to be a folder path"):
        callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="Expected `keep` >= 2"):
        callbacks.BackupAndRestore("x", keep=1)
    with pytest.raises(ValueError, match="get_state"):
        callbacks.BackupAndRestore("x", track=[keras.callbacks.EarlyStopping()])


@pytest.mark.slow
def test_training_killed_at_random_moments_ends_where_an_uninterrupted_run_ends(tmp_path):
    """SIGKILL at random times (during steps and during backups) four times, then let it finish."""
    worker = os.path.join(WORKERS, "killable_training.py")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

    def run(backup, out, kill_after=None):
        # stderr to a file: a pipe nobody reads can fill and stall the worker; `with` closes what it opened.
        with open(os.path.join(out, "stderr.txt"), "wb") as err, subprocess.Popen(
                [sys.executable, worker, str(backup), str(out)], env=env, stdout=subprocess.DEVNULL,
                stderr=err) as proc:
            if kill_after is None:
                code = proc.wait(timeout=600)
                with open(os.path.join(out, "stderr.txt"), "rb") as f:
                    assert code == 0, f.read().decode()[-2000:]
                return
            marker = os.path.join(out, "started")
            while not os.path.exists(marker) and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    run(tmp_path / "a" / "backup", tmp_path / "a")
    rng = np.random.default_rng(0)
    for _ in range(4):
        run(tmp_path / "b" / "backup", tmp_path / "b", kill_after=float(rng.uniform(0.5, 4.0)))
        if os.path.exists(tmp_path / "b" / "final.npz"):
            break
    run(tmp_path / "b" / "backup", tmp_path / "b")
    assert int((tmp_path / "b" / "restored_epoch").read_text()) > 0  # the last start resumed a backup
    with np.load(tmp_path / "a" / "final.npz") as a, np.load(tmp_path / "b" / "final.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# -- zoo writers -------------------------------------------------------------------------------------
def _tiny_model(seed):
    model = IWAE(k=1, latent_dim=2, hidden_units=(4,), seed=seed)
    model.compile(optimizer=keras.optimizers.Adam())
    return model


def _golden():
    return np.zeros((2, 28, 28, 1), np.float32)


def _loads_consistently(root, name):
    folder = store.entry_folder(str(root), name)
    meta = store.read_metadata(folder)
    store.verify(folder, meta)  # every file matches the checksums written with it
    return meta


def test_a_crash_between_the_swap_steps_leaves_the_old_entry_loadable(tmp_path, monkeypatch):
    store.write_entry(str(tmp_path), "entry", _tiny_model(1), {"tag": "old"}, _golden())
    real_replace = os.replace
    calls = []

    def crash_on_second_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the old entry is moved aside; the new one is not in place yet
            raise OSError("killed")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", crash_on_second_rename)
    with pytest.raises(OSError, match="killed"):
        store.write_entry(str(tmp_path), "entry", _tiny_model(2), {"tag": "new"}, _golden())
    monkeypatch.setattr(store.os, "replace", real_replace)
    assert not (tmp_path / "entry").exists()
    assert _loads_consistently(tmp_path, "entry")["tag"] == "old"
    store.write_entry(str(tmp_path), "entry", _tiny_model(3), {"tag": "newer"}, _golden())
    assert _loads_consistently(tmp_path, "entry")["tag"] == "newer"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["entry"]


def test_concurrent_writers_of_one_entry_never_mix_their_files(tmp_path, monkeypatch):
    barrier = threading.Barrier(2, timeout=60)
    real_files = store._files

    def both_staged_at_once(folder):
        barrier.wait()  # both writers hold a complete staging folder before either swaps
        return real_files(folder)

    monkeypatch.setattr(store, "_files", both_staged_at_once)
    models = [_tiny_model(1), _tiny_model(2)]
    errors = []

    def write(i):
        try:
            store.write_entry(str(tmp_path), "entry", models[i], {"tag": f"writer {i}"}, _golden())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _loads_consistently(tmp_path, "entry")["tag"] in ("writer 0", "writer 1")
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["entry"]


def test_non_finite_weights_are_never_written(tmp_path):
    model = _tiny_model(1)
    model.decoder.layers[-2].kernel.assign(np.full(model.decoder.layers[-2].kernel.shape, np.nan, np.float32))
    with pytest.raises(ValueError, match="Expected finite weights. Received NaN or inf"):
        store.write_entry(str(tmp_path), "entry", model, {}, _golden())
    assert not (tmp_path / "entry").exists()


def test_wall_clock_adds_up_over_restarts():
    clock = callbacks.WallClock()
    clock.set_state({"seconds": 5.0}, [])
    clock.on_train_begin()  # a restored run starts from the backed-up total, not from zero
    clock.on_epoch_begin(0)
    logs = {}
    clock.on_epoch_end(0, logs)
    assert clock.seconds == 5.0 + logs["epoch_seconds"] and clock.get_state()[0]["seconds"] == clock.seconds


def _stopping_run(images, backup_dir, *more):
    keras.utils.set_random_seed(0)
    model = IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = data.binarize_fixed(images[:128], seed=0)
    # min_delta 1000: no epoch improves, so it stops after epoch 1 (patience 1), with the weights of epoch 0.
    stop = callbacks.EarlyStopping(patience=1, min_delta=1000.0, restore_best_weights=True)
    backup = callbacks.BackupAndRestore(backup_dir, track=[stop])
    history = model.fit(x, validation_data=(x[:32],), batch_size=64, epochs=5, shuffle=False, verbose=0,
                        callbacks=[stop, backup, *more])
    return model, stop, history


def test_a_run_killed_after_early_stopping_decided_ends_where_it_would_have(mnist_sample, tmp_path):
    # The backup of the stopping epoch holds the decision: the resumed fit trains no epoch more (it went on).
    images = mnist_sample[0]
    straight, _, history = _stopping_run(images, str(tmp_path / "straight"))
    assert len(history.history["loss"]) == 2
    with pytest.raises(RuntimeError, match="killed after the backup"):
        _stopping_run(images, str(tmp_path / "killed"), Interrupt(1, after_backup=True))
    resumed, stop, history = _stopping_run(images, str(tmp_path / "killed"))
    assert history.history.get("loss", []) == [] and not os.path.exists(tmp_path / "killed")
    _assert_same(resumed, straight)
    # The restored state served that fit only: a later fit with the same callback starts afresh.
    assert stop._pending_state is None and stop.best_epoch == 0


def test_a_backup_of_another_run_of_the_same_architecture_is_refused(mnist_sample, tmp_path):
    """Other settings (k, the gradient) or other steps per epoch (data, batch size) would resume silently
    under the backup's objective or N."""
    folder = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(mnist_sample[0], folder, Interrupt(2))
    keras.utils.set_random_seed(0)
    other = IWAE(k=5, latent_dim=2, hidden_units=(8,), seed=1)  # the same variables, another objective
    other.compile(optimizer=keras.optimizers.Adam(1e-2))
    train = data.image_dataset(mnist_sample[0][:256], batch_size=64, seed=3)
    with pytest.raises(ValueError, match=r"Expected a backup of this run in .*epoch-000002. Received: the model's "
                                         r"settings differ: k=2 in the backup, 5 in this run"):
        other.fit(train, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(folder)])
    same = IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=1)
    same.compile(optimizer=keras.optimizers.Adam(1e-2))
    halves = data.image_dataset(mnist_sample[0][:256], batch_size=32, seed=3)
    with pytest.raises(ValueError, match=r"Received: the backed-up run had 4 steps per epoch, this fit has 8 "
                                         r"\(other data or another batch size\)"):
        same.fit(halves, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(folder)])


def test_a_rerun_compiled_with_a_lower_learning_rate_trains_at_it(mnist_sample, tmp_path):
    """The documented way out of a divergence: the backup's optimizer state, the newly compiled rate (a
    plain resume keeps the backup's rate: `test_resume_with_the_image_pipeline_is_exact`, whose schedule
    lowers it)."""
    folder = str(tmp_path / "backup")
    images = mnist_sample[0]

    def run(rate, *more):
        keras.utils.set_random_seed(0)
        model = IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=1)
        model.compile(optimizer=keras.optimizers.Adam(rate))
        seen = []
        rates = keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda e, logs: seen.append((e, float(model.optimizer.learning_rate.numpy()))))
        model.fit(data.image_dataset(images[:128], batch_size=64, seed=3), epochs=4, verbose=0,
                  callbacks=[rates, *more, callbacks.BackupAndRestore(folder)])
        return seen

    with pytest.raises(RuntimeError, match="interrupted"):
        run(1e-2, Interrupt(2))
    with pytest.warns(UserWarning, match=r"resuming .*epoch-000002 at the learning rate this fit was compiled "
                                         r"with, 0.001 \(the backed-up run was compiled with 0.01"):
        seen = run(1e-3)
    assert [e for e, _ in seen] == [2, 3] and np.allclose([r for _, r in seen], 1e-3)


def test_a_restored_epoch_belongs_to_the_fit_that_restored_it(mnist_sample, tmp_path):
    folder = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(mnist_sample[0], folder, Interrupt(3))
    model, backup = _run(mnist_sample[0], folder)
    assert backup.restored_epoch == 3
    history = model.fit(data.image_dataset(mnist_sample[0][:128], batch_size=64, seed=3), epochs=2, verbose=0)
    assert history.epoch == [0, 1]  # fine-tuning the resumed model runs the epochs it asks for


def test_a_deep_ensemble_fitted_on_arrays_resumes_exactly(mnist_sample, tmp_path):
    """The members' orders of a resumed epoch are that epoch's (they were epoch 0's, 1's, ...), and Keras
    does not reshuffle the batches with Python's global `random`."""
    from tfvb.models import DeepEnsemble

    x, y = mnist_sample[0][:120], mnist_sample[1][:120].astype("int64")

    def run(folder, epochs, *more):
        def member():
            return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])

        model = DeepEnsemble(member, n=2, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        backup = callbacks.BackupAndRestore(folder)
        model.fit(x, y, batch_size=40, epochs=epochs, verbose=0, callbacks=[*more, backup])
        return model, backup

    straight, straight_backup = run(str(tmp_path / "straight"), 3)
    with pytest.raises(RuntimeError, match="interrupted"):
        run(str(tmp_path / "resumed"), 3, Interrupt(2))
    resumed, backup = run(str(tmp_path / "resumed"), 3)
    assert backup.restored_epoch == 2
    _assert_same(straight, resumed)
    assert backup.history == straight_backup.history
