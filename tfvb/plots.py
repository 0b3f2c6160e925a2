"""Pictures of generative models: sample grids, reconstructions, latent manifolds, interpolations,
learning curves (and a classifier's validation NLL and accuracy).

Every function writes a PNG (matplotlib's Agg backend, no display needed) and returns its path.
"""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402


def _grid(images, rows, cols):
    images = np.asarray(images)[..., 0]
    h, w = images.shape[1:3]
    canvas = np.ones((rows * h, cols * w), np.float32)
    for i, img in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    return canvas


def _save(canvas, path, title):
    fig, ax = plt.subplots(figsize=(canvas.shape[1] / 56, canvas.shape[0] / 56 + 0.4), dpi=100)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def sample_grid(model, path, n=64, seed=0, title=None):
    """n model samples (Bernoulli means) in a square grid."""
    cols = int(math.ceil(math.sqrt(n)))
    images = model.sample(n, seed=seed).numpy()
    return _save(_grid(images, int(math.ceil(n / cols)), cols), path, title or f"{model.name}: samples")


def reconstructions(model, images, path, n=16, title=None):
    """Top row: data; bottom row: reconstructions at the posterior mean."""
    x = np.asarray(images[:n], np.float32)
    recon = model(x, training=False).numpy()
    canvas = np.concatenate([_grid(x, 1, n), _grid(recon, 1, n)], axis=0)
    return _save(canvas, path, title or f"{model.name}: data (top), reconstructions (bottom)")


def latent_manifold(model, path, n=15, title=None):
    """Decoded Gaussian quantiles of a 2-D latent space (Kingma & Welling, Fig. 4)."""
    if model.latent_dim != 2:
        raise ValueError(f"Expected a model with a 2-D latent space. Received: latent_dim={model.latent_dim}")
    q = tfp.distributions.Normal(0.0, 1.0).quantile(np.linspace(0.05, 0.95, n).astype(np.float32)).numpy()
    z = np.array([[a, b] for b in q[::-1] for a in q], np.float32)
    images = 1.0 / (1.0 + np.exp(-model.decode(z).numpy()))
    return _save(_grid(images, n, n), path, title or f"{model.name}: 2-D latent manifold")


def interpolations(model, images, path, pairs=4, steps=10, title=None):
    """Decoded straight lines between the posterior means of pairs of images."""
    x = np.asarray(images[: 2 * pairs], np.float32)
    mean, _ = model.encode(x)
    mean = mean.numpy()
    t = np.linspace(0, 1, steps)[:, None]
    z = np.concatenate([(1 - t) * mean[2 * i] + t * mean[2 * i + 1] for i in range(pairs)]).astype(np.float32)
    decoded = 1.0 / (1.0 + np.exp(-model.decode(z).numpy()))
    return _save(_grid(decoded, pairs, steps), path, title or f"{model.name}: latent interpolations")


def _limits(values):
    """(low, high) of a curve's y axis: everything from the lowest value up to past the 90th percentile, padded
    in proportion to that span (the first epochs' large losses are cut off, not the converged end)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(np.percentile(values, 90))
    span = high - low if high > low else max(abs(low), 1.0) * 0.1
    return low - 0.1 * span, high + 0.3 * span


def _mark_best(axes, epoch, value, label, xytext):
    """A dotted line at the best epoch (1-based) on each of `axes`, the first annotated with `label`."""
    for ax in axes:
        ax.axvline(epoch, color="gray", linestyle=":", linewidth=1)
    axes[0].annotate(label, (epoch, value), fontsize=7, xytext=xytext, textcoords="offset points",
                     arrowprops={"arrowstyle": "->", "lw": 0.5})


def learning_curve(history, path, title=None, metric="loss", ylabel=None):
    """Training and validation `metric` per epoch (a zoo card's `training.history`), best epoch marked.

    The learning rate, when recorded, is drawn on a second axis. `ylabel`
    defaults to "`metric` (nats per image)".
    """
    train = np.asarray(history[metric], np.float64)
    val = np.asarray(history.get(f"val_{metric}", []), np.float64)
    epochs = np.arange(1, len(train) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    ax.plot(epochs, train, label=f"train {metric}", color="tab:blue", linewidth=1)
    if val.size:
        ax.plot(epochs[:val.size], val, label=f"validation {metric}", color="tab:orange", linewidth=1)
        best = int(np.argmin(val))
        _mark_best([ax], best + 1, val[best], f"best epoch {best + 1}: {val[best]:.3g}", (-90, 25))
    ax.set_ylim(*_limits(np.concatenate([train, val])))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or f"{metric} (nats per image)")
    if "learning_rate" in history:
        ax2 = ax.twinx()
        ax2.semilogy(epochs[:len(history["learning_rate"])], history["learning_rate"], color="tab:green",
                     linewidth=0.8, alpha=0.6)
        ax2.set_ylabel("learning rate", color="tab:green", fontsize=8)
        ax2.tick_params(axis="y", labelsize=7, colors="tab:green")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or "learning curve", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def classifier_curves(history, path, title=None):
    """A classifier's validation NLL and accuracy per epoch (a zoo card's `training.history`).

    Left: the validation NLL of the predictive (`val_nll`, an ensemble's
    `val_ensemble_nll`) and, for a Bayesian model, its KL per example
    (`val_kl`), on a log axis: the NLL settles long before the KL stops
    falling. Right: validation accuracy (an ensemble's, and its members'
    mean). The dotted line is the best epoch of the stopping rule's
    `val_loss`.

    Raises:
        ValueError: when the history records no validation NLL.
    """
    nll_key = next((k for k in ("val_nll", "val_ensemble_nll") if k in history), None)
    if nll_key is None:
        raise ValueError("Expected a history with `val_nll` or `val_ensemble_nll` (a classifier's validation NLL). "
                         f"Received the keys: {sorted(history)}")
    nll = np.asarray(history[nll_key], np.float64)
    epochs = np.arange(1, len(nll) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=100)
    left.semilogy(epochs, nll, color="tab:orange", linewidth=1, label="validation NLL")
    if "val_kl" in history:
        left.semilogy(epochs, np.asarray(history["val_kl"], np.float64)[:len(nll)], color="tab:purple",
                      linewidth=1, label="KL per example")
    members = "members' mean" if "val_ensemble_accuracy" in history else "validation"
    accuracies = [(k, label) for k, label in (("val_ensemble_accuracy", "ensemble"), ("val_accuracy", members))
                  if k in history]
    for k, label in accuracies:
        right.plot(epochs, np.asarray(history[k], np.float64)[:len(nll)], linewidth=1, label=label)
    if "val_loss" in history:
        best = int(np.argmin(np.asarray(history["val_loss"], np.float64))) + 1
        _mark_best([left, right], best, nll[best - 1], f"best epoch {best}: NLL {nll[best - 1]:.3g}", (-110, 20))
    left.set_xlabel("epoch")
    left.set_ylabel("nats per example")
    left.legend(loc="upper right", fontsize=8)
    if accuracies:
        values = np.concatenate([np.asarray(history[k], np.float64) for k, _ in accuracies])
        low, high = _limits(-values)  # accuracy rises: cut off the first epochs' low values, not the best ones
        right.set_ylim(-high, -low)
        right.legend(loc="lower right", fontsize=8)
    right.set_xlabel("epoch")
    right.set_ylabel("validation accuracy")
    fig.suptitle(title or "validation NLL and accuracy", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)
