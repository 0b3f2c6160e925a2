"""The UCI folder reader and a tiny slice of the benchmark protocol."""

import importlib.util
import json
import os

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA

from tfvb.data import UCIData, UCIFolder, list_uci, uci
from tfvb.evaluate import mean_and_standard_error

UCI_ROOT = os.path.join(SHARED_DATA, "uci")
BOSTON = os.path.join(UCI_ROOT, "bostonHousing")
needs_boston = pytest.mark.skipif(not os.path.isdir(BOSTON), reason="shared UCI data not present")


def make_folder(path, rows=60, features=3, splits=2, seed=0):
    """A small synthetic data set in the benchmark layout."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    y = x @ rng.normal(size=features) + 0.1 * rng.normal(size=rows)
    os.makedirs(path, exist_ok=True)
    np.savetxt(os.path.join(path, "data.txt"), np.column_stack([x, y]))
    files = {
        "index_features.txt": "\n".join(map(str, range(features))),
        "index_target.txt": str(features),
        "n_splits.txt": str(splits),
        "n_hidden.txt": "8",
        "n_epochs.txt": "2",
        "dropout_rates.txt": "0.01\n0.1",
        "tau_values.txt": "1.0\n10.0",
    }
    for name, text in files.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(text + "\n")
    for k in range(splits):
        perm = rng.permutation(rows)
        np.savetxt(os.path.join(path, f"index_train_{k}.txt"), perm[: rows * 9 // 10], fmt="%d")
        np.savetxt(os.path.join(path, f"index_test_{k}.txt"), perm[rows * 9 // 10:], fmt="%d")
    return path


def test_reads_a_folder_in_the_layout(tmp_path):
    folder = make_folder(str(tmp_path / "toy"))
    d = uci(folder, split=1)
    assert isinstance(d, UCIData)
    assert d.x_train.shape == (54, 3) and d.y_train.shape == (54,)
    assert d.x_test.shape == (6, 3) and d.y_test.shape == (6,)
    assert (d.n_splits, d.n_hidden, d.n_epochs) == (2, 8, 2)
    assert d.dropout_rates == (0.01, 0.1) and d.tau_values == (1.0, 10.0)
    table = np.loadtxt(os.path.join(folder, "data.txt"))
    train = np.loadtxt(os.path.join(folder, "index_train_1.txt"), dtype=int)
    np.testing.assert_array_equal(d.x_train, table[train, :3])
    np.testing.assert_array_equal(d.y_train, table[train, 3])
    assert list_uci(str(tmp_path)) == ["toy"]


def test_a_folder_is_read_once_and_gives_each_split(tmp_path):
    from tfvb.data import UCIFolder

    path = make_folder(str(tmp_path / "toy"))
    expected = [uci(path, split=k) for k in range(2)]
    folder = UCIFolder(path)
    assert (folder.name, folder.n_splits, folder.n_epochs, folder.dropout_rates) == ("toy", 2, 2, (0.01, 0.1))
    os.remove(os.path.join(path, "data.txt"))  # from now on a split reads only its row indices
    for k in range(2):
        d = folder.split(k)
        assert d.split == k
        for key in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(d, key), getattr(expected[k], key))


def test_function_names_are_not_shadowed_by_their_modules():
    """`tfvb.data.uci` and `tfvb.evaluate.uci_benchmark` stay callable whatever was imported before."""
    import tfvb
    import tfvb.data.uci_folder  # noqa: F401
    import tfvb.uci_protocol.benchmark  # noqa: F401

    assert callable(tfvb.data.uci) and callable(tfvb.evaluate.uci_benchmark)
    assert tfvb.evaluate.uci_benchmark is tfvb.uci_protocol.uci_benchmark


@needs_boston
def test_boston_split_and_constants():
    d = uci(BOSTON, split=3)
    assert d.name == "bostonHousing"
    assert d.x_train.shape == (455, 13) and d.x_test.shape == (51, 13)
    assert d.n_splits == 20 and d.n_hidden == 50 and d.n_epochs == 40
    assert d.dropout_rates == (0.005, 0.01, 0.05, 0.1) and d.tau_values == (0.1, 0.15, 0.2)
    assert "bostonHousing" in list_uci(UCI_ROOT)


def _break(folder, name, text):
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


@pytest.mark.parametrize(
    "name, text, error, match",
    [
        ("data.txt", "1 2 3 4\n1 nan 3 4\n", ValueError, "NaN or inf"),
        ("data.txt", "1 2 3 4\n1 2 x 4\n", ValueError, "numeric rows"),
        ("index_features.txt", "0\n1\n7\n", ValueError, r"column indices in \[0, 3\]"),
        ("index_features.txt", "0\n1\n3\n", ValueError, "not to be among the features"),
        ("index_train_0.txt", "0\n1\n500\n", ValueError, "row indices"),
        ("index_train_0.txt", "0\n1\n1.5\n", ValueError, "integers"),
        ("dropout_rates.txt", "0.5\n1.0\n", ValueError, r"dropout rates in \(0, 1\)"),
        ("tau_values.txt", "-1\n", ValueError, "positive tau"),
        ("n_hidden.txt", "0\n", ValueError, "one positive integer"),
    ],
)
def test_rejects_malformed_folders(tmp_path, name, text, error, match):
    folder = make_folder(str(tmp_path / "bad"))
    if name.startswith("index_train"):
        text = text if "500" in text or "1.5" in text else text
    _break(folder, name, text)
    with pytest.raises(error, match=match):
        uci(folder, split=0)


def test_rejects_missing_files_splits_and_folders(tmp_path):
    folder = make_folder(str(tmp_path / "toy"))
    with pytest.raises(ValueError, match=r"`split` to be an integer in \[0, 1\]"):
        uci(folder, split=2)
    with pytest.raises(ValueError, match="split"):
        uci(folder, split=-1)
    os.remove(os.path.join(folder, "tau_values.txt"))
    with pytest.raises(FileNotFoundError, match="without: tau_values.txt"):
        uci(folder)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        uci(str(tmp_path / "nowhere"))


def test_rejects_overlapping_train_and_test(tmp_path):
    folder = make_folder(str(tmp_path / "toy"))
    train = np.loadtxt(os.path.join(folder, "index_train_0.txt"), dtype=int)
    np.savetxt(os.path.join(folder, "index_test_0.txt"), train[:3], fmt="%d")
    with pytest.raises(ValueError, match="disjoint"):
        uci(folder)


def _load_benchmark(script):
    """A script of benchmarks/ as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{script}", os.path.join(REPO, "benchmarks", f"{script}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _benchmark_module():
    return _load_benchmark("uci")


def test_more_splits_than_the_folder_has_are_refused(tmp_path, capsys):
    from tfvb.evaluate import uci_benchmark
    from tfvb.uci_protocol import Protocol, run_protocol

    folder = make_folder(str(tmp_path / "tiny"), splits=2)
    message = r"Expected `splits` <= 2, the splits of tiny. Received: splits=99"
    with pytest.raises(ValueError, match=message):
        uci_benchmark(folder, splits=99)
    with pytest.raises(ValueError, match=message):
        run_protocol(folder, Protocol.of(UCIFolder(folder), epochs=1, samples=2), splits=99)


def test_a_bad_grid_is_refused_when_the_protocol_is_set_up(tmp_path):
    # taus=[] ran the folder's taus; a negative tau or a rate of 1.5 failed at the first split (in a worker).
    from tfvb.uci_protocol import Protocol

    data = UCIFolder(make_folder(str(tmp_path / "tiny"), splits=2))
    for grid, message in (({"taus": []}, r"`taus` .* Received: taus=\[\]"),
                          ({"taus": [-1.0]}, r"`taus` to be a non-empty list of numbers positive and finite"),
                          ({"taus": [float("inf")]}, r"Received: taus=\[inf\]"),
                          ({"dropout_rates": [1.5]}, r"`dropout_rates` .* in \(0, 1\). Received: "
                                                     r"dropout_rates=\[1.5\]"),
                          ({"dropout_rates": [float("nan")]}, r"Received: dropout_rates=\[nan\]"),
                          ({"dropout_rates": ["x"]}, r"Received: dropout_rates=\['x'\]")):
        with pytest.raises(ValueError, match=message):
            Protocol.of(data, epochs=1, samples=2, **grid)
    assert Protocol.of(data, epochs=1, samples=2, taus=[0.5], dropout_rates=[0.1]).taus == (0.5,)


def test_protocol_slice_runs_on_any_folder(tmp_path):
    folder = make_folder(str(tmp_path / "toy"))
    out = str(tmp_path / "toy.json")
    summary = _benchmark_module().main([folder, "--splits", "2", "--epochs", "3", "--samples", "50",
                                        "--validation-samples", "20", "--threads", "1", "--json", out])
    with open(out) as f:
        written = json.load(f)
    assert written["dataset"] == "toy" and written["splits_run"] == 2
    for key in ("rmse", "ll"):
        assert len(written[key]) == 2 and np.all(np.isfinite(written[key]))
    assert written["seconds"] > 0 and summary["ll"] == written["ll"]
    assert {r["dropout_rate"] for r in written["per_split"]} <= {0.01, 0.1}
    # Every split reports its 90 % / 95 % intervals (Gaussian and conformal); the summary averages them.
    coverage = written["coverage"]
    assert coverage["splits"] == 2
    for level in ("90", "95"):
        per_split = [r["coverage"][level]["gaussian"]["coverage"] for r in written["per_split"]]
        assert coverage[level]["gaussian"]["coverage"][0] == pytest.approx(np.mean(per_split))
        assert 0 <= per_split[0] <= 1 and coverage[level]["gaussian"]["mean_width"][0] > 0
        # The toy folder's test sets are too small to calibrate conformal intervals on half of them.
        assert "conformal_absolute" not in written["per_split"][0]["coverage"][level]
    assert coverage["95"]["gaussian"]["mean_width"][0] > coverage["90"]["gaussian"]["mean_width"][0]


@needs_boston
def test_protocol_slice_on_boston(tmp_path):
    """One split, two grid points, a few epochs: the protocol's whole path on real data."""
    out = str(tmp_path / "boston.json")
    _benchmark_module().main([BOSTON, "--splits", "1", "--dropout-rates", "0.01", "0.05", "--taus", "0.1",
                              "--epochs", "20", "--samples", "200", "--validation-samples", "100",
                              "--threads", "1", "--json", out])
    with open(out) as f:
        s = json.load(f)
    record = s["per_split"][0]
    assert len(record["validation_ll"]) == 2
    # A 20-epoch network is already far better than predicting the mean (y has std ~9).
    assert 1.5 < s["rmse"][0] < 7.0 and -5.0 < s["ll"][0] < -2.0
    # 51 test rows: conformal intervals calibrated on random halves of them, Gaussian ones on all.
    for level in ("90", "95"):
        got = record["coverage"][level]
        assert set(got) == {"gaussian", "conformal_absolute", "conformal_normalized"}
        assert all(0.6 < got[k]["coverage"] <= 1.0 for k in got)


def _toy_protocol(folder, out, *extra):
    return _benchmark_module().main([folder, "--epochs", "3", "--samples", "50", "--validation-samples", "20",
                                     "--threads", "1", "--json", out, *extra])


def _same_scores(a, b):
    for key in ("rmse", "ll", "dropout_rate", "tau"):
        assert a[key] == pytest.approx(b[key], rel=1e-5), key


@pytest.mark.slow  # worker processes and a resumed run; the default run keeps the in-process protocol slices
def test_protocol_worker_processes_and_resume(tmp_path):
    """Splits give the same records in worker processes, and a resumed run keeps the finished splits."""
    folder = make_folder(str(tmp_path / "toy"), splits=3)
    pooled = _toy_protocol(folder, str(tmp_path / "pooled.json"), "--splits", "3", "--jobs", "2")
    assert [r["split"] for r in pooled["per_split"]] == [0, 1, 2]

    out = str(tmp_path / "resumed.json")
    first = _toy_protocol(folder, out, "--splits", "1")
    _same_scores(first["per_split"][0], pooled["per_split"][0])
    resumed = _toy_protocol(folder, out, "--splits", "2", "--resume")
    assert resumed["splits_resumed"] == 1 and resumed["splits_run"] == 2
    assert resumed["wall_seconds"] == pytest.approx(first["wall_seconds"] + resumed["wall_seconds_this_run"])
    assert resumed["per_split"][0] == first["per_split"][0]  # kept, not run again
    _same_scores(resumed["per_split"][1], pooled["per_split"][1])
    with open(out) as f:
        assert json.load(f)["splits_run"] == 2


def test_protocol_resume_refuses_other_settings(tmp_path):
    folder = make_folder(str(tmp_path / "toy"))
    out = str(tmp_path / "run.json")
    _toy_protocol(folder, out, "--splits", "1")
    with pytest.raises(SystemExit, match="epochs=3 \\(this run: 4\\)"):
        _benchmark_module().main([folder, "--epochs", "4", "--samples", "50", "--validation-samples", "20",
                                  "--threads", "1", "--json", out, "--resume"])
    with open(out, "w") as f:
        f.write("{not json")
    with pytest.raises(SystemExit, match="expected a JSON summary"):
        _toy_protocol(folder, out, "--resume")
    # Resuming with fewer splits than the file holds rewrote it without the others (finished work lost).
    two = make_folder(str(tmp_path / "two"), splits=2)
    kept = str(tmp_path / "two.json")
    _toy_protocol(two, kept, "--splits", "2")
    with open(kept) as f:
        before = f.read()
    with pytest.raises(SystemExit, match=r"Expected at least 2 splits to resume .*holds finished splits up to 1"):
        _toy_protocol(two, kept, "--splits", "1", "--resume")
    with open(kept) as f:
        assert f.read() == before
    # Another data set's file, with the same settings: its splits were reported as this data set's.
    with pytest.raises(SystemExit, match=r"it holds the splits of 'two' \(this run: 'toy'\)"):
        _toy_protocol(folder, kept, "--splits", "2", "--resume")




def test_add_coverage_gives_older_splits_the_coverage_of_their_own_final_networks(tmp_path):
    """A run kept from before coverage was reported gets it without a grid search, and it is the run's own."""
    folder = make_folder(str(tmp_path / "toy"), splits=2, rows=120)
    out = str(tmp_path / "run.json")
    full = _toy_protocol(folder, out, "--splits", "2")
    with open(out) as f:
        older = json.load(f)
    for r in older["per_split"]:  # as written before coverage existed
        del r["coverage"]
    older["coverage"] = None
    with open(out, "w") as f:
        json.dump(older, f)

    added = _toy_protocol(folder, out, "--splits", "2", "--resume", "--add-coverage")
    assert added["splits_run"] == 2 and added["splits_resumed"] == 2
    for before, after in zip(full["per_split"], added["per_split"]):
        for key in ("rmse", "ll", "dropout_rate", "tau", "validation_ll"):
            assert after[key] == before[key], key  # the record's own scores are kept
        again = after["coverage_from"]
        assert again["rmse"] == pytest.approx(before["rmse"], rel=1e-4)
        assert again["ll"] == pytest.approx(before["ll"], rel=1e-4)
        for level in ("90", "95"):
            assert after["coverage"][level]["gaussian"]["coverage"] == pytest.approx(
                before["coverage"][level]["gaussian"]["coverage"])
            assert after["coverage"][level]["gaussian"]["mean_width"] == pytest.approx(
                before["coverage"][level]["gaussian"]["mean_width"], rel=1e-4)
    summary = added["coverage_added"]
    assert summary["splits"] == 2 and summary["max_abs_ll_difference"] < 1e-3
    assert added["coverage"]["splits"] == 2
    # A second pass finds nothing to add and runs nothing.
    again = _toy_protocol(folder, out, "--splits", "2", "--resume", "--add-coverage")
    assert again["per_split"] == added["per_split"]
    with pytest.raises(SystemExit):
        _toy_protocol(folder, out, "--add-coverage")  # only for the splits of an earlier run


def test_report_pairs_splits_and_checks_the_published_standard_error(tmp_path):
    report = _load_benchmark("uci_report")
    rng = np.random.default_rng(0)
    rows = {"rmse": list(3 + rng.normal(size=20)), "ll": list(-2.4 + rng.normal(size=20))}
    reference = {"bostonHousing": {"100": rows}}
    ours_rmse = [r + 0.1 for r in reference["bostonHousing"]["100"]["rmse"][:5]]
    per = [{"split": k, "rmse": v, "ll": -2.42, "tuned": {"rmse": v, "ll": -2.4}} for k, v in enumerate(ours_rmse)]
    summary = {
        "per_split": per,
        "rmse": list(mean_and_standard_error(ours_rmse)),
        "ll": [-2.42, 0.0],
        "seconds": 12.0,
        "tuned": {"rmse": list(mean_and_standard_error(ours_rmse)), "ll": [-2.4, 0.0]},
    }
    with open(tmp_path / "uci_bostonHousing_100x.json", "w") as f:
        json.dump(summary, f)
    (row,) = report.rows(str(tmp_path), reference)
    assert row["run"] == "100x" and row["splits"] == 5
    (diff, se), n = row["paired_rmse"]
    assert n == 5 and diff == pytest.approx(0.1) and se == pytest.approx(0.0, abs=1e-12)
    assert row["ll_within"] == "yes"  # -2.42 is within 0.04 of -2.40
    assert report.verdict(-2.30, (-2.40, 0.04), higher_is_better=True) == "better"
    assert report.verdict(3.30, (2.90, 0.18), higher_is_better=False) == "worse"
    assert report.within(3.15, (2.90, 0.18)) is False and report.within(3.08, (2.90, 0.18)) is True
    assert report.within(0.0018, (0.00, 0.00)) is True
    assert "| bostonHousing | 100x | 5 |" in report.markdown([row])


def test_result_files_name_each_variant_and_epoch_setting(tmp_path):
    from tfvb.uci_protocol import RESULT_FILES, result_file

    names = [result_file("kin8nm", v, m) for v, m, _ in RESULT_FILES]
    assert len(set(names)) == len(names)
    assert result_file("kin8nm", "faithful", 100) == "uci_kin8nm_100x.json"
    with pytest.raises(ValueError, match=r"Received: \('faithful', 50\)"):
        result_file("kin8nm", "faithful", 50)
    report = _load_benchmark("uci_report")
    summary = {
        "per_split": [{"split": 0, "rmse": 3.0, "ll": -2.3}],
        "rmse": [3.0, 0.0],
        "ll": [-2.3, 0.0],
        "seconds": 1.0,
        "tuned": {"rmse": [3.0, 0.0], "ll": [-2.3, 0.0]},
    }
    for variant, multiplier in (("faithful", 10), ("concrete", 100)):
        with open(tmp_path / result_file("bostonHousing", variant, multiplier), "w") as f:
            json.dump(summary, f)
    assert [r["run"] for r in report.rows(str(tmp_path), {})] == ["10x", "concrete 100x"]


def test_selection_from_a_record_retrains_the_same_final_networks(tmp_path):
    """The zoo reuses a protocol run's choice on split 0: only the final fit runs, with the same result."""
    from tfvb.uci_protocol import Protocol, grid_search_split

    data = uci(make_folder(str(tmp_path / "toy"), rows=120), split=0)
    protocol = Protocol.of(data, samples=100, validation_samples=30, epochs=4, seed=3)
    record, final, i = grid_search_split(data, protocol)
    again, final_again, j = grid_search_split(data, protocol, selection=json.loads(json.dumps(record)))
    for key in ("dropout_rate", "tau", "rmse", "ll", "validation_ll"):
        assert again[key] == pytest.approx(record[key], rel=1e-5), key
    assert again["tuned"] == pytest.approx(record["tuned"], rel=1e-5)
    np.testing.assert_allclose(final_again.kernels[0].numpy()[j], final.kernels[0].numpy()[i], rtol=1e-5)

    outside = dict(record, tau=3.0)
    with pytest.raises(ValueError, match=r"chosen pair .* a point of the grid .* Received: \(0\.\d+, 3\.0\)"):
        grid_search_split(data, protocol, selection=outside)
    with pytest.raises(ValueError, match="variance_scale"):
        grid_search_split(
            data,
            protocol,
            selection=dict(record, tuned={k: v for k, v in record["tuned"].items() if k != "variance_scale"}),
        )


def test_reference_timing_measures_both_sides_in_one_run(tmp_path):
    folder = make_folder(str(tmp_path / "toy"))
    out = str(tmp_path / "ref.json")
    s = _load_benchmark("uci_reference").main(
        [
            folder,
            "--configs",
            "1",
            "--passes",
            "5",
            "--epochs",
            "2",
            "--samples",
            "50",
            "--validation-samples",
            "20",
            "--threads",
            "1",
            "--vectorized",
            "--json",
            out,
        ]
    )
    assert s["epochs"] == 2 and s["vectorized_seconds_per_split"] > 0
    assert s["speedup"] == pytest.approx(s["estimated_seconds_per_split"] / s["vectorized_seconds_per_split"])
    record = s["per_split"][0]
    assert record["configs_trained"] == 1 and len(record["fit_seconds"]) == 2  # one grid point + the retrain
    with open(out) as f:
        assert json.load(f)["speedup"] == s["speedup"]


def test_concrete_variant_runs_the_protocol_over_lengthscales(tmp_path):
    folder = make_folder(str(tmp_path / "toy"))
    out = str(tmp_path / "concrete.json")
    s = _toy_protocol(folder, out, "--splits", "1", "--variant", "concrete")
    assert s["protocol"]["dropout_rates"] == [0.1] and s["protocol"]["taus"] is None
    record = s["per_split"][0]
    assert len(record["validation_ll"]) == 3  # one network per prior lengthscale
    assert record["lengthscale"] in (1e-2, 1e-1, 1.0) and record["tau"] is None
    rates = record["learned_dropout_rates"]
    assert len(rates) == 2 and all(0.0 < r < 1.0 for r in rates)
