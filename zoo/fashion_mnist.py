"""Zoo recipe: VAE-family models on the full Fashion-MNIST training split (entries vae_fashion_mnist,
iwae_fashion_mnist, cvae_fashion_mnist). `tfvb zoo train iwae_fashion_mnist`.

The IWAE's k is smaller than MNIST's 50: 55,000 training images cost 8 x the MNIST entries per epoch.
"""

import os

from _vae_recipe import (
    benchmark_vae,
    evaluate_vae,
    fashion_description,
    fashion_splits,
    make_iwae,
    run_dir,
    train_entry,
)

import tfvb
from tfvb import _atomic

TEST_IMAGES = 5000  # t10k images 0-4,999 (the first 2,000 are bundled with tfvb)


def train(seed=0, quick=False, data_root=None, dataset="fashion_mnist", architecture="mlp", k=1):
    x_train, x_val, x_test = fashion_splits(data_root)
    if architecture == "conv":
        name, model = "cvae_fashion_mnist", (lambda: tfvb.models.CVAE(latent_dim=16, seed=seed))
        notes = "TensorFlow CVAE tutorial architecture, 16-D latent; analytic-KL ELBO."
    else:
        name, model = f"{'vae' if k == 1 else 'iwae'}_fashion_mnist", make_iwae(seed, k=k)
        notes = (f"784-200-200-50 tanh MLP, k={k} (Burda et al.'s one-layer model), Adam(1e-3, epsilon=1e-4), "
                 "plateau schedule and early stopping.")
    return train_entry(name, model, (x_train, x_val, x_test[:TEST_IMAGES]), seed, quick, fashion_description,
                       notes=notes)


def evaluate_stored(model, data_root=None, dataset="fashion_mnist", architecture="mlp", k=1):
    """The card's evaluation of a stored model on t10k images 0-4,999 (`tfvb zoo evaluate NAME`).

    Returns (metrics, data description, run folder); the chunks of the
    log-likelihood are kept in the run folder, so an interrupted evaluation
    resumes.
    """
    name = "cvae_fashion_mnist" if architecture == "conv" else f"{'vae' if k == 1 else 'iwae'}_fashion_mnist"
    x_train, x_val, x_test = fashion_splits(data_root)
    folder = run_dir(f"{name}_evaluation", 0, False)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "evaluation.json")
    if os.path.isfile(path):
        metrics = _atomic.read_json(path)
    else:
        metrics = evaluate_vae(model, x_test[:TEST_IMAGES], folder=folder)
        _atomic.write_json(path, metrics)
    return metrics, fashion_description(len(x_train), len(x_val), TEST_IMAGES), folder


def benchmark(model, limit=None, data_root=None, dataset="fashion_mnist", architecture="mlp", **_):
    """Re-measure the card's metrics on the bundled t10k images (the first `limit`)."""
    x_test, _ = tfvb.data.fashion_mnist_sample()
    return benchmark_vae(model, x_test[:limit])
