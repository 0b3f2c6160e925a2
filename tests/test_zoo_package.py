"""`tfvb zoo package NAME RUN` writes a run only under the entry its model is: class, family, constructor,
recipe are checked against the registry before anything is replaced."""

import json
import os

import numpy as np
import pytest

from tfvb import cli, zoo
from tfvb.models import CVAE
from tfvb.zoo import driver, registry, store


def _run_folder(folder, model, **record):
    """A run folder as a recipe's own `main` writes it."""
    os.makedirs(folder, exist_ok=True)
    model.save(os.path.join(folder, "model.keras"))
    record = {"constructor": {"latent_dim": model.latent_dim}, "metrics": {"elbo": -100.0}, "seed": 0,
              "golden_inputs": np.zeros((2, 28, 28, 1)).tolist(), **record}
    with open(os.path.join(folder, "record.json"), "w") as f:
        json.dump(record, f)
    return str(folder)


def _cvae(latent_dim):
    return CVAE(latent_dim=latent_dim, filters=(4, 8), seed=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {"cvae2": _run_folder(root / "cvae2", _cvae(2)), "cvae16": _run_folder(root / "cvae16", _cvae(16))}


def test_a_run_is_packaged_under_its_own_entry(runs, tmp_path):
    meta = driver.package("cvae_mnist", runs["cvae2"], root=str(tmp_path))
    assert meta["class"] == "CVAE" and meta["recipe"]["script"] == "zoo/cvae_mnist.py"
    store.verify(str(tmp_path / "cvae_mnist"), store.read_metadata(str(tmp_path / "cvae_mnist")))


def test_a_run_of_another_model_never_replaces_an_entry(runs, tmp_path, capsys):
    root = str(tmp_path)
    good = driver.package("cvae_mnist", runs["cvae2"], root=root)
    # The good entry's files, renamed as if it were bnn_flipout_mnist's: the refused write must leave them be.
    os.replace(os.path.join(root, "cvae_mnist"), os.path.join(root, "bnn_flipout_mnist"))
    with pytest.raises(ValueError, match=r"Expected a BNNClassifier \(family 'bnn'\) for zoo entry "
                                         r"'bnn_flipout_mnist'. Received: a CVAE"):
        driver.package("bnn_flipout_mnist", runs["cvae2"], root=root)
    assert cli.main(["zoo", "package", "bnn_flipout_mnist", runs["cvae2"], "--root", root]) == 2
    assert "Received: a CVAE" in capsys.readouterr().err
    assert store.read_metadata(os.path.join(root, "bnn_flipout_mnist"))["created"] == good["created"]
    with pytest.raises(ValueError, match=r"Expected latent_dim=2 for zoo entry 'cvae_mnist' .*Received: a CVAE "
                                         r"with latent_dim=16"):
        driver.package("cvae_mnist", runs["cvae16"], root=root)
    assert not os.path.exists(os.path.join(root, "cvae_mnist"))
    assert driver.package("cvae_mnist_l16", runs["cvae16"], root=root)["constructor"]["latent_dim"] == 16


def test_a_record_that_does_not_describe_its_model_is_refused(tmp_path):
    run = _run_folder(tmp_path / "run", _cvae(2), constructor={"latent_dim": 16})
    with pytest.raises(ValueError, match="Expected the run's record to describe its model. Received: the record "
                                         "says latent_dim=16, the model has latent_dim=2"):
        driver.package("cvae_mnist", run, root=str(tmp_path / "zoo"))
    run = _run_folder(tmp_path / "other", _cvae(2), recipe={"script": "zoo/fashion_mnist.py"})
    with pytest.raises(ValueError, match="Expected a run of zoo/cvae_mnist.py for zoo entry 'cvae_mnist'. "
                                         "Received: a run of zoo/fashion_mnist.py"):
        driver.package("cvae_mnist", run, root=str(tmp_path / "zoo"))


def test_an_unreadable_record_is_named(tmp_path):
    run = _run_folder(tmp_path / "run", _cvae(2))
    open(os.path.join(run, "record.json"), "w").close()
    with pytest.raises(ValueError, match=r"Expected a JSON file at .*run/record.json"):
        driver.package("cvae_mnist", run, root=str(tmp_path / "zoo"))
    with open(os.path.join(run, "record.json"), "w") as f:
        json.dump([1, 2], f)
    with pytest.raises(ValueError, match=r"Expected a recipe's record \(a JSON object with `golden_inputs`\) in "
                                         r".*record.json. Received: list"):
        driver.package("cvae_mnist", run, root=str(tmp_path / "zoo"))


@pytest.mark.parametrize("name", [n for n in zoo.list_models() if zoo.is_trained(n)])
def test_every_stored_entry_is_what_the_registry_declares(name):
    entry, meta = registry.get(name), zoo.info(name)
    assert meta["class"] == entry.model and entry.model in registry.FAMILY_CLASSES[entry.family]
    assert {k: meta["constructor"].get(k) for k in entry.constructor} == entry.constructor
    assert meta["recipe"]["script"] == f"zoo/{entry.recipe}.py"


def test_a_full_disk_is_reported_by_the_command_line(runs, tmp_path, monkeypatch, capsys):
    import shutil

    import tensorflow as tf

    root = str(tmp_path / "zoo")
    real_usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real_usage(path)._replace(free=1 << 20))
    assert cli.main(["zoo", "package", "cvae_mnist", runs["cvae2"], "--root", root]) == 2
    assert "Expected at least" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "disk_usage", real_usage)

    def full(self, *args, **kwargs):  # the space ran out after the check: TensorFlow's own error
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(CVAE, "export", full)
    assert cli.main(["zoo", "package", "cvae_mnist", runs["cvae2"], "--root", root]) == 2
    err = capsys.readouterr().err
    assert "tfvb: error: Expected to write zoo entry 'cvae_mnist'" in err and "No space left on device" in err
    assert "Traceback" not in err and not os.path.exists(os.path.join(root, "cvae_mnist"))
    assert [p for p in os.listdir(root) if "staging" in p] == []
