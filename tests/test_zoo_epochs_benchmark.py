"""benchmarks/zoo_epochs.py: one entry timed end to end, and the before/after table."""

import json
import os

import pytest
from conftest import SHARED_DATA
from test_uci import _load_benchmark


def _script():
    return _load_benchmark("zoo_epochs")


def _record(cpu_ms, parameters):
    return {"cpu_ms": cpu_ms, "wall_ms": cpu_ms, "batch": 128, "epoch_steps": 391, "parameters": parameters,
            "epoch_cpu_s": cpu_ms * 391 / 1e3, "epoch_wall_s": cpu_ms * 391 / 1e3}


def test_a_model_that_changed_between_checkouts_is_compared_per_parameter(tmp_path):
    script = _script()
    before = {"label": "before", "threads": 1, "results": {"same": _record(20.0, 1000), "grown": _record(60.0, 500)}}
    after = {"label": "after", "threads": 1, "results": {"same": _record(15.0, 1000), "grown": _record(120.0, 1000)}}
    for name, report in (("b", before), ("a", after)):
        with open(tmp_path / f"{name}.json", "w") as f:
            json.dump(report, f)
    text = script.main(["--compare", str(tmp_path / "b.json"), str(tmp_path / "a.json")])
    rows = {line.split("|")[1].strip(" `"): line.split("|")[5].strip() for line in text.splitlines()
            if line.startswith("| `")}
    assert rows == {"same": "0.75", "grown": "1.00 *"}  # twice the parameters, twice the step: per parameter 1
    assert "`grown`: 500 -> 1,000 parameters" in text


def test_one_entry_is_timed_on_a_few_digits():
    import tfvb

    data = os.path.join(SHARED_DATA, "mnist")
    if not os.path.isdir(data):  # pragma: no cover - CI has ../shared beside the clone
        pytest.skip(f"needs the official MNIST training digits in {data}")
    images, labels = tfvb.data.mnist_arrays("train", data)
    # `time_entry` is what `main` runs per entry (`main` also sets TensorFlow's threads, which a test
    # process that has already run TensorFlow cannot change).
    record = _script().time_entry("vae_mnist", images[:1000], labels[:1000])
    assert record["parameters"] == 425_285  # 784-200-200-50 encoder and decoder: Burda et al.'s network
    assert record["cpu_ms"] > 0 and record["batch"] == 100 and record["epoch_steps"] == 500
