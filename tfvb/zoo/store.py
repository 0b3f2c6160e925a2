"""Writing and verifying zoo artifacts: model.keras, serving/, golden.npz, metadata.json.

Writers never clobber each other or the entry in place: each writes into a
staging folder of its own, holds an exclusive lock on the entry while it
swaps the new folder in, and keeps the old one (as `.<name>.previous`) until
the new one is in place. A crash at any moment therefore leaves either the
old entry or the new one, and readers find whichever is complete
(`entry_folder`); the staging folder a killed writer leaves is removed by the
next write (a live writer holds a lock on its own). Every file's sha256 is recorded and checked before
anything is loaded.
"""

import contextlib
import datetime
import fcntl
import hashlib
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile

import numpy as np

from tfvb import _atomic

FORMAT_VERSION = 1
MODEL_FILE, GOLDEN_FILE, META_FILE, SERVING_DIR = "model.keras", "golden.npz", "metadata.json", "serving"


class ArtifactError(RuntimeError):
    """A zoo artifact is missing, tampered with, corrupt, or from an incompatible version."""


def sha256(path, block=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if rel != META_FILE:
                out[rel] = sha256(path)
    return dict(sorted(out.items()))


def versions():
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    from tfvb.version import __version__

    return {"tfvb": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "tensorflow_probability": tfp.__version__, "python": platform.python_version()}


def machine():
    return {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()}


def golden_outputs(model, inputs):
    """Deterministic outputs that pin a model's behaviour: the model's own `golden_outputs(x)`
    (stochastic predictors define it with a fixed seed), else `model(x, training=False)`."""
    if hasattr(model, "golden_outputs"):
        return np.asarray(model.golden_outputs(inputs))
    return np.asarray(model(inputs, training=False))


def load_model_file(path, compile=True):
    """A model from a `.keras` file, loaded safely; ArtifactError saying what the file is when it cannot be.

    Keras reports a file that is not a zip archive (truncated, corrupt) as
    "File not found"; this says what was found instead.
    """
    import zipfile

    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        found = "a folder" if os.path.isdir(path) else "no such file"
        raise ArtifactError(f"Expected a .keras archive at {path}. Received: {found}")
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"Expected a readable .keras archive (a zip file) at {path}. Received: BadZipFile: "
                            f"{os.path.getsize(path)} bytes that are not a zip archive (truncated or corrupt)")
    register_model_classes()
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # a corrupt archive, or a class or code safe mode refuses
        raise ArtifactError(f"Expected a readable .keras archive of a tfvb model at {path}. "
                            f"Received: {type(e).__name__}: {e}") from e


def register_model_classes():
    """Import every tfvb model module, so Keras knows their classes before a .keras file is read."""
    for module in ("vae", "iwae", "bnn", "mc_dropout"):
        importlib.import_module(f"tfvb.models.{module}")


def check_finite_weights(model):
    """Refuse a model whose weights hold NaN or inf (a diverged run): it must not be saved or reported."""
    arrays = ((w.path, np.asarray(w)) for w in model.weights)
    bad = [path for path, a in arrays if a.dtype.kind == "f" and not np.all(np.isfinite(a))]
    if bad:
        raise ValueError(f"Expected finite weights. Received NaN or inf in {len(bad)} variable(s): "
                         f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} (the run diverged)")


def entry_folder(root, name):
    """The complete folder of an entry: `root/name`, or the previous version kept by an interrupted swap."""
    final = os.path.join(root, name)
    previous = os.path.join(root, f".{name}.previous")
    if not os.path.isdir(final) and os.path.isfile(os.path.join(previous, META_FILE)):
        return previous
    return final


@contextlib.contextmanager
def _entry_lock(root, name):
    with open(os.path.join(root, f".{name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _swap_in(root, name, staged):
    """Replace root/name by `staged`; the old entry stays complete until the new one is in place."""
    final = os.path.join(root, name)
    previous = os.path.join(root, f".{name}.previous")
    with _entry_lock(root, name):
        if os.path.isdir(final):
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(final, previous)
        os.replace(staged, final)
        shutil.rmtree(previous, ignore_errors=True)


@contextlib.contextmanager
def _held(folder, blocking=True):
    """Hold an exclusive lock on `folder` (True), or yield False when another process holds it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def _remove_stale_staging(root):
    """Remove the staging folders of writers that were killed; a live writer holds a lock on its own."""
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith(".") and ".staging-" in name and os.path.isdir(path):
            with _held(path, blocking=False) as stale:
                if stale:
                    shutil.rmtree(path, ignore_errors=True)


def write_entry(root, name, model, metadata, golden_inputs):
    """Write an entry's artifacts into root/name atomically; return the metadata written."""
    check_finite_weights(model)
    os.makedirs(root, exist_ok=True)
    with contextlib.ExitStack() as stack:
        with _held(root):  # a staging folder is created and locked before any cleanup can see it
            _remove_stale_staging(root)
            tmp = tempfile.mkdtemp(dir=root, prefix=f".{name}.staging-")
            stack.callback(shutil.rmtree, tmp, ignore_errors=True)
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the entry from other users of an installed zoo
            stack.enter_context(_held(tmp))
        _atomic.require_free_space(root, 3 * sum(np.asarray(w).nbytes for w in model.weights) + (16 << 20),
                                   f"zoo entry {name!r} (its model.keras and serving export)")
        try:
            return _write_staged(root, name, tmp, model, metadata, golden_inputs)
        except Exception as e:
            import tensorflow as tf

            if not isinstance(e, tf.errors.OpError):
                raise
            raise ArtifactError(f"Expected to write zoo entry {name!r} in {root}. Received: {type(e).__name__}: "
                                f"{e.message} (a full disk?); the previous entry, if any, is untouched") from e


def _write_staged(root, name, tmp, model, metadata, golden_inputs):
    model.save(os.path.join(tmp, MODEL_FILE))
    golden_inputs = np.asarray(golden_inputs, np.float32)
    # Computed before export: Keras derives a default serving signature from a model's last call.
    np.savez(os.path.join(tmp, GOLDEN_FILE), inputs=golden_inputs, outputs=golden_outputs(model, golden_inputs))
    model.export(os.path.join(tmp, SERVING_DIR), verbose=False)
    metadata = {
        "name": name,
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        **metadata,
        "versions": versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([_program()] + [_portable(a) for a in sys.argv[1:]]),
        "files": _files(tmp),
    }
    with open(os.path.join(tmp, META_FILE), "w") as f:
        json.dump(metadata, f, indent=2, sort_keys=False, default=_json_default)
        f.write("\n")
    _swap_in(root, name, tmp)
    return metadata


def _program():
    """The command that ran: `python -m tfvb` shows as `tfvb` (its console script), not as `__main__.py`."""
    program = os.path.basename(sys.argv[0])
    return "tfvb" if program == "__main__.py" and os.path.basename(os.path.dirname(sys.argv[0])) == "tfvb" else program


def _portable(arg):
    return os.path.basename(arg) if os.path.isabs(arg) else arg


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"Not JSON serializable: {type(obj).__name__}")


def read_metadata(folder):
    path = os.path.join(folder, META_FILE)
    if not os.path.isfile(path):
        name = os.path.basename(folder)
        raise ArtifactError(f"Expected zoo metadata at {path}. Received: no such file: {name!r} is "
                            f"not trained in this release (from a source checkout: `tfvb zoo train {name}`)")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ArtifactError(f"Expected valid JSON in {path}. Received: {e}") from e
    except RecursionError as e:
        raise ArtifactError(f"Expected zoo metadata in {path}. Received: JSON nested too deeply to read") from e
    if not isinstance(meta, dict):
        raise ArtifactError(f"Expected a JSON object of zoo metadata in {path}. Received: a {type(meta).__name__}")
    files = meta.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ArtifactError(f"Expected `files` in {path} to map file names to sha256 strings. Received: "
                            f"{type(files).__name__} {str(files)[:80]}")
    if not isinstance(meta.get("name"), str):
        raise ArtifactError(f"Expected the entry's `name` (a string) in {path}. Received: "
                            f"{'no name' if 'name' not in meta else type(meta['name']).__name__}")
    for key in ("recipe", "training", "metrics", "anchors", "versions"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise ArtifactError(f"Expected `{key}` in {path} to be a JSON object. Received: "
                                f"{type(meta[key]).__name__} {str(meta[key])[:80]}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"Expected zoo format_version {FORMAT_VERSION} in {path}. Received: "
            f"{meta.get('format_version')!r} (written by tfvb {meta.get('versions', {}).get('tfvb', '?')}); "
            "retrain the entry with this tfvb or install the tfvb that wrote it"
        )
    return meta


def verify(folder, meta, prefix=None):
    """Check the sha256 of every recorded file (those under `prefix` only, when given)."""
    recorded = meta.get("files") or {}
    wanted = {p: h for p, h in recorded.items() if prefix is None or p == prefix or p.startswith(prefix + os.sep)}
    if not wanted:
        raise ArtifactError(f"Expected checksums for {prefix or 'the files'} in {folder}/{META_FILE}. Received none")
    root = os.path.realpath(folder)
    for rel, expected in wanted.items():
        path = os.path.join(folder, rel)
        if os.path.isabs(rel) or not os.path.realpath(path).startswith(root + os.sep):
            raise ArtifactError(f"Expected the files of {folder}/{META_FILE} inside the entry. Received: {rel!r}, "
                                "a path that leaves it; refusing to open it")
        if not os.path.isfile(path):
            raise ArtifactError(f"Expected zoo file {path}. Received: missing")
        actual = sha256(path)
        if actual != expected:
            raise ArtifactError(
                f"Checksum mismatch for {path}: expected sha256 {expected}, received {actual}. "
                "The file was modified or corrupted; refusing to load it"
            )
