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
    recipe: str  # module in zoo/ with train(...) and evaluate(...)
    family: str
    summary: str
    args: dict = dataclasses.field(default_factory=dict)  # extra keyword arguments for the recipe


REGISTRY = {}


def register(name, recipe, family, summary, **args):
    if name in REGISTRY:
        raise ValueError(f"Zoo entry {name!r} is registered twice")
    REGISTRY[name] = Entry(name, recipe, family, summary, dict(args))


def get(name):
    if name not in REGISTRY:
        close = difflib.get_close_matches(str(name), list(REGISTRY), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"Unknown zoo model {name!r}.{hint} Available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def names(pattern=None):
    return sorted(n for n in REGISTRY if pattern is None or fnmatch.fnmatchcase(n, pattern))


# -- the entries ----------------------------------------------------------------------------------
register("cvae_mnist", "cvae_mnist", "vae", "Convolutional VAE, 2-D latent (its manifold can be drawn), MNIST")
register("cvae_mnist_l16", "cvae_mnist_l16", "vae", "Convolutional VAE, 16-D latent, MNIST")
register("vae_mnist", "vae_mnist", "vae", "Burda et al.'s one-layer MLP VAE (IWAE with k=1), MNIST")
register("iwae_mnist", "iwae_mnist", "vae", "Burda et al.'s one-layer MLP IWAE, k=50, MNIST")
register("cvae_fashion_mnist", "cvae_fashion_mnist", "vae", "Convolutional VAE, 16-D latent, Fashion-MNIST (60k)")
register("bnn_flipout_mnist", "bnn_flipout_mnist", "bnn", "Flipout LeNet-5 Bayesian classifier, MNIST (acc, NLL, ECE, OOD)")
register("bnn_reparam_mnist", "bnn_reparam_mnist", "bnn", "Bayes-by-Backprop (reparameterization) LeNet-5, MNIST")
register("bnn_flipout_uci_boston", "bnn_flipout_uci", "regression", "Flipout BNN regressor, UCI Boston housing",
         dataset="bostonHousing")
register("mc_dropout_uci_boston", "mc_dropout_uci", "regression", "MC-dropout regressor (Gal's UCI protocol), bostonHousing",
         dataset="bostonHousing")
register("mc_dropout_uci_wine", "mc_dropout_uci", "regression", "MC-dropout regressor (Gal's UCI protocol), wine-quality-red",
         dataset="wine-quality-red")
register("mc_dropout_uci_kin8nm", "mc_dropout_uci", "regression", "MC-dropout regressor (Gal's UCI protocol), kin8nm",
         dataset="kin8nm")
register("mc_dropout_uci_power", "mc_dropout_uci", "regression", "MC-dropout regressor (Gal's UCI protocol), power-plant",
         dataset="power-plant")
register("mc_dropout_uci_naval", "mc_dropout_uci", "regression", "MC-dropout regressor (Gal's UCI protocol), naval-propulsion-plant",
         dataset="naval-propulsion-plant")
register("mc_dropout_uci_protein", "mc_dropout_uci", "regression", "MC-dropout regressor (Gal's UCI protocol), protein-tertiary-structure",
         dataset="protein-tertiary-structure")
