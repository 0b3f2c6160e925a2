"""tfvb's models: each a `keras.Model` whose `train_step` computes its ELBO variant.

Importing this package registers every model class with Keras, so `.keras`
files load after `import tfvb`.
"""

from tfvb.models.bayesian_network import BayesianNetwork
from tfvb.models.bnn import BNNClassifier, BNNRegressor
from tfvb.models.ensemble import DeepEnsemble
from tfvb.models.iwae import IWAE
from tfvb.models.mc_dropout import MCDropoutClassifier, MCDropoutRegressor
from tfvb.models.vae import CVAE

__all__ = ["BayesianNetwork", "BNNClassifier", "BNNRegressor", "CVAE", "DeepEnsemble", "IWAE", "MCDropoutClassifier",
           "MCDropoutRegressor"]
