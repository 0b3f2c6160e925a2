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
    with pytest.raises(SystemExit, match=r"Expected each entry in one of the runs. Received: mc_dropout_mnist again"):
        script.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "a.json"), "--out", str(tmp_path / "x")])
    assert merged["data"].startswith("the first 40 of ")  # a --limit run says so in its tables' header
    script.main(["--names", "mc_dropout_mnist", "--out", str(tmp_path / "d"), "--limit", "30", "--samples", "3",
                 "--angles", "0", "90"])
    with pytest.raises(SystemExit, match=r"Expected runs on the same data"):  # 30 images are other data than 40
        script.main(["--merge", str(tmp_path / "b.json"), str(tmp_path / "d.json"), "--out", str(tmp_path / "x")])


def test_a_run_with_other_settings_does_not_overwrite_the_kept_one(capsys):
    """The docstring's quick look once wrote a 200-image, 10-draw table over the kept 5,000-image one, under the
    kept run's data description, for `--publish` to put into the README."""
    with pytest.raises(SystemExit):
        _script().main(["--limit", "200", "--samples", "10", "--angles", "0", "90"])
    assert "expected --out for a run with other settings than the kept run's (received --limit 200, --samples 10, " \
           "--angles [0.0, 90.0])" in capsys.readouterr().err


def test_publish_puts_the_kept_run_between_the_markers(tmp_path):
    script = _script()
    kept = str(tmp_path / "results" / "dataset_shift")
    script.main(["--names", "mc_dropout_mnist", "--out", kept, "--limit", "30", "--samples", "2",
                 "--angles", "0", "45"])
    (tmp_path / "docs").mkdir()
    page = f"# Title\n\nbefore\n\n{script.BEGIN}\nold table\n{script.END}\n\nafter\n"
    for name in ("README.md", "docs/calibration.md"):
        (tmp_path / name).write_text(page)
    script.publish(kept=kept, root=str(tmp_path))
    readme = (tmp_path / "README.md").read_text()
    assert "old table" not in readme and readme.startswith("# Title\n\nbefore\n") and readme.endswith("\nafter\n")
    assert "| `mc_dropout_mnist` |" in readme and "(benchmarks/results/dataset_shift.png)" in readme
    assert "(img/dataset_shift.png)" in (tmp_path / "docs" / "calibration.md").read_text()
    assert (tmp_path / "docs" / "img" / "dataset_shift.png").stat().st_size > 0
    (tmp_path / "README.md").write_text("no markers\n")
    with pytest.raises(SystemExit, match="Expected the markers"):
        script.publish(kept=kept, root=str(tmp_path))
