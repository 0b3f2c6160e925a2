"""The demo's section on the VAE-family entries: scores beside the papers, learning curves, pictures."""

import math
import os

import numpy as np

from tfvb import data, evaluate, plots
from tfvb.demo.numbers import plain, pm, seconds

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
    report.paragraph(f"Data: {entries[0][1].get('data', '?')}.")
    rows = []
    for name, info, model in entries:
        m, training = info.get("metrics", {}), info.get("training", {})
        nll, se = _nll(m, "iwae")
        jack, _ = _nll(m, "jackknife")
        if jack is None and m.get("jackknife_5000_log_likelihood") is not None:
            jack = -m["jackknife_5000_log_likelihood"]
        now = evaluate.log_likelihood(model, xb, k=1, verbose=0, seed=0)
        rows.append([
            f"`{name}`", _architecture(info),
            f"{training.get('best_epoch', '—')} / {training.get('epochs_run', info.get('epochs', '—'))}",
            seconds(training.get("train_wall_time_s", m.get("train_wall_time_s"))),
            f"{pm(nll, se)} ({plain(m.get('log_likelihood_images'))})",
            pm(jack, se), pm(-m["elbo"] if "elbo" in m else None, m.get("elbo_se")),
            plain(m.get("active_units")),
            pm(-now.mean, now.standard_error),
            plain(((info.get("anchors") or {}).get("entry") or {}).get("nll")),
        ])
    report.table(["model", "architecture", "best / run epochs", "train time",
                  f"NLL, IWAE-5000 ({unit})", "NLL, jackknife", "-ELBO", "active units",
                  f"-ELBO now ({_RECHECK_IMAGES} bundled {unit})", "published NLL"], rows)
    report.paragraph("Nats per image, lower is better; ± is one standard error over the held-out images. "
                     "The -ELBO-now column is measured now, on the images bundled with tfvb, and agrees with "
                     "the card's -ELBO within its standard errors when the model is the one the card describes; "
                     "the last column is the published number the entry reproduces (the anchors below).")
    _comparisons(report, entries)
    _anchors(report, entries)
    for name, info, model in entries:
        _pictures(report, name, info, model, xb, out)


def _comparisons(report, entries):
    """Differences the zoo was built to show, paired over the same held-out images when possible."""
    by_name = {name: info for name, info, _ in entries}
    pairs = [("iwae_mnist", "vae_mnist", "IWAE (k=50) over the VAE, one stochastic layer"),
             ("iwae2_mnist", "vae2_mnist", "IWAE over the VAE, two stochastic layers"),
             ("iwae2_mnist", "iwae_mnist", "two stochastic layers over one (IWAE)"),
             ("iwae_mnist_dreg", "iwae_mnist", "DReG gradients over the IWAE gradient (k=50)"),
             ("iwae_fashion_mnist", "vae_fashion_mnist", "IWAE over the VAE")]
    lines = []
    for better, base, what in pairs:
        if better in by_name and base in by_name:
            diff, se, paired = _difference(by_name[base]["metrics"], by_name[better]["metrics"])
            if diff is not None:
                lines.append(f"{what}: NLL lower by {pm(diff, se)} nats "
                             f"({'paired over the same images' if paired else 'unpaired standard errors'})")
    if lines:
        report.paragraph("Gaps (positive: the first model has the lower NLL):")
        report.bullets(lines)


def _difference(base, better):
    key = f"iwae_{base.get('log_likelihood_k', 5000)}_log_likelihood"
    a, b = base.get("per_image", {}).get(key), better.get("per_image", {}).get(key)
    if a is not None and b is not None and len(a) == len(b):
        d = np.asarray(b, np.float64) - np.asarray(a, np.float64)
        return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), True
    if key not in base or key not in better:
        return None, None, False
    se = math.hypot(base.get(f"iwae_{base.get('log_likelihood_k', 5000)}_se") or 0,
                    better.get(f"iwae_{better.get('log_likelihood_k', 5000)}_se") or 0)
    return better[key] - base[key], se, False


def _anchors(report, entries):
    anchors = next((info.get("anchors") for _, info, _ in entries if info.get("anchors")), None)
    if not anchors:
        return
    report.paragraph(f"Published anchors: {anchors.get('source', '')}.")
    if anchors.get("table"):
        report.table(["published model", "test NLL (nats)", "source", "trained on"],
                     [[r["model"], plain(r["nll"]), r["source"], r["data"]] for r in anchors["table"]])
    if anchors.get("note"):
        report.paragraph(anchors["note"])


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
