"""Zoo recipe: Burda et al.'s MLP VAE / IWAE on MNIST (entries vae_mnist, iwae_mnist, iwae_mnist_dreg,
vae2_mnist, iwae2_mnist). `tfvb zoo train iwae_mnist`.

One stochastic layer: 784-200-200-50 (tanh); two: 784-200-200-100 (z1) -100-100-50 (z2), as in the
paper. The VAE is the IWAE with k=1 (the single-sample ELBO); every entry has the same data, optimizer
and stopping rule, so their NLLs can be compared.
"""

from _vae_recipe import (
    BURDA_TABLE_1,
    benchmark_vae,
    heldout_mnist,
    make_iwae,
    mnist_description,
    mnist_splits,
    train_entry,
)

#: The published number each entry reproduces (test NLL, IWAE-5000, 60,000 training digits).
PUBLISHED = {
    "vae_mnist": {"nll": 86.76, "source": "Burda et al. 2016, Table 1 (VAE, 1 stochastic layer)"},
    "iwae_mnist": {"nll": 84.78, "source": "Burda et al. 2016, Table 1 (IWAE k=50, 1 stochastic layer)"},
    "iwae_mnist_dreg": {"nll": 84.32, "source": "a public DReG reproduction (IWAE-DReG k=50, 1 stochastic layer)"},
    "vae2_mnist": {"nll": 85.33, "source": "Burda et al. 2016, Table 1 (VAE, 2 stochastic layers)"},
    "iwae2_mnist": {"nll": 82.90, "source": "Burda et al. 2016, Table 1 (IWAE k=50, 2 stochastic layers)"},
}


def train(seed=0, quick=False, data_root=None, dataset="mnist", k=1, stochastic_layers=1, gradient="iwae"):
    name = f"{'vae' if k == 1 else 'iwae'}{'2' if stochastic_layers == 2 else ''}_mnist"
    name += "_dreg" if gradient == "dreg" else ""
    layers = "784-200-200-50" if stochastic_layers == 1 else "784-200-200-100-100-100-50"
    notes = (f"{layers} tanh MLP, {stochastic_layers} stochastic layer(s), k={k}, {gradient.upper()} gradients; "
             "Adam(1e-3, epsilon=1e-4) as in Burda et al., with a plateau schedule and early stopping in place "
             "of their 3^8-pass schedule.")
    model = make_iwae(seed, k=k, stochastic_layers=stochastic_layers, gradient=gradient)
    anchors = {**BURDA_TABLE_1, "entry": PUBLISHED.get(name)}
    return train_entry(name, model, mnist_splits(data_root), seed, quick, mnist_description,
                       anchors=anchors, notes=notes)


def benchmark(model, limit=None, data_root=None, dataset="mnist", card=None, **_):
    """Re-measure the card's metrics on the held-out digits (the first `limit`)."""
    return benchmark_vae(model, heldout_mnist(limit, data_root, card))
