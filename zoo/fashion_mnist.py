"""Zoo recipe: VAE-family models on the full Fashion-MNIST training split (entries vae_fashion_mnist,
iwae_fashion_mnist, cvae_fashion_mnist). `tfvb zoo train iwae_fashion_mnist`.

The IWAE's k is smaller than MNIST's 50: 55,000 training images cost 8 x the MNIST entries per epoch.
"""

from _vae_recipe import benchmark_vae, fashion_description, fashion_splits, make_iwae, train_entry

import tfvb

TEST_IMAGES = 2000  # t10k images 0-1,999 (the ones bundled with tfvb)
CONV_LL_IMAGES = 500  # IWAE-5000 through the conv decoder on the first 500 of them (its cost)


def train(seed=0, quick=False, data_root=None, dataset="fashion_mnist", architecture="mlp", k=1):
    x_train, x_val, x_test = fashion_splits(data_root)
    ll_images = None
    if architecture == "conv":
        name, model = "cvae_fashion_mnist", (lambda: tfvb.models.CVAE(latent_dim=16, seed=seed))
        ll_images = CONV_LL_IMAGES
        notes = "TensorFlow CVAE tutorial architecture, 16-D latent; analytic-KL ELBO."
    else:
        name, model = f"{'vae' if k == 1 else 'iwae'}_fashion_mnist", make_iwae(seed, k=k)
        notes = (f"784-200-200-50 tanh MLP, k={k} (Burda et al.'s one-layer model), Adam(1e-3, epsilon=1e-4), "
                 "plateau schedule and early stopping.")
    return train_entry(name, model, (x_train, x_val, x_test[:TEST_IMAGES]), seed, quick, fashion_description,
                       notes=notes, ll_images=ll_images)


def benchmark(model, limit=None, data_root=None, dataset="fashion_mnist", architecture="mlp", **_):
    """Re-measure the card's metrics on the bundled t10k images (the first `limit`)."""
    x_test, _ = tfvb.data.fashion_mnist_sample()
    return benchmark_vae(model, x_test[:limit], ll_images=CONV_LL_IMAGES if architecture == "conv" else None)
