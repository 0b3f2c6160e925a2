"""benchmarks/conv_map.py: the two ways of a T-kernel convolution give the same values, and the run is recorded."""

import json

from test_uci import _load_benchmark


def test_both_ways_agree_and_the_run_is_written(tmp_path):
    out = tmp_path / "conv_map.json"
    result = _load_benchmark("conv_map").main(["--samples", "3", "--batch", "2", "--transpose-batch", "2",
                                               "--repeats", "2", "--json", str(out)])
    assert [r["case"] for r in result["rows"]] == ["conv_shared_28x28x1", "conv_per_sample_14x14x6",
                                                   "conv_transpose_per_sample"]
    for row in result["rows"]:
        assert row["kernels"][0] == 3 and row["output"][:2] == [3, 2]  # (T, N, ...): one output per kernel draw
        assert row["max_abs_difference"] <= 1e-5 * max(1.0, row["max_abs_output"])
        assert len(row["pairs"]["cpu"]) == 2
    assert json.loads(out.read_text())["rows"] == json.loads(json.dumps(result["rows"]))
