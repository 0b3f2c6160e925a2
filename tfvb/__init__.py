"""tfvb: a TensorFlow/Keras 3 model zoo for variational Bayes.

Submodules: `models`, `layers`, `priors`, `objectives`, `evaluate`, `data`,
`callbacks`, `zoo`, `tuning`, `plots`, `cli`.
"""

import os as _os

# tfvb's models use TensorFlow ops in their train steps and tfp distributions.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

#: The package name under which every tfvb class is registered with Keras.
#: It is baked into every saved `.keras` file: never change it.
SERIALIZATION_PACKAGE = "tfvb"

import keras as _keras  # noqa: E402

if _keras.backend.backend() != "tensorflow":
    raise ImportError(
        "tfvb needs Keras 3 on the TensorFlow backend. "
        f"Received: KERAS_BACKEND={_keras.backend.backend()!r}"
    )

from tfvb import callbacks, data, evaluate, layers, models, objectives, zoo  # noqa: E402,F401


def __getattr__(name):
    # Heavier or optional modules load on first use.
    if name in ("plots", "tuning", "cli", "priors", "uncertainty"):
        import importlib

        return importlib.import_module(f"tfvb.{name}")
    raise AttributeError(f"module 'tfvb' has no attribute {name!r}")
