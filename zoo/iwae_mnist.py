"""Zoo recipe: iwae_mnist, Burda et al.'s one-stochastic-layer IWAE with k=50. `tfvb zoo train iwae_mnist`."""

import tfvb
from _vae_recipe import BURDA_TABLE_1, evaluate_mnist_entry, train_mnist_entry

LL_IMAGES = 1000  # IWAE-5000 on the first 1,000 held-out digits (~0.2 s each on 2 cores)
EPOCHS = 20  # the same as vae_mnist, on the same data, so the two can be compared


def train(seed=0, quick=False, data_root=None):
    return train_mnist_entry("iwae_mnist", lambda: tfvb.models.IWAE(k=50, seed=seed), EPOCHS, seed, quick, data_root,
                             epsilon=1e-4, anchors=BURDA_TABLE_1, ll_images=LL_IMAGES,
                             notes="784-200-200-50 tanh MLP, k=50, Adam(1e-3, epsilon=1e-4) as in "
                                   "Burda et al.; their learning-rate schedule over 3^8 passes is not run here.")


def benchmark(model, limit=None, data_root=None):
    """Re-measure the card's metrics on the held-out data (the first `limit` examples)."""
    return evaluate_mnist_entry(model, limit, ll_images=LL_IMAGES)
