"""The demo's section on the VAE-family entries: scores beside the papers, learning curves, pictures."""

import json
import math
import os

import numpy as np

from tfvb import data, evaluate, plots
from tfvb.demo.numbers import decimal_places, plain, pm, published, seconds

_DATA = {"mnist": ("MNIST", "digits"), "fashion_mnist": ("Fashion-MNIST", "images")}
_RECHECK_IMAGES = 500


def bundled_images(dataset):
    """The held-out images that ship with tfvb for a data set."""
    if dataset == "mnist":
        return data.mnist_sample()[0]
    if dataset == "fashion_mnist":
        return data.fashion_mnist_sample()[0]
    raise ValueError(f"Expected 'mnist' or 'fashion_mnist'. Received: dataset={dataset!r}")


def _architecture(info):
    c = info.get("constructor", {})
    if info.get("class") == "CVAE" or c.get("architecture") == "conv":
        return f"conv, {c.get('latent_dim')}-D latent"
    layers = "2 stochastic layers" if c.get("stochastic_layers") == 2 else "1 stochastic layer"
    grad = ", DReG" if c.get("gradient") == "dreg" else ""
    return f"MLP, {layers}, k={c.get('k')}{grad}"


def _nll(metrics, key):
    k = metrics.get("log_likelihood_k", 5000)
    return metrics.get(f"{key}_{k}_nll"), metrics.get(f"iwae_{k}_se")


def section(report, entries, out):
    """`entries`: [(name, info, model)] of one data set's VAE-family models (all trained)."""
    dataset = entries[0][1]["dataset"]
    label, unit = _DATA[dataset]
    images = bundled_images(dataset)
    xb = data.binarize_fixed(images[:_RECHECK_IMAGES], seed=0)
    report.heading(f"Variational autoencoders on {label}")
    markers = _data(report, entries)
    rows = []
    for name, info, model in entries:
        m, training = info.get("metrics", {}), info.get("training", {})
        nll, se = _nll(m, "iwae")
        jack, _ = _nll(m, "jackknife")
        if jack is None and m.get("jackknife_5000_log_likelihood") is not None:
            jack = -m["jackknife_5000_log_likelihood"]
        now = evaluate.log_likelihood(model, xb, k=1, verbose=0, seed=0)
        rows.append([
            f"`{name}`" + (f" [{markers[name]}]" if markers[name] else ""), _architecture(info),
            f"{training.get('best_epoch', '—')} / {training.get('epochs_run', info.get('epochs', '—'))}",
            seconds(training.get("train_wall_time_s", m.get("train_wall_time_s"))),
            f"{pm(nll, se)} ({plain(m.get('log_likelihood_images'))})",
            pm(jack, se),
            f"{pm(-m['elbo'] if 'elbo' in m else None, m.get('elbo_se'))} ({plain(m.get('heldout_images'))})",
            plain(m.get("active_units")),
            pm(-now.mean, now.standard_error),
            plain(((info.get("anchors") or {}).get("entry") or {}).get("nll")),
        ])
    report.table(["model", "architecture", "best / run epochs", "train time",
                  f"NLL, IWAE-5000 ({unit})", "NLL, jackknife", f"-ELBO ({unit})", "active units",
                  f"-ELBO now ({_RECHECK_IMAGES} bundled {unit})", "published NLL"], rows)
    report.paragraph("Nats per image, lower is better; ± is one standard error over the held-out images. "
                     "The -ELBO-now column is measured now, on the images bundled with tfvb, and agrees with "
                     "the card's -ELBO within its standard errors when the model is the one the card describes; "
                     "the last column is the published number the entry reproduces (the anchors below).")
    _comparisons(report, entries, markers)
    _anchors(report, entries)
    for name, info, model in entries:
        _pictures(report, name, info, model, xb, out)


def _data(report, entries):
    """Print the data the cards describe; returns {name: marker}, '' when every card is on the same data.

    Cards written at different times can describe different training and held-out images: each distinct
    description is printed once, with a marker ([a], [b], ...) that the table repeats after the model's name.
    """
    groups = {}
    for name, info, _ in entries:
        groups.setdefault(info.get("data", "?"), []).append(name)
    if len(groups) == 1:
        report.paragraph(f"Data: {next(iter(groups))}.")
        return {name: "" for name, _, _ in entries}
    letters = dict(zip(groups, "abcdefghijklmnopqrstuvwxyz"))
    report.paragraph("Data: these cards were trained and evaluated on different data (the letter after a model's "
                     "name says which); numbers on different data are not compared below.")
    report.bullets(f"[{letters[d]}] " + ", ".join(f"`{n}`" for n in names) + f": {d}." for d, names in groups.items())
    return {name: letters[info.get("data", "?")] for name, info, _ in entries}


def _comparisons(report, entries, markers):
    """Differences the zoo was built to show, between cards on the same data and held-out images only."""
    by_name = {name: info for name, info, _ in entries}
    pairs = [("iwae_mnist", "vae_mnist", "IWAE (k=50) over the VAE, one stochastic layer"),
             ("iwae2_mnist", "vae2_mnist", "IWAE over the VAE, two stochastic layers"),
             ("iwae2_mnist", "iwae_mnist", "two stochastic layers over one (IWAE)"),
             ("iwae_mnist_dreg", "iwae_mnist", "DReG gradients over the IWAE gradient (k=50)"),
             ("iwae_fashion_mnist", "vae_fashion_mnist", "IWAE over the VAE")]
    lines = []
    for better, base, what in pairs:
        if better in by_name and base in by_name:
            why = _not_comparable(by_name[better], by_name[base], markers[better], markers[base])
            if why:
                lines.append(f"{what}: not comparable (`{better}` and `{base}`: {why})")
                continue
            diff, se, paired = _difference(by_name[base], by_name[better])
            if diff is not None:
                lines.append(f"{what}: NLL lower by {pm(diff, se)} nats "
                             f"({'paired over the same images' if paired else 'unpaired standard errors'})")
    if lines:
        report.paragraph("Gaps (positive: the first model has the lower NLL):")
        report.bullets(lines)


def _not_comparable(a, b, marker_a="", marker_b=""):
    """Why two cards' NLLs cannot be subtracted, or None when they are on the same data, images and estimator."""
    if a.get("data") != b.get("data"):
        markers = f" ([{marker_a}] and [{marker_b}])" if marker_a and marker_b else ""
        return f"trained and evaluated on different data{markers}"
    ma, mb = a.get("metrics", {}), b.get("metrics", {})
    ka, kb = ma.get("log_likelihood_k", 5000), mb.get("log_likelihood_k", 5000)
    if ka != kb:
        return f"different estimators (IWAE-{ka} and IWAE-{kb})"
    na, nb = ma.get("log_likelihood_images"), mb.get("log_likelihood_images")
    if na is None or na != nb:
        return f"NLLs on different held-out images ({plain(na)} and {plain(nb)} images)"
    return None


def _difference(base, better):
    """(NLL(base) - NLL(better), its standard error, paired?) of two cards, or (None, None, False).

    Per-image values are paired only when both cards say they are on the same images (same data description,
    estimator and number of held-out images, and that many values each).
    """
    if _not_comparable(base, better):
        return None, None, False
    mb, mt = base.get("metrics", {}), better.get("metrics", {})
    k, n = mb.get("log_likelihood_k", 5000), mb.get("log_likelihood_images")
    key = f"iwae_{k}_log_likelihood"
    a, b = (m.get("per_image", {}).get(key) for m in (mb, mt))
    if a is not None and b is not None and len(a) == len(b) == n:
        d = np.asarray(b, np.float64) - np.asarray(a, np.float64)
        return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), True
    if key not in mb or key not in mt:
        return None, None, False
    se = math.hypot(mb.get(f"iwae_{k}_se") or 0, mt.get(f"iwae_{k}_se") or 0)
    return mt[key] - mb[key], se, False


def _anchors(report, entries):
    """The published numbers the cards carry; each distinct table and note printed once, with the entries it is for."""
    carried = [(name, info["anchors"]) for name, info, _ in entries if info.get("anchors")]
    tables, notes = {}, {}
    for name, anchors in carried:
        if anchors.get("table"):
            key = (anchors.get("source", ""), json.dumps(anchors["table"], sort_keys=True))
            tables.setdefault(key, (anchors, []))[1].append(name)
        if anchors.get("note"):
            notes.setdefault(anchors["note"], []).append(name)
    for anchors, names in tables.values():
        whose = "" if len(tables) == 1 else " (" + ", ".join(f"`{n}`" for n in names) + ")"
        report.paragraph(f"Published anchors{whose}: {anchors.get('source', '')}.")
        places = max(decimal_places(r["nll"]) for r in anchors["table"])  # one precision per published column
        report.table(["published model", "test NLL (nats)", "source", "trained on"],
                     [[r["model"], published(r["nll"], decimals=places), r["source"], r["data"]]
                      for r in anchors["table"]])
    if len(notes) == 1 and len(next(iter(notes.values()))) == len(carried):
        report.paragraph(next(iter(notes)))
    else:
        report.bullets([f"For {', '.join(f'`{n}`' for n in names)}: {note}" for note, names in notes.items()])


def _pictures(report, name, info, model, xb, out):
    paths = []
    history = info.get("training", {}).get("history")
    if history and "loss" in history:
        paths.append(plots.learning_curve(history, os.path.join(out, f"{name}_learning_curve.png"),
                                          title=f"{name}: loss per epoch (train, validation)"))
    paths.append(plots.sample_grid(model, os.path.join(out, f"{name}_samples.png"), n=64, seed=0,
                                   title=f"{name}: samples"))
    report.heading(f"{name}", level=3)
    report.figures(paths)
    more = [plots.reconstructions(model, xb, os.path.join(out, f"{name}_reconstructions.png"), n=16,
                                  title=f"{name}: held-out data (top), reconstructions (bottom)"),
            plots.interpolations(model, xb, os.path.join(out, f"{name}_interpolations.png"),
                                 title=f"{name}: latent interpolations")]
    if model.latent_dim == 2:
        more.append(plots.latent_manifold(model, os.path.join(out, f"{name}_manifold.png"),
                                          title=f"{name}: 2-D latent manifold"))
    report.figures(more)
