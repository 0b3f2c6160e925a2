"""tfvb's models: each a `keras.Model` whose `train_step` computes its ELBO variant.

Importing this package registers every model class with Keras, so `.keras`
files load after `import tfvb`.

Compile, fit and evaluate. A tfvb model trains on its own objective (the
negative ELBO per example, an IWAE bound, MC dropout's objective) and reports
it as `loss`, beside its terms: `compile(optimizer, metrics=[...])`, no
`loss` (one would be ignored, so it is refused with an error; `DeepEnsemble`
is the exception: its members train on the loss you give). The metrics
passed to `compile` are computed on the predictive probabilities or mean
(VAEs: the images against their reconstruction) and reported after the
model's own. `evaluate` returns a list in that order, `loss` first (a
BNN classifier: `[loss, nll, kl, elbo, accuracy, *your metrics]`); with
`return_dict=True`, a dict by name:

    >>> images, labels = tfvb.data.mnist_sample()
    >>> bnn = tfvb.models.BNNClassifier(10, hidden_units=(16,), num_examples=1000, seed=0)
    >>> bnn.compile(optimizer="adam", metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")])
    >>> loss, nll, kl, elbo, accuracy, top3 = bnn.evaluate(images[:200], labels[:200], verbose=0)
    >>> logs = bnn.evaluate(images[:200], labels[:200], return_dict=True, verbose=0)
    >>> sorted(logs)
    ['accuracy', 'elbo', 'kl', 'loss', 'nll', 'top3']
"""

from tfvb.models.bayesian_network import BayesianNetwork
from tfvb.models.bnn import BNNClassifier, BNNRegressor
from tfvb.models.ensemble import DeepEnsemble
from tfvb.models.iwae import IWAE
from tfvb.models.mc_dropout import MCDropoutClassifier, MCDropoutRegressor
from tfvb.models.vae import CVAE

__all__ = ["BayesianNetwork", "BNNClassifier", "BNNRegressor", "CVAE", "DeepEnsemble", "IWAE", "MCDropoutClassifier",
           "MCDropoutRegressor"]
