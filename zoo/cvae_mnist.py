"""Zoo recipe: the TensorFlow tutorial's convolutional VAE on MNIST (entries cvae_mnist, 2-D latent, and
cvae_mnist_l16). `tfvb zoo train cvae_mnist`."""

from _vae_recipe import benchmark_vae, heldout_mnist, mnist_description, mnist_splits, train_entry

import tfvb


def train(seed=0, quick=False, data_root=None, dataset="mnist", latent_dim=2):
    name = "cvae_mnist" if latent_dim == 2 else f"cvae_mnist_l{latent_dim}"
    return train_entry(name, lambda: tfvb.models.CVAE(latent_dim=latent_dim, seed=seed), mnist_splits(data_root),
                       seed, quick, mnist_description,
                       notes="TensorFlow CVAE tutorial architecture; analytic-KL ELBO.")


def benchmark(model, limit=None, data_root=None, dataset="mnist", card=None, **_):
    """Re-measure the card's metrics on the held-out digits (the first `limit`)."""
    return benchmark_vae(model, heldout_mnist(limit, data_root, card))
