"""Zoo recipe: cvae_fashion_mnist, a 16-D convolutional VAE on the full Fashion-MNIST training split."""

import time

import tfvb
from _vae_recipe import evaluate_vae, fit, record
from tfvb import data

EPOCHS = 3
LL_IMAGES = 50


def train(seed=0, quick=False, data_root=None):
    x_train, _ = data.fashion_mnist_arrays("train", data_dir=data_root)
    x_test, _ = data.fashion_mnist_arrays("test", data_dir=data_root)
    epochs, k, ll = EPOCHS, 5000, LL_IMAGES
    if quick:
        x_train, x_test, epochs, k, ll = x_train[:256], x_test[:64], 1, 50, 16
    model = tfvb.models.CVAE(latent_dim=16, seed=seed)
    training = fit(model, x_train, epochs, 100, seed, val_images=x_test[:500])
    metrics = evaluate_vae(model, x_test[:2000], k=k, ll_images=ll, seed=seed)
    metrics["train_wall_time_s"] = training["train_wall_time_s"]
    desc = (f"Fashion-MNIST (Zalando, MIT; Debian dataset-fashion-mnist): trained on the {len(x_train)} "
            "training images (dynamic binarization), evaluated on t10k images 0-1,999 (fixed-seed binarization)")
    rec = record(model, desc, epochs, 100, seed, metrics, notes="TensorFlow CVAE tutorial architecture.",
                 training=training)
    rec["golden_inputs"] = data.binarize_fixed(x_test[:8], seed=123)
    return model, rec


def benchmark(model, limit=None, data_root=None):
    """Re-measure the card's metrics on the held-out data (the first `limit` examples)."""
    x_test, _ = data.fashion_mnist_arrays("test", data_dir=data_root)
    return evaluate_vae(model, x_test[:limit or 2000], ll_images=min(LL_IMAGES, limit or LL_IMAGES))
