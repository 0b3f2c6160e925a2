import gzip
import os

import numpy as np
import pytest
from conftest import SHARED_DATA

from tfvb import data
from tfvb.data import idx, images


def test_bundled_sample_is_real_mnist(mnist_sample):
    x, y = mnist_sample
    assert x.shape == (2000, 28, 28, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    assert 0.1 < x.mean() < 0.16  # MNIST's mean grey value is about 0.13


def test_idx_round_trip_plain_and_gzip(tmp_path, rng):
    arr = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    for name in ("a-images-idx3-ubyte", "a-images-idx3-ubyte.gz"):
        idx.write_idx(str(tmp_path / name), arr)
        np.testing.assert_array_equal(data.read_idx(str(tmp_path / name)), arr)


def test_corrupt_idx_files_are_refused(tmp_path):
    bad = tmp_path / "bad-images-idx3-ubyte"
    bad.write_bytes(b"\x08\x08\x08\x03junk")
    with pytest.raises(ValueError, match="Expected an IDX file"):
        data.read_idx(str(bad))
    truncated = tmp_path / "t-images-idx3-ubyte.gz"
    idx.write_idx(str(truncated), np.zeros((4, 2, 2), np.uint8))
    raw = gzip.decompress(truncated.read_bytes())[:-3]
    truncated.write_bytes(gzip.compress(raw))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        data.read_idx(str(truncated))
    # A damaged gzip stream (zlib's own error before), a header whose size overflows int64.
    sample = os.path.join(os.path.dirname(images.__file__), "sample", "mnist2k-labels-idx1-ubyte.gz")
    with open(sample, "rb") as f:
        damaged = bytearray(f.read())
    damaged[692] ^= 0xFF
    (tmp_path / "d-labels-idx1-ubyte.gz").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="Could not read IDX file .*d-labels-idx1-ubyte.gz"):
        data.read_idx(str(tmp_path / "d-labels-idx1-ubyte.gz"))
    huge = tmp_path / "h-images-idx3-ubyte"
    huge.write_bytes(bytes([0, 0, 0x08, 3]) + (2**31).to_bytes(4, "big") * 3)
    with pytest.raises(ValueError, match=r"Expected 9903520314283042199192993792 bytes .* Received: 0 bytes"):
        data.read_idx(str(huge))


def test_idx_files_in_any_folder_and_from_paths(tmp_path, mnist_sample):
    # A folder name that is a glob pattern ("[1]") and pathlib paths, as read_idx takes them.
    import pathlib

    folder = tmp_path / "digits[1]"
    folder.mkdir()
    x, y = mnist_sample
    idx.write_idx(folder / "s-images-idx3-ubyte.gz", (x[:5, ..., 0] * 255).astype(np.uint8))
    idx.write_idx(pathlib.Path(folder) / "s-labels-idx1-ubyte.gz", y[:5].astype(np.uint8))
    got_x, got_y = data.mnist_arrays("s", data_dir=str(folder))
    np.testing.assert_array_equal(got_y, y[:5])
    np.testing.assert_allclose(got_x, x[:5], atol=1 / 255)


def test_local_idx_folder_with_custom_prefix():
    folder = os.path.join(SHARED_DATA, "mnist")
    if not os.path.isdir(folder):
        pytest.skip("../shared/data is not beside this checkout")
    x, y = data.mnist_arrays("mnist10k", data_dir=folder)
    assert x.shape == (10_000, 28, 28, 1) and len(y) == 10_000


def test_the_official_training_digits_from_a_local_folder():
    """`mnist("train")` on a folder of the standard IDX files: the 60,000 training digits in their order,
    the same call a user with internet satisfies through TFDS; they contain the 5,000 training digits of
    the shared 10k file (its provenance note says so)."""
    folder = os.path.join(SHARED_DATA, "mnist")
    if not os.path.isfile(os.path.join(folder, "train-images-idx3-ubyte.gz")):
        pytest.skip("../shared/data/mnist has no official training split beside this checkout")
    x, y = data.mnist_arrays("train", data_dir=folder)
    assert x.shape == (60_000, 28, 28, 1) and y.shape == (60_000,)
    np.testing.assert_array_equal(np.bincount(y), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    ten_k, _ = data.mnist_arrays("mnist10k", data_dir=folder)
    keys = {img.tobytes() for img in (x * 255).astype(np.uint8)}
    assert all(img.tobytes() in keys for img in (ten_k[:50] * 255).astype(np.uint8))
    ds = data.mnist("train", data_dir=folder, batch_size=1000, binarize=None, shuffle=False)
    first, labels = next(iter(ds))
    np.testing.assert_array_equal(first.numpy(), x[:1000])
    np.testing.assert_array_equal(labels.numpy(), y[:1000])


def test_fashion_mnist_found_in_system_folder():
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("dataset-fashion-mnist is not installed (make system-deps)")
    x, y = data.fashion_mnist_arrays("test")
    assert x.shape == (10_000, 28, 28, 1) and set(np.unique(y)) == set(range(10))


def test_missing_data_names_both_ways(monkeypatch, tmp_path):
    monkeypatch.delenv("TFVB_DATA_DIR", raising=False)
    monkeypatch.setattr(images, "SYSTEM_DIRS", {})

    def offline(name, split):
        raise ConnectionError("no internet")

    monkeypatch.setattr(images, "_tfds_arrays", offline)
    with pytest.raises(RuntimeError, match="data_dir=.*TFVB_DATA_DIR"):
        data.mnist_arrays("train")
    with pytest.raises(FileNotFoundError, match="Expected IDX files"):
        data.mnist_arrays("train", data_dir=str(tmp_path))


def test_env_var_folder(monkeypatch, tmp_path, mnist_sample):
    idx.write_idx(str(tmp_path / "train-images-idx3-ubyte.gz"), (mnist_sample[0][:10, ..., 0] * 255).astype(np.uint8))
    idx.write_idx(str(tmp_path / "train-labels-idx1-ubyte.gz"), mnist_sample[1][:10].astype(np.uint8))
    monkeypatch.setenv("TFVB_DATA_DIR", str(tmp_path))
    x, _ = data.mnist_arrays("train")
    assert x.shape == (10, 28, 28, 1)


def test_fixed_binarization_is_reproducible_and_unbiased(mnist_sample):
    x = mnist_sample[0][:500]
    a, b = data.binarize_fixed(x, seed=3), data.binarize_fixed(x, seed=3)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0}
    # E[binary] = grey value: the means agree within 4 standard errors.
    se = np.sqrt((x * (1 - x)).sum()) / x.size
    assert abs(a.mean() - x.mean()) < 4 * se
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        data.binarize_fixed(x * 255)


def test_dynamic_binarization_redraws_each_epoch_reproducibly(mnist_sample):
    x = mnist_sample[0][:64]
    def epochs(seed):
        ds = data.image_dataset(x, batch_size=64, shuffle=False, seed=seed)
        return [next(iter(ds)).numpy() for _ in range(2)]
    e1, e2 = epochs(5)
    assert not np.array_equal(e1, e2)  # fresh draws every epoch
    f1, f2 = epochs(5)
    np.testing.assert_array_equal(e1, f1)  # same seed, same sequence
    np.testing.assert_array_equal(e2, f2)
    assert set(np.unique(e1)) <= {0.0, 1.0}


def test_image_dataset_draws_what_its_docstring_says(mnist_sample):
    """Batch b of epoch e: the images at stateless_shuffle(range(n), [seed, e])[b B:(b+1) B], each pixel
    binarized by stateless_uniform(seed=[seed * 1000003 + 17, e * batches + b]) < grey. Written out
    here from that definition, so a faster pipeline cannot change the data a seed gives."""
    import tensorflow as tf

    x, seed, size = mnist_sample[0][:100].reshape(-1, 28, 28, 1), 4, 32
    ds = data.image_dataset(x, batch_size=size, seed=seed)
    batches = 4
    for epoch in range(2):
        order = tf.random.experimental.stateless_shuffle(tf.range(100, dtype=tf.int64), seed=[seed, epoch])
        for b, got in enumerate(ds):
            grey = tf.gather(x, order[b * size:(b + 1) * size])
            u = tf.random.stateless_uniform(tf.shape(grey), seed=[seed * 1_000_003 + 17, epoch * batches + b])
            np.testing.assert_array_equal(got.numpy(), (u < grey).numpy().astype(np.float32))
        assert b == batches - 1


def test_image_dataset_iterators_alive_at_once_each_see_a_whole_epoch(mnist_sample):
    x = mnist_sample[0][:90]
    ds = data.image_dataset(x, batch_size=20, binarize=None, seed=1)
    first, second = iter(ds), iter(ds)
    got = {0: [], 1: []}
    for _ in range(5):  # interleaved: each pass keeps its own epoch's order
        got[0].append(next(first).numpy())
        got[1].append(next(second).numpy())
    for rows in got.values():
        rows = np.concatenate(rows).reshape(90, -1)
        assert sorted(map(bytes, rows)) == sorted(map(bytes, x.reshape(90, -1)))  # every image, once
    assert not np.array_equal(got[0][0], got[1][0])  # two epochs, two orders


def test_image_dataset_rejects_bad_input(mnist_sample):
    with pytest.raises(ValueError, match="non-empty"):
        data.image_dataset(np.zeros((0, 28, 28), np.float32))
    bad = mnist_sample[0][:4].copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        data.image_dataset(bad)
    with pytest.raises(ValueError, match="binarize"):
        data.image_dataset(mnist_sample[0][:4], binarize="sometimes")


def test_a_sharded_image_dataset_gives_each_worker_its_share_of_the_same_epochs(mnist_sample):
    """tf.distribute's DATA auto-shard keeps every other batch on each of two workers: worker 1 never
    sees batch 0, and still draws the epoch's order and binarization (each pass computes its own)."""
    x = mnist_sample[0][:96]

    def passes(ds, n=2):
        return [np.concatenate([b.numpy() for b in ds]) for _ in range(n)]

    whole = passes(data.image_dataset(x, batch_size=16, seed=7))
    odd = passes(data.image_dataset(x, batch_size=16, seed=7).shard(2, 1))
    for epoch in range(2):
        batches = whole[epoch].reshape(6, 16, 28, 28, 1)
        np.testing.assert_array_equal(odd[epoch], batches[1::2].reshape(-1, 28, 28, 1))
    assert not np.array_equal(whole[0], whole[1])  # a new order and new draws each pass
