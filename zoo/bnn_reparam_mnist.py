"""Zoo recipe `bnn_reparam_mnist`: the Bayes-by-Backprop (reparameterization) twin of `bnn_flipout_mnist`.

Same data, architecture (LeNet-5), prior, objective, optimizer, stopping
rule and metrics as `bnn_flipout_mnist`; only the weight-sampling
estimator differs: one kernel draw W = mu + sigma o eps shared by the whole
minibatch (Blundell et al., 2015), where Flipout decorrelates the examples.

The zoo driver calls `train(seed, quick, data_root)`; run directly for a check:
    python zoo/bnn_reparam_mnist.py --quick
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as a script: the sibling modules
import _classifier_recipe as recipe  # noqa: E402
import bnn_flipout_mnist  # noqa: E402

NAME = "bnn_reparam_mnist"


def train(seed=0, quick=False, data_root=None, dataset="mnist"):
    """Train the zoo entry; returns (trained model, record)."""
    return bnn_flipout_mnist.train_mnist_bnn(NAME, "reparameterization", seed=seed, quick=quick, data_root=data_root)


def evaluate_stored(model, data_root=None, dataset="mnist", card=None, **args):
    """The stored weights measured again on the held-out digits (`tfvb zoo evaluate bnn_reparam_mnist`)."""
    return recipe.evaluate_stored(bnn_flipout_mnist.evaluate, model, data_root=data_root, card=card)


def benchmark(model, limit=None, data_root=None, dataset="mnist"):
    """Re-measure the card's metrics on the held-out digits and Fashion-MNIST (the first `limit` of each)."""
    return bnn_flipout_mnist.benchmark(model, limit=limit, data_root=data_root)


if __name__ == "__main__":
    recipe.main(train, NAME)
