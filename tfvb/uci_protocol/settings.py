"""Gal's updated UCI protocol for MC dropout: its settings, with every default in one place.

On each standard split of a UCI folder (`tfvb.data.uci`):

1. Inputs and target are standardized with the training rows' statistics.
2. One network per (dropout rate p, tau) of the folder's grid (1 hidden
   layer of n_hidden ReLU units, lengthscale l = 1e-2, weight decay
   l^2 (1 - p) / (2 N tau), Adam 1e-3, batch 128) trains on the first 80% of
   the training rows; the best validation log-likelihood on the other 20%
   (from `validation_samples` MC passes) picks the pair.
3. The chosen pair is retrained on all training rows and scored on the
   test rows: RMSE of the MC mean and the test log-likelihood of T =
   `samples` passes, logsumexp_t(-tau/2 (y - f_t)^2) - log T - log(2 pi)/2 + log(tau)/2.

Epochs: the protocol's text says 10 x n_epochs, but the result files behind
Gal's published table are his 100 x runs, so 100 x (`EPOCH_MULTIPLIER`) is
the default: a run with the defaults is comparable with the table.

Variants: "faithful" (the above; its `tuned` score adds a noise-variance
factor chosen on the validation rows), "heteroscedastic" (the network
predicts its noise variance; grid: dropout rate x lengthscale in
`HETEROSCEDASTIC_LENGTHSCALES`) and "concrete" (heteroscedastic with concrete
dropout: per-layer rates learned from `CONCRETE_INITIAL_RATE`; grid: the
lengthscales).

Split k is seeded by seed + 1000 k, so a split's result does not depend on
which other splits run, in which order or in which process.
"""

import dataclasses
import math
import numbers

import numpy as np

from tfvb import _checks

__all__ = ["Protocol", "VARIANTS", "SAMPLES", "VALIDATION_SAMPLES", "EPOCH_MULTIPLIER", "BATCH_SIZE",
           "LEARNING_RATE", "LENGTHSCALE", "TRAIN_FRACTION", "HETEROSCEDASTIC_LENGTHSCALES",
           "CONCRETE_INITIAL_RATE", "VARIANCE_SCALES"]

VARIANTS = ("faithful", "heteroscedastic", "concrete")
#: MC passes on the test rows (Gal's code).
SAMPLES = 10_000
#: MC passes on the validation rows (Gal's code uses 10,000; 1,000 saves most of a large set's time).
VALIDATION_SAMPLES = 1000
#: epochs = EPOCH_MULTIPLIER x the folder's n_epochs: the setting of Gal's published table.
EPOCH_MULTIPLIER = 100
BATCH_SIZE = 128
#: Adam's step size (Keras' default, as in Gal's code).
LEARNING_RATE = 1e-3
#: The prior lengthscale of the faithful protocol.
LENGTHSCALE = 1e-2
#: The grid is chosen on the first TRAIN_FRACTION of the training rows, validated on the rest.
TRAIN_FRACTION = 0.8
#: Prior lengthscales of the heteroscedastic and concrete variants' grids.
HETEROSCEDASTIC_LENGTHSCALES = (1e-2, 1e-1, 1.0)
#: Starting dropout rate of concrete dropout (the paper's code initializes p at 0.1).
CONCRETE_INITIAL_RATE = 0.1
#: Factors c on the predictive noise variance tried on the validation rows by the tuned score.
VARIANCE_SCALES = tuple(float(c) for c in 2.0 ** np.linspace(-2, 2, 17))


@dataclasses.dataclass(frozen=True)
class Protocol:
    """The settings a run's per-split records depend on (a resumed run must match them).

    Build it with `Protocol.of(folder_or_split, ...)`, which fills the
    folder's grid and epochs; `as_dict()` is the form written to (and
    compared with) a run's JSON summary.
    """

    variant: str
    samples: int
    validation_samples: int
    epochs: int
    epoch_multiplier: int
    dropout_rates: tuple
    taus: tuple
    lengthscales: tuple
    batch_size: int = BATCH_SIZE
    validation_split: str = "first 80% of the training rows"
    seed: int = 0

    @classmethod
    def of(cls, data, variant="faithful", samples=SAMPLES, validation_samples=VALIDATION_SAMPLES,
           epoch_multiplier=EPOCH_MULTIPLIER, epochs=None, dropout_rates=None, taus=None, seed=0):
        """The protocol on a UCI folder (a `UCIFolder` or one of its `UCIData` splits).

        Args:
            variant: one of VARIANTS.
            samples, validation_samples: MC passes on the test and validation rows.
            epoch_multiplier: epochs = this x the folder's n_epochs (100: Gal's table; 10: the text).
            epochs: an explicit number of epochs instead (smoke tests); the multiplier is then None.
            dropout_rates, taus: the grid instead of the folder's (taus: faithful only; the other
                variants learn the noise, and refuse them).
            seed: split k is seeded by seed + 1000 k.
        """
        _checks.one_of("variant", variant, VARIANTS)
        heteroscedastic = variant != "faithful"
        seed = _checks.integer("seed", seed)
        if heteroscedastic and taus is not None:
            raise ValueError(f"Expected taus=None for variant={variant!r}: its network predicts the noise "
                             f"variance, so there is no tau to choose (the grid is over lengthscales). "
                             f"Received: taus={taus!r}")
        if epochs is None:
            epochs = _checks.positive_int("epoch_multiplier", epoch_multiplier) * data.n_epochs
            multiplier = int(epoch_multiplier)
        else:
            epochs, multiplier = _checks.positive_int("epochs", epochs), None
        if dropout_rates is None:
            dropout_rates = (CONCRETE_INITIAL_RATE,) if variant == "concrete" else data.dropout_rates
        dropout_rates = _grid("dropout_rates", dropout_rates, lambda p: 0.0 < p < 1.0, "in (0, 1)")
        if taus is not None:
            taus = _grid("taus", taus, lambda t: 0.0 < t < math.inf, "positive and finite")
        return cls(
            variant=variant,
            samples=_checks.positive_int("samples", samples),
            validation_samples=_checks.positive_int("validation_samples", validation_samples),
            epochs=epochs,
            epoch_multiplier=multiplier,
            dropout_rates=dropout_rates,
            taus=None if heteroscedastic else (taus if taus is not None else tuple(float(t) for t in data.tau_values)),
            lengthscales=HETEROSCEDASTIC_LENGTHSCALES if heteroscedastic else (LENGTHSCALE,),
            seed=seed,
        )

    @property
    def heteroscedastic(self):
        return self.variant != "faithful"

    @property
    def concrete(self):
        return self.variant == "concrete"

    def split_seed(self, split):
        """The seed of split `split`: seed + 1000 split."""
        return self.seed + 1000 * int(split)

    def as_dict(self):
        """The JSON form (lists for tuples), as written in a run's summary under `protocol`."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def _grid(name, values, valid, expected):
    """A grid of floats, each `valid`, non-empty: checked when the protocol is set up, not at the first split."""
    try:  # a string is not a list of numbers: "25" was read as the grid (2.0, 5.0)
        items = None if isinstance(values, (str, bytes)) else list(values)
    except TypeError:
        items = None
    numbers_only = items is not None and all(
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in items)
    grid = tuple(float(v) for v in items) if numbers_only else None
    if not grid or not all(valid(v) for v in grid):
        raise ValueError(f"Expected `{name}` to be a non-empty list of numbers {expected}. Received: {name}={values!r}")
    return grid
