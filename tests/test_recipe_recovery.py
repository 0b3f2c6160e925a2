"""A zoo VAE recipe killed in its last minute (final weights, training record, evaluation, the entry's
write) continues when run again, and ends on the weights and metrics of an uninterrupted run."""

import contextlib
import os
import shutil
import stat
import types

import numpy as np
import pytest

from tfvb import _atomic, paths
from tfvb.models import IWAE
from tfvb.zoo import driver, registry, store

driver.recipe("vae_mnist")  # puts the checkout's zoo/ on sys.path, where the shared recipe helpers live
import _vae_recipe as recipe  # noqa: E402

NAME = "vae_mnist"
WALL_TIMES = ("train_wall_time_s", "eval_wall_time_s")


def _train(images):
    """The recipe's `train_entry` on 300 bundled digits (quick: 2 epochs, IWAE-50 on 16 images)."""
    splits = images[:200], images[200:264], images[264:300]
    return recipe.train_entry(NAME, lambda: IWAE(k=1, latent_dim=2, hidden_units=(8,), seed=1), splits, seed=0,
                              quick=True, data_description=lambda *sizes: f"tiny {sizes}")


def _without_wall_times(record):
    record = dict(record)
    record["metrics"] = {k: v for k, v in record["metrics"].items() if k not in WALL_TIMES}
    record["training"] = {k: v for k, v in record["training"].items() if k not in WALL_TIMES}
    record["training"]["history"] = {k: v for k, v in record["training"]["history"].items() if k != "epoch_seconds"}
    return {k: v for k, v in record.items() if k not in ("golden_inputs", "run_dir")}


@pytest.fixture(scope="module")
def straight(mnist_sample, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFVB_RUNS", str(tmp_path_factory.mktemp("straight")))
        return _train(mnist_sample[0])


def _assert_same_run(straight, model, record):
    for u, v in zip(straight[0].get_weights(), model.get_weights()):
        np.testing.assert_array_equal(u, v)
    assert _without_wall_times(record) == _without_wall_times(straight[1])


class Killed(BaseException):
    """A kill: a BaseException, so no `except Exception` on the way up can swallow it."""


def _dies_at(monkeypatch, target, torn=False):
    """Make the atomic writes of the file named `target` die: before the write, or (`torn`) after half of
    it reached the temporary file, which a real kill leaves behind (no `finally` runs)."""
    real_replacing, real_write_text = _atomic.replacing, _atomic.write_text

    @contextlib.contextmanager
    def replacing(path):
        if os.path.basename(path) != target:
            with real_replacing(path) as tmp:
                yield tmp
            return
        if not torn:
            raise Killed(f"killed before writing {target}")
        tmp = os.path.join(os.path.dirname(path), f".{target.split('.')[0]}.tmp-killed{target[target.index('.'):]}")
        yield tmp
        with open(tmp, "r+b") as f:
            f.truncate(max(os.path.getsize(tmp) // 2, 1))
        raise Killed(f"killed while writing {target}")

    def write_text(path, text):
        with replacing(path) as tmp, open(tmp, "w") as f:
            f.write(text)

    monkeypatch.setattr(_atomic, "replacing", replacing)
    monkeypatch.setattr(_atomic, "write_text", write_text)
    return real_replacing, real_write_text


@pytest.mark.parametrize("target, torn", [
    ("trained.weights.h5", False),  # fit has returned; its final weights are not written yet
    ("trained.weights.h5", True),
    ("training.json", False),
    ("training.json", True),
    ("evaluation.json", False),
    ("evaluation.json", True),
])
def test_a_recipe_killed_at_each_write_continues_to_the_uninterrupted_result(target, torn, mnist_sample, straight,
                                                                             tmp_path, monkeypatch):
    monkeypatch.setenv("TFVB_RUNS", str(tmp_path))
    real = _dies_at(monkeypatch, target, torn)
    with pytest.raises(Killed):
        _train(mnist_sample[0])
    folder = recipe.run_dir(NAME, 0, True)
    if target != "evaluation.json":  # the backup survives until the entry's own files are written
        assert os.path.isfile(os.path.join(folder, "backup", "LATEST"))
    assert not os.path.exists(os.path.join(folder, target))  # never a torn file under the real name
    monkeypatch.setattr(_atomic, "replacing", real[0])
    monkeypatch.setattr(_atomic, "write_text", real[1])
    epochs = []
    monkeypatch.setattr(recipe.keras.Model, "fit", _counting_fit(recipe.keras.Model.fit, epochs))
    model, record = _train(mnist_sample[0])
    assert epochs in ([], [0])  # no epoch trained again
    _assert_same_run(straight, model, record)


def _counting_fit(fit, epochs):
    def counted(self, *args, **kwargs):
        history = fit(self, *args, **kwargs)
        epochs.append(len(history.epoch))
        return history

    return counted


def test_torn_final_files_resume_from_the_backup_or_are_named(mnist_sample, straight, tmp_path, monkeypatch):
    monkeypatch.setenv("TFVB_RUNS", str(tmp_path))
    folder = recipe.run_dir(NAME, 0, True)
    real = _dies_at(monkeypatch, "training.json")
    with pytest.raises(Killed):
        _train(mnist_sample[0])
    monkeypatch.setattr(_atomic, "replacing", real[0])
    monkeypatch.setattr(_atomic, "write_text", real[1])
    for name in ("trained.weights.h5", "training.json"):  # as a writer that was not atomic left them
        open(os.path.join(folder, name), "w").close()
    _assert_same_run(straight, *_train(mnist_sample[0]))  # the backup was still there
    shutil.rmtree(folder)
    os.makedirs(folder)
    for name in ("trained.weights.h5", "training.json"):
        open(os.path.join(folder, name), "w").close()
    with pytest.raises(ValueError, match="Expected a JSON file at .*training.json.*delete .*to train again"):
        _train(mnist_sample[0])


# -- the zoo driver: the recipe has returned, the entry is being written --------------------------------
@pytest.fixture
def zoo_driver(mnist_sample, tmp_path, monkeypatch):
    """`driver.train(NAME, quick=True)` on the tiny run, into tmp_path/zoo."""
    monkeypatch.setenv("TFVB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(registry, "REGISTRY", {NAME: registry.Entry(NAME, "vae_mnist", "vae", "tiny", "mnist")})
    module = driver.recipe(NAME)
    monkeypatch.setattr(driver, "recipe", lambda name: module)
    monkeypatch.setattr(module, "train", lambda seed, quick, data_root, dataset, **_: _train(mnist_sample[0]))
    return lambda: driver.train(NAME, quick=True, root=str(tmp_path / "zoo"))


@pytest.mark.parametrize("where", ["before", "model", "metadata"])
def test_a_zoo_train_killed_while_writing_the_entry_continues(where, zoo_driver, straight, tmp_path, monkeypatch):
    real_staged, real_files = store._write_staged, store._files

    def killed(*args, **kwargs):
        raise Killed("killed")

    def torn_model(root, name, tmp, model, *rest):
        with open(os.path.join(tmp, store.MODEL_FILE), "wb") as f:
            f.write(b"PK\x03\x04 half an archive")
        raise Killed("killed")

    def torn_metadata(folder):  # model, golden outputs and serving export written; the checksums not yet
        with open(os.path.join(folder, store.META_FILE), "w") as f:
            f.write('{"name": ')
        raise Killed("killed")

    if where != "before":  # a real kill runs no `finally`: the staging folder stays behind
        monkeypatch.setattr(store, "shutil", types.SimpleNamespace(rmtree=lambda *a, **k: None))
    if where == "before":
        monkeypatch.setattr(store, "_write_staged", killed)
    elif where == "model":
        monkeypatch.setattr(store, "_write_staged", torn_model)
    else:
        monkeypatch.setattr(store, "_files", torn_metadata)
    with pytest.raises(Killed):
        zoo_driver()
    monkeypatch.setattr(store, "_write_staged", real_staged)
    monkeypatch.setattr(store, "_files", real_files)
    monkeypatch.setattr(store, "shutil", shutil)
    assert not (tmp_path / "zoo" / NAME).exists()
    assert os.path.isdir(recipe.run_dir(NAME, 0, True))  # the run is kept until its entry is written
    epochs = []
    monkeypatch.setattr(recipe.keras.Model, "fit", _counting_fit(recipe.keras.Model.fit, epochs))
    meta = zoo_driver()
    assert epochs == []  # the finished run's own files are reused: nothing trains again
    assert {k: v for k, v in meta["metrics"].items() if k not in WALL_TIMES} == {
        k: v for k, v in straight[1]["metrics"].items() if k not in WALL_TIMES}
    folder = store.entry_folder(str(tmp_path / "zoo"), NAME)
    store.verify(folder, store.read_metadata(folder))
    assert not os.path.exists(recipe.run_dir(NAME, 0, True))
    assert sorted(p.name for p in (tmp_path / "zoo").iterdir() if p.is_dir()) == [NAME]  # no staging left


def test_a_second_training_of_an_entry_is_refused_while_one_runs(zoo_driver):
    with driver.training_lock(NAME):  # as another process training the entry holds it
        with pytest.raises(RuntimeError, match=f"Expected one training of '{NAME}' at a time .*Received: another "
                                               "process holds .*; wait for it to finish"):
            zoo_driver()
    assert zoo_driver()["name"] == NAME  # released: the next training runs


def test_runs_go_where_tfvb_runs_points(tmp_path, monkeypatch):
    monkeypatch.setenv("TFVB_RUNS", str(tmp_path))
    assert recipe.run_dir(NAME, 0, True).startswith(paths.runs_dir())


def test_a_resumed_log_likelihood_evaluation_counts_the_time_of_the_chunks_done_before(mnist_sample, tmp_path,
                                                                                    monkeypatch):
    """The chunks an interrupted evaluation finished are reused, values and seconds: the card's evaluation
    time is the whole evaluation's, not the last run's."""
    monkeypatch.setattr(recipe, "LL_CHUNK", 8)
    model = IWAE(k=1, latent_dim=2, hidden_units=(8,), seed=1)
    xb = recipe.data.binarize_fixed(mnist_sample[0][:20], seed=0)
    first = recipe.log_likelihood_in_chunks(model, xb, 3, seed=0, folder=str(tmp_path), verbose=0)
    assert first["resumed_seconds"] == 0.0
    chunks = sorted(os.listdir(tmp_path))
    assert chunks == ["log_likelihood_3_00000.npz", "log_likelihood_3_00008.npz", "log_likelihood_3_00016.npz"]
    seconds = []
    for name in chunks:
        with np.load(tmp_path / name) as npz:
            seconds.append(float(npz["seconds"]))
    assert all(s > 0 for s in seconds)
    os.remove(tmp_path / chunks[-1])  # the run was killed during its last chunk
    again = recipe.log_likelihood_in_chunks(model, xb, 3, seed=0, folder=str(tmp_path), verbose=0)
    assert again["resumed_seconds"] == pytest.approx(sum(seconds[:-1]))
    for m in ("iwae", "jackknife"):
        np.testing.assert_array_equal(first[m], again[m])


def test_atomic_writes_leave_the_permissions_a_plain_write_would(tmp_path):
    # The temporary file comes from mkstemp (mode 0600): renamed as it was, every report, card and backup
    # tfvb wrote was readable by its owner only.
    umask = os.umask(0o022)
    try:
        new = tmp_path / "report.md"
        _atomic.write_text(new, "a")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        kept = tmp_path / "kept.json"
        kept.write_text("{}")
        kept.chmod(0o640)
        _atomic.write_json(kept, {"a": 1})
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and _atomic.read_json(kept) == {"a": 1}
    finally:
        os.umask(umask)
