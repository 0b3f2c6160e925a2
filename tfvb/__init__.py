"""tfvb: a TensorFlow/Keras 3 model zoo for variational Bayes.

Submodules (each imported on first use, so `tfvb --help` starts without
TensorFlow): `models`, `layers`, `priors`, `objectives`, `evaluate`, `data`,
`callbacks`, `zoo`, `tuning`, `plots`, `uncertainty`, `paths`, `cli`,
`uci_protocol` (Gal's UCI protocol), `dropout` and `gaussian` (MC dropout's
formulas), `randomness` (seeds and per-example noise); and the function
`tfvb.bayesianize(model, ...)` (a trained Keras model -> a BNN), and
`tfvb.predict_samples` / `tfvb.predict_uncertainty(model, x, samples=T, seed=s)`
(T weight draws of any Keras model with tfvb layers).
"""

import importlib as _importlib
import os as _os

# tfvb's models use TensorFlow ops in their train steps and tfp distributions.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tfvb.version import __version__  # noqa: E402,F401

#: The package name under which every tfvb class is registered with Keras.
#: It is baked into every saved `.keras` file: never change it.
SERIALIZATION_PACKAGE = "tfvb"

_SUBMODULES = ("callbacks", "cli", "data", "demo", "dropout", "evaluate", "gaussian", "layers", "models", "objectives",
               "paths", "plots", "priors", "randomness", "tuning", "uci_protocol", "uncertainty", "zoo")


def _check_backend():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "tfvb needs Keras 3 on the TensorFlow backend. "
            f"Received: KERAS_BACKEND={keras.backend.backend()!r}"
        )


#: Functions exported at the top level: name -> the (private) module defining it. The module is not
#: named after the function, so `tfvb.bayesianize` stays the function once the module is imported.
_FUNCTIONS = {"bayesianize": "_bayesianize", "predict_samples": "_monte_carlo", "predict_uncertainty": "_monte_carlo"}


def __getattr__(name):
    if name in _FUNCTIONS:
        _check_backend()
        function = getattr(_importlib.import_module(f"tfvb.{_FUNCTIONS[name]}"), name)
        globals()[name] = function
        return function
    if name in _SUBMODULES:
        if name not in ("cli", "paths", "zoo", "demo"):  # these import Keras only when they need it
            _check_backend()
        module = _importlib.import_module(f"tfvb.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tfvb' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_FUNCTIONS))
