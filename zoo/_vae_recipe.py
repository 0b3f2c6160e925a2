"""Shared training and evaluation for the VAE-family zoo entries (MNIST and Fashion-MNIST).

Data. MNIST: the official 60,000 training digits (../shared/data/mnist,
standard IDX names), as Burda et al. train: entries train on digits
0-49,999 and stop early on 50,000-59,999 (the classic split), and are
evaluated on the 5,000 t10k digits available here (t10k images 0-4,999, the
last 5,000 of the shared `mnist10k` file; the 2,000 digits bundled with tfvb,
`tfvb.data.mnist_sample`, are t10k 3,000-4,999 among them). Fashion-MNIST:
train images 0-54,999, validation 55,000-59,999, evaluation on t10k.

Training: dynamic binarization, the MLP decoders' output bias started at the
logit of the mean training pixel (as Burda et al.'s code does), Adam with
Burda et al.'s epsilon=1e-4, the learning rate halved when the validation loss has not improved for
`LR_PATIENCE` epochs, and early stopping when it has not improved for
`STOP_PATIENCE` epochs, ending on the best epoch's weights. The whole state
(weights, optimizer, noise, data order, schedule and stopping counters) is
backed up atomically every epoch under `tfvb.paths.runs_dir()`, and kept
until the run's own files (final weights, training record, evaluation) are
written, each atomically, so a recipe killed at any moment continues where
it stopped when run again.

Evaluation: one fixed-seed binarization; IWAE-5000 and jackknife estimates of
log p(x) on every held-out image (in chunks, each kept as it is done, so a
killed evaluation resumes), the ELBO, active units and reconstruction.
"""

import os
import time

import keras
import numpy as np
from _convergence import convergence_metrics, fit_to_convergence

import tfvb
from tfvb import _atomic, data, evaluate, optimizers, paths

MAX_EPOCHS = 3000  # Burda et al. ran 3^8 = 6,561 passes; early stopping ends far earlier
STOP_PATIENCE = 50
LR_PATIENCE = 15
LR_FACTOR = 0.5
MIN_LR = 1e-5
BATCH_SIZE = 100
K_EVAL = 5000

MNIST_DATA = "the official 60,000 MNIST training digits"
LL_CHUNK = 500  # images per resumable chunk of the log-likelihood evaluation
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
    "note": "Same data as the paper: tfvb's MNIST entries train on the official 60,000 training digits (50,000 "
            "for the gradient steps, 10,000 for early stopping) and report IWAE-5000 on t10k images 0-4,999 "
            "(the paper: all 10,000 t10k images).",
}


# -- data ------------------------------------------------------------------------------------------
def mnist_splits(data_root=None):
    """(train 0-49,999, validation 50,000-59,999 of the official training digits, t10k 0-4,999) images."""
    folder = os.path.join(data_root or paths.shared_data_dir(), "mnist")
    x, _ = data.mnist_arrays("train", data_dir=folder)
    return x[:50000], x[50000:], heldout_mnist(data_root=data_root)


def heldout_mnist(limit=None, data_root=None, card=None):
    """t10k images 0-4,999 (the last 5,000 of the shared `mnist10k` file), the first `limit` of them.

    With a `card` from before the 60,000 training digits (trained on 7,000), the images it was
    measured on: t10k 3,000-4,999, the digits bundled with tfvb.
    """
    if card is not None and not str(card.get("data", "")).startswith(MNIST_DATA):
        return data.mnist_sample()[0][:limit]
    folder = os.path.join(data_root or paths.shared_data_dir(), "mnist")
    x, _ = data.mnist_arrays("mnist10k", data_dir=folder)
    if len(x) != 10000:
        raise ValueError(f"Expected the 10,000 digits of mnist10k in {folder}. Received: {len(x)}")
    return x[5000:][:limit]


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
    keras.utils.set_random_seed(seed)
    # Burda et al.'s start for their MLP decoders: the output bias at the logit of the mean training pixel
    # (from zero, the two-stochastic-layer model stalls tens of nats behind the one-layer model).
    bias_start = getattr(model, "architecture", None) == "mlp"
    if bias_start:
        model.initialize_output_bias(x_train)
    model.compile(optimizer=optimizers.Adam(1e-3, epsilon=1e-4))
    train = data.image_dataset(x_train, batch_size=batch_size, seed=seed)
    val = data.image_dataset(x_val, batch_size=500, binarize="fixed", shuffle=False, seed=seed)
    rule = (f"Adam(1e-3, epsilon=1e-4), batch {batch_size}"
            + ("; decoder output bias started at the logit of the mean training pixel" if bias_start else ""))
    return fit_to_convergence(model, train, val, folder, max_epochs=max_epochs, stop_patience=STOP_PATIENCE,
                              lr_patience=LR_PATIENCE, lr_factor=LR_FACTOR, min_lr=MIN_LR, rule=rule)


# -- evaluation ------------------------------------------------------------------------------------
def log_likelihood_in_chunks(model, xb, k, seed, folder=None, verbose=1):
    """Per-image IWAE-k and jackknife estimates of log p(x), LL_CHUNK images at a time.

    Chunk c (images c..c+LL_CHUNK-1) draws from seed + c whatever else is
    evaluated, so a re-measurement of the first n images reproduces the
    card's per-image values; with `folder`, each finished chunk is kept there
    (with the seconds it took) and a killed evaluation resumes at the first
    missing one.

    Returns:
        The per-image estimates under "iwae" and "jackknife", and under
        "resumed_seconds" the seconds that the chunks finished by earlier runs
        took (0.0 when none was), so a resumed evaluation reports its whole cost.
    """
    values = {"iwae": [], "jackknife": []}
    resumed_seconds = 0.0
    for c in range(0, len(xb), LL_CHUNK):
        path = os.path.join(folder, f"log_likelihood_{k}_{c:05d}.npz") if folder else None
        if path and os.path.isfile(path):
            with np.load(path) as npz:
                chunk = {m: npz[m] for m in values}
                resumed_seconds += float(npz["seconds"]) if "seconds" in npz.files else 0.0
        else:
            start = time.time()
            est = evaluate.log_likelihood_estimates(model, xb[c:c + LL_CHUNK], k=k, seed=seed + c, verbose=verbose)
            chunk = {m: est[m].per_example for m in values}
            if path:
                with _atomic.replacing(path) as tmp:
                    np.savez(tmp, seconds=time.time() - start, **chunk)
        for m in values:
            values[m].append(chunk[m])
    return {**{m: np.concatenate(v).astype(np.float64) for m, v in values.items()}, "resumed_seconds": resumed_seconds}


def _mean_se(values):
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def evaluate_vae(model, images, k=K_EVAL, seed=0, ll_images=None, verbose=1, folder=None):
    """Held-out scores: ELBO, IWAE-k and jackknife log-likelihood, active units, reconstruction."""
    xb = data.binarize_fixed(images, seed=seed)
    start = time.time()
    ll_images = len(xb) if ll_images is None else min(ll_images, len(xb))
    elbo = evaluate.log_likelihood(model, xb, k=1, verbose=0, seed=seed)
    est = log_likelihood_in_chunks(model, xb[:ll_images], k, seed, folder=folder, verbose=verbose)
    (iwae, iwae_se), (jack, jack_se) = _mean_se(est["iwae"]), _mean_se(est["jackknife"])
    active, _ = evaluate.active_units(model, xb)
    recon = np.clip(model.predict(xb, batch_size=500, verbose=0), 1e-7, 1 - 1e-7)
    bce = -(xb * np.log(recon) + (1 - xb) * np.log(1 - recon)).reshape(len(xb), -1).sum(1)
    return {
        "heldout_images": int(len(xb)),
        "elbo": round(elbo.mean, 3), "elbo_se": round(elbo.standard_error, 3),
        f"iwae_{k}_log_likelihood": round(iwae, 3),
        f"iwae_{k}_se": round(iwae_se, 3),
        f"jackknife_{k}_log_likelihood": round(jack, 3),
        f"jackknife_{k}_se": round(jack_se, 3),
        f"iwae_{k}_nll": round(-iwae, 3),
        f"jackknife_{k}_nll": round(-jack, 3),
        "log_likelihood_images": int(ll_images),
        "log_likelihood_k": k,
        "active_units": active,
        "reconstruction_nats": round(float(bce.mean()), 3),
        # This run's time and that of the log-likelihood chunks earlier (interrupted) runs finished.
        "eval_wall_time_s": round(time.time() - start + est["resumed_seconds"], 1),
        # Per-image values let two entries be compared paired over the same images.
        "per_image": {f"iwae_{k}_log_likelihood": [round(float(v), 3) for v in est["iwae"]]},
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
    keras.utils.set_random_seed(seed)  # the initial weights too: one seed, one run
    model = make_model()
    training = fit(model, x_train, x_val, seed, folder, max_epochs=max_epochs)
    eval_path = os.path.join(folder, "evaluation.json")
    if os.path.isfile(eval_path):
        metrics = _atomic.read_json(eval_path)
    else:
        metrics = evaluate_vae(model, x_test, k=k, seed=seed, ll_images=ll_images, folder=folder)
        _atomic.write_json(eval_path, metrics)
    metrics["train_wall_time_s"] = training["train_wall_time_s"]
    metrics.update(convergence_metrics(training))
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
    return (f"{MNIST_DATA}: trained on training digits 0-{n_train - 1} (dynamic binarization), early-stopped on "
            f"training digits 50,000-{50000 + n_val - 1}, evaluated on t10k images 0-{n_test - 1} "
            f"({n_test} digits; one fixed-seed binarization)")


def fashion_description(n_train, n_val, n_test):
    return (f"Fashion-MNIST (Zalando Research, MIT; Debian's dataset-fashion-mnist): trained on training images "
            f"0-{n_train - 1} (dynamic binarization), early-stopped on training images 55,000-{55000 + n_val - 1}, "
            f"evaluated on t10k images 0-{n_test - 1} (one fixed-seed binarization)")


def benchmark_vae(model, images, ll_images=None):
    """Re-measure the card's metrics on held-out images (the zoo driver's `benchmark`)."""
    return evaluate_vae(model, images, ll_images=ll_images)


def make_iwae(seed, **kwargs):
    return lambda: tfvb.models.IWAE(seed=seed, **kwargs)
