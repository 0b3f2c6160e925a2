"""Zoo recipe `bnn_reparam_mnist`: the Bayes-by-Backprop (reparameterization) twin of `bnn_flipout_mnist`.

Same data, architecture (LeNet-5), prior, objective, optimizer,
epochs and metrics as `bnn_flipout_mnist`; only the weight-sampling
estimator differs: one kernel draw W = mu + sigma o eps shared by the whole
minibatch (Blundell et al., 2015), where Flipout decorrelates the examples.

The driver calls `train(seed, quick, data_root)`; run directly for a check:
    python zoo/bnn_reparam_mnist.py --quick
"""

import importlib.util
import os

NAME = "bnn_reparam_mnist"


def _flipout_recipe():
    # The recipes are plain files, not a package: load the sibling that holds the shared MNIST recipe.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bnn_flipout_mnist.py")
    spec = importlib.util.spec_from_file_location("_tfvb_zoo_bnn_flipout_mnist", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(seed=0, quick=False, data_root=None, dataset="mnist"):
    """Train the zoo entry; returns (built, compiled, trained model, record)."""
    return _flipout_recipe().train_mnist_bnn(NAME, "reparameterization", seed=seed, quick=quick, data_root=data_root)


if __name__ == "__main__":
    _flipout_recipe().main(train, NAME)


def benchmark(model, limit=None, data_root=None, dataset="mnist"):
    return _flipout_recipe().benchmark(model, limit=limit, data_root=data_root)
