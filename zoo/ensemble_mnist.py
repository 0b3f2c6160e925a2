"""Zoo recipe `ensemble_mnist`: a deep ensemble of 5 LeNet-5 classifiers on the 10k MNIST digits.

The baseline the Bayesian entries are compared with, on exactly their data
(`bnn_flipout_mnist`'s `load_data`): trained on images 0..7999 of the zoo's
MNIST file, every number measured on the held-out images 8000..9999, OOD
set the first 2,000 Fashion-MNIST t10k images. The metric keys are those of
`bnn_flipout_mnist`, so the demo's calibration table puts them side by side.

Model: `tfvb.models.DeepEnsemble` of 5 deterministic LeNet-5 (conv 6@5x5
same, 2x2 max pool, conv 16@5x5, pool, dense 120-84-10 logits; ReLU), the
BNN entries' architecture with point weights, each from its own
initialisation and its own data order (Lakshminarayanan et al., 2017), no
adversarial training. Softmax cross-entropy, Adam 1e-3, batch 128 and the
BNN entries' fixed budget of 20 epochs (no early stopping: the held-out
digits are for reporting only). Metrics from the 5 members: accuracy,
NLL of the predictive mean, ECE (15 bins), OOD AUROC of predictive entropy
and of mutual information, and the members' own mean accuracy and NLL.

The driver calls `train(seed, quick, data_root, dataset)`; run directly for a check:
    python zoo/ensemble_mnist.py --quick
"""

import time

import bnn_flipout_mnist  # a sibling recipe: zoo/ is on the path (the zoo driver, or run as a script)
import numpy as np

NAME = "ensemble_mnist"
MEMBERS = 5
EPOCHS = 20
BATCH_SIZE = 128
LEARNING_RATE = 1e-3

ANCHORS = {
    "source": "uncertainty-baselines, LeNet-5 on MNIST (60k training images): deep ensemble of 10",
    "ensemble_of_10": {"nll": 0.016, "ece": 0.005},
    "note": "The reference trains 10 members on 60,000 images; this entry trains 5 on 8,000 (the Bayesian "
            "entries' digits), so higher NLL and ECE are expected.",
}


def lenet5():
    """LeNet-5 with point weights: the BNN entries' architecture, logits out."""
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(6, 5, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(84, activation="relu"),
        keras.layers.Dense(10),
    ], name="lenet5")


def evaluate(model, held, ood):
    """Held-out accuracy, NLL, ECE, OOD AUROCs of the ensemble, and its members' own accuracy and NLL."""
    x, y = held
    u_in, u_out = model.predict_uncertainty(x), model.predict_uncertainty(ood)
    members = model.predict_samples(x)  # (n, N, 10)
    picked = np.clip(members[:, np.arange(len(y)), y], 1e-12, None)
    return {
        **bnn_flipout_mnist.predictive_metrics(u_in, u_out, y),
        "member_accuracy_mean": float(np.mean(members.argmax(-1) == y[None])),
        "member_nll_mean": float(-np.mean(np.log(picked))),
        "samples": model.n,
    }


def train(seed=0, quick=False, data_root=None, dataset="mnist"):
    """Train the zoo entry; returns (built, compiled, trained model, record)."""
    import keras

    from tfvb.models import DeepEnsemble

    train_data, held, ood = bnn_flipout_mnist.load_data(data_root, quick)
    epochs = 1 if quick else EPOCHS
    model = DeepEnsemble(lenet5, n=MEMBERS, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    start = time.time()
    history = model.fit(train_data[0], train_data[1], batch_size=BATCH_SIZE, epochs=epochs, verbose=2)
    seconds = time.time() - start
    metrics = evaluate(model, held, ood)
    metrics["train_seconds"] = seconds
    metrics["final_train_loss"] = float(history.history["loss"][-1])
    n_train, n_held = len(train_data[0]), len(held[0])
    record = {
        "constructor": {"members": "zoo/ensemble_mnist.py:lenet5", "n": MEMBERS, "seed": seed},
        "data": (f"MNIST zoo 10k file (mnist10k-*-idx*-ubyte.gz): trained on images 0..{n_train - 1}, metrics on "
                 f"held-out images 8000..{8000 + n_held - 1}; OOD: Fashion-MNIST t10k images 0..{len(ood) - 1}; "
                 "pixels scaled to [0, 1]"),
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "seed": seed,
        "metrics": metrics,
        "anchors": ANCHORS,
        "golden_inputs": held[0][:8].copy(),
        "notes": (f"{NAME}: DeepEnsemble of {MEMBERS} deterministic LeNet-5 (conv 6@5x5 same, pool, conv 16@5x5, "
                  f"pool, dense 120-84-10), softmax cross-entropy, Adam {LEARNING_RATE}, batch {BATCH_SIZE}, "
                  f"{epochs} epochs (the BNN entries' budget), every member trained in the same fit from its own "
                  "initialisation and data order. Metrics use the mean of the members' probabilities; "
                  "`member_*_mean` are the single members' averages. "
                  + ("QUICK run on a tiny slice: numbers are not meaningful." if quick else "")),
    }
    return model, record


def benchmark(model, limit=None, data_root=None, dataset="mnist"):
    """Re-measure the card's metrics on the held-out digits and Fashion-MNIST (the first `limit` of each)."""
    _, held, ood = bnn_flipout_mnist.load_data(data_root)
    return evaluate(model, (held[0][:limit], held[1][:limit]), ood[:limit])


if __name__ == "__main__":
    bnn_flipout_mnist.main(train, NAME)
