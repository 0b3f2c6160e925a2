"""`tfvb demo`: the pretrained zoo models on the bundled MNIST sample; pictures and a report.

No training and no network: every model is loaded (checksums verified) from
saved_models/, and the only data used is the 2,000 held-out digits shipped
with tfvb.
"""

import os
import time

import numpy as np

from tfvb import data, evaluate, plots, zoo
from tfvb.zoo.card import markdown_table

VAE_COLUMNS = [
    ("name", "model"), ("class", "class"), ("epochs", "epochs"), ("elbo", "held-out ELBO"),
    ("iwae_nll", "IWAE-5000 NLL"), ("jackknife_nll", "jackknife NLL"), ("ll_images", "NLL images"),
    ("active_units", "active units"), ("train_wall_time_s", "train s"), ("elbo_now", "ELBO now (500 digits)"),
]


def _trained(names):
    names = names or zoo.list_models()
    return [n for n in names if os.path.isfile(os.path.join(zoo.saved_models_dir(), n, "metadata.json"))]


def _vae_section(name, info, model, images, out):
    x = images[:500]
    xb = data.binarize_fixed(x, seed=0)
    pics = [
        plots.sample_grid(model, os.path.join(out, f"{name}_samples.png"), n=64, seed=0, title=f"{name}: samples"),
        plots.reconstructions(model, xb, os.path.join(out, f"{name}_reconstructions.png"), n=16,
                              title=f"{name}: held-out data (top), reconstructions (bottom)"),
        plots.interpolations(model, xb, os.path.join(out, f"{name}_interpolations.png"),
                             title=f"{name}: latent interpolations"),
    ]
    if model.latent_dim == 2:
        pics.append(plots.latent_manifold(model, os.path.join(out, f"{name}_manifold.png"),
                                          title=f"{name}: 2-D latent manifold"))
    m = info.get("metrics", {})
    k = m.get("log_likelihood_k", 5000)
    now = evaluate.log_likelihood(model, xb, k=1, verbose=0, seed=0)
    row = {
        "name": name, "class": info.get("class"), "epochs": info.get("epochs"), "elbo": m.get("elbo"),
        "iwae_nll": m.get(f"iwae_{k}_nll"), "jackknife_nll": _neg(m.get(f"jackknife_{k}_log_likelihood")),
        "ll_images": m.get("log_likelihood_images"), "active_units": m.get("active_units"),
        "train_wall_time_s": m.get("train_wall_time_s"), "elbo_now": round(now.mean, 2),
    }
    return row, pics


def _neg(v):
    return None if v is None else round(-v, 3)


def run_demo(out, names=None):
    """Write PNGs and report.md into `out`; returns the report's path."""
    os.makedirs(out, exist_ok=True)
    start = time.time()
    images, labels = data.mnist_sample()
    names = _trained(names)
    if not names:
        raise RuntimeError(f"Expected trained zoo models in {zoo.saved_models_dir()}. Received none: "
                           "run `tfvb zoo train NAME` first")
    vae_rows, pictures, other, anchors = [], [], [], {}
    for name in names:
        info = zoo.info(name)
        model = zoo.load(name)
        zoo.golden_check(name, model)
        if info["family"] == "vae":
            if "fashion" in name:
                x_show, _ = _fashion_or_none()
                if x_show is None:
                    continue
            else:
                x_show = images
            row, pics = _vae_section(name, info, model, x_show, out)
            vae_rows.append(row)
            pictures += pics
            if info.get("anchors"):
                anchors = info["anchors"]
        else:
            other.append(_other_section(name, info, model, images, labels, out, pictures))
    lines = [
        "# tfvb demo: pretrained zoo models",
        "",
        f"Models loaded from `{zoo.saved_models_dir()}` (sha256-verified, golden batches checked); "
        f"MNIST pictures use the 2,000 held-out digits bundled with tfvb. Ran in {time.time() - start:.0f} s.",
        "",
        "## Variational autoencoders (nats per image; NLL = -log p(x), lower is better)",
        "",
        markdown_table(vae_rows, VAE_COLUMNS),
        "",
    ]
    if anchors:
        lines += ["### Published anchors", "", anchors.get("source", ""), ""]
        lines += [f"- {k}: {v}" for k, v in anchors.items() if k not in ("source", "note")]
        lines += ["", anchors.get("note", ""), ""]
    for section in other:
        lines += section
    lines += ["## Pictures", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in pictures]
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _fashion_or_none():
    try:
        x, y = data.fashion_mnist_arrays("test")
        return x[:500], y[:500]
    except Exception:
        return None, None


def _other_section(name, info, model, images, labels, out, pictures):
    """Card metrics for non-VAE entries, plus a reliability diagram for MNIST classifiers."""
    lines = [f"## {name} ({info.get('class')})", "", info.get("summary", ""), "", f"Data: {info.get('data', '')}", ""]
    metrics = {k: v for k, v in info.get("metrics", {}).items() if not isinstance(v, (dict, list))}
    lines += [f"- {k}: {v}" for k, v in metrics.items()]
    if info.get("anchors"):
        lines += ["", "Published anchors:"] + [f"- {k}: {v}" for k, v in info["anchors"].items()]
    if hasattr(model, "predict_uncertainty") and "mnist" in name:
        u = model.predict_uncertainty(images[:500], samples=20)
        acc = float(np.mean(np.argmax(u["mean"], -1) == labels[:500]))
        ece = evaluate.expected_calibration_error(u["mean"], labels[:500])
        lines += ["", f"Re-measured now on 500 bundled digits (20 samples): accuracy {acc:.4f}, ECE {float(ece):.4f}"]
        path = os.path.join(out, f"{name}_reliability.png")
        evaluate.reliability_diagram(u["mean"], labels[:500], path=path)
        pictures.append(path)
    return lines + [""]
