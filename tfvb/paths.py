"""Where tfvb finds things; every location is resolved here and nowhere else.

- The zoo's artifacts ship inside the package (`tfvb/zoo/saved_models/`), so an
  installed wheel loads every entry offline, from any folder.
  `$TFVB_SAVED_MODELS` points the zoo at another folder of entries.
- The zoo's recipes, the benchmarks (and their kept results) and the shared
  data sets belong to a source checkout: `checkout_root()` finds it (None for
  an installed wheel).
  `$TFVB_ZOO_RECIPES` and `$TFVB_SHARED_DATA` override them.
- Run folders (resumable training state) go under `$TFVB_RUNS`, else
  `runs/` of the checkout, else `~/.cache/tfvb/runs`.

Nothing here imports TensorFlow.
"""

import os

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGED_SAVED_MODELS = os.path.join(PACKAGE_DIR, "zoo", "saved_models")
SAMPLE_DIR = os.path.join(PACKAGE_DIR, "data", "sample")


def checkout_root():
    """The source checkout this package was imported from, or None when installed from a wheel."""
    root = os.path.dirname(PACKAGE_DIR)
    markers = ("setup.cfg", "zoo", "tests")
    return root if all(os.path.exists(os.path.join(root, m)) for m in markers) else None


def saved_models_dir():
    """The folder of zoo entries `tfvb.zoo` reads: `$TFVB_SAVED_MODELS`, else the packaged one."""
    return os.environ.get("TFVB_SAVED_MODELS") or PACKAGED_SAVED_MODELS


def recipes_dir():
    """The zoo's training recipes (`zoo/` of a checkout), or None when there is no checkout."""
    env = os.environ.get("TFVB_ZOO_RECIPES")
    if env:
        return env
    root = checkout_root()
    return os.path.join(root, "zoo") if root else None


def shared_data_dir(required=True):
    """The shared data sets (mnist/, uci/): `$TFVB_SHARED_DATA`, else `../shared/data` beside the checkout."""
    env = os.environ.get("TFVB_SHARED_DATA")
    if env:
        return env
    root = checkout_root()
    candidate = os.path.join(os.path.dirname(root), "shared", "data") if root else None
    if candidate and os.path.isdir(candidate):
        return candidate
    if required:
        raise FileNotFoundError(
            "Expected the shared data sets (a folder holding mnist/ and uci/) in $TFVB_SHARED_DATA or "
            f"beside a tfvb checkout. Received: {'no checkout' if root is None else candidate + ' does not exist'}"
        )
    return candidate


def benchmark_results_dir():
    """The kept benchmark runs (`benchmarks/results/` of a checkout), or None when there is no checkout."""
    root = checkout_root()
    return os.path.join(root, "benchmarks", "results") if root else None


def runs_dir():
    """Where resumable training runs keep their state."""
    env = os.environ.get("TFVB_RUNS")
    if env:
        return env
    root = checkout_root()
    if root:
        return os.path.join(root, "runs")
    return os.path.join(os.path.expanduser("~"), ".cache", "tfvb", "runs")


def display(path):
    """A path as a report may print it: relative to the checkout or the package, never the machine's layout."""
    path = os.path.abspath(path)
    for base, label in ((PACKAGE_DIR, "tfvb"), (checkout_root(), "."), (os.path.expanduser("~"), "~")):
        if base and (path == base or path.startswith(base + os.sep)):
            return os.path.join(label, os.path.relpath(path, base)) if path != base else label
    return os.path.basename(path)
