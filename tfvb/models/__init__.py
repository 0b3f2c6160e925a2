"""tfvb's models: each a `keras.Model` whose `train_step` computes its ELBO variant."""

from tfvb._lazy import lazy_exports

_EXPORTS = {
    "CVAE": "vae",
    "IWAE": "iwae",
    "BNNClassifier": "bnn",
    "BNNRegressor": "bnn",
    "MCDropoutRegressor": "mc_dropout",
    "MCDropoutClassifier": "mc_dropout",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
