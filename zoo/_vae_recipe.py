"""Shared training and evaluation for the VAE-family zoo entries (MNIST and Fashion-MNIST).

Data. MNIST: the 10,000 real digits of ../shared/data/mnist (the first 5,000 a
class-balanced subset of the official train split, the last 5,000 the first
half of t10k). Entries train on digits 0-6,999, stop early on the validation
digits 7,000-7,999 (carved from the training digits), and are evaluated on the
held-out digits 8,000-9,999, which are exactly the 2,000 digits bundled with
tfvb (`tfvb.data.mnist_sample`), so every held-out score can be re-measured on
any machine. Fashion-MNIST: train images 0-54,999, validation 55,000-59,999,
evaluation on t10k.

Training: dynamic binarization, the MLP decoders' output bias started at the
logit of the mean training pixel (as Burda et al.'s code does), Adam with
Burda et al.'s epsilon=1e-4, the learning rate halved when the validation loss has not improved for
`LR_PATIENCE` epochs, and early stopping when it has not improved for
`STOP_PATIENCE` epochs, ending on the best epoch's weights. The whole state
(weights, optimizer, noise, data order, schedule and stopping counters) is
backed up atomically every epoch under `tfvb.paths.runs_dir()`, so a killed
recipe continues exactly where it stopped when run again.

Evaluation: one fixed-seed binarization; IWAE-5000 and jackknife estimates of
log p(x) on every held-out image, the ELBO, active units and reconstruction.
"""

import json
import os
import time

import keras
import numpy as np

import tfvb
from tfvb import callbacks, data, evaluate, paths

MAX_EPOCHS = 3000  # Burda et al. ran 3^8 = 6,561 passes; early stopping ends far earlier
STOP_PATIENCE = 50
LR_PATIENCE = 15
LR_FACTOR = 0.5
MIN_LR = 1e-5
BATCH_SIZE = 100
K_EVAL = 5000

MNIST_DATA = "10,000 real MNIST digits (5,000 class-balanced from the official train split + t10k[0:5000])"
_BURDA = "Burda et al. 2016, Table 1"
_BURDA_DATA = "60,000 dynamically binarized MNIST digits, 3^8 passes"
_PYTHAE_DATA = "binarized MNIST (pythae's benchmark)"
BURDA_TABLE_1 = {
    "source": "Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016, Table 1 (test NLL from "
              "IWAE-5000); pythae's reproduction (Chadebec et al. 2022)",
    "table": [
        {"model": "VAE, 1 stochastic layer", "nll": 86.76, "source": _BURDA, "data": _BURDA_DATA},
        {"model": "IWAE k=50, 1 stochastic layer", "nll": 84.78, "source": _BURDA, "data": _BURDA_DATA},
        {"model": "VAE, 2 stochastic layers", "nll": 85.33, "source": _BURDA, "data": _BURDA_DATA},
        {"model": "IWAE k=50, 2 stochastic layers", "nll": 82.90, "source": _BURDA, "data": _BURDA_DATA},
        {"model": "VAE (200 importance samples)", "nll": 89.78, "source": "pythae", "data": _PYTHAE_DATA},
        {"model": "IWAE k=50", "nll": 86.82, "source": "pythae", "data": _PYTHAE_DATA},
    ],
    "note": "tfvb's MNIST zoo trains on 7,000 digits (and stops early on 1,000 more) instead of 60,000, so its "
            "NLLs are higher; compare the IWAE-minus-VAE and two-minus-one-layer gaps, not the absolute values.",
}


# -- data ------------------------------------------------------------------------------------------
def mnist_splits(data_root=None):
    """(train 0-6,999, validation 7,000-7,999, held-out 8,000-9,999) images of the shared 10k digits."""
    root = data_root or paths.shared_data_dir()
    x, _ = data.mnist_arrays("mnist10k", data_dir=os.path.join(root, "mnist"))
    return x[:7000], x[7000:8000], x[8000:]


def heldout_mnist(limit=None):
    x, _ = data.mnist_sample()  # == digits 8,000-9,999 of the 10k set
    return x[:limit]


def fashion_splits(data_root=None):
    """(train 0-54,999, validation 55,000-59,999, t10k) Fashion-MNIST images."""
    folder = os.path.join(data_root, "fashion-mnist") if data_root else None
    x, _ = data.fashion_mnist_arrays("train", data_dir=folder)
    x_test, _ = data.fashion_mnist_arrays("test", data_dir=folder)
    return x[:55000], x[55000:], x_test


# -- training --------------------------------------------------------------------------------------
def run_dir(name, seed, quick):
    return os.path.join(paths.runs_dir(), f"{name}_seed{seed}{'_quick' if quick else ''}")


def fit(model, x_train, x_val, seed, folder, max_epochs=MAX_EPOCHS, batch_size=BATCH_SIZE):
    """Train to convergence (see the module docstring); resumes from `folder`. Returns the training record."""
    done = os.path.join(folder, "trained.weights.h5")
    record_path = os.path.join(folder, "training.json")
    if os.path.isfile(done) and os.path.isfile(record_path):
        model.load_weights(done)
        with open(record_path) as f:
            return json.load(f)
    keras.utils.set_random_seed(seed)
    # Burda et al.'s start for their MLP decoders: the output bias at the logit of the mean training pixel
    # (from zero, the two-stochastic-layer model stalls tens of nats behind the one-layer model).
    bias_start = getattr(model, "architecture", None) == "mlp"
    if bias_start:
        model.initialize_output_bias(x_train)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-4))
    train = data.image_dataset(x_train, batch_size=batch_size, seed=seed)
    val = data.image_dataset(x_val, batch_size=500, binarize="fixed", shuffle=False, seed=seed)
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=STOP_PATIENCE, restore_best_weights=True)
    schedule = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=LR_FACTOR, patience=LR_PATIENCE,
                                           min_lr=MIN_LR)
    clock = callbacks.WallClock()
    backup = callbacks.BackupAndRestore(os.path.join(folder, "backup"), track=[stop, schedule, clock])
    model.fit(train, validation_data=val, epochs=max_epochs, verbose=2, callbacks=[stop, schedule, clock, backup])
    history = {k: [round(v, 3) if k != "learning_rate" else float(v) for v in vs] for k, vs in backup.history.items()}
    epochs_run = len(history["loss"])
    training = {
        "epochs_run": epochs_run, "best_epoch": stop.best_epoch + 1, "stopped_early": epochs_run < max_epochs,
        "monitor": "val_loss", "best_val_loss": round(float(stop.best), 3),
        "rule": (f"Adam(1e-3, epsilon=1e-4), batch {batch_size}; learning rate x{LR_FACTOR} after {LR_PATIENCE} "
                 f"epochs without a better val_loss (min {MIN_LR}); stop after {STOP_PATIENCE} epochs without one "
                 f"(at most {max_epochs}); the best epoch's weights restored"
                 + ("; decoder output bias started at the logit of the mean training pixel" if bias_start else "")),
        "train_wall_time_s": round(clock.seconds, 1),
        "history": history,
    }
    model.save_weights(done)
    with open(record_path, "w") as f:
        json.dump(training, f)
    return training


# -- evaluation ------------------------------------------------------------------------------------
def evaluate_vae(model, images, k=K_EVAL, seed=0, ll_images=None, verbose=1):
    """Held-out scores: ELBO, IWAE-k and jackknife log-likelihood, active units, reconstruction."""
    xb = data.binarize_fixed(images, seed=seed)
    start = time.time()
    ll_images = len(xb) if ll_images is None else min(ll_images, len(xb))
    elbo = evaluate.log_likelihood(model, xb, k=1, verbose=0, seed=seed)
    est = evaluate.log_likelihood_estimates(model, xb[:ll_images], k=k, seed=seed, verbose=verbose)
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
        f"jackknife_{k}_nll": round(-est["jackknife"].mean, 3),
        "log_likelihood_images": int(ll_images),
        "log_likelihood_k": k,
        "active_units": active,
        "reconstruction_nats": round(float(bce.mean()), 3),
        "eval_wall_time_s": round(time.time() - start, 1),
        # Per-image values let two entries be compared paired over the same images.
        "per_image": {f"iwae_{k}_log_likelihood": [round(float(v), 3) for v in est["iwae"].per_example]},
    }


def constructor(model):
    config = model.get_config()
    return {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}


def train_entry(name, make_model, splits, seed, quick, data_description, anchors=None, notes="", ll_images=None):
    """Train (resumably), evaluate and describe one entry; returns (model, record) for the zoo driver."""
    x_train, x_val, x_test = splits
    max_epochs, k = MAX_EPOCHS, K_EVAL
    if quick:
        x_train, x_val, x_test, max_epochs, k, ll_images = x_train[:256], x_val[:64], x_test[:64], 2, 50, 16
    folder = run_dir(name, seed, quick)
    os.makedirs(folder, exist_ok=True)
    model = make_model()
    training = fit(model, x_train, x_val, seed, folder, max_epochs=max_epochs)
    eval_path = os.path.join(folder, "evaluation.json")
    if os.path.isfile(eval_path):
        with open(eval_path) as f:
            metrics = json.load(f)
    else:
        metrics = evaluate_vae(model, x_test, k=k, seed=seed, ll_images=ll_images)
        with open(eval_path, "w") as f:
            json.dump(metrics, f)
    metrics["train_wall_time_s"] = training["train_wall_time_s"]
    metrics["epochs_to_convergence"] = training["best_epoch"]
    record = {
        "constructor": constructor(model),
        "data": data_description(len(x_train), len(x_val), len(x_test)),
        "epochs": training["epochs_run"],
        "batch_size": BATCH_SIZE,
        "seed": seed,
        "metrics": metrics,
        "training": training,
        "anchors": anchors or {},
        "notes": notes,
        "golden_inputs": data.binarize_fixed(x_test[:8], seed=123),
        "run_dir": folder,  # removed by the zoo driver once the entry is written
    }
    return model, record


def mnist_description(n_train, n_val, n_test):
    return (f"{MNIST_DATA}: trained on digits 0-{n_train - 1} (dynamic binarization), early-stopped on digits "
            f"7,000-{7000 + n_val - 1}, evaluated on the {n_test} held-out digits 8,000-{8000 + n_test - 1} "
            "(= tfvb.data.mnist_sample(), t10k images 3,000-4,999; one fixed-seed binarization)")


def fashion_description(n_train, n_val, n_test):
    return (f"Fashion-MNIST (Zalando Research, MIT; Debian's dataset-fashion-mnist): trained on training images "
            f"0-{n_train - 1} (dynamic binarization), early-stopped on training images 55,000-{55000 + n_val - 1}, "
            f"evaluated on t10k images 0-{n_test - 1} (one fixed-seed binarization)")


def benchmark_vae(model, images, ll_images=None):
    """Re-measure the card's metrics on held-out images (the zoo driver's `benchmark`)."""
    return evaluate_vae(model, images, ll_images=ll_images)


def make_iwae(seed, **kwargs):
    return lambda: tfvb.models.IWAE(seed=seed, **kwargs)
