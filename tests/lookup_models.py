"""Stand-ins for a trained model: predictions made once, looked up by row index.

Calibration tests fit a real model once, predict every row of a pool once, and
then re-split the pool many times into calibration and test rows. A lookup
model takes as "inputs" the column of row indices (N, 1) and answers
`predict_uncertainty` / `predict_samples` with the stored rows, so each split
goes through the public calibration API at numpy speed. It also stands for
"any object with a predict_uncertainty-like interface".
"""

import functools

import numpy as np


def rows(x):
    return np.asarray(x)[:, 0].astype(np.int64)


class LookupRegressor:
    def __init__(self, prediction):
        self.prediction = {k: np.asarray(v) for k, v in prediction.items()}

    def predict_uncertainty(self, x, samples=None, seed=None):
        return {k: v[rows(x)] for k, v in self.prediction.items()}


class LookupClassifier:
    """Class probabilities of S draws (S, N, C); `draws=False` hides `predict_samples` (mean only)."""

    def __init__(self, draws):
        self.draws = np.asarray(draws, np.float64)

    def predict_samples(self, x, samples=None, seed=None):
        return self.draws[:, rows(x)]

    def predict_uncertainty(self, x, samples=None, seed=None):
        mean = self.draws[:, rows(x)].mean(axis=0)
        return {"mean": mean, "entropy": -np.sum(mean * np.log(np.maximum(mean, 1e-300)), axis=1)}


class MeanOnlyClassifier:
    def __init__(self, mean):
        self.mean = np.asarray(mean, np.float64)

    def predict_uncertainty(self, x, samples=None, seed=None):
        return {"mean": self.mean[rows(x)]}


def index_column(n):
    """The "inputs" of a lookup model: row indices 0..n-1 as a column."""
    return np.arange(n)[:, None]


def random_splits(n_pool, n_cal, repeats, seed=0):
    """`repeats` random (calibration rows, test rows) splits of a pool of `n_pool` rows."""
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        order = rng.permutation(n_pool)
        yield order[:n_cal], order[n_cal:]


def mean_and_se(values):
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


@functools.lru_cache(maxsize=None)
def mnist_classifier(train=1000, hidden=128, dropout_rate=0.1, epochs=3):
    """An MC-dropout MLP fitted on the first `train` bundled digits (cached: one fit per session)."""
    import keras

    import tfvb

    images, labels = tfvb.data.mnist_sample()
    keras.utils.set_random_seed(0)
    model = tfvb.models.MCDropoutClassifier(10, hidden_units=(hidden,), dropout_rate=dropout_rate, seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(images[:train], labels[:train], epochs=epochs, batch_size=32, verbose=0)
    return model
