"""The tfvb model zoo: pretrained models with their benchmark results.

    >>> tfvb.zoo.list_models("cvae_*")
    ['cvae_fashion_mnist', 'cvae_mnist', 'cvae_mnist_l16']
    >>> model = tfvb.zoo.load("cvae_mnist")          # compiled keras.Model, ready to fit
    >>> serving = tfvb.zoo.load("cvae_mnist", format="savedmodel")
    >>> nll = tfvb.zoo.info("cvae_mnist")["metrics"]["iwae_5000_nll"]   # nats per held-out image

The artifacts ship inside the package (`tfvb/zoo/saved_models/<name>/`), so an
installed wheel loads every entry offline from any folder; `$TFVB_SAVED_MODELS`
points the zoo at another folder of entries. Every file is checked against the
sha256 in the entry's `metadata.json` before it is read.

Training, re-benchmarking and packaging entries (`tfvb.zoo.driver`) need a
source checkout: the recipes live in its `zoo/` folder.
"""

import os

import numpy as np

from tfvb import paths
from tfvb.zoo import registry, store
from tfvb.zoo.registry import REGISTRY, register  # noqa: F401
from tfvb.zoo.store import ArtifactError  # noqa: F401


def saved_models_dir():
    """The folder of entries the zoo reads (see `tfvb.paths.saved_models_dir`)."""
    return paths.saved_models_dir()


def list_models(pattern=None):
    """Registered names, sorted; `pattern` is a glob such as "cvae_*"."""
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError("Expected `pattern` to be None or a glob string such as 'cvae_*'. "
                         f"Received: pattern={pattern!r}")
    return registry.names(pattern)


def folder(name):
    """The folder of a registered entry (it may not be trained yet)."""
    registry.get(name)
    return store.entry_folder(saved_models_dir(), name)


def is_trained(name):
    return os.path.isfile(os.path.join(folder(name), store.META_FILE))


def info(name):
    """The entry's record merged with its metadata.json (metrics, data, recipe, versions, files)."""
    entry = registry.get(name)
    meta = store.read_metadata(folder(name))
    return {"summary": entry.summary, "family": entry.family, "dataset": entry.dataset,
            "recipe_module": entry.recipe, **meta}


def load(name, format="keras", compile=True):
    """Load a zoo model after checking every file's sha256.

    Args:
        name: a registered name (see `list_models`).
        format: "keras" (a compiled keras.Model: `fit` continues training,
            `evaluate` works) or "savedmodel" (the serving export, with
            endpoints such as serve/encode/decode/sample).
        compile: with "keras", compile with the saved optimizer (or Adam).

    Raises:
        KeyError: unknown name (the message lists close matches).
        ArtifactError: missing, tampered or incompatible files.
    """
    import tensorflow as tf

    from tfvb import _checks, optimizers

    _checks.one_of("format", format, {"keras", "savedmodel"})
    where = folder(name)
    meta = store.read_metadata(where)
    store.register_model_classes()
    if format == "savedmodel":
        store.verify(where, meta, prefix=store.SERVING_DIR)
        try:
            return tf.saved_model.load(os.path.join(where, store.SERVING_DIR))
        except Exception as e:  # a corrupt export that still matches its checksums, a TensorFlow it does not fit
            raise store.ArtifactError(f"Expected a readable SavedModel of {name!r} in "
                                      f"{os.path.join(where, store.SERVING_DIR)}. Received: {type(e).__name__}: "
                                      f"{str(e)[:500]}") from e
    store.verify(where, meta, prefix=store.MODEL_FILE)
    # A corrupt archive that still matches its checksum, or an incompatible class: ArtifactError.
    model = store.load_model_file(os.path.join(where, store.MODEL_FILE), compile=compile)
    entry = registry.get(name)
    if entry.input_range is not None and getattr(model, "input_range", entry.input_range) is None:
        model.input_range = entry.input_range  # saved before models kept their range: the card's is theirs
    if compile and getattr(model, "optimizer", None) is None:
        model.compile(optimizer=optimizers.Adam())
    return model


def golden_check(name, model=None, atol=1e-4):
    """Max absolute difference between the stored golden outputs and the model's; raises on drift."""
    where = folder(name)
    meta = store.read_metadata(where)
    store.verify(where, meta, prefix=store.GOLDEN_FILE)
    model = model or load(name)
    with np.load(os.path.join(where, store.GOLDEN_FILE)) as golden:
        got = store.golden_outputs(model, golden["inputs"])
        diff = float(np.max(np.abs(got - golden["outputs"])))
    if not diff <= atol:
        raise ArtifactError(f"Golden outputs of {name!r} drifted: max |difference| {diff:.3g} > {atol}")
    return diff
