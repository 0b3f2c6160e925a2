"""Pictures of generative models: sample grids, reconstructions, latent manifolds, interpolations,
learning curves.

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


def learning_curve(history, path, title=None, metric="loss"):
    """Training and validation `metric` per epoch (a zoo card's `training.history`), best epoch marked.

    The learning rate, when recorded, is drawn on a second axis.
    """
    train = np.asarray(history[metric], np.float64)
    val = np.asarray(history.get(f"val_{metric}", []), np.float64)
    epochs = np.arange(1, len(train) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    ax.plot(epochs, train, label=f"train {metric}", color="tab:blue", linewidth=1)
    if val.size:
        ax.plot(epochs[:val.size], val, label=f"validation {metric}", color="tab:orange", linewidth=1)
        best = int(np.argmin(val))
        ax.axvline(best + 1, color="gray", linestyle=":", linewidth=1)
        ax.annotate(f"best epoch {best + 1}: {val[best]:.1f}", (best + 1, val[best]), fontsize=7,
                    xytext=(-90, 25), textcoords="offset points", arrowprops={"arrowstyle": "->", "lw": 0.5})
    low = np.nanmin(np.concatenate([train, val])) if val.size else np.nanmin(train)
    ax.set_ylim(low - 2, np.nanpercentile(np.concatenate([train, val]), 90) + 5)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (nats per image)")
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
