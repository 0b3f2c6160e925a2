"""benchmarks/dataset_shift.py: a small run per zoo classifier, and runs merged into one table."""

import importlib.util
import json
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script():
    path = os.path.join(REPO, "benchmarks", "dataset_shift.py")
    spec = importlib.util.spec_from_file_location("dataset_shift_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_runs_merge_into_the_table_of_one(tmp_path):
    script = _script()
    small = ["--limit", "40", "--samples", "3", "--angles", "0", "90"]
    script.main(["--names", "mc_dropout_mnist", "--out", str(tmp_path / "a"), *small])
    script.main(["--names", "bnn_flipout_mnist", "--out", str(tmp_path / "b"), *small])
    script.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "all")])
    with open(tmp_path / "all.json") as f:
        merged = json.load(f)
    assert set(merged["results"]) == {"mc_dropout_mnist", "bnn_flipout_mnist"}
    with open(tmp_path / "a.json") as f:
        assert merged["results"]["mc_dropout_mnist"] == json.load(f)["results"]["mc_dropout_mnist"]
    table = (tmp_path / "all.md").read_text()
    assert "| `bnn_flipout_mnist` |" in table and "90°" in table and (tmp_path / "all.png").stat().st_size > 0
    accuracy = merged["results"]["mc_dropout_mnist"]["per_angle"]["accuracy"]
    assert accuracy[0] > 0.8 and accuracy[1] < accuracy[0]  # a digit turned on its side is harder to read

    script.main(["--names", "mc_dropout_mnist", "--out", str(tmp_path / "c"), "--limit", "40", "--samples", "2",
                 "--angles", "0", "90"])
    with pytest.raises(SystemExit, match=r"Expected runs on the same data, samples and angles"):
        script.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "c.json"), "--out", str(tmp_path / "x")])
