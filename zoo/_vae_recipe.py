"""Shared training and evaluation for the VAE-family zoo entries (MNIST and Fashion-MNIST).

MNIST data: the 10,000 real digits of ../shared/data/mnist (first 5,000 a
class-balanced subset of the official train split, last 5,000 the first half
of t10k). Zoo models train on digits 0-7,999 and hold out 8,000-9,999, which
are exactly the 2,000 digits bundled with tfvb (`tfvb.data.mnist_sample`), so
the held-out scores can be re-measured on any machine.

Training uses dynamic binarization; evaluation one fixed-seed binarization.
"""

import json
import os
import shutil
import tempfile
import time

import keras
import numpy as np

import tfvb
from tfvb import data, evaluate

MNIST_DATA = "10,000 real MNIST digits (5,000 class-balanced from the official train split + t10k[0:5000])"
BURDA_TABLE_1 = {
    "source": "Burda, Grosse & Salakhutdinov 2016, Table 1 (test NLL, IWAE-5000; 60k dynamically binarized "
              "MNIST training digits, 3^8 passes)",
    "vae_1_layer_nll": 86.76, "iwae_k50_1_layer_nll": 84.78, "vae_2_layer_nll": 85.33, "iwae_k50_2_layer_nll": 82.90,
    "note": "tfvb's zoo trains on 8,000 digits for far fewer epochs on 2 CPU cores, so its NLLs are higher; "
            "compare the IWAE-minus-VAE gap, not the absolute values.",
}


def shared_data_root(data_root=None):
    if data_root:
        return data_root
    if os.environ.get("TFVB_SHARED_DATA"):
        return os.environ["TFVB_SHARED_DATA"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(repo), "shared", "data")


def mnist_split(data_root=None):
    x, y = data.mnist_arrays("mnist10k", data_dir=os.path.join(shared_data_root(data_root), "mnist"))
    return (x[:8000], y[:8000]), (x[8000:], y[8000:])


def heldout_mnist(limit=None):
    x, y = data.mnist_sample()  # == digits 8,000-9,999 of the 10k set
    return x[:limit], y[:limit]


def backup_dir(name, seed, quick):
    """Where an interrupted recipe resumes from: BackupAndRestore state, then the trained model."""
    return os.path.join(tempfile.gettempdir(), "tfvb_zoo_backup", f"{name}_seed{seed}{'_quick' if quick else ''}")


def fit(model, train_images, epochs, batch_size, seed, learning_rate=1e-3, epsilon=1e-7, val_images=None,
        backup=None):
    """Train with dynamic binarization; with `backup`, an interrupted run resumes where it stopped
    (mid-training via BackupAndRestore, or after training from the saved model)."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, epsilon=epsilon))
    done = os.path.join(backup, "trained.keras") if backup else None
    if done and os.path.isfile(done):
        model.set_weights(keras.saving.load_model(done).get_weights())
        with open(os.path.join(backup, "training.json")) as f:
            return json.load(f)
    ds = data.image_dataset(train_images, batch_size=batch_size, seed=seed)
    val = None
    if val_images is not None:
        val = data.image_dataset(val_images, batch_size=500, binarize="fixed", shuffle=False, seed=seed)
    callbacks = [keras.callbacks.BackupAndRestore(os.path.join(backup, "state"))] if backup else []
    start = time.time()
    history = model.fit(ds, epochs=epochs, validation_data=val, verbose=2, callbacks=callbacks)
    training = {"train_wall_time_s": round(time.time() - start, 1),
                "history": {k: [round(float(v), 3) for v in vs] for k, vs in history.history.items()}}
    if backup:
        model.save(done)
        with open(os.path.join(backup, "training.json"), "w") as f:
            json.dump(training, f)
    return training


def evaluate_vae(model, images, k=5000, ll_images=None, seed=0):
    """Held-out scores: ELBO, IWAE-k and jackknife log-likelihood, active units, reconstruction."""
    xb = data.binarize_fixed(images, seed=seed)
    start = time.time()
    ll_images = len(xb) if ll_images is None else min(ll_images, len(xb))
    elbo = evaluate.log_likelihood(model, xb, k=1, verbose=0, seed=seed)
    est = evaluate.log_likelihood_estimates(model, xb[:ll_images], k=k, seed=seed, verbose=1)
    active, _ = evaluate.active_units(model, xb)
    recon = np.clip(model.predict(xb, batch_size=500, verbose=0), 1e-7, 1 - 1e-7)
    bce = -(xb * np.log(recon) + (1 - xb) * np.log(1 - recon)).reshape(len(xb), -1).sum(1)
    return {
        "heldout_images": int(len(xb)),
        "elbo": round(elbo.mean, 3), "elbo_se": round(elbo.standard_error, 3),
        f"iwae_{k}_log_likelihood": round(est["iwae"].mean, 3),
        f"iwae_{k}_se": round(est["iwae"].standard_error, 3),
        f"jackknife_{k}_log_likelihood": round(est["jackknife"].mean, 3),
        f"iwae_{k}_nll": round(-est["iwae"].mean, 3),
        "log_likelihood_images": int(ll_images),
        "log_likelihood_k": k,
        "active_units": active,
        "reconstruction_nats": round(float(bce.mean()), 3),
        "eval_wall_time_s": round(time.time() - start, 1),
    }


def constructor(model):
    config = model.get_config()
    return {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}


def record(model, data_description, epochs, batch_size, seed, metrics, anchors=None, notes="", training=None):
    return {
        "constructor": constructor(model),
        "data": data_description,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "metrics": metrics,
        "training": training or {},
        "anchors": anchors or {},
        "notes": notes,
        "tfvb_version": tfvb.__version__,
    }


def train_mnist_entry(name, make_model, epochs, seed, quick, data_root, k_eval=5000, ll_images=None,
                      batch_size=100, epsilon=1e-7, anchors=None, notes=""):
    (x_train, _), (x_val, _) = mnist_split(data_root)
    if quick:
        x_train, x_val, epochs, k_eval, ll_images = x_train[:256], x_val[:64], 1, 50, 16
    model = make_model()
    backup = backup_dir(name, seed, quick)
    os.makedirs(backup, exist_ok=True)
    training = fit(model, x_train, epochs, batch_size, seed, epsilon=epsilon, val_images=x_val[:500], backup=backup)
    metrics = evaluate_vae(model, x_val, k=k_eval, ll_images=ll_images, seed=seed)
    shutil.rmtree(backup, ignore_errors=True)
    metrics["train_wall_time_s"] = training["train_wall_time_s"]
    desc = (f"{MNIST_DATA}: trained on digits 0-{len(x_train) - 1} (dynamic binarization), "
            f"evaluated on the {len(x_val)} held-out digits 8,000-9,999 (= tfvb.data.mnist_sample(), "
            "t10k images 3,000-4,999; fixed-seed binarization)")
    rec = record(model, desc, epochs, batch_size, seed, metrics, anchors, notes, training)
    rec["golden_inputs"] = data.binarize_fixed(x_val[:8], seed=123)
    return model, rec


def evaluate_mnist_entry(model, limit=None, k_eval=5000, ll_images=None):
    x, _ = heldout_mnist(limit)
    return evaluate_vae(model, x, k=k_eval, ll_images=min(ll_images or len(x), len(x)))
