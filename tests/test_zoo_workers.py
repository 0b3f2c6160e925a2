"""`tfvb zoo train NAME --workers HOST:PORT,HOST:PORT --index I`: the recipe's training on a two-worker cluster."""

import json
import os

import multi_worker_runs as runs
import pytest

from tfvb import paths
from tfvb.zoo import cluster


def test_workers_and_index_are_checked():
    assert cluster.parse_workers("127.0.0.1:1, 127.0.0.1:2") == ["127.0.0.1:1", "127.0.0.1:2"]
    for bad in ("127.0.0.1", "127.0.0.1:1", "h:1,h:1", "h:x,h:2", ":1,h:2"):
        with pytest.raises(ValueError, match="Expected"):
            cluster.parse_workers(bad)
    config = cluster.tf_config(["h:1", "h:2"], 1)
    assert config == {"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="Expected `--index` in 0..1"):
        cluster.tf_config(["h:1", "h:2"], 2)


def test_cli_refuses_an_index_without_workers():
    from tfvb import cli

    assert cli.main(["zoo", "train", "cvae_mnist", "--index", "1"]) != 0


def _mnist():
    root = paths.shared_data_dir(required=False)
    return bool(root) and os.path.isdir(os.path.join(root, "mnist"))


@pytest.mark.slow
def test_zoo_train_on_two_workers(tmp_path):
    """The quick CVAE recipe on two workers on loopback: the chief writes the entry, the run folder is removed."""
    if not _mnist():
        pytest.skip("the MNIST training digits are not in the data folder")
    runs.launch(tmp_path, "cvae_mnist", script="zoo_workers.py", timeout=1500)
    with open(tmp_path / "root" / "cvae_mnist" / "metadata.json") as f:
        meta = json.load(f)
    assert meta["recipe"]["quick"] and meta["training"]["best_epoch"] >= 1
    assert meta["metrics"]["epoch_cap"] == 2 and meta["metrics"]["epochs_to_convergence"] is None  # 2 epochs: capped
    # The chief removed the run's resumable state; the entry's training lock file stays, as every lock file does.
    assert os.listdir(tmp_path / "runs") == [".cvae_mnist.lock"]
