"""Foong et al.'s gap splits: the middle third of one feature held out, on any folder, and the protocol on them."""

import os

import numpy as np
import pytest
from conftest import SHARED_DATA
from test_uci import make_folder

from tfvb.data import UCIFolder
from tfvb.uci_protocol import Protocol, gap_features, gap_rows, gap_split, gap_splits, has_gap, run_gap_protocol

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


def test_ties_are_held_out_at_random_not_by_the_row_order():
    """60 rows: 15 zeros, 30 ones, 15 twos; the middle third (sorted positions 20-39) is 20 of the 30 ones. Which 20
    is drawn from the seed: with the row order (the file sorted by the target, as naval's) it would always be the
    same rows."""
    values = np.repeat([0.0, 1.0, 2.0], [15, 30, 15])
    ones = set(np.flatnonzero(values == 1.0))
    tests = []
    for seed in range(20):
        train, test = gap_rows(values, seed=seed)
        assert len(test) == 20 and set(test) <= ones and set(train) | set(test) == set(range(60))
        tests.append(frozenset(test))
        np.testing.assert_array_equal(gap_rows(values, seed=seed)[1], test)  # the seed fixes the draw
    assert len(set(tests)) == 20
    # Each of the 30 tied rows is held out with probability 2/3: over 20 seeds, no row always or never.
    counts = np.array([sum(r in t for t in tests) for r in sorted(ones)])
    assert counts.min() > 0 and counts.max() < 20 and counts.mean() == pytest.approx(20 * 2 / 3)


def test_the_training_rows_come_in_a_random_order():
    """Gal's protocol validates on the last 20 % of the training rows: in file order that would be the file's end."""
    values = np.arange(300.0)
    train, test = gap_rows(values, seed=0)
    np.testing.assert_array_equal(test, np.arange(100, 200))
    assert sorted(train) == [*range(100), *range(200, 300)] and not np.all(np.diff(train) > 0)
    last_fifth = train[-40:]  # both outer thirds are represented, as in a random fifth
    assert 5 < np.sum(last_fifth < 100) < 35
    np.testing.assert_array_equal(gap_rows(values, seed=0)[0], train)
    assert not np.array_equal(gap_rows(values, seed=1)[0], train)


@pytest.mark.parametrize("values, gap", [
    (np.arange(6.0), True),
    (np.ones(9), False),                                   # a constant column (naval has two)
    (np.repeat([0.0, 1.0], [8, 4]), False),                # mostly one value: the middle third all 0 (CHAS)
    (np.repeat([0.0, 1.0, 2.0], [4, 4, 4]), True),         # middle third exactly the 1s: no training row holds 1
    (np.repeat([0.0, 1.0, 2.0], [3, 6, 3]), False),        # middle third all 1s, and training rows hold 1 too
    (np.repeat([0.0, 1.0, 2.0], [2, 4, 6]), True),         # the middle third spans 1 and 2
])
def test_a_feature_whose_middle_third_is_one_value_has_no_gap(values, gap):
    assert has_gap(values) is gap


def test_features_without_a_gap_are_left_out_and_refused(tmp_path):
    path = make_folder(str(tmp_path / "toy"), rows=30, features=3)
    table = np.loadtxt(os.path.join(path, "data.txt"))
    table[:, 1] = 288.0  # a constant input column
    np.savetxt(os.path.join(path, "data.txt"), table)
    folder = UCIFolder(path)
    assert gap_features(folder) == [0, 2]
    assert [d.split for d in gap_splits(folder)] == [0, 2]
    with pytest.raises(ValueError, match=r"Expected an input feature of toy with a gap, one of \[0, 2\]. Received: "
                                         r"feature=1, whose middle third of rows all hold the value 288"):
        gap_split(folder, 1)
    with pytest.raises(ValueError, match="feature=1"):
        gap_splits(folder, [0, 1])


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
        train, test = gap_rows(table[:, d], seed=d)  # the feature's position seeds its split
        np.testing.assert_array_equal(data.x_test, table[test, :3])
        np.testing.assert_array_equal(data.x_train, table[train, :3])
        np.testing.assert_array_equal(data.y_train, table[train, 3])
    with pytest.raises(ValueError, match=r"Expected `feature` to be an integer in \[0, 2\] .* Received: feature=3"):
        gap_split(folder, 3)


@needs_boston
def test_every_boston_gap_lies_between_its_training_rows():
    assert gap_features(BOSTON) == [0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]  # ZN (1) and CHAS (3): 0 in the middle
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
