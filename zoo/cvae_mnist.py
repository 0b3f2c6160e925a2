"""Zoo recipe: cvae_mnist. Run with `tfvb zoo train cvae_mnist`."""

import tfvb
from _vae_recipe import evaluate_mnist_entry, train_mnist_entry

EPOCHS = 15
LL_IMAGES = 50  # IWAE-5000 through a conv decoder costs ~1 s per image on 2 CPU cores


def train(seed=0, quick=False, data_root=None):
    return train_mnist_entry("cvae_mnist", lambda: tfvb.models.CVAE(latent_dim=2, seed=seed), EPOCHS, seed, quick, data_root, ll_images=LL_IMAGES,
                             notes="TensorFlow CVAE tutorial architecture; analytic-KL ELBO; Adam 1e-3.")


def benchmark(model, limit=None, data_root=None):
    """Re-measure the card's metrics on the held-out data (the first `limit` examples)."""
    return evaluate_mnist_entry(model, limit, ll_images=LL_IMAGES)
