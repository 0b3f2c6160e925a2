"""Zoo recipe `ensemble_mnist`: a deep ensemble of 10 LeNet-5 classifiers on the 60,000 MNIST training digits.

The baseline the Bayesian entries are compared with, on exactly their data,
stopping rule and metrics (`zoo/_classifier_recipe.py`), and the anchor's
size (uncertainty-baselines' ensemble of 10).

Model: `tfvb.models.DeepEnsemble` of 10 deterministic LeNet-5 (conv 6@5x5
same, 2x2 max pool, conv 16@5x5, pool, dense 120-84-10 logits; ReLU), the
BNN entries' architecture with point weights, each from its own
initialisation and its own data order (Lakshminarayanan et al., 2017), no
adversarial training; softmax cross-entropy. Metrics from the 10 members,
plus the members' own mean accuracy and NLL.

The zoo driver calls `train(seed, quick, data_root, dataset)`; run directly for a check:
    python zoo/ensemble_mnist.py --quick
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as a script: the sibling modules
import _classifier_recipe as recipe  # noqa: E402

NAME = "ensemble_mnist"
MEMBERS = 10


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


def evaluate(model, test, ood):
    """Held-out accuracy, NLL, Brier, ECE, OOD AUROCs of the ensemble, and its members' own accuracy and NLL."""
    x, y = test
    u_in, u_out = model.predict_uncertainty(x), model.predict_uncertainty(ood)
    from tfvb.evaluate import true_class_probabilities

    members = model.predict_samples(x)  # (n, N, 10)
    picked = true_class_probabilities(members.reshape(-1, members.shape[-1]), np.tile(y, len(members)))
    return {
        **recipe.predictive_metrics(u_in, u_out, y),
        "member_accuracy_mean": float(np.mean(members.argmax(-1) == y[None])),
        "member_nll_mean": float(-np.mean(np.log(picked))),
        "samples": model.n,
    }


def member_arrays(train, val, seed):
    """Arrays, so that every member draws its own data order each epoch (DeepEnsemble.fit)."""
    return train[0], train[1], val


def train(seed=0, quick=False, data_root=None, dataset="mnist"):
    """Train the zoo entry; returns (trained model, record)."""
    import keras

    from tfvb.models import DeepEnsemble

    members = 2 if quick else MEMBERS
    notes = (f"{NAME}: DeepEnsemble of {members} deterministic {recipe.LENET5}, softmax cross-entropy, every "
             "member trained in the same fit from its own initialisation and its own data order; the stopping "
             "rule watches the members' mean validation loss. Metrics use the mean of the members' "
             "probabilities; `member_*_mean` are the single members' averages.")
    return recipe.train_classifier(
        NAME, lambda: DeepEnsemble(lenet5, n=members, seed=seed, input_range=(0.0, 1.0)), evaluate, seed=seed,
        quick=quick, data_root=data_root,
        constructor={"members": "zoo/ensemble_mnist.py:lenet5", "n": members, "seed": seed, "input_range": (0.0, 1.0)},
        notes=notes, fit_data=member_arrays,
        compile_kwargs={"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "metrics": ["accuracy"]})


def evaluate_stored(model, data_root=None, dataset="mnist", card=None, **args):
    """The stored weights measured again on the held-out digits (`tfvb zoo evaluate ensemble_mnist`)."""
    return recipe.evaluate_stored(evaluate, model, data_root=data_root, card=card)


def benchmark(model, limit=None, data_root=None, dataset="mnist"):
    """Re-measure the card's metrics on the held-out digits and Fashion-MNIST (the first `limit` of each)."""
    return evaluate(model, *recipe.held_out(data_root, limit))


if __name__ == "__main__":
    recipe.main(train, NAME)
