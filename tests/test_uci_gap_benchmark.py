"""benchmarks/uci_gap.py end to end on a synthetic folder: records, the report table, resuming after a kill."""

import json
import os

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA
from test_uci import _load_benchmark, make_folder

METHODS = ("mc_dropout", "flipout", "ensemble")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke run of every method: 1 standard split and the gap split of feature 1, 2 epochs."""
    root = tmp_path_factory.mktemp("uci")
    make_folder(str(root / "toy"), rows=60, features=3, splits=2)
    out = str(root / "gap.json")
    args = [str(root), "--smoke", "--datasets", "toy", "--features", "1", "--threads", "1", "--json", out]
    _load_benchmark("uci_gap").main(args)
    return args, out


def _records(path):
    with open(path) as f:
        return json.load(f)["records"]


def _key(r):
    return r["dataset"], r["method"], r["kind"], r["split"]


def test_every_method_writes_one_record_per_split(smoke_run):
    _, out = smoke_run
    records = _records(out)
    expected = {("toy", m, kind, k) for m in METHODS for kind, k in (("standard", 0), ("gap", 1))}
    assert {_key(r) for r in records} == expected and len(records) == len(expected)
    for r in records:
        assert np.isfinite(r["ll"]) and r["rmse"] > 0 and r["seconds"] > 0 and r["epochs"] == 2
        assert 0 <= r["coverage"]["90"]["gaussian"]["coverage"] <= 1
        assert r["settings"]["seed"] == 0 and "uci_gap.py" in r["command"] and "--smoke" in r["command"]
        if r["kind"] == "gap":
            # Distinct continuous values: the held-out third of the feature holds no training row.
            assert r["gap_feature"] == r["split"] and r["train_rows_in_gap"] == 0
            assert (r["train_rows"], r["test_rows"]) == (40, 20)
        else:
            assert (r["train_rows"], r["test_rows"]) == (54, 6)
    by_method = {r["method"]: r for r in records if _key(r)[2:] == ("standard", 0)}
    assert by_method["mc_dropout"]["settings"]["samples"] == 100
    assert by_method["ensemble"]["settings"]["members"] == 5 and "ll_gaussian" in by_method["ensemble"]


def test_the_report_has_a_row_per_method_and_the_overconfidence_line(smoke_run, tmp_path):
    _, out = smoke_run
    md = str(tmp_path / "gap.md")
    text = _load_benchmark("uci_gap_report").main([out, "--out", md])
    with open(md) as f:
        assert f.read() == text
    for name in ("MC dropout", "Flipout BNN", "deep ensemble"):
        row = next(line for line in text.splitlines() if line.startswith(f"| toy | {name} |"))
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert len(cells) == 10
        assert cells[2].endswith("(1)") and cells[3].endswith("(1)")  # 1 standard split, 1 gap feature
    assert "- **toy**: gap − standard test LL" in text and "against MC dropout" in text
    assert "on 0 of 1 data sets" in text  # one standard split: nothing can be resolved
    cost = text.split("## Cost")[1]
    records = {_key(r): r for r in _records(out)}
    flipout = records["toy", "flipout", "standard", 0]
    assert flipout["steps_per_execution"] == 64  # the recipe's; its seconds, not its numbers, depend on it
    row = next(line for line in cost.splitlines() if line.startswith("| toy | Flipout BNN, 64 steps per call |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    gap = records["toy", "flipout", "gap", 1]["seconds"]
    assert cells[2:] == [f"{flipout['seconds']:,.0f} (1)", f"{gap:,.0f} (1)",
                         f"{(flipout['seconds'] + gap) / 3600:.2f}"]


def test_resume_recomputes_only_the_missing_record_and_refuses_other_settings(smoke_run, capsys):
    args, out = smoke_run
    before = {_key(r): r for r in _records(out)}
    lost = ("toy", "flipout", "gap", 1)  # as if the run had been killed while computing it
    with open(out) as f:
        data = json.load(f)
    data["records"] = [r for r in data["records"] if _key(r) != lost]
    with open(out, "w") as f:
        json.dump(data, f)
    capsys.readouterr()
    _load_benchmark("uci_gap").main(args + ["--resume"])
    assert "6 records, 5 already in" in capsys.readouterr().out
    after = {_key(r): r for r in _records(out)}
    assert set(after) == set(before)
    assert all(after[k] == before[k] for k in before if k != lost)  # untouched, to the recorded second
    assert after[lost]["seconds"] != before[lost]["seconds"]
    with pytest.raises(SystemExit, match=r"Cannot resume toy mc_dropout .* epochs=2 \(this run: 3\)"):
        _load_benchmark("uci_gap").main(args + ["--resume", "--epochs", "3"])


def test_a_record_another_process_adds_meanwhile_is_not_computed_again(smoke_run, capsys):
    """Two processes sharing --json: each re-reads the file before a record and skips what the other made."""
    args, out = smoke_run
    before = {_key(r): r for r in _records(out)}
    first, second = ("toy", "mc_dropout", "gap", 1), ("toy", "ensemble", "gap", 1)
    with open(out) as f:
        data = json.load(f)
    data["records"] = [r for r in data["records"] if _key(r) not in (first, second)]
    with open(out, "w") as f:
        json.dump(data, f)
    bench = _load_benchmark("uci_gap")
    add = bench.RecordFile.add

    def add_and_let_the_other_process_add_its_own(self, record, command):
        add(self, record, command)
        if _key(record) == first:  # meanwhile the other process finished `second`
            add(self, before[second], before[second]["command"])

    bench.RecordFile.add = add_and_let_the_other_process_add_its_own
    capsys.readouterr()
    bench.main(args + ["--resume"])
    printed = capsys.readouterr().out
    assert "6 records, 4 already in" in printed
    assert "toy ensemble gap 1: made meanwhile by another process, skipped" in printed
    after = {_key(r): r for r in _records(out)}
    assert set(after) == set(before) and after[second] == before[second]  # the other process's, untouched
    assert after[first]["seconds"] != before[first]["seconds"]  # computed again by this one


def test_unknown_names_are_refused_with_the_valid_ones(smoke_run, capsys):
    args, _ = smoke_run
    root = args[0]
    with pytest.raises(SystemExit, match=r"Expected data sets among the folders of .*: toy. Received: boston"):
        _load_benchmark("uci_gap").main([root, "--datasets", "boston", "--json", os.path.join(root, "x.json")])
    with pytest.raises(SystemExit):
        _load_benchmark("uci_gap").main([root, "--methods", "vi", "--json", os.path.join(root, "x.json")])
    assert "invalid choice: 'vi' (choose from" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"Expected --features in \[0, 2\] \(the input features of toy\)"):
        _load_benchmark("uci_gap").main([root, "--features", "3", "--json", os.path.join(root, "x.json")])


def test_a_feature_without_a_gap_is_left_out_or_refused(tmp_path):
    """A constant column (naval has two) has no middle third to hold out: not a gap split of its data set."""
    path = make_folder(str(tmp_path / "toy"), rows=60, features=3)
    table = np.loadtxt(os.path.join(path, "data.txt"))
    table[:, 2] = 1.0
    np.savetxt(os.path.join(path, "data.txt"), table)
    gap = _load_benchmark("uci_gap")
    args = gap.parse([str(tmp_path), "--standard-splits", "2", "--json", str(tmp_path / "x.json")])
    assert gap.work(gap.folders(args)["toy"], args) == [("standard", 0), ("gap", 0), ("standard", 1), ("gap", 1)]
    with pytest.raises(SystemExit, match=r"Expected --features with a gap in toy .*: \[0, 1\]. Received: \[2\]"):
        gap.main([str(tmp_path), "--features", "2", "--json", str(tmp_path / "x.json")])


def _fake(method, kind, lls):
    return [{"dataset": "toy", "method": method, "kind": kind, "split": k, "ll": ll, "rmse": 1.0 + k,
             "coverage": {"90": {"gaussian": {"coverage": 0.9}}}, "settings": {"seed": 0}} for k, ll in enumerate(lls)]


def test_the_report_answers_the_overconfidence_question_from_paired_differences():
    report = _load_benchmark("uci_gap_report")
    standard = [-2.0, -2.2, -2.1, -2.3]
    gap = [-3.0, -3.5, -2.8, -4.0, -3.1]
    # Flipout loses ~1.2 nats more in every gap than the others, and the same as they do on the standard splits.
    records = (_fake("flipout", "standard", standard) + _fake("flipout", "gap", [g - 1.2 for g in gap])
               + _fake("mc_dropout", "standard", [s + 0.1 for s in standard]) + _fake("mc_dropout", "gap", gap)
               + _fake("ensemble", "standard", standard) + _fake("ensemble", "gap", [g + 0.05 for g in gap]))
    row = next(r for r in report.rows(records) if r["method"] == "flipout")
    flip_gap, flip_std = np.array(gap) - 1.2, np.array(standard)
    se = np.hypot(flip_gap.std(ddof=1) / np.sqrt(5), flip_std.std(ddof=1) / 2)
    assert row["ll_difference"] == pytest.approx((flip_gap.mean() - flip_std.mean(), se))
    assert row["gap"]["ll"][2] == 5 and row["standard"]["rmse"] == pytest.approx((2.5, np.sqrt(5 / 3) / 2, 4))
    # The median and the worst feature: what a mean over features dominated by one collapse hides.
    assert row["gap"]["ll_median"] == pytest.approx(-4.3) and row["gap"]["ll_worst"] == pytest.approx((-5.2, 3))
    value, se, n_gap, n_std, below = report.paired_drop(records, "toy", "flipout", "mc_dropout")
    assert (value, se) == pytest.approx((-1.1, 0.0), abs=1e-12) and (n_gap, n_std, below) == (5, 4, 5)
    text = report.markdown(records)
    assert text.count("**yes**") == 2 and "on 1 of 1 data sets: toy." in text
    # The same drop for every method: nothing to tell apart.
    same = [r for r in records if r["method"] != "flipout"] + _fake("flipout", "standard", standard) + \
        _fake("flipout", "gap", [g + 0.3 * (-1) ** k for k, g in enumerate(gap)])
    assert "**yes**" not in report.markdown(same) and "on 0 of 1 data sets." in report.markdown(same)
    # A data set whose Flipout gap records have not run yet: said, not an empty question.
    partial = [r for r in records if not (r["method"] == "flipout" and r["kind"] == "gap")]
    assert "Too few records yet to ask whether it falls further below" in report.markdown(partial)


def test_publish_replaces_only_what_lies_between_the_pages_markers(smoke_run, tmp_path):
    _, out = smoke_run
    report = _load_benchmark("uci_gap_report")
    begin, end = report.BEGIN, report.END
    (tmp_path / "docs").mkdir()
    pages = {"README.md": f"# top\n\nbefore\n{begin}\nold table\n{end}\nafter\n",
             os.path.join("docs", "calibration.md"): f"intro\n{begin}\n{end}\n## References\n"}
    for page, text in pages.items():
        (tmp_path / page).write_text(text)
    text = report.main([out])
    report.publish(text, root=str(tmp_path))
    for page, old in pages.items():
        new = (tmp_path / page).read_text()
        head, rest = new.split(begin + "\n")
        block, tail = rest.split("\n" + end)
        assert head == old.split(begin)[0] and tail == old.split(end)[1]  # the rest of the page is kept
        assert "old table" not in block and "| toy | Flipout BNN |" in block
        assert "# In-between" not in block and "**Is the mean-field Flipout BNN over-confident" in block
        assert "Cost" not in block and "per split" not in block  # the pages show the table, not its cost
    (tmp_path / "README.md").write_text("no markers here\n")
    with pytest.raises(SystemExit, match="Expected the markers"):
        report.publish(text, root=str(tmp_path))


def test_mc_dropout_takes_a_standard_split_from_the_kept_protocol_run_that_computed_it(tmp_path):
    """Boston's five MC-dropout standard splits in uci_gap.json were trained by uci_gap.py itself; the kept 100 x
    protocol run (uci_bostonHousing_100x.json, benchmarks/uci.py) holds the same numbers to the last bit, which is
    what lets `MCDropout.kept` take a standard split from it instead of training the grid again."""
    from tfvb.data import UCIFolder

    gap, methods = _load_benchmark("uci_gap"), _load_benchmark("_uci_gap_methods")
    root = os.path.join(SHARED_DATA, "uci")
    folder = UCIFolder(os.path.join(root, "bostonHousing"))
    mc = methods.MCDropout(folder, gap.parse([root, "--json", str(tmp_path / "g.json")]))
    with open(os.path.join(REPO, "benchmarks", "results", "uci_gap.json")) as f:
        trained = [r for r in json.load(f)["records"] if "reused_from" not in r
                   and (r["dataset"], r["method"], r["kind"]) == ("bostonHousing", "mc_dropout", "standard")]
    assert sorted(r["split"] for r in trained) == [0, 1, 2, 3, 4]
    for r in trained:
        kept = mc.kept("standard", r["split"])
        assert kept["reused_from"] == "uci_bostonHousing_100x.json"
        assert {k: kept[k] for k in mc.SCORED} == {k: r[k] for k in mc.SCORED}
    assert mc.kept("gap", 0) is None  # gap splits are always trained
    other = gap.parse([root, "--json", str(tmp_path / "g.json"), "--samples", "100"])
    assert methods.MCDropout(folder, other).kept("standard", 0) is None  # the kept run's settings differ
    none = gap.parse([root, "--json", str(tmp_path / "g.json"), "--kept-runs", "none"])
    assert methods.MCDropout(folder, none).kept("standard", 0) is None


def test_a_run_records_where_it_took_a_standard_split_from(tmp_path, capsys):
    """End to end: the kept run's record of standard split 0 goes into the file as it was (its own seconds), with
    `reused_from`; the gap split beside it is trained."""
    from tfvb.data import UCIFolder

    gap, methods = _load_benchmark("uci_gap"), _load_benchmark("_uci_gap_methods")
    make_folder(str(tmp_path / "toy"), rows=60, features=3, splits=2)
    kept_runs, out = tmp_path / "kept", str(tmp_path / "gap.json")
    args = [str(tmp_path), "--datasets", "toy", "--methods", "mc_dropout", "--standard-splits", "1", "--features",
            "0", "--epoch-multiplier", "10", "--samples", "100", "--validation-samples", "50", "--threads", "1",
            "--json", out, "--kept-runs", str(kept_runs)]
    settings = methods.MCDropout(UCIFolder(str(tmp_path / "toy")), gap.parse(args)).settings
    split0 = {"split": 0, "ll": -1.25, "rmse": 0.5, "epochs": 20, "dropout_rate": 0.1, "tau": 10.0,
              "tuned": {"ll": -1.2}, "coverage": {"90": {"gaussian": {"coverage": 0.875}}}, "seconds": 1234.5}
    kept_runs.mkdir()
    (kept_runs / "uci_toy.json").write_text(json.dumps({"protocol": settings, "per_split": [split0]}))
    gap.main(args)
    records = {r["kind"]: r for r in _records(out)}
    assert {k: records["standard"][k] for k in split0} == split0
    assert records["standard"]["reused_from"] == "uci_toy.json"
    assert "reused_from" not in records["gap"] and records["gap"]["epochs"] == 20
    assert "kept in uci_toy.json" in capsys.readouterr().out
    text = _load_benchmark("uci_gap_report").markdown(_records(out))
    assert "not trained a second time: toy MC dropout splits [0] from uci_toy.json." in text
