"""The zoo's results tables, built from the entries' metadata.json (never typed by hand).

    .venv/bin/python scripts/zoo_table.py            # print the tables
    .venv/bin/python scripts/zoo_table.py --readme   # rewrite them in README.md and docs/calibration.md
"""

import argparse
import os
import re
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

from _publish import publish  # noqa: E402

from tfvb import zoo  # noqa: E402
from tfvb._numbers import with_standard_error  # noqa: E402
from tfvb.demo.numbers import plain, pm, seconds  # noqa: E402
from tfvb.demo.numbers import published as as_published  # noqa: E402
from tfvb.demo.predictive_section import CLASSIFIER_ANCHOR  # noqa: E402

BEGIN, END = "<!-- zoo-table:begin (scripts/zoo_table.py) -->", "<!-- zoo-table:end -->"
CLASSIFIERS_BEGIN = "<!-- zoo-classifiers:begin (scripts/zoo_table.py) -->"
CLASSIFIERS_END = "<!-- zoo-classifiers:end -->"
COVERAGE_BEGIN = "<!-- zoo-coverage:begin (scripts/zoo_table.py) -->"
COVERAGE_END = "<!-- zoo-coverage:end -->"
TEMPERATURE_BEGIN = "<!-- zoo-temperature:begin (scripts/zoo_table.py) -->"
TEMPERATURE_END = "<!-- zoo-temperature:end -->"
#: The comparisons the zoo's VAE-family entries exist for: (entry, the entry it should beat).
PAIRS = (("iwae_mnist", "vae_mnist"), ("iwae2_mnist", "vae2_mnist"), ("iwae_mnist_dreg", "iwae_mnist"),
         ("vae2_mnist", "vae_mnist"), ("cvae_mnist_l16", "vae_mnist"), ("iwae_fashion_mnist", "vae_fashion_mnist"),
         ("cvae_fashion_mnist", "vae_fashion_mnist"), ("iwae_fashion_mnist", "cvae_fashion_mnist"))


def vae_table():
    rows = ["| entry | trained on | epochs to convergence (run) | train time | held-out NLL, IWAE-5000 "
            "| jackknife NLL | active units | published |", "|---|---|---|---|---|---|---|---|"]
    for name in zoo.list_models():
        entry = zoo.registry.get(name)
        if entry.family != "vae" or not zoo.is_trained(name):
            continue
        info = zoo.info(name)
        m, t = info["metrics"], info.get("training", {})
        k = m.get("log_likelihood_k", 5000)
        images = m.get("log_likelihood_images")
        rows.append(f"| `{name}` | {trained_on(info)} | {t.get('best_epoch', '—')} ({t.get('epochs_run', '—')}) "
                    f"| {seconds(t.get('train_wall_time_s'))} | {with_standard_error(m, f'iwae_{k}_nll')} "
                    f"({plain(images)} images) | {pm(m.get(f'jackknife_{k}_nll'), m.get(f'iwae_{k}_se'))} "
                    f"| {plain(m.get('active_units'))} | {published(info)} |")
    rows += ["", *paired_rows(), "", *anchor_rows()]
    return "\n".join(rows)


def _held_out(info):
    """(dataset, the images a card's log-likelihoods were measured on, their per-image values) or None."""
    values = ((info.get("metrics") or {}).get("per_image") or {}).get("iwae_5000_log_likelihood")
    where = re.search(r"evaluated on ([^(;]*)", info.get("data", ""))
    return (info.get("dataset"), where.group(1).strip(), np.asarray(values, np.float64)) if values and where else None


def paired_rows():
    """NLL differences between entries measured on the same images, paired image by image (the images'
    spread in difficulty cancels, so a difference far below either entry's ± is resolved)."""
    rows = []
    for a, b in PAIRS:
        if not (zoo.is_trained(a) and zoo.is_trained(b)):
            continue
        infos = zoo.info(a), zoo.info(b)
        if any("old card" in trained_on(info) for info in infos):
            continue
        ha, hb = (_held_out(info) for info in infos)
        if ha is None or hb is None or ha[:2] != hb[:2] or len(ha[2]) != len(hb[2]):
            continue
        diff = hb[2] - ha[2]  # NLL(a) - NLL(b) = log p_b - log p_a per image
        se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        rows.append(f"| `{a}` − `{b}` | {float(diff.mean()):+.2f} ± {se:.2f} | {ha[1]} ({plain(len(diff))}) "
                    f"| {float(np.mean(diff < 0)):.2f} |")
    if not rows:
        return []
    return ["Paired differences (held-out NLL of one entry minus another's, image by image on the same images; "
            "negative: the first is better):", "",
            "| entries | NLL difference, paired | images | share of images the first is better on |",
            "|---|---|---|---|", *rows]


def trained_on(info):
    """The training set in a few words, from the card's own description."""
    data = info.get("data", "")
    if data.startswith("the official 60,000 MNIST"):
        return "MNIST, 60k"
    if info.get("dataset") == "mnist":
        return "MNIST, 7-8k digits (old card)"
    return info.get("dataset", "?").replace("_", "-").replace("fashion-mnist", "Fashion-MNIST, 60k")


def published(info):
    """The published number this entry reproduces, where its card names one, and how far above it this entry is."""
    entry = (info.get("anchors") or {}).get("entry")
    if not entry:
        return "—"
    m = info.get("metrics") or {}
    ours = m.get(f"iwae_{m.get('log_likelihood_k', 5000)}_nll")
    above = f"; ours − it {ours - entry['nll']:+.2f}" if isinstance(ours, (int, float)) else ""
    return f"{as_published(entry['nll'], decimals=2)} ({entry['source'].split(' (')[0]}{above})"


def anchor_rows():
    """The published MNIST numbers the cards carry, with the data they were trained on.

    The note comes from a card trained on the official 60,000 digits when there is one (cards from
    before they were available carry the old note on 7,000 digits)."""
    cards = [zoo.info(name) for name in zoo.list_models() if zoo.is_trained(name)]
    cards.sort(key=lambda info: "60,000" not in str(info.get("data", "")))
    for info in cards:
        anchors = info.get("anchors") or {}
        if anchors.get("table"):
            return (["| published (MNIST) | test NLL | source | trained on |", "|---|---|---|---|"]
                    + [f"| {r['model']} | {as_published(r['nll'], decimals=2)} | {r['source']} | {r['data']} |"
                       for r in anchors["table"]]
                    + ["", anchors.get("note", "")])
    return []


def epochs_cell(info):
    """'859 (909)': the best epoch (epochs run) of a run the stop rule ended; a run the epoch cap ended says so."""
    t = info.get("training", {})
    best, run = t.get("best_epoch", "—"), t.get("epochs_run", info.get("epochs", "—"))
    if t.get("stopped_early") is False:
        return f"— (best {best} of a {run}-epoch cap)"
    return f"{best} ({run})"


def classifier_table():
    """The MNIST classifiers side by side (held-out digits, Fashion-MNIST as out-of-distribution)."""
    rows = ["| entry | trained on | epochs to convergence (run) | train time | accuracy | NLL | Brier | ECE (15 bins) "
            "| OOD AUROC (entropy) | 90 % sets, coverage / mean size: APS; RAPS "
            "| temperature-scaled: T / NLL / ECE | published (accuracy / NLL / ECE) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in zoo.list_models():
        entry = zoo.registry.get(name)
        if entry.family != "bnn" or not zoo.is_trained(name):
            continue
        info = zoo.info(name)
        m, t = info["metrics"], info.get("training", {})
        anchor = (info.get("anchors") or {}).get(CLASSIFIER_ANCHOR.get(info.get("class")), {})
        ref = " / ".join(as_published(anchor.get(k), decimals=3) for k in ("accuracy", "nll", "ece"))
        images = f" ({plain(m['test_images'])} digits)" if m.get("test_images") else ""
        sets = m.get("conformal_sets") or {}
        sets = "; ".join(f"{sets[k]['coverage']:.3f} / {sets[k]['mean_set_size']:.2f}" for k in ("90", "90_raps")
                         if k in sets) or "—"
        scaled = m.get("temperature_scaled")
        scaled = " / ".join(plain(scaled[k]) for k in ("temperature", "nll", "ece")) if scaled else "—"
        rows.append(f"| `{name}` | {trained_on(info)} | {epochs_cell(info)} "
                    f"| {seconds(t.get('train_wall_time_s', m.get('train_seconds')))} "
                    f"| {with_standard_error(m, 'accuracy')}{images} | "
                    + " | ".join(with_standard_error(m, k) for k in ("nll", "brier", "ece", "ood_auroc_entropy"))
                    + f" | {sets} | {scaled} "
                    f"| {ref if anchor else '—'} |")
    return "\n".join(rows)


def temperature_table():
    """The classifiers' held-out numbers as trained and after temperature scaling (cards' `temperature_scaled`)."""
    rows = ["| entry | $\\hat T$ | NLL as trained → scaled | ECE (15 bins) as trained → scaled | accuracy |",
            "|---|---|---|---|---|"]
    for name in zoo.list_models():
        m = zoo.info(name).get("metrics", {}) if zoo.is_trained(name) else {}
        scaled = m.get("temperature_scaled")
        if scaled:
            rows.append(f"| `{name}` | {plain(scaled['temperature'])} | "
                        + " | ".join(f"{plain(m.get(k))} → {plain(scaled.get(k))}" for k in ("nll", "ece", "accuracy"))
                        + " |")
    return "\n".join(rows)


def _interval_cells(coverage, level):
    """'coverage / width' of the Gaussian, absolute and normalized conformal intervals at `level` ("90", "95"), or
    dashes (over several splits: 'mean ± standard error over the splits / mean width')."""
    level = (coverage or {}).get(level) or {}
    cells = []
    for kind in ("gaussian", "conformal_absolute", "conformal_normalized"):
        c = level.get(kind)
        if c is None:
            cells.append("—")
            continue
        width = c["mean_width"][0] if isinstance(c["mean_width"], list) else c["mean_width"]
        if isinstance(c["coverage"], list):  # [mean, standard error] over the splits
            mean, se = c["coverage"]
            cells.append(f"{pm(mean, se) if se > 0 else f'{mean:.3f} ± 0'} / {plain(width)}")
        else:
            cells.append(f"{c['coverage']:.3f} / {plain(width)}")
    return cells


#: The prediction sets a classifier card measures: (key suffix, score, u).
SET_ROWS = (("", "APS", "plain (u = 1)"), ("_randomized", "APS", "randomized"), ("_raps", "RAPS", "plain (u = 1)"))


def coverage_table():
    """90 % and 95 % intervals of the regression entries and sets of the classifiers, from the cards."""
    rows = ["| entry | measured on | nominal | Gaussian: coverage / width | conformal, absolute "
            "| conformal, normalized |", "|---|---|---|---|---|---|"]
    for name in zoo.list_models():
        if not zoo.is_trained(name):
            continue
        m = zoo.info(name).get("metrics", {})
        measured = []
        if m.get("coverage_protocol"):
            measured.append((f"the protocol's {m['coverage_protocol']['splits']} test splits", m["coverage_protocol"]))
        if m.get("coverage_split0"):
            measured.append(("split 0's test rows", m["coverage_split0"]))
        elif m.get("coverage"):
            measured.append((f"test splits 0-{m['coverage']['splits'] - 1}", m["coverage"]))
        for where, c in measured:
            for level in ("90", "95"):
                if level in c:
                    rows.append(f"| `{name}` | {where} | 0.{level} | " + " | ".join(_interval_cells(c, level)) + " |")
    rows += ["", "| classifier | measured on | score | u | 90 %: coverage ± SD | mean set size "
             "| 95 %: coverage ± SD | size |", "|---|---|---|---|---|---|---|---|"]
    for name in zoo.list_models():
        if not zoo.is_trained(name):
            continue
        sets = zoo.info(name).get("metrics", {}).get("conformal_sets") or {}
        for suffix, score, kind in SET_ROWS:
            if f"90{suffix}" not in sets:
                continue
            a, b = sets[f"90{suffix}"], sets[f"95{suffix}"]
            rows.append(f"| `{name}` | t10k 0-{a['rows'] - 1}, {a['splits']} random halvings | {score} | {kind} | "
                        f"{a['coverage']:.3f} ± {a['coverage_sd']:.3f} | {a['mean_set_size']:.2f} "
                        f"| {b['coverage']:.3f} ± {b['coverage_sd']:.3f} | {b['mean_set_size']:.2f} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args()
    tables = {(BEGIN, END): vae_table(), (CLASSIFIERS_BEGIN, CLASSIFIERS_END): classifier_table(),
              (COVERAGE_BEGIN, COVERAGE_END): coverage_table()}
    docs = {(TEMPERATURE_BEGIN, TEMPERATURE_END): temperature_table(),
            (COVERAGE_BEGIN, COVERAGE_END): tables[COVERAGE_BEGIN, COVERAGE_END]}
    if not args.readme:
        print("\n\n".join([*tables.values(), *docs.values()]))
        return
    for page, blocks in (("README.md", tables), (os.path.join("docs", "calibration.md"), docs)):
        publish(os.path.join(REPO, page), blocks)
        print(f"rewrote the zoo tables in {page}")


if __name__ == "__main__":
    main()
