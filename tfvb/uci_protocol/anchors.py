"""Gal's published MC-dropout results on the UCI benchmark: the numbers a protocol run is compared with.

The grid-search table of his DropoutUncertaintyExps repository (2018): test
RMSE and test log-likelihood as (mean, standard error) over the splits, as
printed (0.00 = below 0.005). The repository's result files behind that table
are its `*_100_xepochs_*` runs, i.e. 100 x n_epochs epochs (the protocol's
default here, `settings.EPOCH_MULTIPLIER`); its 10 x runs score lower (e.g.
Boston 3.18 / -2.68).

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation: Representing Model
    Uncertainty in Deep Learning. ICML 2016 (and the updated results of
    github.com/yaringal/DropoutUncertaintyExps).
"""

__all__ = ["MC_DROPOUT_ANCHORS", "MC_DROPOUT_ANCHORS_EPOCH_MULTIPLIER"]

MC_DROPOUT_ANCHORS = {
    "bostonHousing": {"rmse": (2.90, 0.18), "ll": (-2.40, 0.04)},
    "kin8nm": {"rmse": (0.08, 0.00), "ll": (1.14, 0.01)},
    "naval-propulsion-plant": {"rmse": (0.00, 0.00), "ll": (4.45, 0.00)},
    "power-plant": {"rmse": (4.01, 0.04), "ll": (-2.80, 0.01)},
    "protein-tertiary-structure": {"rmse": (4.27, 0.02), "ll": (-2.87, 0.00)},
    "wine-quality-red": {"rmse": (0.62, 0.01), "ll": (-0.93, 0.01)},
}

#: The epoch multiplier of the runs behind `MC_DROPOUT_ANCHORS`.
MC_DROPOUT_ANCHORS_EPOCH_MULTIPLIER = 100
