"""Zoo recipe `mc_dropout_mnist`: an MC-dropout LeNet-5 classifier on the 60,000 MNIST training digits.

The third answer to "how uncertain is this prediction" beside mean-field VI
(`bnn_flipout_mnist`, `bnn_reparam_mnist`) and the deep ensemble
(`ensemble_mnist`), on exactly their data, stopping rule and metrics
(`zoo/_classifier_recipe.py`).

Model: `MCDropoutClassifier(10, architecture="lenet", hidden_units=(120, 84))`:
LeNet-5 with dropout (p = 0.25) before every weight layer but the first
(Gal & Ghahramani's Bayesian CNN, "lenet-all"), kept on at prediction;
weight decay l^2 (1 - p) / (2 N) with l = 1, the Gaussian prior of
precision 1 that the BNN entries' N(0, 1) prior also is. Metrics from
T = 100 dropout passes (`predict_uncertainty`, seeded).

The zoo driver calls `train(seed, quick, data_root)`; run directly for a check:
    python zoo/mc_dropout_mnist.py --quick
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as a script: the sibling modules
import _classifier_recipe as recipe  # noqa: E402
import bnn_flipout_mnist  # noqa: E402

NAME = "mc_dropout_mnist"
DROPOUT_RATE = 0.25
LENGTHSCALE = 1.0


def train(seed=0, quick=False, data_root=None, dataset="mnist"):
    """Train the zoo entry; returns (trained model, record)."""
    from tfvb.models import MCDropoutClassifier

    constructor = {"num_classes": 10, "architecture": "lenet", "hidden_units": (120, 84),
                   "dropout_rate": DROPOUT_RATE, "lengthscale": LENGTHSCALE,
                   "num_examples": 512 if quick else recipe.N_TRAIN, "seed": seed, "input_range": (0.0, 1.0)}
    notes = (f"{NAME}: {recipe.LENET5} with dropout p={DROPOUT_RATE} before every weight layer but the first, "
             f"weight decay l^2 (1 - p) / (2N) with l={LENGTHSCALE}. Metrics use the MC predictive mean of "
             f"{bnn_flipout_mnist.SAMPLES} seeded dropout passes; `accuracy_dropout_off` is the network with dropout "
             "off (weight scaling).")
    return recipe.train_classifier(NAME, lambda: MCDropoutClassifier(**constructor), bnn_flipout_mnist.evaluate,
                                   seed=seed, quick=quick, data_root=data_root, constructor=constructor, notes=notes)


def evaluate_stored(model, data_root=None, dataset="mnist", card=None, **args):
    """The stored weights measured again on the held-out digits (`tfvb zoo evaluate mc_dropout_mnist`)."""
    return recipe.evaluate_stored(bnn_flipout_mnist.evaluate, model, data_root=data_root, card=card)


def benchmark(model, limit=None, data_root=None, dataset="mnist"):
    """Re-measure the card's metrics on the held-out digits and Fashion-MNIST (the first `limit` of each)."""
    return bnn_flipout_mnist.benchmark(model, limit=limit, data_root=data_root)


if __name__ == "__main__":
    recipe.main(train, NAME)
