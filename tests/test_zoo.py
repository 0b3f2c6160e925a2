"""The zoo: every registered entry loads, matches its golden batch, and refuses tampered files."""

import importlib
import json
import os
import re
import shutil
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_uci import BOSTON, needs_boston

from tfvb import cli, zoo
from tfvb.demo import predictive_section, run_demo
from tfvb.demo.numbers import pm, published
from tfvb.demo.report import Report
from tfvb.zoo import driver, store

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = [n for n in zoo.list_models() if zoo.is_trained(n)]


@pytest.fixture
def zoo_copy(tmp_path, monkeypatch):
    """A writable copy of one entry, with TFVB_SAVED_MODELS pointing at it."""
    def make(name):
        shutil.copytree(os.path.join(zoo.saved_models_dir(), name), tmp_path / name)
        monkeypatch.setenv("TFVB_SAVED_MODELS", str(tmp_path))
        return tmp_path / name
    return make


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_loads_and_matches_its_golden_batch(name):
    info = zoo.info(name)
    model = zoo.load(name)
    assert type(model).__name__ == info["class"]
    assert zoo.golden_check(name, model) <= 1e-4
    # The card was written by the recipe: it says what the data was and how long training took.
    assert info["data"] and info["recipe"]["wall_time_s"] > 0 and info["metrics"]
    assert set(info["versions"]) >= {"tfvb", "tensorflow", "keras"}


@pytest.mark.parametrize("name", [n for n in NAMES if zoo.registry.get(n).family == "vae"])
def test_vae_entries_fit_after_load_and_serve(name):
    model = zoo.load(name)
    with np.load(os.path.join(zoo.saved_models_dir(), name, store.GOLDEN_FILE)) as g:
        x = g["inputs"]
    logs = model.train_on_batch(x, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert "loss" in model.evaluate(x, verbose=0, return_dict=True)
    served = zoo.load(name, format="savedmodel")
    mean = served.encode(tf.constant(x))["mean"]
    assert served.decode(mean).shape == x.shape
    assert served.sample(tf.constant(2), tf.constant(0)).shape == (2,) + x.shape[1:]


def test_unknown_name_lists_close_matches():
    with pytest.raises(KeyError, match="Did you mean: cvae_mnist"):
        zoo.load("cvae_mnst")
    assert zoo.list_models("cvae_*") == sorted(n for n in NAMES if n.startswith("cvae_"))


def test_tampered_model_file_is_refused(zoo_copy):
    folder = zoo_copy("cvae_mnist")
    with open(folder / "model.keras", "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(zoo.ArtifactError, match="Checksum mismatch.*refusing"):
        zoo.load("cvae_mnist")


def test_missing_and_incompatible_files_are_refused(zoo_copy):
    folder = zoo_copy("cvae_mnist")
    os.remove(folder / "golden.npz")
    with pytest.raises(zoo.ArtifactError, match="Expected zoo file .*golden.npz. Received: missing"):
        zoo.golden_check("cvae_mnist")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["format_version"] = 99
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(zoo.ArtifactError, match="Expected zoo format_version 1.*Received: 99"):
        zoo.load("cvae_mnist")
    (folder / "metadata.json").write_text("{not json")
    with pytest.raises(zoo.ArtifactError, match="valid JSON"):
        zoo.info("cvae_mnist")


def test_metadata_that_leaves_the_entry_or_is_malformed_is_refused(zoo_copy, tmp_path, capsys):
    folder = zoo_copy("cvae_mnist")
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the entry")
    good = json.loads((folder / "metadata.json").read_text())
    meta = {**good, "files": {**good["files"], "serving/../../secret.txt": "0" * 64}}
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(zoo.ArtifactError, match=r"Received: 'serving/../../secret.txt', a path that leaves it; "
                                                 r"refusing to open it") as info:
        zoo.load("cvae_mnist", format="savedmodel")
    assert store.sha256(outside) not in str(info.value)
    malformed = {"[" * 100_000 + "]" * 100_000: "JSON nested too deeply",
                 "[1, 2]": "Expected a JSON object of zoo metadata .*Received: a list",
                 json.dumps({**good, "files": ["model.keras"]}): "Expected `files` .*Received: list",
                 json.dumps({**good, "metrics": [1, 2]}): r"Expected `metrics` .* JSON object. Received: list \[1, 2\]",
                 json.dumps({**good, "recipe": "x"}): "Expected `recipe` .* JSON object. Received: str x",
                 json.dumps({k: v for k, v in good.items() if k != "name"}): "Expected the entry's `name` .* "
                                                                             "Received: no name"}
    for text, message in malformed.items():
        (folder / "metadata.json").write_text(text)
        with pytest.raises(zoo.ArtifactError, match=message):
            zoo.info("cvae_mnist")
        assert cli.main(["zoo", "info", "cvae_mnist"]) == 2
        assert "tfvb: error: Expected" in capsys.readouterr().err


def test_savedmodel_tampering_is_refused(zoo_copy):
    folder = zoo_copy("cvae_mnist")
    with open(folder / "serving" / "saved_model.pb", "ab") as f:
        f.write(b"x")
    with pytest.raises(zoo.ArtifactError, match="Checksum mismatch"):
        zoo.load("cvae_mnist", format="savedmodel")
    zoo.load("cvae_mnist")  # the .keras file is untouched and still loads
    # Corrupt, yet matching the checksums it was given: TensorFlow's error, as an ArtifactError.
    pb = folder / "serving" / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[:5000])
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files"][os.path.join("serving", "saved_model.pb")] = store.sha256(pb)
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(zoo.ArtifactError, match=r"Expected a readable SavedModel of 'cvae_mnist' .* Received: "):
        zoo.load("cvae_mnist", format="savedmodel")


def test_cli_list_and_info(capsys):
    assert cli.main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in NAMES)
    assert cli.main(["zoo", "info", "cvae_mnist"]) == 0
    out = capsys.readouterr().out
    assert "cvae_mnist" in out and "metrics:" in out and "sha256" in out
    assert cli.main(["zoo", "info", "nope"]) == 2
    assert "Unknown zoo model" in capsys.readouterr().err


def test_text_card_shows_a_group_of_plain_metrics_under_its_name():
    from tfvb.zoo.card import text_card

    text = text_card({"name": "m", "metrics": {"nll": 0.0474, "temperature_scaled": {"temperature": 0.557,
                      "nll": 0.0431}, "other": {"a": {"b": 1}}}})
    assert "    nll                              0.0474" in text
    assert "    temperature_scaled:\n      temperature                    0.557\n      nll " in text
    assert "other" not in text  # other groups of groups stay in metadata.json


def test_text_card_shows_standard_errors_coverage_sets_and_an_epoch_cap():
    """What a user reads in `tfvb zoo info`: each number with its ±, intervals and sets per level, and whether the
    stop rule or the epoch cap ended the training."""
    from tfvb.zoo.card import text_card

    interval = {"coverage": [0.9401, 0.0107], "mean_width": [9.741, 0.196], "splits": 20}
    sets = {"coverage": 0.90098, "coverage_sd": 0.00819, "mean_set_size": 4.1322, "score": "aps",
            "randomized": False, "rows": 5000, "splits": 100}
    text = text_card({"name": "m", "training": {"rule": "Adam", "best_epoch": 199, "epochs_run": 200,
                                                "stopped_early": False, "train_wall_time_s": 64580.0},
                      "metrics": {"accuracy": 0.9836, "accuracy_se": 0.0018, "iwae_5000_nll": 83.17,
                                  "iwae_5000_se": 0.32, "eval_wall_time_s": 283.7,
                                  "coverage_protocol": {"splits": 20, "90": {"gaussian": interval}},
                                  "conformal_sets": {"90_raps": {**sets, "score": "raps"}}}})
    assert "accuracy                         0.9836 ± 0.0018" in text and "accuracy_se" not in text
    assert "iwae_5000_nll                    83.2 ± 0.3" in text and "iwae_5000_se" not in text
    assert "eval_wall_time_s                 284 s (5 min)" in text and "training 64,580 s (17.9 h)" in text
    assert "best epoch 199 of 200 (ended by the 200-epoch cap, not by the stop rule)" in text
    assert "coverage_protocol (mean ± standard error over 20 test splits):" in text
    assert "90 % gaussian               coverage 0.940 ± 0.011, mean width 9.74 ± 0.20" in text
    assert "90_raps        raps             coverage 0.901 (SD 0.008, 100 halvings of 5000 rows), mean set size 4.13" \
        in text


def test_a_card_number_is_shown_with_its_standard_error_wherever_the_card_has_one():
    """One reading of a card's ± for `zoo info`, the README tables, the docs pages and the demo."""
    from tfvb._numbers import standard_error_key, with_standard_error

    m = {"accuracy": 0.98361, "accuracy_se": 0.0018, "iwae_5000_nll": 83.171, "iwae_5000_se": 0.32,
         "ece": 0.01134, "nll": 0.047, "nll_se": float("nan"), "flag_se": True}
    assert with_standard_error(m, "accuracy") == "0.9836 ± 0.0018"
    assert standard_error_key(m, "iwae_5000_nll") == "iwae_5000_se"
    assert with_standard_error(m, "iwae_5000_nll") == "83.2 ± 0.3"
    assert with_standard_error(m, "ece", 2) == "0.011"  # no standard error: significant digits
    assert standard_error_key(m, "nll") is None and standard_error_key(m, "flag") is None  # NaN, bool: none
    assert with_standard_error(m, "missing") == "—"


def test_cli_benchmark_on_a_slice(capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert cli.main(["zoo", "benchmark", "vae_mnist", "--limit", "20", "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["golden_max_abs_diff"] <= 1e-4
    elbo = result["metrics"]["elbo"]
    # 20 of the held-out digits: the ELBO agrees with the card within a few standard errors.
    card = zoo.info("vae_mnist")["metrics"]
    stored_se = card["elbo_se"] * np.sqrt(card["heldout_images"] / 20)
    assert abs(elbo["measured"] - elbo["stored"]) < 4 * stored_se
    # The card keeps per-image log-likelihoods: the slice is compared on the same images, NLL included.
    for key in ("iwae_5000_log_likelihood", "iwae_5000_nll"):
        assert result["metrics"][key]["verdict"].startswith("matches the card on the same 20 images"), key


def test_verdict_compares_on_the_same_images_else_by_standard_errors():
    card = {"iwae_5000_log_likelihood": -100.0, "iwae_5000_nll": 100.0, "iwae_5000_se": 1.0, "elbo": -104.0,
            "elbo_se": 1.0, "per_image": {"iwae_5000_log_likelihood": [-90.0, -110.0, -130.0]}}
    slice_of_two = {"iwae_5000_log_likelihood": -100.0, "iwae_5000_nll": 100.0, "iwae_5000_se": 10.0,
                    "log_likelihood_images": 2, "elbo": -150.0, "elbo_se": 3.0}
    assert driver.verdict("iwae_5000_log_likelihood", card, slice_of_two) == (
        "matches the card on the same 2 images (-100.000)")
    assert driver.verdict("iwae_5000_nll", card, slice_of_two) == "matches the card on the same 2 images (100.000)"
    assert driver.verdict("iwae_5000_nll", card, {**slice_of_two, "iwae_5000_nll": 101.0}).startswith("DIFFERS from")
    assert driver.verdict("elbo", card, slice_of_two) == "DIFFERS by 14.5 standard errors"
    assert driver.verdict("elbo", card, {**slice_of_two, "elbo": -105.0}) == "within 2 standard errors (0.3)"
    assert driver.verdict("iwae_5000_se", card, slice_of_two) == ""
    assert driver.verdict("active_units", {"active_units": 3}, {"active_units": 3}) == ""


def test_cli_demo_writes_report_and_pictures(tmp_path):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "cvae_mnist" in report and "Burda" in report
    pngs = {p.name for p in out.glob("*.png")}
    assert {"cvae_mnist_manifold.png", "cvae_mnist_samples.png", "iwae_mnist_reconstructions.png"} <= pngs
    for name in pngs:
        assert f"({name})" in report


_OLD_MNIST = ("10,000 real MNIST digits (5,000 class-balanced from the official train split + t10k[0:5000]): trained "
              "on digits 0-6999, evaluated on the 2000 held-out digits 8,000-9999")
vae_section = importlib.import_module("tfvb.demo.vae_section")  # tfvb.demo.vae_section is also a function's name
_MNIST_VAES = ["cvae_mnist", "iwae2_mnist", "iwae_mnist", "iwae_mnist_dreg", "vae2_mnist", "vae_mnist"]


def _vae_cards(old=()):
    """(name, card, None) of the MNIST VAE entries, the names in `old` given an older card's data description."""
    cards = {n: zoo.info(n) for n in _MNIST_VAES}
    new = cards["vae_mnist"]["data"]
    return [(n, {**c, "data": _OLD_MNIST if n in old else new}, None) for n, c in cards.items()]


def _demo_vae_section(monkeypatch, tmp_path, entries):
    monkeypatch.setattr(vae_section.evaluate, "log_likelihood",
                        lambda *a, **k: types.SimpleNamespace(mean=-90.0, standard_error=1.0))
    monkeypatch.setattr(vae_section, "_pictures", lambda *a: None)
    report = Report("t")
    vae_section.section(report, entries, str(tmp_path))
    return report


def test_demo_vae_section_ties_every_row_to_its_cards_data(monkeypatch, tmp_path):
    """Cards on different data: each description printed once with the rows it covers (a marker per row); the
    -ELBO column says its image count. Cards on one data set: one "Data:" line and no markers."""
    report = _demo_vae_section(monkeypatch, tmp_path, _vae_cards(old=("cvae_mnist", "iwae2_mnist")))
    md = report.markdown()
    new = zoo.info("vae_mnist")["data"]
    assert f"- [a] `cvae_mnist`, `iwae2_mnist`: {_OLD_MNIST}." in md
    assert f"- [b] `iwae_mnist`, `iwae_mnist_dreg`, `vae2_mnist`, `vae_mnist`: {new}." in md
    table = next(b for b in report.blocks if b[0] == "table" and b[1][0] == "model")
    rows = {r[0].split("`")[1]: r for r in table[2]}
    assert rows["iwae2_mnist"][0].endswith("[a]") and rows["vae_mnist"][0].endswith("[b]")
    elbo = table[1].index("-ELBO (digits)")
    for name, info, _ in _vae_cards():
        assert rows[name][elbo].endswith(f"({info['metrics']['heldout_images']:,})")

    md = _demo_vae_section(monkeypatch, tmp_path, _vae_cards()).markdown()
    assert md.count("Data: ") == 1 and f"Data: {new}." in md and "[a]" not in md


def test_demo_anchor_notes_name_the_entries_they_are_for(monkeypatch, tmp_path):
    """Two anchor notes (an old card's and a new one's) are both printed, each with its entries."""
    anchors = zoo.info("vae_mnist")["anchors"]
    entries = [(n, {**c, "anchors": {**anchors, "note": "trains on 7,000 digits."} if n == "iwae2_mnist" else
                    anchors if n != "cvae_mnist" else {}}, None) for n, c, _ in _vae_cards()]
    md = _demo_vae_section(monkeypatch, tmp_path, entries).markdown()
    assert "- For `iwae2_mnist`: trains on 7,000 digits." in md
    assert f"- For `iwae_mnist`, `iwae_mnist_dreg`, `vae2_mnist`, `vae_mnist`: {anchors['note']}" in md
    assert md.count("Published anchors") == 1  # the same published table, printed once
    assert "| IWAE k=50, 2 stochastic layers | 82.90 |" in md  # Burda et al. print two decimals


def test_demo_gaps_only_between_cards_on_the_same_data_and_images():
    """An NLL gap is taken only between cards on the same data, estimator and held-out images (paired image by
    image when both carry per-image values); otherwise the line says the two are not comparable and why."""
    cards = {n: c for n, c, _ in _vae_cards(old=("iwae2_mnist",))}
    markers = {n: "b" if n == "iwae2_mnist" else "a" for n in cards}

    def gaps(cards):
        report = Report("t")
        vae_section._comparisons(report, [(n, c, None) for n, c in cards.items()], markers)
        return report.blocks[-1][1]

    lines = gaps(cards)
    a, b = (np.asarray(cards[n]["metrics"]["per_image"]["iwae_5000_log_likelihood"])
            for n in ("vae_mnist", "iwae_mnist"))
    d = b - a
    assert f"NLL lower by {pm(float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))))} nats (paired" in lines[0]
    assert lines[1] == ("IWAE over the VAE, two stochastic layers: not comparable (`iwae2_mnist` and `vae2_mnist`: "
                        "trained and evaluated on different data ([b] and [a]))")
    assert not any("NLL lower by" in line for line in lines if "iwae2_mnist" in line)

    fewer = {**cards["vae_mnist"]["metrics"], "log_likelihood_images": 500}
    lines = gaps({**cards, "vae_mnist": {**cards["vae_mnist"], "metrics": fewer}})
    assert lines[0].endswith("not comparable (`iwae_mnist` and `vae_mnist`: NLLs on different held-out images "
                             "(5,000 and 500 images))")
    other_images = {**cards["vae_mnist"], "data": cards["vae_mnist"]["data"].replace("0-4999", "5000-9999")}
    assert vae_section._difference(other_images, cards["iwae_mnist"]) == (None, None, False)  # same length, not pairs
    no_per_image = {**cards["vae_mnist"], "metrics": {k: v for k, v in cards["vae_mnist"]["metrics"].items()
                                                      if k != "per_image"}}
    assert vae_section._difference(no_per_image, cards["iwae_mnist"])[2] is False


class _UniformClassifier:
    def predict_uncertainty(self, x, samples, seed):
        return {"mean": np.full((len(x), 10), 0.1), "entropy": np.full(len(x), np.log(10.0))}


def test_demo_classifier_section_says_what_the_card_columns_were_measured_on(tmp_path):
    """The card columns' images and samples come from each card, not a claim that they are the bundled digits."""
    names = ["bnn_flipout_mnist", "ensemble_mnist", "mc_dropout_mnist"]
    entries = [(n, zoo.info(n), _UniformClassifier()) for n in names]
    report = Report("t")
    predictive_section.classifier_section(report, entries, str(tmp_path))
    md = report.markdown()
    assert "on the same digits" not in md
    for name, info, _ in entries:
        m = info["metrics"]
        assert re.search(rf"`{name}`[^;]*: {m['test_images']:,} test digits \(t10k images 0-4999\) and "
                         rf"{m['ood_images']:,} out-of-distribution images \([^)]*\), {m['samples']} predictive "
                         "samples", md), name


def test_demo_prints_published_anchors_at_their_published_precision():
    """Gal's table as printed (two decimals: 0.00, 0.08 ± 0.00, 1.14 ± 0.01), never a nonzero value as 0."""
    names = [n for n in NAMES if zoo.registry.get(n).family == "regression"]
    report = Report("t")
    predictive_section.regression_section(report, [(n, zoo.info(n), None) for n in names])
    rows = {r[0]: r for r in report.blocks[-1][2]}
    assert rows["`mc_dropout_uci_naval`"][4] == "0.00 ± 0.00"
    assert rows["`mc_dropout_uci_kin8nm`"][4:7:2] == ["0.08 ± 0.00", "1.14 ± 0.01"]
    assert rows["`mc_dropout_uci_power`"][6] == "-2.80 ± 0.01"
    assert rows["`mc_dropout_uci_boston`"][4] == "2.90 ± 0.18"
    assert published(0.00078) == "0.00078" and published(0.00078, 0.0, 2) == "0.00078 ± 0.00000"
    assert published(None) == "—"


def test_cli_reports_an_interrupt_in_one_line_for_every_command(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def exit_code(argv):
        try:
            return cli.main(argv)
        except KeyboardInterrupt:  # escaped main (a traceback for the user); caught so pytest carries on
            return "traceback"

    monkeypatch.setattr(zoo, "list_models", interrupted)
    assert exit_code(["zoo", "list"]) == 130
    monkeypatch.setattr("tfvb.demo.run_demo", interrupted)
    assert exit_code(["demo", "--out", "unused"]) == 130
    assert capsys.readouterr().err == "tfvb: interrupted\n" * 2


def test_interrupted_demo_leaves_no_torn_or_stale_report(monkeypatch, tmp_path):
    """Both report files are replaced whole, after both texts are made; a run stopped before its report removes
    the previous one rather than leave it beside the new pictures."""
    old = Report("old")
    old.paragraph("old")
    old.write(str(tmp_path))
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Report, "html", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Report("new").write(str(tmp_path))
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before  # no temporary file left either

    monkeypatch.setattr(zoo, "load", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_demo(str(tmp_path), names=["cvae_mnist"])
    assert not list(tmp_path.iterdir())


def test_quick_recipe_writes_a_loadable_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("TFVB_SAVED_MODELS", str(tmp_path))
    meta = driver.train("cvae_mnist", quick=True)
    assert meta["recipe"]["quick"]
    assert meta["files"]["model.keras"] == store.sha256(tmp_path / "cvae_mnist" / "model.keras")
    model = zoo.load("cvae_mnist")
    assert isinstance(model, keras.Model) and model.latent_dim == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["cvae_mnist"]  # no staging folder left


def test_cli_benchmark_protocol_runs_gals_protocol_and_resumes(capsys, tmp_path):
    """`tfvb zoo benchmark mc_dropout_uci_<name> --protocol`: the whole protocol on the entry's folder."""
    from test_uci import make_folder

    make_folder(str(tmp_path / "uci" / "bostonHousing"), splits=3)  # 200 epochs of 1 step: seconds
    out = tmp_path / "protocol.json"
    argv = ["zoo", "benchmark", "mc_dropout_uci_boston", "--protocol", "--data-root", str(tmp_path), "--json", str(out)]
    assert cli.main(argv + ["--splits", "2"]) == 0
    printed = capsys.readouterr().out
    assert "bostonHousing split 1 (2/2)" in printed and "this run" in printed and "Gal (published)" in printed
    first = json.loads(out.read_text())
    assert first["splits_run"] == 2 and first["protocol"]["epochs"] == 200
    assert first["protocol"]["samples"] == 10_000 and first["anchor"]["ll"] == [-2.40, 0.04]

    assert cli.main(argv + ["--splits", "3", "--resume"]) == 0
    resumed = json.loads(out.read_text())
    assert resumed["splits_resumed"] == 2 and resumed["per_split"][:2] == first["per_split"]
    assert cli.main(argv + ["--splits", "3", "--resume", "--epoch-multiplier", "10"]) == 2
    assert "epochs=200 (this run: 20)" in capsys.readouterr().err

    assert cli.main(["zoo", "benchmark", "vae_mnist", "--protocol"]) == 2
    assert "mc_dropout_uci_boston" in capsys.readouterr().err
    assert cli.main(["zoo", "benchmark", "mc_dropout_uci_boston", "--splits", "2"]) == 2
    assert "Expected --protocol" in capsys.readouterr().err
    assert cli.main(["zoo", "benchmark", "mc_dropout_uci_boston", "--protocol", "--limit", "5"]) == 2  # was ignored
    assert "Expected --limit without --protocol" in capsys.readouterr().err


@needs_boston
def test_mc_dropout_recipe_reuses_only_a_matching_kept_protocol_run():
    """Split 0's grid choice comes from the kept 100 x run; a multiplier with no kept run trains its own grid."""
    from tfvb.data import uci

    recipe = driver.recipe("mc_dropout_uci_boston")
    data = uci(BOSTON, split=0)
    record, source = recipe._protocol_selection("bostonHousing", 100, 0, 10_000, 1000, data)
    assert record["split"] == 0 and source == os.path.join("benchmarks", "results", "uci_bostonHousing_100x.json")
    assert recipe._protocol_selection("bostonHousing", 100, 1, 10_000, 1000, data) == (None, None)  # other seed
    assert recipe._protocol_selection("bostonHousing", 50, 0, 10_000, 1000, data) == (None, None)  # none kept


def _zoo_table():
    """scripts/zoo_table.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("zoo_table", os.path.join(REPO, "scripts", "zoo_table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_zoo_table_is_generated_from_the_metadata():
    """The README's results tables are what scripts/zoo_table.py builds from the cards (no hand-typed numbers)."""
    module = _zoo_table()
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    assert f"{module.BEGIN}\n{module.vae_table()}\n{module.END}" in readme
    assert f"{module.CLASSIFIERS_BEGIN}\n{module.classifier_table()}\n{module.CLASSIFIERS_END}" in readme
    assert f"{module.COVERAGE_BEGIN}\n{module.coverage_table()}\n{module.COVERAGE_END}" in readme
    with open(os.path.join(REPO, "docs", "calibration.md")) as f:
        page = f.read()
    assert f"{module.TEMPERATURE_BEGIN}\n{module.temperature_table()}\n{module.TEMPERATURE_END}" in page


def test_paired_differences_are_taken_image_by_image_on_the_same_images(monkeypatch):
    """The zoo table's paired NLL differences: the mean and standard error of the per-image differences of two
    cards measured on the same images, far tighter than either card's own ±; cards on other images are not paired."""
    module = _zoo_table()
    rows = {row.split(" | ")[0]: row for row in module.paired_rows() if row.startswith("| `")}
    first, second = "iwae_fashion_mnist", "vae_fashion_mnist"
    a, b = (np.asarray(zoo.info(n)["metrics"]["per_image"]["iwae_5000_log_likelihood"]) for n in (first, second))
    diff = b - a
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    cells = rows[f"| `{first}` − `{second}`"].split(" | ")
    assert cells[1] == f"{diff.mean():+.2f} ± {se:.2f}" and cells[2] == "t10k images 0-4999 (5,000)"
    assert se < zoo.info(first)["metrics"]["iwae_5000_se"] / 5
    infos = {n: zoo.info(n) for n in (first, second)}
    infos[second] = {**infos[second], "data": infos[second]["data"].replace("images 0-4999", "images 5000-9999")}
    original = module.zoo.info
    monkeypatch.setattr(module.zoo, "info", lambda name: infos.get(name) or original(name))
    assert not any(r.startswith(f"| `{first}` − `{second}`") for r in module.paired_rows())


@pytest.mark.slow
def test_demo_html_report_renders_in_a_real_browser(tmp_path):
    """The self-contained report.html, opened from disk in headless Chromium: title, tables, every picture."""
    import re

    from _browser import browser, chromium

    out = tmp_path / "demo"
    assert (
        cli.main(["demo", "--out", str(out), "--models", "cvae_mnist", "bnn_flipout_mnist", "mc_dropout_uci_boston"])
        == 0
    )
    html = (out / "report.html").read_text()
    dom = browser(chromium(), tmp_path / "profile", "--dump-dom", (out / "report.html").as_uri())
    assert "<title>tfvb demo: pretrained zoo models</title>" in dom
    assert dom.count("<table") >= 3 and "cvae_mnist" in dom and "mc_dropout_uci_boston" in dom
    images = re.findall(r"<img[^>]*src=\"data:image/png;base64,", dom)
    assert len(images) == html.count("<img") == len(list(out.glob("*.png")))  # all inline, none missing
    shot = tmp_path / "report.png"
    browser(
        chromium(),
        tmp_path / "profile",
        "--hide-scrollbars",
        "--window-size=1200,900",
        f"--screenshot={shot}",
        (out / "report.html").as_uri(),
    )
    from matplotlib import image

    pixels = image.imread(str(shot))[..., :3].mean(axis=-1)
    assert pixels.shape == (900, 1200) and (pixels < 0.3).mean() > 0.002 and np.median(pixels) > 0.9


def test_no_card_records_a_machine_path():
    """Cards travel with the wheel: data and run folders are named relative to the package or the data root."""
    pattern = re.compile(r"(/tmp/|/work/|/home/|/root/|/Users/|[A-Za-z]:\\\\|\.\./)")
    for name in zoo.list_models():
        if zoo.is_trained(name):
            with open(os.path.join(zoo.folder(name), "metadata.json")) as f:
                text = f.read()
            assert not pattern.search(text), (name, pattern.search(text).group(0))


def test_evaluate_again_rewrites_the_metrics_and_keeps_the_training_record(zoo_copy, tmp_path, monkeypatch):
    """`tfvb zoo evaluate NAME`: the stored weights measured again by the recipe's `evaluate_stored`."""
    folder = zoo_copy("vae_fashion_mnist")
    before = zoo.info("vae_fashion_mnist")
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "fashion_mnist.py").write_text(
        "import numpy as np, tfvb\n"
        "def evaluate_stored(model, data_root=None, dataset=None, **args):\n"
        "    x, _ = tfvb.data.fashion_mnist_sample()\n"
        "    elbo = tfvb.evaluate.log_likelihood(model, tfvb.data.binarize_fixed(x[:50]), k=1, verbose=0)\n"
        "    return ({'elbo': elbo.mean, 'heldout_images': 50, 'epochs_to_convergence': None, 'epoch_cap': 9},\n"
        "            'fashion t10k images 0-49', None, {'anchors': {'source': 'the recipe of today'}})\n")
    monkeypatch.setenv("TFVB_ZOO_RECIPES", str(recipes))
    assert cli.main(["zoo", "evaluate", "vae_fashion_mnist"]) == 0
    after = zoo.info("vae_fashion_mnist")
    assert after["data"] == "fashion t10k images 0-49" and after["metrics"]["heldout_images"] == 50
    assert after["evaluated_again"]["previous_data"] == before["data"]
    assert after["training"] == before["training"]  # the run that made the weights is still described
    assert after["metrics"]["train_wall_time_s"] == before["metrics"]["train_wall_time_s"]
    # The recipe's own reading of the training record wins over the card's, and the fields it replaces are replaced.
    assert after["metrics"]["epochs_to_convergence"] is None and after["metrics"]["epoch_cap"] == 9
    assert after["anchors"] == {"source": "the recipe of today"}
    assert zoo.golden_check("vae_fashion_mnist") <= 1e-4  # the same weights, every file re-checksummed
    assert os.path.isdir(folder)
    # A recipe that now reads the run as converged: the card keeps no `epoch_cap` from the capped reading.
    (recipes / "fashion_mnist.py").write_text(
        "def evaluate_stored(model, data_root=None, dataset=None, **args):\n"
        "    return {'elbo': -1.0, 'epochs_to_convergence': 7}, 'fashion', None\n")
    assert cli.main(["zoo", "evaluate", "vae_fashion_mnist"]) == 0
    again = zoo.info("vae_fashion_mnist")["metrics"]
    assert again["epochs_to_convergence"] == 7 and "epoch_cap" not in again
    assert again["train_wall_time_s"] == before["metrics"]["train_wall_time_s"]
    with pytest.raises(ValueError, match="evaluate_stored"):
        (recipes / "fashion_mnist.py").write_text("")
        driver.evaluate_again("vae_fashion_mnist")


def test_repackage_gives_an_old_entry_the_serving_signatures_and_keeps_its_weights_and_card(zoo_copy):
    """`tfvb zoo repackage NAME`: the stored weights and card written again with today's serving export."""
    # The rewritten file must load again with its optimizer, and the serving export carry the signatures every
    # entry now ships. (Every stored entry now carries its optimizer's state; the old cvae_mnist card, which did
    # not, exercised repackage's fresh-optimizer branch until its retraining.)
    zoo_copy("cvae_mnist")
    before = zoo.info("cvae_mnist")
    assert cli.main(["zoo", "repackage", "cvae_mnist"]) == 0
    after = zoo.info("cvae_mnist")
    assert {"serve", "predict_uncertainty", "predict_samples"} <= set(zoo.load("cvae_mnist", format="savedmodel")
                                                                        .signatures)
    assert after["metrics"] == before["metrics"] and after.get("training") == before.get("training")
    assert after["data"] == before["data"] and after["repackaged"]["golden_max_abs_diff"] <= 1e-4
    assert zoo.golden_check("cvae_mnist", zoo.load("cvae_mnist")) <= 1e-4


@pytest.mark.parametrize("name", [n for n in NAMES if zoo.registry.get(n).input_range is not None])
def test_image_classifiers_refuse_unscaled_pixels(name):
    from tfvb.data import mnist_sample

    images = mnist_sample()[0][:4]
    model = zoo.load(name)
    assert model.input_range == (0.0, 1.0)
    expected = r"Expected `inputs` in \[0, 1\], the range the model was trained on \(images: scale pixels by 1/255\)"
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
        model.predict_uncertainty(images * 255.0, samples=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
        model(images * 255.0)
    assert model.predict_uncertainty(images, samples=2)["mean"].shape == (4, 10)  # scaled pixels: fine


def test_every_image_classifier_of_the_zoo_knows_its_input_range():
    # MC dropout's and the ensemble's entries took 0-255 pixels in silence (their OOD AUROC fell 0.03-0.05).
    assert {n for n in NAMES if zoo.registry.get(n).family == "bnn"} == {
        n for n in NAMES if zoo.registry.get(n).input_range == (0.0, 1.0)}


def _zoo_module(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"zoo_{name}", os.path.join(REPO, "zoo", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_classifier_cards_name_the_point_prediction_they_measure(mnist_sample):
    """MC dropout's card reports the network with dropout off (its `predict` is one random pass): deterministic,
    and what a pass of the same weights computes when the dropout rate vanishes; mean-field VI's reports the
    posterior mean weights (`predict`)."""
    from tfvb.models import BNNClassifier, MCDropoutClassifier

    recipe = _zoo_module("bnn_flipout_mnist")
    images, labels = mnist_sample
    x, y = images[300:364], labels[300:364]
    model = MCDropoutClassifier(10, hidden_units=(16, 8), dropout_rate=0.5, architecture="lenet", seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(images[:256], labels[:256], batch_size=64, epochs=2, verbose=0)
    first, again = recipe.point_accuracy(model, x, y), recipe.point_accuracy(model, x, y)
    assert list(first) == ["accuracy_dropout_off"] and first == again
    assert np.abs(model.predict(x, verbose=0) - model.predict(x, verbose=0)).max() > 1e-3  # predict is random
    vanishing = MCDropoutClassifier(10, hidden_units=(16, 8), dropout_rate=1e-7, architecture="lenet", seed=0)
    vanishing(x[:1])
    vanishing.set_weights(model.get_weights())
    one_pass = np.mean(vanishing.predict(x, verbose=0).argmax(1) == y)
    assert first["accuracy_dropout_off"] == pytest.approx(one_pass)
    bnn = BNNClassifier(10, hidden_units=(8,), seed=0)
    bnn.compile("adam")
    bnn.fit(images[:128], labels[:128], batch_size=64, epochs=1, verbose=0)
    assert recipe.point_accuracy(bnn, x, y) == {
        "accuracy_posterior_mean": float(np.mean(bnn.predict(x, verbose=0).argmax(1) == y))}


def test_classifier_cards_report_their_metrics_again_after_temperature_scaling(mnist_sample):
    """`temperature_scaled` on a classifier card: T fitted by NLL on the early-stopping split, and the held-out
    metrics of the seeded draws with every draw's logits divided by T (recomputed here by hand)."""
    from tfvb.calibrate import temperature_scale
    from tfvb.models import BNNClassifier

    recipe = _zoo_module("bnn_flipout_mnist").recipe
    images, labels = mnist_sample
    bnn = BNNClassifier(10, hidden_units=(16,), seed=0)
    bnn.compile(keras.optimizers.Adam(1e-2))
    bnn.fit(images[:256], labels[:256], batch_size=64, epochs=2, verbose=0)
    val, test, ood = (images[256:456], labels[256:456]), (images[456:656], labels[456:656]), images[656:856]
    out = recipe.temperature_scaled_metrics(bnn, val, test, ood, samples=8)
    assert out["temperature"] == pytest.approx(temperature_scale(bnn, *val, samples=8, seed=0).temperature)
    assert out["calibration_rows"] == 200 and out["test_images"] == 200 and "conformal_sets" not in out
    logits = np.log(bnn.predict_samples(test[0], samples=8, seed=0).astype("float64")) / out["temperature"]
    probs = np.mean(np.exp(logits - logits.max(-1, keepdims=True)) /
                    np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True), axis=0)
    assert out["nll"] == pytest.approx(-np.mean(np.log(probs[np.arange(200), test[1]])), rel=1e-5)
    assert out["accuracy"] == np.mean(probs.argmax(1) == test[1])
    assert 0.0 <= out["ece"] <= 1.0 and 0.0 <= out["ood_auroc_entropy"] <= 1.0
