"""tfvb: a TensorFlow/Keras 3 model zoo for variational Bayes.

Submodules (each imported on first use, so `tfvb --help` starts without
TensorFlow): `models`, `layers`, `priors`, `objectives`, `evaluate`, `data`,
`callbacks`, `zoo`, `tuning`, `plots`, `uncertainty`, `paths`, `cli`,
`uci_protocol` (Gal's UCI protocol), `optimizers` (Keras' Adam with a fused
update), `calibrate` (temperature scaling and conformal prediction),
`dropout` and `gaussian` (MC dropout's formulas), `randomness` (seeds and
per-example noise); and the functions
`tfvb.bayesianize(model, ...)` (a trained Keras model -> a BNN) and
`tfvb.predict_samples` / `tfvb.predict_uncertainty(model, x, samples=T, seed=s)`
(T weight draws of any Keras model with tfvb layers).

Every serializable tfvb class (models, layers, priors, losses, calibrated models) is registered with
Keras as soon as both are imported, in either order, so a `.keras` file
loads with `keras.saving.load_model` after `import tfvb` alone.
"""

import importlib as _importlib
import importlib.util as _importlib_util
import os as _os
import sys as _sys
import types as _types
import warnings as _warnings

# tfvb's models use TensorFlow ops in their train steps and tfp distributions.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tfvb.version import __version__  # noqa: E402,F401

#: The package name under which every tfvb class is registered with Keras.
#: It is baked into every saved `.keras` file: never change it.
SERIALIZATION_PACKAGE = "tfvb"

_SUBMODULES = ("calibrate", "callbacks", "cli", "data", "demo", "dropout", "evaluate", "gaussian", "layers", "models",
               "objectives", "optimizers", "paths", "plots", "priors", "randomness", "tuning", "uci_protocol",
               "uncertainty", "zoo")


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


#: The modules defining tfvb's serializable classes; importing them registers the classes with Keras.
_SERIALIZABLE = ("tfvb.priors", "tfvb.layers.dense", "tfvb.layers.conv", "tfvb.layers.conv_transpose", "tfvb.models",
                 "tfvb.optimizers", "tfvb.gaussian", "tfvb.calibrate.temperature", "tfvb.calibrate.intervals",
                 "tfvb.calibrate.sets")


def _initializing():
    """The tfvb modules whose import has started and not ended."""
    return [n for n, m in list(_sys.modules.items())
            if n.startswith("tfvb.") and getattr(getattr(m, "__spec__", None), "_initializing", False)]


#: Modules of `_SERIALIZABLE` that could not be imported yet: they needed a tfvb module still being imported.
_pending = []


class _RegistersWhenComplete(_types.ModuleType):
    """A tfvb package that finishes the registration once its submodules being imported are complete.

    Python sets a submodule on its package when the submodule's import ends: the moment, for the outermost
    incomplete tfvb module, to import the serializable modules that needed it.
    """

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if _pending and not _initializing():
            _register_with_keras(_pending[:])


def _register_with_keras(modules=_SERIALIZABLE):
    """Import the modules of every serializable tfvb class (on Keras' TensorFlow backend, tfvb's own)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return  # `tfvb.models` then says that tfvb needs it
    # Keras imported while a tfvb module is incomplete (the first tfvb module a user imports imports
    # TensorFlow, which imports Keras): a module importing from it fails here for now, and is imported
    # again when it is complete (`_RegistersWhenComplete`).
    waiting = _initializing()
    _pending[:] = []
    for module in modules:
        try:
            _importlib.import_module(module)
        except (ImportError, AttributeError) as e:
            if waiting:
                _pending.append(module)
            elif isinstance(e, ImportError):  # a broken install must not break `import keras`
                _warnings.warn(f"tfvb: its classes are not registered with Keras ({e}); import {module} to see why",
                               stacklevel=2)
            else:
                raise
    if _pending:
        for name in waiting:
            while "." in name:
                name = name.rpartition(".")[0]
                if type(_sys.modules[name]) is _types.ModuleType:
                    _sys.modules[name].__class__ = _RegistersWhenComplete


class _AfterKerasImport:
    """A meta-path finder that registers tfvb's classes right after `keras` is imported.

    `import tfvb` does not import Keras (the command line starts without TensorFlow), so when Keras
    comes second its import is where the classes are registered.
    """

    _searching = False

    def find_spec(self, fullname, path=None, target=None):
        # The finder stays until Keras is executed: a lookup alone (TensorFlow's import calls
        # `importlib.util.find_spec("keras")`) used it up, and `import tensorflow` before `import keras`
        # then registered nothing.
        if fullname != "keras" or self._searching:
            return None
        self._searching = True
        try:
            spec = _importlib_util.find_spec(fullname)  # Keras' own spec, from the other finders
        finally:
            self._searching = False
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            exec_module = spec.loader.exec_module

            def exec_and_register(module):
                if self in _sys.meta_path:
                    _sys.meta_path.remove(self)
                exec_module(module)
                _register_with_keras()

            spec.loader.exec_module = exec_and_register
        return spec


if "keras" in _sys.modules:
    _register_with_keras()
elif not any(isinstance(f, _AfterKerasImport) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _AfterKerasImport())
