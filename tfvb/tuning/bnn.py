"""HyperModels of the Bayesian neural networks: widths, prior, KL weighting, posterior init."""

import keras_tuner
import numpy as np

from tfvb import _checks
from tfvb.tuning._hypermodel import HyperModel


class _BNNHyperModel(HyperModel):
    """Widths, prior (Blundell's grid for the scale mixture), KL weighting, posterior init."""

    objective = keras_tuner.Objective("val_elbo", direction="max")

    def __init__(self, layer="flipout", num_examples=None, space=None, objective=None, seed=None, **kwargs):
        super().__init__(space=space, objective=objective, seed=seed, **kwargs)
        self.layer = layer
        self.num_examples = num_examples

    @classmethod
    def default_space(cls):
        return {
            "num_layers": [1, 2],
            "units": [50, 100, 400],
            "prior": ["normal", "scale_mixture"],
            "prior_sigma": [0.1, 1.0],  # normal prior
            "pi": [0.25, 0.5, 0.75],  # scale mixture: Blundell et al.'s grid
            "neg_log_sigma1": [0, 1, 2],
            "neg_log_sigma2": [6, 7, 8],
            "kl_weighting": ["uniform", "blundell"],
            "posterior_sigma_init": {"min_value": 1e-3, "max_value": 1e-1, "sampling": "log"},
            "learning_rate": {"min_value": 1e-3, "max_value": 3e-2, "sampling": "log"},
        }

    def prior(self, hp):
        from tfvb import priors

        if self.value(hp, "prior") == "normal":
            with hp.conditional_scope("prior", ["normal"]):
                return priors.Normal(self.value(hp, "prior_sigma"))
        with hp.conditional_scope("prior", ["scale_mixture"]):
            return priors.ScaleMixtureNormal(pi=self.value(hp, "pi"),
                                             sigma1=float(np.exp(-self.value(hp, "neg_log_sigma1"))),
                                             sigma2=float(np.exp(-self.value(hp, "neg_log_sigma2"))))

    def fit(self, hp, model, *args, **kwargs):
        self.learn_num_examples(args, kwargs, hp)
        return model.fit(*args, **kwargs)

    def common_args(self, hp):
        return {"hidden_units": self.hidden_units(hp), "layer": self.layer, "prior": self.prior(hp),
                "num_examples": self.num_examples_of(hp), "kl_weighting": self.value(hp, "kl_weighting"),
                "posterior_sigma_init": self.value(hp, "posterior_sigma_init"), "seed": self.seed}


class BNNClassifierHyperModel(_BNNHyperModel):
    """`BNNClassifier`: see `_BNNHyperModel.default_space`; ranked by val_elbo.

    Args:
        num_classes, image_shape, layer, num_examples: passed to every model.
        space, objective, seed: as in `CVAEHyperModel`.
    """

    def __init__(self, num_classes, image_shape=(28, 28, 1), layer="flipout", num_examples=None, space=None,
                 objective=None, seed=None, **kwargs):
        image_shape = _checks.renamed(kwargs, "input_shape", "image_shape", image_shape)
        super().__init__(layer=layer, num_examples=num_examples, space=space, objective=objective, seed=seed,
                         **kwargs)
        self.num_classes = _checks.positive_int("num_classes", num_classes)
        self.image_shape = _checks.int_tuple("image_shape", image_shape)

    def build(self, hp):
        from tfvb.models import BNNClassifier

        model = BNNClassifier(self.num_classes, image_shape=self.image_shape, **self.common_args(hp))
        return self.compile(hp, model)


class BNNRegressorHyperModel(_BNNHyperModel):
    """`BNNRegressor`: see `_BNNHyperModel.default_space`; ranked by val_elbo.

    Args:
        input_dim: number of features (the models are built with it, so the
            tuner can reload their weights).
        layer, num_examples: passed to every model.
        space, objective, seed: as in `CVAEHyperModel`.
    """

    def __init__(self, input_dim, layer="flipout", num_examples=None, space=None, objective=None, seed=None,
                 **kwargs):
        super().__init__(layer=layer, num_examples=num_examples, space=space, objective=objective, seed=seed,
                         **kwargs)
        self.input_dim = _checks.positive_int("input_dim", input_dim)

    def build(self, hp):
        from tfvb.models import BNNRegressor

        model = BNNRegressor(input_dim=self.input_dim, **self.common_args(hp))
        return self.compile(hp, model)
