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


REGISTRY = {}


def register(name, recipe, family, summary, dataset, **args):
    if name in REGISTRY:
        raise ValueError(f"Zoo entry {name!r} is registered twice")
    REGISTRY[name] = Entry(name, recipe, family, summary, dataset, dict(args))


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
register("vae_mnist", "vae_mnist", "vae", f"{_BURDA} one-stochastic-layer MLP VAE (IWAE with k=1)", "mnist")
register("iwae_mnist", "vae_mnist", "vae", f"{_BURDA} one-stochastic-layer MLP IWAE, k=50", "mnist", k=50)
register("iwae_mnist_dreg", "vae_mnist", "vae", f"{_BURDA} one-layer IWAE, k=50, trained with DReG gradients",
         "mnist", k=50, gradient="dreg")
register("vae2_mnist", "vae_mnist", "vae", f"{_BURDA} two-stochastic-layer MLP VAE (k=1)", "mnist",
         stochastic_layers=2)
register("iwae2_mnist", "vae_mnist", "vae", f"{_BURDA} two-stochastic-layer MLP IWAE, k=50", "mnist", k=50,
         stochastic_layers=2)
register("cvae_mnist", "cvae_mnist", "vae", "Convolutional VAE, 2-D latent (its manifold can be drawn)", "mnist")
register("cvae_mnist_l16", "cvae_mnist", "vae", "Convolutional VAE, 16-D latent", "mnist", latent_dim=16)
register("vae_fashion_mnist", "fashion_mnist", "vae", f"{_BURDA} one-layer MLP VAE on the 60k Fashion-MNIST "
         "training images", "fashion_mnist", k=1)
register("iwae_fashion_mnist", "fashion_mnist", "vae", f"{_BURDA} one-layer MLP IWAE on the 60k Fashion-MNIST "
         "training images", "fashion_mnist", k=10)
register("cvae_fashion_mnist", "fashion_mnist", "vae", "Convolutional VAE, 16-D latent, 60k Fashion-MNIST",
         "fashion_mnist", architecture="conv")
register("bnn_flipout_mnist", "bnn_flipout_mnist", "bnn", "Flipout LeNet-5 Bayesian classifier (acc, NLL, ECE, OOD)",
         "mnist")
register("bnn_reparam_mnist", "bnn_reparam_mnist", "bnn", "Bayes-by-Backprop (reparameterization) LeNet-5", "mnist")
register("mc_dropout_mnist", "mc_dropout_mnist", "bnn", "MC-dropout LeNet-5 classifier (acc, NLL, ECE, OOD)",
         "mnist")
register("ensemble_mnist", "ensemble_mnist", "bnn", "Deep ensemble of 10 LeNet-5 (the BNNs' baseline: acc, NLL, ECE, "
         "OOD)", "mnist")
register(
    "bnn_flipout_uci_boston",
    "bnn_flipout_uci",
    "regression",
    "Flipout BNN regressor, UCI Boston housing",
    "bostonHousing",
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
    )
