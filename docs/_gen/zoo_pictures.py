"""Pictures for a zoo entry's page, drawn at build time from its card and its stored model.

- every entry with a `training.history`: its learning curve (from the card alone), and for a classifier
  its validation NLL (beside a Bayesian model's KL per example) and accuracy per epoch;
- VAE family: samples, reconstructions of the bundled held-out images, the 2-D latent manifold;
- classifiers: the reliability diagram of the bundled held-out digits and the predictive entropy of
  those digits against the bundled Fashion-MNIST images (out of distribution);
- regressors: the card's protocol runs beside the published anchors, with their standard errors.

Pictures that need the model are cached under `.cache/docs/zoo/` keyed by the sha256 of the
entry's metadata.json (which holds every artifact's sha256) and of this file, so a rebuild draws
only what changed, and a retrained entry is drawn again.
"""

import hashlib
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import zoo_cards  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(REPO, ".cache", "docs", "zoo")
PREDICTIVE_SAMPLES = 50


def cache_folder(name, metadata_path):
    h = hashlib.sha256()
    for path in (metadata_path, __file__):
        with open(path, "rb") as f:
            h.update(f.read())
    folder = os.path.join(CACHE, name, h.hexdigest()[:16])
    os.makedirs(folder, exist_ok=True)
    return folder


def _done(folder):
    return os.path.exists(os.path.join(folder, ".complete"))


def _mark_done(folder):
    with open(os.path.join(folder, ".complete"), "w"):
        pass


def draw(name, info, metadata_path):
    """[(caption, png path)] for an entry, drawn now or taken from the cache."""
    folder = cache_folder(name, metadata_path)
    if not _done(folder):
        for stale in os.listdir(folder):
            os.remove(os.path.join(folder, stale))
        _draw_all(name, info, folder)
        _mark_done(folder)
    captions = {}
    caption_file = os.path.join(folder, "captions.txt")
    if os.path.exists(caption_file):
        with open(caption_file) as f:
            captions = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
    return [(captions.get(png, ""), os.path.join(folder, png)) for png in sorted(captions)]


def _draw_all(name, info, folder):
    from tfvb import plots

    captions = {}

    def add(png, caption):
        captions[png] = caption
        return os.path.join(folder, png)

    history = (info.get("training") or {}).get("history")
    family = info.get("family")
    if history and "loss" in history:
        plots.learning_curve(
            history,
            add("1_learning_curve.png", "Learning curve (from the card's `training.history`)"),
            title=f"{name}: loss per epoch (train, validation)",
            ylabel="loss (nats per example)" if family == "bnn" else None,
        )
    if history and family == "bnn" and any(k in history for k in ("val_nll", "val_ensemble_nll")):
        plots.classifier_curves(
            history,
            add("1_learning_curve_nll_accuracy.png", "Validation NLL and accuracy per epoch (from the card's "
                "`training.history`; a Bayesian model's KL per example beside its NLL)"),
            title=f"{name}: validation NLL and accuracy per epoch",
        )
    if family == "vae":
        _vae(name, info, add)
    elif family == "bnn":
        _classifier(name, add)
    elif family == "regression":
        _regression(name, info, add)
    with open(os.path.join(folder, "captions.txt"), "w") as f:
        f.writelines(f"{png}\t{caption}\n" for png, caption in captions.items())


def _vae(name, info, add):
    from tfvb import data, plots, zoo

    model = zoo.load(name)  # compiled, as the demo loads it (an ensemble reads its task from the loss)
    images = data.fashion_mnist_sample()[0] if info.get("dataset") == "fashion_mnist" else data.mnist_sample()[0]
    plots.sample_grid(
        model,
        add("2_samples.png", "64 samples from the model (Bernoulli means; drawn at build time)"),
        n=64,
        seed=0,
        title=f"{name}: samples",
    )
    x = data.binarize_fixed(images[:16], seed=0)
    plots.reconstructions(
        model,
        x,
        add(
            "3_reconstructions.png",
            "Bundled held-out images (top) and their reconstructions at the posterior mean (bottom)",
        ),
        n=16,
        title=f"{name}: held-out data (top), reconstructions (bottom)",
    )
    if getattr(model, "latent_dim", None) == 2:
        plots.latent_manifold(
            model,
            add("4_manifold.png", "The decoded 2-D latent space (Gaussian quantiles)"),
            title=f"{name}: 2-D latent manifold",
        )


def _classifier(name, add):
    from tfvb import data, evaluate, zoo

    model = zoo.load(name)  # compiled, as the demo loads it (an ensemble reads its task from the loss)
    digits, labels = data.mnist_sample()
    fashion, _ = data.fashion_mnist_sample()
    u_in = model.predict_uncertainty(digits, samples=PREDICTIVE_SAMPLES, seed=0)
    u_out = model.predict_uncertainty(fashion, samples=PREDICTIVE_SAMPLES, seed=0)
    evaluate.reliability_diagram(
        np.asarray(u_in["mean"]),
        labels,
        path=add(
            "2_reliability.png",
            f"Reliability of the {len(digits):,} bundled "
            f"held-out digits ({PREDICTIVE_SAMPLES} predictive samples: weight draws, or an "
            "ensemble's members; drawn at build time)",
        ),
        title=f"{name}: reliability",
    )
    auroc = evaluate.ood_auroc(u_in["entropy"], u_out["entropy"])
    fig = Figure(figsize=(5, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0, np.log(10), 40)
    ax.hist(np.asarray(u_in["entropy"]), bins=bins, alpha=0.6, label="MNIST digits (in distribution)")
    ax.hist(np.asarray(u_out["entropy"]), bins=bins, alpha=0.6, label="Fashion-MNIST (out of distribution)")
    ax.set_xlabel("predictive entropy (nats)")
    ax.set_ylabel("images")
    ax.set_title(f"{name}: entropy, OOD AUROC {auroc:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(add("3_ood_entropy.png", "Predictive entropy of the bundled digits and Fashion-MNIST images"), dpi=100)


def _regression(name, info, add):
    runs = zoo_cards.protocol_runs(info)
    anchors = zoo_cards.published(info.get("anchors"))
    points = [(variant.replace("_", " "), rmse, ll) for variant, _, rmse, ll in runs]
    if not points:
        rmse, ll = zoo_cards.ours(info, "rmse"), zoo_cards.ours(info, "ll")
        if rmse and ll:
            points = [(name, rmse[:2], ll[:2])]
    if not points:
        return
    fig = Figure(figsize=(8, 0.5 * len(points) + 1.8))
    for col, what in enumerate(("rmse", "ll")):
        ax = fig.add_subplot(1, 2, col + 1)
        ys = np.arange(len(points))
        values = [p[1 + col] for p in points]
        ax.errorbar(
            [v[0] for v in values],
            ys,
            xerr=[v[1] or 0 for v in values],
            fmt="o",
            color="tab:blue",
            capsize=3,
            label="this entry's runs",
        )
        for _, kind, value, se, _source in anchors:
            if kind == what and value is not None:
                ax.axvline(value, color="tab:red", linewidth=1, label="published")
                if se:
                    ax.axvspan(value - se, value + se, color="tab:red", alpha=0.15)
        ax.set_yticks(ys, [p[0] for p in points] if col == 0 else [""] * len(points), fontsize=8)
        ax.set_xlabel("test RMSE (lower is better)" if what == "rmse" else "test log-likelihood (higher is better)")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{name}: mean ± standard error over the splits", fontsize=9)
    fig.tight_layout()
    fig.savefig(
        add(
            "2_protocol.png",
            "The card's protocol runs (mean ± standard error over the splits) beside the "
            "published anchor (line, band: its standard error)",
        ),
        dpi=100,
    )
