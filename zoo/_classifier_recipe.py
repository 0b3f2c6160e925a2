"""Shared training and evaluation for the MNIST classifier entries (Flipout, reparameterization, MC dropout,
deep ensemble): one protocol, so their numbers stand in one table.

Data: the official 60,000 MNIST training digits (../shared/data/mnist):
gradient steps on digits 0-49,999, early stopping on 50,000-59,999 (the
classic split); every reported number on the 5,000 t10k digits available
here (t10k images 0-4,999, the last 5,000 of the shared `mnist10k` file).
Out-of-distribution set: Fashion-MNIST t10k images 0-4,999. Pixels scaled
to [0, 1], no augmentation.

Training: Adam, batch 128, the order of every epoch a function of the seed
and the epoch (`tfvb.data.image_dataset`), the learning rate halved when the
validation loss has not improved for `LR_PATIENCE` epochs, stopped when it
has not for `STOP_PATIENCE` or after `MAX_EPOCHS`, ending on the best
epoch's weights; resumable at any moment (`zoo/_convergence.py`). The
validation loss is each model's own objective: the negative ELBO per example
for the Bayesian entries, the members' mean cross-entropy for the ensemble.

Evaluation (`predictive_metrics`): accuracy, NLL and Brier score of the
predictive mean, ECE (15 bins), and the AUROC of telling Fashion-MNIST from
MNIST by predictive entropy and by mutual information; the coverage and mean
size of conformal prediction sets (APS plain and randomized, RAPS) at 90 % and 95 %, each calibrated on a
random half of the test digits and measured on the other half, averaged over
`CONFORMAL_SPLITS` random halvings (`tfvb.calibrate.set_coverage`). Under
`temperature_scaled`, the same metrics after temperature scaling (Guo et al.
2017) fitted on the 10,000 early-stopping digits (`temperature_scaled_metrics`).
"""

import json
import os
import time

import keras
import numpy as np
from _convergence import convergence_metrics, fit_to_convergence

from tfvb import _atomic, data, optimizers, paths

BATCH_SIZE = 128
MAX_EPOCHS = 200  # a cap, not the rule: mean-field VI's ELBO keeps improving (its KL falls) long after its NLL
STOP_PATIENCE = 20
LR_PATIENCE = 6
N_TRAIN, N_VAL, N_TEST = 50000, 10000, 5000
CONFORMAL_SPLITS = 100
BOOTSTRAP_RESAMPLES = 200
#: The conformal sets a card measures: (score, randomized, the key's suffix after the coverage, e.g. "90_raps").
SET_KINDS = {"aps": ("aps", False, ""), "aps_randomized": ("aps", True, "_randomized"),
             "raps": ("raps", False, "_raps")}

LENET5 = "LeNet-5 (conv 6@5x5 same, 2x2 max pool, conv 16@5x5, 2x2 max pool, dense 120-84-10)"
ANCHORS = {
    "source": "uncertainty-baselines (github.com/google/uncertainty-baselines), LeNet-5 on MNIST (60,000 training "
              "images, all 10,000 t10k test images)",
    "deterministic": {"nll": 0.037, "accuracy": 0.991},
    "mean_field_vi": {"nll": 0.048, "accuracy": 0.985, "ece": 0.010},
    "ensemble_of_10": {"nll": 0.016, "accuracy": 0.994, "ece": 0.005},
    "note": "Same architecture and the same 60,000 training digits as the reference (tfvb: 50,000 for the gradient "
            "steps, 10,000 for early stopping); tfvb evaluates on t10k images 0-4,999 (the test digits available "
            "to it), the reference on all 10,000.",
}


def run_dir(name, seed, quick):
    return os.path.join(paths.runs_dir(), f"{name}_seed{seed}{'_quick' if quick else ''}")


def load_data(data_root=None, quick=False):
    """((x_train, y_train), (x_val, y_val), (x_test, y_test), x_ood): float32 images in [0, 1], int64 labels."""
    root = data_root or paths.shared_data_dir()
    x, y = data.mnist_arrays("train", data_dir=os.path.join(root, "mnist"))
    t, ty = data.mnist_arrays("mnist10k", data_dir=os.path.join(root, "mnist"))
    if len(x) != N_TRAIN + N_VAL or len(t) != 10000:
        raise ValueError(f"Expected the 60,000 training digits and the 10,000 of mnist10k in {root}/mnist. "
                         f"Received: {len(x)} and {len(t)}")
    fashion = os.path.join(root, "fashion-mnist")
    ood, _ = data.fashion_mnist_arrays("test", data_dir=fashion if os.path.isdir(fashion) else None)
    train, val, test = (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:]), (t[5000:], ty[5000:])
    ood = ood[:N_TEST]
    if quick:
        train, val = (train[0][:512], train[1][:512]), (val[0][:256], val[1][:256])
        test, ood = (test[0][:256], test[1][:256]), ood[:256]
    return train, val, test, ood


def predictive_metrics(u_in, u_out, y, conformal=True):
    """Accuracy, NLL, Brier, ECE of the predictive mean on held-out digits, and the OOD AUROCs against `u_out`
    (and, with `conformal`, the coverage and size of APS prediction sets), each with its standard error
    (`standard_errors`)."""
    from tfvb.calibrate import set_coverage
    from tfvb.evaluate import brier_score, expected_calibration_error, ood_auroc, true_class_probabilities

    probs = _normalized(u_in["mean"])
    per_digit_nll = -np.log(true_class_probabilities(probs, y))
    measured = {
        "accuracy": float(np.mean(probs.argmax(1) == y)),
        "nll": float(per_digit_nll.mean()),
        "brier": brier_score(probs, y),
        "ece": expected_calibration_error(probs, y, num_bins=15),
        "ood_auroc_entropy": ood_auroc(u_in["entropy"], u_out["entropy"]),
        "ood_auroc_mutual_information": ood_auroc(u_in["mutual_information"], u_out["mutual_information"]),
        "mean_entropy_in": float(u_in["entropy"].mean()),
        "mean_entropy_ood": float(u_out["entropy"].mean()),
        "test_images": int(len(y)),
        "ood_images": int(len(u_out["entropy"])),
    }
    measured.update(standard_errors(probs, y, u_in, u_out))
    if conformal:
        measured["conformal_sets"] = {
            f"{round(100 * c)}{SET_KINDS[kind][2]}": set_coverage(u_in, y, coverage=c, score=SET_KINDS[kind][0],
                                                                 randomized=SET_KINDS[kind][1],
                                                                 splits=CONFORMAL_SPLITS)
            for kind in SET_KINDS for c in (0.9, 0.95)}
    return measured


def _normalized(mean):
    """Class probabilities in float64, each row summing to 1, as every score of `tfvb.evaluate` sees them
    (the per-digit Brier terms and accuracy here too)."""
    probs = np.asarray(mean, np.float64)
    return probs / probs.sum(axis=1, keepdims=True)


def standard_errors(probs, y, u_in, u_out, resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """The standard errors of `predictive_metrics`' numbers over the held-out digits.

    Accuracy: binomial, sqrt(a (1 - a) / n); NLL and Brier: the standard
    error of the per-digit mean; ECE and the OOD AUROCs (not means over
    digits): the standard deviation over `resamples` bootstrap resamples of
    the digits (and, for the AUROCs, of the out-of-distribution images),
    drawn from a generator seeded with `seed`.
    """
    from tfvb._numbers import proportion
    from tfvb.evaluate import expected_calibration_error, ood_auroc, true_class_probabilities

    n = len(y)
    per_digit = {"nll": -np.log(true_class_probabilities(probs, y)),
                 "brier": np.sum((probs - np.eye(probs.shape[1])[y]) ** 2, axis=1)}
    out = {"accuracy_se": proportion(int(np.sum(probs.argmax(1) == y)), n)[1]}
    out.update({f"{k}_se": float(v.std(ddof=1) / np.sqrt(n)) for k, v in per_digit.items()})
    rng = np.random.default_rng(seed)
    m = len(u_out["entropy"])
    draws = {"ece": [], "ood_auroc_entropy": [], "ood_auroc_mutual_information": []}
    for _ in range(resamples):
        i, j = rng.integers(0, n, n), rng.integers(0, m, m)
        draws["ece"].append(expected_calibration_error(probs[i], y[i], num_bins=15))
        for score in ("entropy", "mutual_information"):
            draws[f"ood_auroc_{score}"].append(ood_auroc(u_in[score][i], u_out[score][j]))
    out.update({f"{k}_se": float(np.std(v, ddof=1)) for k, v in draws.items()})
    out["bootstrap_resamples"] = resamples
    return out


def temperature_scaled_metrics(model, val, test, ood, samples=None, seed=0):
    """The held-out metrics of `model` after temperature scaling fitted on the early-stopping digits.

    Guo et al. 2017's post-hoc recalibration, `tfvb.calibrate.temperature_scale`:
    one temperature T, fitted by NLL on `val` (the 10,000 digits that chose the
    best epoch and never gave a gradient step), divides every draw's logits; the
    draws are seeded as the card's own metrics' (`seed`).
    Returns T, the calibration rows, and accuracy, NLL, Brier, ECE and OOD
    AUROCs on `test` / `ood` (`predictive_metrics` without the conformal sets).
    """
    from tfvb.calibrate import temperature_scale

    scaled = temperature_scale(model, val[0], val[1], samples=samples, seed=seed)
    u_in, u_out = scaled.predict_uncertainty(test[0]), scaled.predict_uncertainty(ood)
    measured = predictive_metrics(u_in, u_out, test[1], conformal=False)
    return {"temperature": scaled.temperature, "calibration_rows": int(len(val[1])), **measured}


def evaluate_all(evaluate, model, val, test, ood):
    """`evaluate(model, test, ood)` and, under `temperature_scaled`, the same after temperature scaling."""
    start = time.time()
    metrics = evaluate(model, test, ood)
    metrics["temperature_scaled"] = temperature_scaled_metrics(model, val, test, ood, samples=metrics.get("samples"))
    metrics["eval_wall_time_s"] = round(time.time() - start, 1)
    return metrics


def datasets(train, val, seed):
    """(fit's x, y, validation data): the epoch-reproducible training pipeline and the fixed validation one."""
    return (data.image_dataset(train[0], train[1], batch_size=BATCH_SIZE, binarize=None, seed=seed), None,
            data.image_dataset(val[0], val[1], batch_size=1000, binarize=None, shuffle=False))


def description(train, test, ood):
    return (f"the official 60,000 MNIST training digits: trained on training digits 0-{len(train[0]) - 1}, "
            f"early-stopped on training digits {N_TRAIN}-{N_TRAIN + N_VAL - 1}; evaluated on t10k images "
            f"0-{len(test[0]) - 1} ({len(test[0])} digits); OOD: Fashion-MNIST t10k images 0-{len(ood) - 1}; "
            "pixels scaled to [0, 1]")


def train_classifier(name, make_model, evaluate, seed=0, quick=False, data_root=None, learning_rate=1e-3,
                     constructor=None, notes="", compile_kwargs=None, fit_data=datasets):
    """Train `make_model()` (resumably), evaluate it with `evaluate(model, test, ood)`, describe it.

    `fit_data(train, val, seed)` gives `fit`'s (x, y, validation data);
    `compile_kwargs` go to `compile` beside the optimizer. Returns (model,
    record) for the zoo driver.
    """
    train, val, test, ood = load_data(data_root, quick)
    folder = run_dir(name, seed, quick)
    os.makedirs(folder, exist_ok=True)
    keras.utils.set_random_seed(seed)
    model = make_model()
    if hasattr(model, "adapt"):  # MC dropout learns its input statistics and N from the arrays, not a dataset
        model.adapt(*train)
    model.compile(optimizer=optimizers.Adam(learning_rate), **(compile_kwargs or {}))
    x, y, val_data = fit_data(train, val, seed)
    training = fit_to_convergence(model, x, val_data, folder, y=y, batch_size=None if y is None else BATCH_SIZE,
                                  max_epochs=2 if quick else MAX_EPOCHS, stop_patience=STOP_PATIENCE,
                                  lr_patience=LR_PATIENCE, rule=f"Adam({learning_rate}), batch {BATCH_SIZE}")
    eval_path = os.path.join(folder, "evaluation.json")
    if os.path.isfile(eval_path):
        metrics = _atomic.read_json(eval_path)
    else:
        metrics = evaluate_all(evaluate, model, val, test, ood)
        _atomic.write_json(eval_path, metrics)
    metrics["train_wall_time_s"] = training["train_wall_time_s"]
    metrics.update(convergence_metrics(training))
    record = {
        "constructor": constructor or {},
        "data": description(train, test, ood),
        "epochs": training["epochs_run"],
        "batch_size": BATCH_SIZE,
        "seed": seed,
        "metrics": metrics,
        "training": training,
        "anchors": ANCHORS,
        "golden_inputs": test[0][:8].copy(),
        "notes": notes + (" QUICK run on a tiny slice: numbers are not meaningful." if quick else ""),
        "run_dir": folder,  # removed by the zoo driver once the entry is written
    }
    return model, record


def evaluate_stored(evaluate, model, data_root=None, card=None):
    """`tfvb zoo evaluate NAME` for an entry trained by this protocol: (metrics, data description, None,
    the card fields to replace: today's `anchors`).

    The stored weights are measured again with `evaluate(model, test, ood)`
    on the held-out digits (e.g. to add the conformal-set coverage to an
    older card); metrics of the card that are not measured again (its
    training record's) are kept. An entry trained on the old 7,000-digit
    data is refused: its weights must be retrained, not re-described.
    """
    if card is not None and not str(card.get("data", "")).startswith("the official 60,000 MNIST"):
        raise ValueError("Expected an entry trained on the official 60,000 MNIST digits (this protocol). Received "
                         f"a card trained on: {str(card.get('data'))[:80]!r}; retrain it with `tfvb zoo train`")
    train, val, test, ood = load_data(data_root)
    metrics = evaluate_all(evaluate, model, val, test, ood)
    if (card or {}).get("training"):  # the training record's verdict, read with today's rule (an epoch cap)
        metrics.update(convergence_metrics(card["training"]))
    replaced = set(metrics) | {SUPERSEDED[k] for k in metrics if k in SUPERSEDED}
    kept = {k: v for k, v in ((card or {}).get("metrics") or {}).items() if k not in replaced}
    return {**kept, **metrics}, description(train, test, ood), None, {"anchors": ANCHORS}


# A metric measured now -> the name an older card stored the same measurement under (dropped when it is
# measured again): MC dropout's one-pass `predict` accuracy was stored as `accuracy_posterior_mean`.
SUPERSEDED = {"accuracy_dropout_off": "accuracy_posterior_mean"}


def held_out(data_root=None, limit=None):
    """(test, ood) of `load_data`, the first `limit` of each (the recipes' `benchmark`)."""
    _, _, test, ood = load_data(data_root)
    return (test[0][:limit], test[1][:limit]), ood[:limit]


def main(train_fn, name, argv=None):
    """Run a recipe outside the zoo driver: writes model.keras, record.json and golden_inputs.npy to --out
    (for `tfvb zoo package NAME RUN`)."""
    import argparse

    parser = argparse.ArgumentParser(description=f"Train zoo entry {name} and save it with its record.")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=os.path.join("/tmp/tfvb_zoo_runs", name))
    args = parser.parse_args(argv)
    start = time.time()
    model, record = train_fn(seed=args.seed, quick=args.quick, data_root=args.data_root)
    record.pop("run_dir", None)
    os.makedirs(args.out, exist_ok=True)
    model.save(os.path.join(args.out, "model.keras"))
    np.save(os.path.join(args.out, "golden_inputs.npy"), record["golden_inputs"])
    dumped = {**record, "golden_inputs": "golden_inputs.npy", "wall_seconds": time.time() - start}
    _atomic.write_json(os.path.join(args.out, "record.json"), dumped, indent=2, default=str)
    print(json.dumps({k: dumped[k] for k in ("metrics", "epochs", "wall_seconds")}, indent=2))
