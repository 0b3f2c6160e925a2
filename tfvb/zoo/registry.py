"""The zoo's registry: a plain mapping from name to a small record. One line registers an entry.

The record says where the entry's recipe is and what it is; everything
measured (data, metrics, wall time, versions, checksums) lives in the
entry's `metadata.json`, written by the recipe's driver, never by hand.
"""

import dataclasses
import difflib
import fnmatch


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    recipe: str  # module in zoo/ with train(...) and benchmark(...)
    family: str  # "vae", "bnn" (classifiers) or "regression"
    summary: str
    dataset: str  # "mnist", "fashion_mnist", or a UCI folder name such as "bostonHousing"
    args: dict = dataclasses.field(default_factory=dict)  # extra keyword arguments for the recipe
    model: str = ""  # the class of the entry's model
    constructor: dict = dataclasses.field(default_factory=dict)  # arguments every model of the entry was built with
    input_range: tuple = None  # (low, high) of the inputs the entry was trained on, checked by the loaded model


REGISTRY = {}


def register(name, recipe, family, summary, dataset, model, constructor=None, input_range=None, **args):
    """Register entry `name`: its recipe, family, one-line summary, data set, model class, the constructor
    arguments that make it this entry (checked before a run is written under its name) and the range of its
    inputs (the loaded model refuses others); `args` go to the recipe."""
    if name in REGISTRY:
        raise ValueError(f"Zoo entry {name!r} is registered twice")
    REGISTRY[name] = Entry(name, recipe, family, summary, dataset, dict(args), model, dict(constructor or {}),
                           input_range)


#: The model classes of each family.
FAMILY_CLASSES = {"vae": ("CVAE", "IWAE"), "bnn": ("BNNClassifier", "DeepEnsemble", "MCDropoutClassifier"),
                  "regression": ("BNNRegressor", "MCDropoutRegressor")}


def check_model(entry, model, record=None):
    """Refuse a model (and the record describing it) that is not what entry `entry` holds: another class or
    family, other defining constructor arguments, a record whose constructor or recipe is not this model's."""
    where = f"zoo entry {entry.name!r}"
    got = type(model).__name__
    if got != entry.model or got not in FAMILY_CLASSES[entry.family]:
        raise ValueError(f"Expected a {entry.model} (family {entry.family!r}) for {where}. Received: a {got}")
    config = model.get_config()
    for key, expected in entry.constructor.items():
        if _plain(config.get(key)) != _plain(expected):
            raise ValueError(f"Expected {key}={expected!r} for {where} ({entry.summary}). "
                             f"Received: a {got} with {key}={config.get(key)!r}")
    record = record or {}
    for key, value in (record.get("constructor") or {}).items():
        if _is_plain(value) and _is_plain(config.get(key)) and _plain(config[key]) != _plain(value):
            raise ValueError(f"Expected the run's record to describe its model. Received: the record says "
                             f"{key}={value!r}, the model has {key}={config[key]!r}")
    script = (record.get("recipe") or {}).get("script")
    if script not in (None, f"zoo/{entry.recipe}.py"):
        raise ValueError(f"Expected a run of zoo/{entry.recipe}.py for {where}. Received: a run of {script}")


def _is_plain(value):
    """A number, string, None, or a list of them (not a serialized object such as a prior or a member)."""
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _plain(value):
    """`value` as JSON would give it back (tuples as lists), for comparing a record with a config."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def get(name):
    if name not in REGISTRY:
        close = difflib.get_close_matches(str(name), list(REGISTRY), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"Unknown zoo model {name!r}.{hint} Available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def names(pattern=None):
    return sorted(n for n in REGISTRY if pattern is None or fnmatch.fnmatchcase(n, pattern))


# -- the entries ----------------------------------------------------------------------------------
_BURDA = "Burda et al.'s"
register("vae_mnist", "vae_mnist", "vae", f"{_BURDA} one-stochastic-layer MLP VAE (IWAE with k=1)", "mnist", "IWAE",
         {"k": 1, "stochastic_layers": 1, "gradient": "iwae"})
register("iwae_mnist", "vae_mnist", "vae", f"{_BURDA} one-stochastic-layer MLP IWAE, k=50", "mnist", "IWAE",
         {"k": 50, "stochastic_layers": 1, "gradient": "iwae"}, k=50)
register("iwae_mnist_dreg", "vae_mnist", "vae", f"{_BURDA} one-layer IWAE, k=50, trained with DReG gradients",
         "mnist", "IWAE", {"k": 50, "stochastic_layers": 1, "gradient": "dreg"}, k=50, gradient="dreg")
register("vae2_mnist", "vae_mnist", "vae", f"{_BURDA} two-stochastic-layer MLP VAE (k=1)", "mnist", "IWAE",
         {"k": 1, "stochastic_layers": 2, "gradient": "iwae"}, stochastic_layers=2)
register("iwae2_mnist", "vae_mnist", "vae", f"{_BURDA} two-stochastic-layer MLP IWAE, k=50", "mnist", "IWAE",
         {"k": 50, "stochastic_layers": 2, "gradient": "iwae"}, k=50, stochastic_layers=2)
register("cvae_mnist", "cvae_mnist", "vae", "Convolutional VAE, 2-D latent (its manifold can be drawn)", "mnist",
         "CVAE", {"latent_dim": 2})
register("cvae_mnist_l16", "cvae_mnist", "vae", "Convolutional VAE, 16-D latent", "mnist", "CVAE",
         {"latent_dim": 16}, latent_dim=16)
register("vae_fashion_mnist", "fashion_mnist", "vae", f"{_BURDA} one-layer MLP VAE on the 60k Fashion-MNIST "
         "training images", "fashion_mnist", "IWAE", {"k": 1, "stochastic_layers": 1}, k=1)
register("iwae_fashion_mnist", "fashion_mnist", "vae", f"{_BURDA} one-layer MLP IWAE on the 60k Fashion-MNIST "
         "training images", "fashion_mnist", "IWAE", {"k": 10, "stochastic_layers": 1}, k=10)
register("cvae_fashion_mnist", "fashion_mnist", "vae", "Convolutional VAE, 16-D latent, 60k Fashion-MNIST",
         "fashion_mnist", "CVAE", {"latent_dim": 16}, architecture="conv")
register("bnn_flipout_mnist", "bnn_flipout_mnist", "bnn", "Flipout LeNet-5 Bayesian classifier (acc, NLL, ECE, OOD)",
         "mnist", "BNNClassifier", {"num_classes": 10, "architecture": "lenet", "layer": "flipout"}, (0.0, 1.0))
register("bnn_reparam_mnist", "bnn_reparam_mnist", "bnn", "Bayes-by-Backprop (reparameterization) LeNet-5", "mnist",
         "BNNClassifier", {"num_classes": 10, "architecture": "lenet", "layer": "reparameterization"}, (0.0, 1.0))
register("mc_dropout_mnist", "mc_dropout_mnist", "bnn", "MC-dropout LeNet-5 classifier (acc, NLL, ECE, OOD)",
         "mnist", "MCDropoutClassifier", {"num_classes": 10, "architecture": "lenet"}, (0.0, 1.0))
register("ensemble_mnist", "ensemble_mnist", "bnn", "Deep ensemble of 10 LeNet-5 (the BNNs' baseline: acc, NLL, ECE, "
         "OOD)", "mnist", "DeepEnsemble", {"n": 10}, (0.0, 1.0))
register(
    "bnn_flipout_uci_boston",
    "bnn_flipout_uci",
    "regression",
    "Flipout BNN regressor, UCI Boston housing",
    "bostonHousing",
    "BNNRegressor",
    {"layer": "flipout"},
)
for _short, _folder in [
    ("boston", "bostonHousing"),
    ("wine", "wine-quality-red"),
    ("kin8nm", "kin8nm"),
    ("power", "power-plant"),
    ("naval", "naval-propulsion-plant"),
    ("protein", "protein-tertiary-structure"),
]:
    register(
        f"mc_dropout_uci_{_short}",
        "mc_dropout_uci",
        "regression",
        f"MC-dropout regressor (Gal's UCI protocol), {_folder}",
        _folder,
        "MCDropoutRegressor",
    )
