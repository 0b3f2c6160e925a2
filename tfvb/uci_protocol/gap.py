"""Foong et al.'s "gap" splits of a UCI folder: test on the middle third of one input feature.

The standard splits test on random rows, always surrounded by training rows.
To ask whether a model's uncertainty grows *between* clusters of training
data (in-between uncertainty), Foong et al. (2019) make one split per input
feature d: sort the N rows by feature d and hold out the middle third,

    order = argsort(x[:, d])            (ties in a random order drawn from the seed)
    test  = order[floor(N/3) : floor(2N/3)]
    train = the first floor(N/3) and the last N - floor(2N/3) rows of the order

so the test inputs lie in a gap of feature d that no training row fills.
A folder with D features gives up to D gap splits, numbered by the feature's
position 0..D-1 among the inputs (`UCIData.split`, with `n_splits` = D).

Ties. A feature with few distinct values (binary, small counts) cannot be cut
cleanly: ties straddle the cut points, so training rows share values with
test rows; which of the tied rows are held out is drawn at random (seeded by
the feature's position), never taken from the file's row order (naval's
data.txt is sorted by the target: the file order would hold out the middle
third of y). A feature whose middle third is a single value that training
rows share (a constant column, or Boston's CHAS and ZN, mostly 0) has no gap
at all: `gap_features` leaves it out, and `gap_split` refuses it.

Validation. The training rows come back in a random order (the same seed),
so a protocol that validates on the last part of its training rows (Gal's:
the last 20 %) gets a random fifth of them, as on the standard splits, not
the end of the file.

Foong et al. report that mean-field VI is over-confident in the gaps; their
published figures are not reproduced here.

Example:
    >>> folder = tfvb.data.UCIFolder("bostonHousing")
    >>> d = gap_split(folder, feature=5)        # the middle third by rooms per dwelling held out
    >>> d.x_train.shape, d.x_test.shape, d.split, d.n_splits
    ((337, 13), (169, 13), 5, 13)
    >>> bool(d.x_train[:, 5].min() <= d.x_test[:, 5].min() and d.x_test[:, 5].max() <= d.x_train[:, 5].max())
    True
    >>> gap_features(folder)                    # CHAS (3) and ZN (1) are 0 across their middle third
    [0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    >>> from tfvb.uci_protocol import Protocol
    >>> records = run_gap_protocol(folder, Protocol.of(folder, epochs=40), features=[5])  # doctest: +SKIP

References:
    Foong, Li, Hernández-Lobato, Turner. 'In-Between' Uncertainty in Bayesian
    Neural Networks. ICML 2019 Workshop on Uncertainty and Robustness in Deep Learning.
"""

import numpy as np

from tfvb import _checks
from tfvb.data import UCIFolder
from tfvb.uci_protocol.run import iter_splits

__all__ = ["gap_features", "gap_rows", "gap_split", "gap_splits", "has_gap", "run_gap_protocol"]


def _values(values):
    values = _checks.finite_array("values", np.asarray(values, np.float64))
    if values.ndim != 1 or len(values) < 3:
        raise ValueError(f"Expected one feature's values, shape (N,) with N >= 3. Received: shape={values.shape}")
    return values


def gap_rows(values, seed=0):
    """(train rows, test rows) of one feature's values: the middle third of the sorted order is the test set.

    Args:
        values: the feature's value in each of the N rows, shape (N,), N >= 3, finite.
        seed: a non-negative integer: the random order of tied values and of the training rows.

    Returns:
        Two int64 arrays of row indices: train (the outer two thirds, in a random order drawn from
        `seed`) and test (the middle third, sorted). Tied values are ordered at random, not by row.
    """
    values = _values(values)
    rng = np.random.default_rng(_checks.integer("seed", seed, minimum=0))
    n = len(values)
    order = np.lexsort((rng.permutation(n), values))  # by value, ties by a random key
    lo, hi = n // 3, (2 * n) // 3
    return rng.permutation(np.concatenate([order[:lo], order[hi:]])), np.sort(order[lo:hi])


def has_gap(values):
    """Whether the middle third of the sorted values lies between the training rows' values.

    False when the middle third is a single value that training rows share (a constant column, or a
    feature mostly at one value): the held-out rows are then a random draw of tied rows, not a gap.
    """
    values = np.sort(_values(values))
    n = len(values)
    lo, hi = n // 3, (2 * n) // 3
    return bool(values[lo] < values[hi - 1] or (values[lo - 1] < values[lo] and values[hi - 1] < values[hi]))


def _folder(folder):
    return folder if isinstance(folder, UCIFolder) else UCIFolder(folder)


def gap_features(folder):
    """The positions of the input features that have a gap (`has_gap`): those `gap_splits` makes by default."""
    folder = _folder(folder)
    x = folder.features()
    return [d for d in range(x.shape[1]) if has_gap(x[:, d])]


def gap_split(folder, feature):
    """The gap split of input feature `feature` (0 <= feature < D): a `UCIData` numbered `feature` of D.

    Ties are broken, and the training rows ordered, at random with the feature's position as the seed.
    A feature without a gap (`has_gap`: its middle third a single value that training rows share) is refused.
    """
    folder = _folder(folder)
    d = len(folder.feature_indices)
    if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)) or not 0 <= feature < d:
        raise ValueError(f"Expected `feature` to be an integer in [0, {d - 1}] (the position of an input feature of "
                         f"{folder.name}). Received: feature={feature!r}")
    feature = int(feature)
    values = folder.features()[:, feature]
    if not has_gap(values):
        middle = np.sort(values)[len(values) // 3]
        raise ValueError(f"Expected an input feature of {folder.name} with a gap, one of {gap_features(folder)}. "
                         f"Received: feature={feature}, whose middle third of rows all hold the value {middle:g}, as "
                         "training rows do (a constant or mostly tied feature: no gap to hold out)")
    train, test = gap_rows(values, seed=feature)
    return folder.rows_split(train, test, split=feature, n_splits=d)


def gap_splits(folder, features=None):
    """The gap splits of the given input features (a list of positions; default `gap_features`), in order."""
    if features is not None and (isinstance(features, (str, bytes, dict)) or not hasattr(features, "__iter__")):
        raise ValueError("Expected `features` to be None or a list of input-feature positions, e.g. [0, 2]. "
                         f"Received: features={features!r}")
    folder = _folder(folder)
    if features is None:
        features = gap_features(folder)
    return [gap_split(folder, k) for k in features]


def run_gap_protocol(folder, protocol, features=None, jobs=1):
    """Gal's protocol (`tfvb.uci_protocol`) on the gap splits of `features` (default all); records in order.

    Each record is `grid_search_split`'s, its `split` the feature's position,
    seeded by `protocol.split_seed(feature)`, and with `gap_feature` the
    feature's column in data.txt.
    """
    folder = _folder(folder)
    splits = gap_splits(folder, features)
    records = {r["split"]: r for r in iter_splits(splits, protocol, _checks.positive_int("jobs", jobs))}
    out = []
    for data in splits:
        record = records[data.split]
        record["gap_feature"] = int(folder.feature_indices[data.split])
        out.append(record)
    return out
