"""HyperModel of the MC-dropout regressor: dropout rate, tau, widths, learning rate."""

import keras_tuner

from tfvb import _checks
from tfvb.tuning._hypermodel import HyperModel


class MCDropoutHyperModel(HyperModel):
    """`MCDropoutRegressor`: dropout rate, tau, widths, learning rate; ranked by val_nll (min).

    Args:
        input_dim: number of features (models are built with it).
        num_examples: N of the weight decay (None: the size of the arrays given to `fit`).
        space, objective, seed: as in `CVAEHyperModel`.
    """

    objective = keras_tuner.Objective("val_nll", direction="min")

    def __init__(self, input_dim, num_examples=None, space=None, objective=None, seed=None, **kwargs):
        super().__init__(space=space, objective=objective, seed=seed, **kwargs)
        self.input_dim = _checks.positive_int("input_dim", input_dim)
        self.num_examples = num_examples

    @classmethod
    def default_space(cls):
        return {
            "dropout_rate": [0.005, 0.01, 0.05, 0.1],
            "tau": {"min_value": 1e-2, "max_value": 1e2, "sampling": "log"},
            "num_layers": [1, 2],
            "units": [50, 100],
            "lengthscale": 1e-2,
            "learning_rate": {"min_value": 1e-4, "max_value": 1e-2, "sampling": "log"},
        }

    def build(self, hp):
        from tfvb.models import MCDropoutRegressor

        model = MCDropoutRegressor(hidden_units=self.hidden_units(hp), dropout_rate=self.value(hp, "dropout_rate"),
                                   tau=self.value(hp, "tau"), lengthscale=self.value(hp, "lengthscale"),
                                   num_examples=self.num_examples_of(hp), seed=self.seed)
        # Built from the known input size, so keras-tuner can reload a trial's weights.
        model.build((None, self.input_dim))
        return self.compile(hp, model)

    def fit(self, hp, model, *args, **kwargs):
        self.learn_num_examples(args, kwargs, hp)
        return model.fit(*args, **kwargs)
