"""Zoo recipe `bnn_reparam_mnist`: the Bayes-by-Backprop (reparameterization) twin of `bnn_flipout_mnist`.

Same data, architecture (LeNet-5), prior, objective, optimizer,
epochs and metrics as `bnn_flipout_mnist`; only the weight-sampling
estimator differs: one kernel draw W = mu + sigma o eps shared by the whole
minibatch (Blundell et al., 2015), where Flipout decorrelates the examples.

The driver calls `train(seed, quick, data_root)`; run directly for a check:
    python zoo/bnn_reparam_mnist.py --quick
"""

import bnn_flipout_mnist  # a sibling recipe: zoo/ is on the path (the zoo driver, or run as a script)

NAME = "bnn_reparam_mnist"


def train(seed=0, quick=False, data_root=None, dataset="mnist"):
    """Train the zoo entry; returns (built, compiled, trained model, record)."""
    return bnn_flipout_mnist.train_mnist_bnn(NAME, "reparameterization", seed=seed, quick=quick, data_root=data_root)


if __name__ == "__main__":
    bnn_flipout_mnist.main(train, NAME)


def benchmark(model, limit=None, data_root=None, dataset="mnist"):
    return bnn_flipout_mnist.benchmark(model, limit=limit, data_root=data_root)
