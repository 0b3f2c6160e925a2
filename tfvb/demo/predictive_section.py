"""The demo's sections on predictive entries: classifiers re-measured on the bundled digits (accuracy,
NLL, calibration, out-of-distribution detection), regressors' UCI scores beside Gal's table."""

import os
import re

import numpy as np

from tfvb import data, evaluate
from tfvb._numbers import with_standard_error
from tfvb.demo.numbers import plain, pm, proportion, published

#: A card's accuracy / NLL / ECE without a standard error (old cards): significant digits shown.
_SIGNIFICANT = {"accuracy": 4, "nll": 3, "ece": 2}

SAMPLES = 50
#: Gal's table prints two decimals (0.00: below 0.005); see tfvb.uci_protocol.anchors.
_GAL_DECIMALS = 2


def classifier_section(report, entries, out):
    """`entries`: [(name, info, model)] of MNIST classifiers."""
    digits, labels = data.mnist_sample()
    fashion, _ = data.fashion_mnist_sample()
    report.heading("Bayesian classifiers on MNIST: accuracy, calibration, out-of-distribution detection")
    report.paragraph(f"Measured now on the {len(digits):,} held-out digits bundled with tfvb, with "
                     f"Fashion-MNIST's {len(fashion):,} bundled test images as out-of-distribution inputs; "
                     f"{SAMPLES} predictive samples per input (an ensemble uses its members). "
                     + _card_columns(entries))
    rows, figures = [], []
    for name, info, model in entries:
        u_in = model.predict_uncertainty(digits, samples=SAMPLES, seed=0)
        u_out = model.predict_uncertainty(fashion, samples=SAMPLES, seed=0)
        probs = np.asarray(u_in["mean"], np.float64)
        correct = np.argmax(probs, -1) == labels
        acc, acc_se = proportion(int(correct.sum()), len(labels))
        nll = -np.log(evaluate.true_class_probabilities(probs, labels))
        ece = evaluate.expected_calibration_error(probs, labels)
        auroc = evaluate.ood_auroc(u_in["entropy"], u_out["entropy"])
        card = info.get("metrics", {})
        rows.append([f"`{name}`", info.get("summary", ""), pm(acc, acc_se),
                     pm(float(nll.mean()), float(nll.std(ddof=1) / np.sqrt(len(nll)))),
                     plain(ece, 2), plain(auroc, 3),
                     " / ".join(with_standard_error(card, k, _SIGNIFICANT[k]) for k in _SIGNIFICANT),
                     _anchor(info)])
        path = os.path.join(out, f"{name}_reliability.png")
        evaluate.reliability_diagram(probs, labels, path=path, title=f"{name}: reliability")
        figures.append(path)
    report.table(["model", "what", "accuracy", "NLL (nats)", "ECE (15 bins)", "OOD AUROC (entropy)",
                  "card: accuracy / NLL / ECE", "published: accuracy / NLL / ECE"], rows)
    anchors = next((info.get("anchors") for _, info, _ in entries if info.get("anchors")), None)
    if anchors:
        report.paragraph(f"Published anchors ({anchors.get('source', '')}):")
        report.bullets(f"{k.replace('_', ' ')}: " + ", ".join(f"{a} {published(b, decimals=3)}" for a, b in v.items())
                       for k, v in anchors.items() if isinstance(v, dict))
        if anchors.get("note"):
            report.paragraph(anchors["note"])
    report.figures(figures, caption="Reliability diagrams of the bundled digits: bar labels are the number of "
                                    "digits in each confidence bin.")


#: The published row of the cards' anchors each kind of classifier stands beside.
CLASSIFIER_ANCHOR = {"BNNClassifier": "mean_field_vi", "DeepEnsemble": "ensemble_of_10"}


def _anchor(info):
    """The published accuracy / NLL / ECE this kind of model stands beside (uncertainty-baselines), or '—'."""
    anchor = (info.get("anchors") or {}).get(CLASSIFIER_ANCHOR.get(info.get("class")))
    if not isinstance(anchor, dict):
        return "—"
    return " / ".join(published(anchor.get(k), decimals=3) for k in ("accuracy", "nll", "ece"))


def _card_columns(entries):
    """The sentence saying what the card columns were measured on, from the cards' own fields."""
    groups = {}
    for name, info, _ in entries:
        m = info.get("metrics", {})
        where = re.search(r"evaluated on ([^(;]*)", info.get("data", ""))
        ood = re.search(r"OOD: ([^;]*)", info.get("data", ""))
        what = (f"{plain(m.get('test_images'))} test digits" + (f" ({where.group(1).strip()})" if where else "")
                + f" and {plain(m.get('ood_images'))} out-of-distribution images"
                + (f" ({ood.group(1).strip()})" if ood else "") + f", {plain(m.get('samples'))} predictive samples")
        groups.setdefault(what, []).append(name)
    if len(groups) == 1:
        return f"The card columns are the recipe's own measurement, on its card's data: {next(iter(groups))}."
    return ("The card columns are each recipe's own measurement, on its card's data: "
            + "; ".join(", ".join(f"`{n}`" for n in names) + f": {what}" for what, names in groups.items()) + ".")


def regression_section(report, entries):
    """`entries`: [(name, info, model)] of UCI regressors (their data is not bundled: card values)."""
    report.heading("Regression on the UCI benchmark (Gal & Ghahramani's protocol)")
    report.paragraph("From the cards (the UCI data sets are not bundled with tfvb; `tfvb zoo benchmark NAME` "
                     "re-measures them in a checkout with the shared data). Mean ± standard error over the "
                     "standard splits; test log-likelihood in nats per point, higher is better. Gal's columns "
                     "as his table prints them (two decimals; 0.00 is below 0.005).")
    rows = []
    for name, info, _ in entries:
        m, anchors = info.get("metrics", {}), info.get("anchors", {})
        table = (m.get("protocol_table") or {}).get("faithful_100x_epochs")
        if table:
            splits, rmse, ll = table["splits_run"], table["rmse"], table["ll"]
        elif "rmse_se" in m:
            splits, rmse, ll = m.get("splits"), (m["rmse"], m["rmse_se"]), (m["test_ll"], m["test_ll_se"])
        else:
            continue
        gal = anchors.get("gal_updated") or {"rmse": [anchors.get("rmse"), anchors.get("rmse_se")],
                                             "ll": [anchors.get("test_ll"), anchors.get("test_ll_se")]}
        rows.append([f"`{name}`", info["dataset"], plain(splits), pm(*rmse), published(*gal["rmse"], _GAL_DECIMALS),
                     pm(*ll), published(*gal["ll"], _GAL_DECIMALS)])
    report.table(["model", "data", "splits", "RMSE", "Gal's RMSE", "test LL", "Gal's test LL"], rows)
