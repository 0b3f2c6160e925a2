"""Foong et al.'s "gap" splits of a UCI folder: test on the middle third of one input feature.

The standard splits test on random rows, always surrounded by training rows.
To ask whether a model's uncertainty grows *between* clusters of training
data (in-between uncertainty), Foong et al. (2019) make one split per input
feature d: sort the N rows by feature d and hold out the middle third,

    order = argsort(x[:, d])            (stable: ties keep the file's row order)
    test  = order[floor(N/3) : floor(2N/3)]
    train = the first floor(N/3) and the last N - floor(2N/3) rows of the order

so the test inputs lie in a gap of feature d that no training row fills.
A folder with D features gives D gap splits, numbered by the feature's
position 0..D-1 among the inputs (`UCIData.split`, with `n_splits` = D).
A feature with few distinct values (binary, small counts) cannot be cut
into a gap: ties straddle the cut points, so training rows share values with
test rows. Foong et al. report that mean-field VI is over-confident in the
gaps where exact inference and MC dropout's ensembles of networks are not;
their published figures are not reproduced here.

Example:
    >>> folder = tfvb.data.UCIFolder("bostonHousing")
    >>> d = gap_split(folder, feature=5)        # the middle third by rooms per dwelling held out
    >>> d.x_train.shape, d.x_test.shape, d.split, d.n_splits
    ((337, 13), (169, 13), 5, 13)
    >>> bool(d.x_train[:, 5].min() <= d.x_test[:, 5].min() and d.x_test[:, 5].max() <= d.x_train[:, 5].max())
    True
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

__all__ = ["gap_rows", "gap_split", "gap_splits", "run_gap_protocol"]


def gap_rows(values):
    """(train rows, test rows) of one feature's values: the middle third of the sorted order is the test set.

    Args:
        values: the feature's value in each of the N rows, shape (N,), N >= 3, finite.

    Returns:
        Two int64 arrays of row indices: train (the outer two thirds, sorted) and test (the middle third).
    """
    values = _checks.finite_array("values", np.asarray(values, np.float64))
    if values.ndim != 1 or len(values) < 3:
        raise ValueError(f"Expected one feature's values, shape (N,) with N >= 3. Received: shape={values.shape}")
    n = len(values)
    order = np.argsort(values, kind="stable")
    lo, hi = n // 3, (2 * n) // 3
    return np.sort(np.concatenate([order[:lo], order[hi:]])), np.sort(order[lo:hi])


def _folder(folder):
    return folder if isinstance(folder, UCIFolder) else UCIFolder(folder)


def gap_split(folder, feature):
    """The gap split of input feature `feature` (0 <= feature < D): a `UCIData` numbered `feature` of D."""
    folder = _folder(folder)
    d = len(folder.feature_indices)
    if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)) or not 0 <= feature < d:
        raise ValueError(f"Expected `feature` to be an integer in [0, {d - 1}] (the position of an input feature of "
                         f"{folder.name}). Received: feature={feature!r}")
    train, test = gap_rows(folder.features()[:, int(feature)])
    return folder.rows_split(train, test, split=int(feature), n_splits=d)


def gap_splits(folder, features=None):
    """The gap splits of the given input features (a list of positions; default all D), in order."""
    if features is not None and (isinstance(features, (str, bytes, dict)) or not hasattr(features, "__iter__")):
        raise ValueError("Expected `features` to be None or a list of input-feature positions, e.g. [0, 2]. "
                         f"Received: features={features!r}")
    folder = _folder(folder)
    if features is None:
        features = range(len(folder.feature_indices))
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
