"""Inputs and targets standardized inside a regression model, with statistics saved as its weights.

With the training statistics (m_x, s_x) of the inputs and (m_y, s_y) of the
targets, the network sees and predicts standardized values,

    x' = (x - m_x) / s_x,    y' = (y - m_y) / s_y,

and a prediction (mean mu', noise scale sigma') is reported in the targets'
units: mu = m_y + s_y mu', sigma = s_y sigma'. The Gaussian density changes by
the Jacobian of that map only, so

    log N(y; mu, sigma^2) = log N(y'; mu', sigma'^2) - sum_d log s_y,d

and the data term can be computed on y' (well scaled whatever the units)
and reported in the targets' units by adding sum_d log s_y,d.

`adapt(x, y)` learns the statistics (`fit` calls it on arrays the first
time); they are non-trainable weights, so `.keras` files and `save_weights`
carry them. Files written before the model standardized load with the
identity (m = 0, s = 1), which is what those models were trained with.
"""

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, gaussian
from tfvb.models import _inputs

__all__ = ["Standardized"]

#: The weights this mixin adds, in creation order, with the value of a model that does not standardize.
_IDENTITY = (("x_mean", 0.0), ("x_scale", 1.0), ("y_mean", 0.0), ("y_scale", 1.0), ("adapted", 1.0))


class Standardized:
    """Mixin for a regression `keras.Model` with `input_dim` and `output_dim` (see the module docstring).

    The model calls `build_standardization()` at the end of its `build`, and
    `adapt_before_fit(x, y, rows)` in `fit` once the data are checked.
    """

    def build_standardization(self):
        # float32 under mixed precision too: raw features rounded to float16 before standardizing lose their spread.
        def weight(name, size, value):
            return self.add_weight(shape=(size,) if size else (), initializer=keras.initializers.Constant(value),
                                   trainable=False, name=name, autocast=False)

        self.x_mean = weight("x_mean", self.input_dim, 0.0)
        self.x_scale = weight("x_scale", self.input_dim, 1.0)
        self.y_mean = weight("y_mean", self.output_dim, 0.0)
        self.y_scale = weight("y_scale", self.output_dim, 1.0)
        self.adapted = weight("adapted", None, 0.0)

    @property
    def is_adapted(self):
        """Whether the standardization was learned (by `adapt`, `fit` on arrays, or loaded)."""
        return self.built and float(keras.ops.convert_to_numpy(self.adapted)) > 0

    def adapt(self, x, y):
        """Learn the standardization of inputs and targets from training arrays; set `num_examples` if unset.

        `fit` calls it on the arrays it trains on, the first time; call it
        before a `fit` on a `tf.data.Dataset`.

        Args:
            x: training inputs (N, input_dim).
            y: training targets (N,) or (N, output_dim).

        Returns:
            The model.
        """
        n = self._learn_standardization(x, y)
        if self.num_examples is None:
            self.num_examples = n
        return self

    def _learn_standardization(self, x, y):
        x = np.asarray(_checks.float32_array("x", _inputs.as_array("x", x)), dtype=np.float64)
        y = np.asarray(_checks.float32_array("y", _inputs.as_array("y", y)), dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"Expected `x` of shape (N, features) with N >= 1. Received: x.shape={x.shape}")
        self._check_arrays(x, y)
        if len(y) != len(x):
            raise ValueError(f"Expected `y` with {len(x)} rows to match `x`. Received: y.shape={y.shape}")
        if not self.built:
            self.build((None, x.shape[1]))
        x_mean, x_scale = gaussian.standardization(x)
        y_mean, y_scale = gaussian.standardization(y.reshape(len(y), -1))
        for weight, value in ((self.x_mean, x_mean), (self.x_scale, x_scale), (self.y_mean, y_mean),
                              (self.y_scale, y_scale), (self.adapted, 1.0)):
            weight.assign(np.asarray(value, np.float32))
        return len(x)

    def adapt_before_fit(self, x, y, rows=None):
        """Learn the standardization from the first `rows` of the arrays of a first `fit` (None: all);
        a clear error for a dataset before `adapt`."""
        if self.is_adapted:
            return
        arrays = _inputs.num_rows(x) is not None
        if arrays and y is None:
            raise ValueError("Expected batches (x, y) with targets y for training. Received: y=None")
        if not arrays:
            raise ValueError(
                f"{type(self).__name__} learns the standardization of its inputs and targets from the training "
                "data: call `model.adapt(x, y)` on arrays before `fit` on a dataset. Received: x of type "
                f"{type(x).__name__}"
            )
        self._learn_standardization(x[:rows], y[:rows])

    # -- the maps -----------------------------------------------------------------------------------
    def standardize_inputs(self, x):
        return (x - self.x_mean) / self.x_scale

    def standardize_targets(self, y):
        return (y - self.y_mean) / self.y_scale

    def target_units(self, mean, std):
        """(mean, std) of standardized targets -> the targets' units."""
        return mean * self.y_scale + self.y_mean, std * self.y_scale

    def log_jacobian(self):
        """sum_d log s_y,d: a standardized NLL plus this is the NLL in the targets' units."""
        return tf.reduce_sum(tf.math.log(self.y_scale))

    # -- files written before the model standardized ------------------------------------------------------------
    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        missing = {}
        for name, value in _IDENTITY:
            index = next(i for i, v in enumerate(own) if v is getattr(self, name))
            if str(index) not in store.keys():
                missing[str(index)] = np.full(getattr(self, name).shape, value, np.float32)
        if missing:
            store = {**{k: store[k] for k in store.keys()}, **missing}
        super().load_own_variables(store)
