"""The zoo's recipe driver: train, re-benchmark and package entries (needs a source checkout).

Each entry's recipe is a module in the checkout's `zoo/` folder (or
`$TFVB_ZOO_RECIPES`) with `train(seed, quick, data_root, dataset, **args)`
returning `(model, record)` and `benchmark(model, limit, data_root, dataset, **args)`
returning the card's metrics re-measured. The driver writes what the recipe
returns; nothing in `metadata.json` is typed by hand.
"""

import contextlib
import fcntl
import importlib.util
import inspect
import os
import shutil
import sys
import time

import numpy as np

from tfvb import _atomic, paths, zoo
from tfvb.zoo import registry, store


def recipe_path(name):
    """The file of an entry's recipe (zoo/<recipe>.py); FileNotFoundError outside a source checkout."""
    entry = registry.get(name)
    where = paths.recipes_dir()
    path = os.path.join(where, entry.recipe + ".py") if where else None
    if path is None or not os.path.isfile(path):
        raise FileNotFoundError(f"Expected the recipe of {name!r} at {path or 'zoo/' + entry.recipe + '.py'}. "
                                "Received: no such file (training and benchmarking need a tfvb source "
                                "checkout; set TFVB_ZOO_RECIPES to its zoo/ folder)")
    return path


def recipe(name):
    """The recipe module of an entry (zoo/<recipe>.py), imported from its file."""
    entry = registry.get(name)
    path = recipe_path(name)
    where = paths.recipes_dir()
    if where not in sys.path:  # recipes share helpers such as zoo/_vae_recipe.py
        sys.path.insert(0, where)
    spec = importlib.util.spec_from_file_location(f"tfvb_zoo_recipe_{entry.recipe}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def training_lock(name):
    """Hold the lock of entry `name`'s trainings: its run folder (resumable state) serves one at a time."""
    folder = paths.runs_dir()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f".{name}.lock")
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"Expected one training of {name!r} at a time (they share its run folder). Received: "
                               f"another process holds {path}; wait for it to finish") from None
        yield


def train(name, seed=0, quick=False, root=None, data_root=None, keep_run_dir=False):
    """Run an entry's recipe and write its artifacts; returns the metadata written.

    `keep_run_dir`: leave the run's resumable state in place (a worker other
    than the chief of a multi-worker run: the chief removes it, and holds
    the entry's training lock for the cluster).
    """
    entry = registry.get(name)
    recipe_path(name)  # no recipe (an installed wheel): refused before the lock file is made
    if keep_run_dir:
        return _train(entry, name, seed, quick, root, data_root, keep_run_dir)
    with training_lock(name):
        return _train(entry, name, seed, quick, root, data_root, keep_run_dir)


def _train(entry, name, seed, quick, root, data_root, keep_run_dir):
    module = recipe(name)
    start = time.time()
    model, record = module.train(seed=seed, quick=quick, data_root=data_root, dataset=entry.dataset, **entry.args)
    seconds = time.time() - start
    golden_inputs = record.pop("golden_inputs")
    run_dir = record.pop("run_dir", None)
    record.setdefault("recipe", {})
    record["recipe"].update({"script": f"zoo/{entry.recipe}.py", "args": entry.args, "seed": seed,
                             "quick": quick, "wall_time_s": round(seconds, 1), "machine": store.machine(),
                             "threads": _threads()})
    meta = store.write_entry(root or zoo.saved_models_dir(), name, model, record, golden_inputs)
    if run_dir and not keep_run_dir:  # the resumable state is no longer needed (and must not be reused later)
        shutil.rmtree(run_dir, ignore_errors=True)
    return meta


#: Metadata keys the store writes itself (`store.write_entry`); a re-evaluation writes them anew.
_STORE_KEYS = ("name", "format_version", "class", "versions", "created", "command", "files")
#: Metrics that belong to the training run, kept when an entry is evaluated again.
_TRAINING_METRICS = ("train_wall_time_s", "epochs_to_convergence", "epoch_cap")
#: Read together from the training record (zoo/_convergence.convergence_metrics: a capped run has an
#: `epoch_cap`, a converged one none): a recipe that derives one again replaces both.
_CONVERGENCE_METRICS = ("epochs_to_convergence", "epoch_cap")


def evaluate_again(name, root=None, data_root=None):
    """Evaluate a stored entry again with its recipe's current protocol and rewrite its card.

    For entries whose recipe defines `evaluate_stored` (e.g. the Fashion-MNIST
    entries, now measured on 5,000 t10k images): the weights are the stored
    ones, untouched; the card keeps its training record and gets the new
    metrics, data description and an `evaluated_again` note. The recipe's
    evaluation resumes from its own run folder when interrupted. A recipe
    whose `evaluate_stored` takes `card` gets the stored card (to keep the
    metrics it does not measure again). `evaluate_stored` returns (metrics,
    data description, its run folder or None) and, optionally, a dict of
    card fields to replace (e.g. the recipe's current `anchors`).
    """
    entry = registry.get(name)
    module = recipe(name)
    if not hasattr(module, "evaluate_stored"):
        raise ValueError(f"Expected an entry whose recipe can evaluate a stored model again (zoo/{entry.recipe}.py "
                         f"has no `evaluate_stored`). Received: {name!r}; retrain it with `tfvb zoo train {name}`")
    model = zoo.load(name)
    meta = zoo.info(name)
    start = time.time()
    extra = {"card": meta} if "card" in inspect.signature(module.evaluate_stored).parameters else {}
    metrics, description, run_dir, *updates = module.evaluate_stored(model, data_root=data_root,
                                                                      dataset=entry.dataset, **entry.args, **extra)
    record = {k: v for k, v in store.read_metadata(zoo.folder(name)).items() if k not in _STORE_KEYS}
    record.update(*updates)
    derived = set(_CONVERGENCE_METRICS) if set(_CONVERGENCE_METRICS) & set(metrics) else set()
    kept = {k: meta["metrics"][k] for k in _TRAINING_METRICS if k in meta["metrics"] and k not in derived}
    record["metrics"] = {**kept, **metrics}  # a training metric the recipe derives again is the recipe's
    record["data"] = description
    record["evaluated_again"] = {"previous_data": meta.get("data"), "wall_time_s": round(time.time() - start, 1),
                                 "machine": store.machine(), "threads": _threads()}
    with np.load(os.path.join(zoo.folder(name), store.GOLDEN_FILE)) as golden:
        golden_inputs = golden["inputs"]
    written = store.write_entry(root or zoo.saved_models_dir(), name, model, record, golden_inputs)
    if run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return written


def repackage(name, root=None):
    """Write a stored entry again with this tfvb's packaging: the same weights, card and golden inputs.

    The serving SavedModel is exported anew (entries written before the
    `predict_uncertainty` / `predict_samples` signatures get them), the golden
    outputs are recomputed from the stored weights and must equal the stored
    ones (to 1e-4), and the card keeps every field of its training record, with
    a `repackaged` note. Nothing is trained or evaluated.
    """
    registry.get(name)
    model = zoo.load(name)
    folder = zoo.folder(name)
    record = {k: v for k, v in store.read_metadata(folder).items() if k not in _STORE_KEYS}
    drift = zoo.golden_check(name, model)  # ArtifactError when the stored model drifted from its golden outputs
    with np.load(os.path.join(folder, store.GOLDEN_FILE)) as golden:
        golden_inputs = golden["inputs"]
    record["repackaged"] = {"machine": store.machine(), "golden_max_abs_diff": drift}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        # A card saved without its optimizer gets a fresh one from `zoo.load`; built, so that the written file's
        # optimizer has the variables Keras builds when it loads the file again.
        optimizer.build(model.trainable_variables)
    return store.write_entry(root or zoo.saved_models_dir(), name, model, record, golden_inputs)


def _threads():
    import tensorflow as tf

    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads() or "all cores",
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "all cores"}


def benchmark(name, limit=None, data_root=None):
    """Re-evaluate a stored model with its recipe's `benchmark` and compare with its card.

    A recipe whose `benchmark` takes `card` gets the stored card, to measure
    on the images the card was measured on.

    Returns {"metric": {"stored": x, "measured": y}} plus the golden-batch drift.
    """
    entry = registry.get(name)
    model = zoo.load(name)
    out = {"golden_max_abs_diff": zoo.golden_check(name, model)}
    stored = zoo.info(name).get("metrics", {})
    module = recipe(name)
    extra = {"card": zoo.info(name)} if "card" in inspect.signature(module.benchmark).parameters else {}
    measured = module.benchmark(model, limit=limit, data_root=data_root, dataset=entry.dataset, **entry.args,
                                **extra)
    out["metrics"] = {k: {"stored": stored.get(k), "measured": v, "verdict": verdict(k, stored, measured)}
                      for k, v in measured.items() if not isinstance(v, (dict, list))}
    return out


def _se_key(key, metrics):
    for candidate in (f"{key}_se", key.replace("_log_likelihood", "_se"), key.replace("_nll", "_se")):
        if candidate != key and isinstance(metrics.get(candidate), (int, float)):
            return candidate
    return None


def _per_image(key, metrics):
    """(the card's per-image values of `key`, sign): an `_nll` is the negated `_log_likelihood`."""
    per_image = metrics.get("per_image") or {}
    if key in per_image:
        return per_image[key], 1.0
    log_likelihood = key.removesuffix("_nll") + "_log_likelihood"
    if key.endswith("_nll") and log_likelihood in per_image:
        return per_image[log_likelihood], -1.0
    return None, 1.0


def verdict(key, stored, measured):
    """Does a re-measured metric agree with the card? Compared on the same images when the card keeps
    per-image values, else within two standard errors (both sides'), else no verdict."""
    s, m = stored.get(key), measured.get(key)
    if not isinstance(s, (int, float)) or not isinstance(m, (int, float)) or key.endswith("_se"):
        return ""
    per_image, sign = _per_image(key, stored)
    n = measured.get("log_likelihood_images")
    if per_image and n and n <= len(per_image):
        same = sign * float(np.mean(per_image[:n]))
        ok = abs(m - same) <= 0.01 + 1e-3 * abs(same)
        return f"{'matches' if ok else 'DIFFERS from'} the card on the same {n} images ({same:.3f})"
    se_key = _se_key(key, measured) or _se_key(key, stored)
    if se_key is None:
        return ""
    se = float(np.hypot(measured.get(se_key) or 0.0, stored.get(se_key) or 0.0))
    if se <= 0:
        return ""
    z = abs(m - s) / se
    return f"within 2 standard errors ({z:.1f})" if z <= 2 else f"DIFFERS by {z:.1f} standard errors"


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
    summary = module.protocol(data_root=data_root, dataset=entry.dataset, **entry.args, **kwargs)
    card = zoo.info(name).get("metrics", {}).get("protocol_table") if zoo.is_trained(name) else None
    return {**summary, "card": card}


def package(name, run_dir, root=None):
    """Write an entry from a run folder that a recipe's own `main` wrote (elsewhere, e.g. on a GPU machine).

    The folder holds what the recipe's code produced: `model.keras`,
    `record.json` (its metrics and description) and `golden_inputs.npy`.
    The metadata is still the recipe's record; nothing is typed by hand.
    """
    entry = registry.get(name)
    record_path = os.path.join(run_dir, "record.json")
    record = _atomic.read_json(record_path)
    if not isinstance(record, dict) or "golden_inputs" not in record:
        got = "an object without golden_inputs" if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"Expected a recipe's record (a JSON object with `golden_inputs`) in {record_path}. "
                         f"Received: {got}")
    model = store.load_model_file(os.path.join(run_dir, "model.keras"))
    registry.check_model(entry, model, record)  # before anything under `name` is replaced
    golden = record.pop("golden_inputs")
    golden = np.load(os.path.join(run_dir, golden)) if isinstance(golden, str) else np.asarray(golden, np.float32)
    wall = record.pop("wall_seconds", record.get("train_seconds"))
    record["recipe"] = {"script": f"zoo/{entry.recipe}.py", "args": entry.args, "seed": record.get("seed"),
                        "quick": False, "wall_time_s": None if wall is None else round(wall, 1),
                        "machine": store.machine(), "packaged_from": os.path.basename(os.path.abspath(run_dir))}
    return store.write_entry(root or zoo.saved_models_dir(), name, model, record, golden)
