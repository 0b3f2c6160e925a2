"""Reader for UCI regression folders in the layout of the Bayesian deep learning benchmark.

A folder holds (Hernández-Lobato & Adams 2015; Gal & Ghahramani 2016):

    data.txt                       whitespace-separated numeric rows
    index_features.txt             column indices of the inputs
    index_target.txt               column index (or indices) of the target
    index_train_K.txt, index_test_K.txt   row indices of split K = 0..n_splits-1
    n_splits.txt, n_hidden.txt, n_epochs.txt   protocol constants
    dropout_rates.txt, tau_values.txt           the hyper-parameter grid

`n_epochs` is the base count of epochs (Gal's protocol trains for a multiple
of it, `tfvb.uci_protocol`). `UCIFolder` reads a folder once (the table, the
columns, the constants and the grid); its `split(k)` reads split k's row
indices; `uci(folder, split)` is both in one call.

Example:
    >>> d = uci("bostonHousing", split=0)          # a folder, or its name under the data root
    >>> d.x_train.shape, d.y_train.shape, d.dropout_rates
    ((455, 13), (455,), (0.005, 0.01, 0.05, 0.1))

References:
    Hernández-Lobato, Adams. Probabilistic Backpropagation for Scalable
    Learning of Bayesian Neural Networks. ICML 2015.
    Gal, Ghahramani. Dropout as a Bayesian Approximation. ICML 2016.
"""

import dataclasses
import functools
import os

import numpy as np

from tfvb import paths

__all__ = ["UCIData", "UCIFolder", "uci", "list_uci", "default_uci_root"]

_REQUIRED = (
    "data.txt", "index_features.txt", "index_target.txt", "n_splits.txt",
    "n_hidden.txt", "n_epochs.txt", "dropout_rates.txt", "tau_values.txt",
)


@dataclasses.dataclass(frozen=True, repr=False)
class UCIData:
    """One train/test split of a UCI folder, with the protocol's constants and grid
    (`dropout_rates` and `tau_values`: the candidates of the grid search).

    `y_train`/`y_test` are 1-D when the folder names one target column,
    (N, k) for k target columns.
    """

    name: str
    folder: str
    split: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_splits: int
    n_hidden: int
    n_epochs: int
    dropout_rates: tuple
    tau_values: tuple
    feature_indices: tuple
    target_indices: tuple

    def __repr__(self):
        return (
            f"UCIData(name={self.name!r}, split={self.split}/{self.n_splits}, "
            f"train={self.x_train.shape}, test={self.x_test.shape}, n_hidden={self.n_hidden}, "
            f"n_epochs={self.n_epochs}, dropout_rates={self.dropout_rates}, tau_values={self.tau_values})"
        )


def default_uci_root():
    """`uci/` of the shared data sets (`tfvb.paths.shared_data_dir`), or None when they are not found."""
    root = paths.shared_data_dir(required=False)
    return os.path.join(root, "uci") if root else None


def _resolve(folder):
    folder = os.fspath(folder)
    if os.path.isdir(folder):
        return folder
    # A bare name ("bostonHousing") means a folder under the default root.
    root = default_uci_root()
    if root and os.sep not in folder and os.path.isdir(os.path.join(root, folder)):
        return os.path.join(root, folder)
    raise FileNotFoundError(
        f"Expected `folder` to be a UCI benchmark folder (or the name of one under "
        f"{root or 'uci/ of the shared data sets, not found'}). Received: folder={folder!r}, which does not exist"
    )


def _numbers(folder, filename, kind):
    path = os.path.join(folder, filename)
    try:
        with open(path) as f:
            tokens = f.read().split()
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except OSError as e:
        raise FileNotFoundError(f"Could not read {path}: {e}") from e
    except ValueError as e:
        raise ValueError(f"Expected numbers in {path}. Received a token that is not one: {e}") from None
    if values.size == 0:
        raise ValueError(f"Expected at least one number in {path}. Received an empty file")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"Expected finite numbers in {path}. Received NaN or inf")
    if kind == "int":
        if not np.all(values == np.round(values)):
            raise ValueError(f"Expected integers in {path}. Received: {values[values != np.round(values)][:5]}")
        return values.astype(np.int64)
    return values


def _scalar(folder, filename):
    values = _numbers(folder, filename, "int")
    if values.size != 1 or values[0] < 1:
        raise ValueError(
            f"Expected one positive integer in {os.path.join(folder, filename)}. Received: {values.tolist()}"
        )
    return int(values[0])


@functools.lru_cache(maxsize=8)
def _load_table(path, mtime):
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise ValueError(f"Expected whitespace-separated numeric rows of equal length in {path}. {e}") from None
    if table.size == 0:
        raise ValueError(f"Expected at least one row in {path}. Received an empty file")
    bad = ~np.isfinite(table)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])[:5]
        raise ValueError(
            f"Expected finite values in {path}. Received {int(bad.sum())} NaN or inf values "
            f"(first rows, 0-based: {rows.tolist()})"
        )
    table.setflags(write=False)
    return table


def _indices(folder, filename, upper, what):
    idx = _numbers(folder, filename, "int")
    if idx.min() < 0 or idx.max() >= upper:
        raise ValueError(
            f"Expected {what} in [0, {upper - 1}] in {os.path.join(folder, filename)}. "
            f"Received values in [{idx.min()}, {idx.max()}]"
        )
    if len(np.unique(idx)) != len(idx):
        raise ValueError(f"Expected distinct {what} in {os.path.join(folder, filename)}. Received duplicates")
    return idx


def _check_layout(folder):
    missing = [f for f in _REQUIRED if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise FileNotFoundError(
            f"Expected a UCI benchmark folder with {', '.join(_REQUIRED)} and "
            f"index_train_K.txt / index_test_K.txt. Received {folder} without: {', '.join(missing)}"
        )


class UCIFolder:
    """A UCI benchmark folder, read once: table, columns, protocol constants and grid.

    Args:
        folder: path of a folder in the benchmark layout, or the name of one
            under `default_uci_root()`.

    Attributes: `name`, `path`, `n_splits`, `n_hidden`, `n_epochs`,
    `dropout_rates` and `tau_values` (the grid), `feature_indices`,
    `target_indices`. `split(k)` returns split k as a `UCIData`.

    Raises:
        FileNotFoundError: a missing folder or file.
        ValueError: malformed numbers, NaN/inf in data.txt, indices out of
            range or overlapping, a grid outside its domain.
    """

    def __init__(self, folder):
        folder = _resolve(folder)
        _check_layout(folder)
        self.path = os.path.abspath(folder)
        self.name = os.path.basename(os.path.normpath(folder))
        self.n_splits = _scalar(folder, "n_splits.txt")
        data_path = os.path.join(folder, "data.txt")
        self._table = _load_table(data_path, os.path.getmtime(data_path))
        n_cols = self._table.shape[1]
        features = _indices(folder, "index_features.txt", n_cols, "column indices")
        target = _indices(folder, "index_target.txt", n_cols, "column indices")
        if np.intersect1d(features, target).size:
            raise ValueError(
                f"Expected the target column(s) {target.tolist()} not to be among the features in {folder}. "
                f"Received overlap {np.intersect1d(features, target).tolist()}"
            )
        rates = _numbers(folder, "dropout_rates.txt", "float")
        if np.any(rates <= 0) or np.any(rates >= 1):
            raise ValueError(f"Expected dropout rates in (0, 1) in {folder}. Received: {rates.tolist()}")
        taus = _numbers(folder, "tau_values.txt", "float")
        if np.any(taus <= 0):
            raise ValueError(f"Expected positive tau values in {folder}. Received: {taus.tolist()}")
        self.n_hidden = _scalar(folder, "n_hidden.txt")
        self.n_epochs = _scalar(folder, "n_epochs.txt")
        self.dropout_rates = tuple(float(r) for r in rates)
        self.tau_values = tuple(float(t) for t in taus)
        self.feature_indices = tuple(int(i) for i in features)
        self.target_indices = tuple(int(i) for i in target)

    def __repr__(self):
        return f"UCIFolder(name={self.name!r}, n_splits={self.n_splits}, rows={self._table.shape[0]})"

    def split(self, split):
        """Split `split` (0 <= split < n_splits): a `UCIData` with float64 arrays."""
        if isinstance(split, bool) or not isinstance(split, (int, np.integer)) or not 0 <= split < self.n_splits:
            raise ValueError(
                f"Expected `split` to be an integer in [0, {self.n_splits - 1}] for {self.path}. "
                f"Received: split={split!r}"
            )
        split = int(split)
        n_rows = self._table.shape[0]
        train = _indices(self.path, f"index_train_{split}.txt", n_rows, "row indices")
        test = _indices(self.path, f"index_test_{split}.txt", n_rows, "row indices")
        if np.intersect1d(train, test).size:
            raise ValueError(
                f"Expected disjoint train and test rows in split {split} of {self.path}. "
                f"Received {np.intersect1d(train, test).size} shared rows"
            )
        return self.rows_split(train, test, split)

    @property
    def num_rows(self):
        return int(self._table.shape[0])

    def features(self):
        """The input features of every row, (num_rows, D) float64 (read-only)."""
        return self._table[:, list(self.feature_indices)]

    def rows_split(self, train, test, split, n_splits=None):
        """A `UCIData` of the given train and test row indices, numbered `split` of `n_splits` (default the
        folder's): how `split(k)` builds its splits, and other split schemes (e.g. Foong et al.'s gap splits)."""
        features, target = list(self.feature_indices), list(self.target_indices)

        def xy(rows):
            y = self._table[np.ix_(rows, target)]
            return self._table[np.ix_(rows, features)], (y[:, 0] if len(target) == 1 else y)

        (x_train, y_train), (x_test, y_test) = xy(train), xy(test)
        return UCIData(
            name=self.name, folder=self.path, split=int(split), x_train=x_train, y_train=y_train, x_test=x_test,
            y_test=y_test, n_splits=self.n_splits if n_splits is None else int(n_splits), n_hidden=self.n_hidden,
            n_epochs=self.n_epochs, dropout_rates=self.dropout_rates, tau_values=self.tau_values,
            feature_indices=self.feature_indices, target_indices=self.target_indices,
        )


def uci(folder, split=0):
    """Load split `split` of a UCI benchmark folder: `UCIFolder(folder).split(split)`.

    Args:
        folder: path of a folder in the benchmark layout, or the name of one
            under `default_uci_root()`.
        split: which of the standard train/test splits, 0 <= split < n_splits.

    Returns:
        A `UCIData` with float64 arrays and the protocol's constants.

    Raises:
        FileNotFoundError: a missing folder or file.
        ValueError: malformed numbers, NaN/inf in data.txt, indices out of
            range or overlapping, an out-of-range split, a grid outside its domain.
    """
    return UCIFolder(folder).split(split)


def list_uci(root=None):
    """Sorted names of the folders under `root` (default `default_uci_root()`) in the benchmark layout."""
    root = default_uci_root() if root is None else os.fspath(root)
    if root is None:
        raise FileNotFoundError("Expected a folder of UCI data sets (`root`, or uci/ of the shared data sets "
                                "in $TFVB_SHARED_DATA). Received: root=None and no shared data found")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Expected `root` to be a folder of UCI data sets. Received: root={root!r}")
    return sorted(
        name for name in os.listdir(root)
        if all(os.path.isfile(os.path.join(root, name, f)) for f in _REQUIRED)
    )
