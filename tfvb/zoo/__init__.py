"""The tfvb model zoo: pretrained models with their benchmark results.

    >>> tfvb.zoo.list_models("cvae_*")
    ['cvae_fashion_mnist', 'cvae_mnist', 'cvae_mnist_l16']
    >>> model = tfvb.zoo.load("cvae_mnist")          # compiled keras.Model, ready to fit
    >>> serving = tfvb.zoo.load("cvae_mnist", format="savedmodel")
    >>> tfvb.zoo.info("cvae_mnist")["metrics"]

Artifacts live in `saved_models/<name>/` beside the package (or in
`$TFVB_SAVED_MODELS/<name>/`); recipes in `zoo/<recipe>.py`
(or `$TFVB_ZOO_RECIPES`).
"""

import importlib.util
import os
import sys
import time

import numpy as np

from tfvb.zoo import registry, store
from tfvb.zoo.registry import REGISTRY, register  # noqa: F401
from tfvb.zoo.store import ArtifactError  # noqa: F401

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def saved_models_dir():
    return os.environ.get("TFVB_SAVED_MODELS", os.path.join(_REPO, "saved_models"))


def recipes_dir():
    return os.environ.get("TFVB_ZOO_RECIPES", os.path.join(_REPO, "zoo"))


def list_models(pattern=None):
    """Registered names, sorted; `pattern` is a glob such as "cvae_*"."""
    return registry.names(pattern)


def _folder(name):
    registry.get(name)
    return os.path.join(saved_models_dir(), name)


def info(name):
    """The entry's record merged with its metadata.json (metrics, data, recipe, versions, files)."""
    entry = registry.get(name)
    meta = store.read_metadata(_folder(name))
    return {"summary": entry.summary, "family": entry.family, "recipe_module": entry.recipe, **meta}


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
    import keras
    import tensorflow as tf

    from tfvb import _checks

    _checks.one_of("format", format, {"keras", "savedmodel"})
    folder = _folder(name)
    meta = store.read_metadata(folder)
    _import_model_modules()
    if format == "savedmodel":
        store.verify(folder, meta, prefix=store.SERVING_DIR)
        return tf.saved_model.load(os.path.join(folder, store.SERVING_DIR))
    store.verify(folder, meta, prefix=store.MODEL_FILE)
    try:
        model = keras.saving.load_model(os.path.join(folder, store.MODEL_FILE), compile=compile, safe_mode=True)
    except Exception as e:  # a corrupt archive that still matches its checksum, or an incompatible class
        raise ArtifactError(f"Expected a readable .keras archive of a tfvb model in {folder}. "
                            f"Received: {type(e).__name__}: {e}") from e
    if compile and getattr(model, "optimizer", None) is None:
        model.compile(optimizer=keras.optimizers.Adam())
    return model


def _import_model_modules():
    # Registers every tfvb class with Keras before a .keras file is deserialized.
    import tfvb.models  # noqa: F401
    for module in ("vae", "iwae", "bnn", "mc_dropout"):
        importlib.import_module(f"tfvb.models.{module}")


def golden_check(name, model=None, atol=1e-4):
    """Max absolute difference between the stored golden outputs and the model's; raises on drift."""
    folder = _folder(name)
    meta = store.read_metadata(folder)
    store.verify(folder, meta, prefix=store.GOLDEN_FILE)
    model = model or load(name)
    with np.load(os.path.join(folder, store.GOLDEN_FILE)) as golden:
        got = store.golden_outputs(model, golden["inputs"])
        diff = float(np.max(np.abs(got - golden["outputs"])))
    if not diff <= atol:
        raise ArtifactError(f"Golden outputs of {name!r} drifted: max |difference| {diff:.3g} > {atol}")
    return diff


def recipe(name):
    """The recipe module of an entry (zoo/<recipe>.py), imported from its file."""
    entry = registry.get(name)
    path = os.path.join(recipes_dir(), entry.recipe + ".py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Expected the recipe of {name!r} at {path}. Received: no such file "
                                "(set TFVB_ZOO_RECIPES to the zoo/ folder of a tfvb checkout)")
    if recipes_dir() not in sys.path:  # recipes share helpers such as zoo/_vae_recipe.py
        sys.path.insert(0, recipes_dir())
    spec = importlib.util.spec_from_file_location(f"tfvb_zoo_recipe_{entry.recipe}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(name, seed=0, quick=False, root=None, data_root=None):
    """Run an entry's recipe and write its artifacts; returns the metadata written."""
    entry = registry.get(name)
    module = recipe(name)
    start = time.time()
    model, record = module.train(seed=seed, quick=quick, data_root=data_root, **entry.args)
    seconds = time.time() - start
    golden_inputs = record.pop("golden_inputs")
    record.setdefault("recipe", {})
    record["recipe"].update({"script": f"zoo/{entry.recipe}.py", "args": entry.args, "seed": seed,
                             "quick": quick, "wall_time_s": round(seconds, 1), "machine": store.machine()})
    return store.write_entry(root or saved_models_dir(), name, model, record, golden_inputs)


def benchmark(name, limit=None, data_root=None):
    """Re-evaluate a stored model with its recipe's `benchmark` and compare with its card.

    Returns {"metric": {"stored": x, "measured": y}} plus the golden-batch drift.
    """
    entry = registry.get(name)
    model = load(name)
    out = {"golden_max_abs_diff": golden_check(name, model)}
    stored = info(name).get("metrics", {})
    module = recipe(name)
    measured = module.benchmark(model, limit=limit, data_root=data_root, **entry.args)
    out["metrics"] = {k: {"stored": stored.get(k), "measured": v} for k, v in measured.items()}
    return out


def benchmark_protocol(name, data_root=None, **kwargs):
    """Run the whole benchmark protocol of an entry's recipe (e.g. Gal's UCI protocol, every split).

    Only entries whose recipe defines `protocol` have one (the `mc_dropout_uci_*`
    entries: `tfvb.evaluate.uci_benchmark`); `kwargs` go to it (splits, jobs,
    epoch_multiplier, json_path, resume, log). Returns its summary with the
    card's own protocol table beside it under `card`.
    """
    entry = registry.get(name)
    module = recipe(name)
    if not hasattr(module, "protocol"):
        having = [n for n in registry.names() if hasattr(recipe(n), "protocol")]
        raise ValueError(f"Expected an entry whose recipe has a benchmark protocol ({', '.join(having)}). "
                         f"Received: {name!r} (recipe zoo/{entry.recipe}.py re-evaluates a stored model only)")
    summary = module.protocol(data_root=data_root, **entry.args, **kwargs)
    folder = os.path.join(saved_models_dir(), name)
    card = info(name).get("metrics", {}).get("protocol_table") if os.path.isfile(
        os.path.join(folder, "metadata.json")) else None
    return {**summary, "card": card}


def package(name, run_dir, root=None):
    """Write an entry from a run folder that a recipe's own `main` wrote (elsewhere, e.g. on a GPU machine).

    The folder holds what the recipe's code produced: `model.keras`,
    `record.json` (its metrics and description) and `golden_inputs.npy`.
    The metadata is still the recipe's record; nothing is typed by hand.
    """
    import json

    import keras

    entry = registry.get(name)
    _import_model_modules()
    with open(os.path.join(run_dir, "record.json")) as f:
        record = json.load(f)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), safe_mode=True)
    golden = record.pop("golden_inputs")
    golden = np.load(os.path.join(run_dir, golden)) if isinstance(golden, str) else np.asarray(golden, np.float32)
    wall = record.pop("wall_seconds", record.get("train_seconds"))
    record["recipe"] = {"script": f"zoo/{entry.recipe}.py", "args": entry.args, "seed": record.get("seed"),
                        "quick": False, "wall_time_s": None if wall is None else round(wall, 1),
                        "machine": store.machine(), "packaged_from": os.path.abspath(run_dir)}
    return store.write_entry(root or saved_models_dir(), name, model, record, golden)
