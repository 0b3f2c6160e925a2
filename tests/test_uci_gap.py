"""Foong et al.'s gap splits: the middle third of one feature held out, on any folder, and the protocol on them."""

import os

import numpy as np
import pytest
from conftest import SHARED_DATA
from test_uci import make_folder

from tfvb.data import UCIFolder
from tfvb.uci_protocol import Protocol, gap_rows, gap_split, gap_splits, run_gap_protocol

BOSTON = os.path.join(SHARED_DATA, "uci", "bostonHousing")
needs_boston = pytest.mark.skipif(not os.path.isdir(BOSTON), reason="shared UCI data not present")


@pytest.mark.parametrize("n", [3, 10, 11, 506])
def test_the_test_rows_are_the_middle_third_of_the_sorted_values(n, rng):
    values = rng.permutation(n).astype(float)  # distinct: the ranks themselves
    train, test = gap_rows(values)
    assert len(test) == (2 * n) // 3 - n // 3 and len(train) + len(test) == n
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(values[test]), np.arange(n // 3, (2 * n) // 3))
    below, above = values[train][values[train] < n // 3], values[train][values[train] >= (2 * n) // 3]
    assert len(below) + len(above) == len(train)


def test_ties_keep_the_row_order():
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])  # sorted order: rows 1, 4, 0, 2, 3, 5
    train, test = gap_rows(values)
    np.testing.assert_array_equal(test, [0, 2])
    np.testing.assert_array_equal(train, [1, 3, 4, 5])


@pytest.mark.parametrize("values, message", [
    (np.arange(2.0), r"Expected one feature's values, shape \(N,\) with N >= 3. Received: shape=\(2,\)"),
    (np.ones((4, 2)), r"Received: shape=\(4, 2\)"),
    (np.array([0.0, np.nan, 1.0]), "Expected `values` to be finite"),
])
def test_bad_values_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        gap_rows(values)


def test_a_gap_split_holds_the_rows_of_the_file(tmp_path):
    folder = UCIFolder(make_folder(str(tmp_path / "toy"), rows=30, features=3))
    table = np.loadtxt(os.path.join(folder.path, "data.txt"))
    for d, data in enumerate(gap_splits(folder)):
        assert (data.split, data.n_splits) == (d, 3)
        train, test = gap_rows(table[:, d])
        np.testing.assert_array_equal(data.x_test, table[test, :3])
        np.testing.assert_array_equal(data.y_train, table[train, 3])
    with pytest.raises(ValueError, match=r"Expected `feature` to be an integer in \[0, 2\] .* Received: feature=3"):
        gap_split(folder, 3)


@needs_boston
def test_every_boston_gap_lies_between_its_training_rows():
    for data in gap_splits(BOSTON):
        d = data.split
        column = np.concatenate([data.x_train[:, d], data.x_test[:, d]])
        lo, hi = np.sort(column)[len(column) // 3], np.sort(column)[(2 * len(column)) // 3 - 1]
        assert data.x_test[:, d].min() == lo and data.x_test[:, d].max() == hi
        assert np.all((data.x_train[:, d] <= lo) | (data.x_train[:, d] >= hi))


def test_the_protocol_runs_on_gap_splits(tmp_path):
    folder = UCIFolder(make_folder(str(tmp_path / "toy"), rows=60, features=3))
    protocol = Protocol.of(folder, samples=50, validation_samples=20, epochs=3, seed=0)
    records = run_gap_protocol(folder, protocol, features=[2])
    assert [r["split"] for r in records] == [2] and [r["gap_feature"] for r in records] == [2]
    for record in records:
        assert np.isfinite(record["rmse"]) and np.isfinite(record["ll"])
