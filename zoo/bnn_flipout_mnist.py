"""Zoo recipe `bnn_flipout_mnist`: a Flipout LeNet-5 Bayesian classifier on the 60,000 MNIST training digits.

Data, training and metrics: `zoo/_classifier_recipe.py` (shared by every
MNIST classifier entry). Model: `BNNClassifier(10, architecture="lenet",
hidden_units=(120, 84), layer="flipout")`: LeNet-5 with Bayesian 5x5
convolutions (6 and 16 filters), 2x2 max pooling and Bayesian dense
120-84-10, the architecture of the uncertainty-baselines anchor; an N(0, 1)
prior, the minibatch negative ELBO with the KL spread uniformly (KL / N per
example, N = 50,000), posterior standard deviations started at 0.01.
Metrics from T = 100 weight draws (`predict_uncertainty`, seeded).

The zoo driver calls `train(seed, quick, data_root)`; run directly for a check:
    python zoo/bnn_flipout_mnist.py --quick
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as a script: the sibling modules
import _classifier_recipe as recipe  # noqa: E402

NAME = "bnn_flipout_mnist"
SAMPLES = 100


def evaluate(model, test, ood, samples=SAMPLES, seed=0):
    """Held-out accuracy, NLL, Brier, ECE and OOD AUROCs from `samples` weight draws."""
    x, y = test
    u_in = model.predict_uncertainty(x, samples=samples, seed=seed)
    u_out = model.predict_uncertainty(ood, samples=samples, seed=seed)
    return {
        **recipe.predictive_metrics(u_in, u_out, y),
        **point_accuracy(model, x, y),
        "samples": samples,
    }


def point_accuracy(model, x, y):
    """The accuracy of the model's one deterministic prediction, under the name of what it is.

    Mean-field VI: `accuracy_posterior_mean`, the posterior mean weights (what the
    layers compute outside training). MC dropout: `accuracy_dropout_off`, the
    network with dropout off (the weight-scaling rule, Gal's "standard dropout"),
    since its `predict` is one random dropout pass, not a point prediction.
    """
    from tfvb.models import MCDropoutClassifier

    if isinstance(model, MCDropoutClassifier):
        # The network with the identity for every dropout site: E[h m / (1 - p)] = h.
        h = model._normalize(model._flat_inputs(x))
        raw = model._layers_with_noise(h, [lambda h: h] * len(model.noise_shapes))
        probs = model.outputs_from_raw(raw)[0].numpy()
        return {"accuracy_dropout_off": float(np.mean(probs.argmax(1) == y))}
    return {"accuracy_posterior_mean": float(np.mean(model.predict(x, verbose=0).argmax(1) == y))}


def train_mnist_bnn(name, layer, seed=0, quick=False, data_root=None):
    from tfvb.models import BNNClassifier

    constructor = {"num_classes": 10, "architecture": "lenet", "hidden_units": (120, 84), "layer": layer,
                   "prior": None, "kl_weighting": "uniform", "posterior_sigma_init": 0.01,
                   "num_examples": 512 if quick else recipe.N_TRAIN, "seed": seed,
                   "input_range": (0.0, 1.0)}
    notes = (f"{name}: {layer} {recipe.LENET5}, N(0,1) prior, uniform KL weighting (KL/N per example), posterior "
             f"sigma started at 0.01. Metrics use the MC predictive mean of {SAMPLES} seeded weight draws; "
             "`accuracy_posterior_mean` uses the posterior mean weights.")
    return recipe.train_classifier(name, lambda: BNNClassifier(**constructor), evaluate, seed=seed, quick=quick,
                                   data_root=data_root, constructor=constructor, notes=notes)


def train(seed=0, quick=False, data_root=None, dataset="mnist"):
    """Train the zoo entry; returns (trained model, record)."""
    return train_mnist_bnn(NAME, "flipout", seed=seed, quick=quick, data_root=data_root)


def evaluate_stored(model, data_root=None, dataset="mnist", card=None, **args):
    """The stored weights measured again on the held-out digits (`tfvb zoo evaluate bnn_flipout_mnist`)."""
    return recipe.evaluate_stored(evaluate, model, data_root=data_root, card=card)


def benchmark(model, limit=None, data_root=None, dataset="mnist"):
    """Re-measure the card's metrics on the held-out digits and Fashion-MNIST (the first `limit` of each)."""
    return evaluate(model, *recipe.held_out(data_root, limit))


if __name__ == "__main__":
    recipe.main(train, NAME)
