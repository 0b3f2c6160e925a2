"""MNIST and Fashion-MNIST as `tf.data.Dataset`s, with dynamic and fixed binarization.

Where the data comes from, in order:
1. `data_dir=` (a folder of IDX files), or the `TFVB_DATA_DIR` environment variable;
2. a known system folder (Debian's `dataset-fashion-mnist` installs
   /usr/share/datasets/fashion-mnist);
3. `tfds.load` (downloads when the machine has internet).
When none works, the error names the first two ways.

Binarization (Salakhutdinov & Murray, 2008; Burda et al., 2016): training
re-draws every pixel as Bernoulli(grey value) each epoch ("dynamic"), while
evaluation uses one fixed-seed draw, so scores are comparable across runs.
"""

import os
from importlib import resources

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks
from tfvb.data.idx import load_idx_split

SYSTEM_DIRS = {"fashion_mnist": ["/usr/share/datasets/fashion-mnist"], "mnist": ["/usr/share/datasets/mnist"]}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def _to_float(images):
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    return (images.astype(np.float32) / 255.0) if images.dtype == np.uint8 else images.astype(np.float32)


def _local_arrays(folder, split):
    prefix = _SPLIT_PREFIX.get(split, split)
    images, labels = load_idx_split(folder, prefix)
    return _to_float(images), labels.astype(np.int64)


def _tfds_arrays(name, split):
    import tensorflow_datasets as tfds  # imported late: slow, and only needed with internet

    ds = tfds.load(name, split=split, batch_size=-1, as_supervised=True)
    images, labels = tfds.as_numpy(ds)
    return _to_float(images), labels.astype(np.int64)


def _arrays(name, split, data_dir):
    folder = data_dir or os.environ.get("TFVB_DATA_DIR")
    if folder:
        return _local_arrays(folder, split)
    for candidate in SYSTEM_DIRS.get(name, []):
        if os.path.isdir(candidate):
            return _local_arrays(candidate, split)
    try:
        return _tfds_arrays(name, split)
    except ImportError as e:  # TFDS or one of its imports missing: not the network
        raise RuntimeError(
            f"Could not load {name!r} split {split!r}: TensorFlow Datasets could not be imported "
            f"({type(e).__name__}: {e}); reinstall tfvb's dependencies (`pip install tfvb` installs them) or give a "
            f"folder of IDX files with data_dir=... or TFVB_DATA_DIR") from e
    except Exception as e:  # no internet, no tfds data: say both ways out
        raise RuntimeError(
            f"Could not load {name!r} split {split!r}: TensorFlow Datasets failed ({type(e).__name__}: {e}). "
            f"Either give a folder of IDX files with data_dir=... or set TFVB_DATA_DIR "
            f"(files like {_SPLIT_PREFIX.get(split, split)}-images-idx3-ubyte.gz), "
            "or run where `tfds.load` can download."
        ) from e


def mnist_arrays(split="train", data_dir=None):
    """(images float32 (N, 28, 28, 1) in [0, 1], labels int64 (N,)) of MNIST.

    `split` is "train", "test", or the prefix of IDX files in `data_dir` (e.g. "mnist10k").
    """
    return _arrays("mnist", split, data_dir)


def fashion_mnist_arrays(split="train", data_dir=None):
    """Like `mnist_arrays`, for Fashion-MNIST (found in /usr/share/datasets/fashion-mnist by itself)."""
    return _arrays("fashion_mnist", split, data_dir)


def mnist_sample():
    """The 2,000 real MNIST digits shipped with tfvb: (images float32 (2000, 28, 28, 1), labels).

    They are images 3,000-4,999 of the official t10k test split, held out from
    every tfvb zoo model's training, so the demo and tests run without downloads.
    """
    folder = resources.files("tfvb.data") / "sample"
    with resources.as_file(folder) as path:
        return _local_arrays(str(path), "mnist2k")


def fashion_mnist_sample():
    """The 2,000 Fashion-MNIST test images shipped with tfvb: (images float32 (2000, 28, 28, 1), labels).

    They are t10k images 0-1,999, among the t10k images 0-4,999 on which the
    zoo's Fashion-MNIST models are evaluated; the demo uses them (and as
    out-of-distribution data for the MNIST classifiers) without downloads or
    Debian's package.
    """
    folder = resources.files("tfvb.data") / "sample"
    with resources.as_file(folder) as path:
        return _local_arrays(str(path), "fashion2k")


def _check_grey(images):
    images = _checks.finite_array("images", images)
    if images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError(
            f"Expected grey values in [0, 1]. Received: min={images.min()}, max={images.max()}"
        )
    return images


def binarize_fixed(images, seed=0):
    """One Bernoulli(grey value) draw per pixel with a fixed seed (numpy in, numpy out)."""
    images = _check_grey(images)
    rng = np.random.default_rng(seed)
    return (rng.random(images.shape, dtype=np.float32) < images).astype(np.float32)


def binarize_dynamic(dataset, seed=0):
    """Map a dataset of images (or (image, label) pairs) to fresh binarizations every epoch.

    Each element gets its own seed from `tf.data.Dataset.random(...,
    rerandomize_each_iteration=True)`: different draws every epoch, the same
    sequence for the same `seed`. (`image_dataset` draws from the epoch and
    example index instead, which makes resumed runs exact.)
    """
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    zipped = tf.data.Dataset.zip((dataset, seeds))

    def draw(element, s):
        x = element[0] if isinstance(element, tuple) else element
        u = tf.random.stateless_uniform(tf.shape(x), seed=tf.cast(s % (2**31), tf.int32), dtype=x.dtype)
        xb = tf.cast(u < x, x.dtype)
        return (xb,) + tuple(element[1:]) if isinstance(element, tuple) else xb

    return zipped.map(draw, num_parallel_calls=tf.data.AUTOTUNE)


class EpochCounter(keras.callbacks.Callback):
    """The epoch an `image_dataset` draws its shuffle and binarization for.

    A Keras callback: `fit` sets it at the start of every epoch (tfvb models
    add it themselves when given an `image_dataset`), so the order and the
    binarization of epoch e depend only on (seed, e). A run resumed at epoch e
    by a backup callback therefore sees exactly the data an uninterrupted run
    sees.
    """

    def __init__(self):
        super().__init__()
        with tf.init_scope(), tf.device("/CPU:0"):
            self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="tfvb_data_epoch")

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


def image_dataset(images, labels=None, batch_size=128, binarize="dynamic", shuffle=True, seed=0,
                  drop_remainder=False):
    """A batched `tf.data.Dataset` of images (and labels) ready for `model.fit`.

    The order (with `shuffle`) and the binarization (with "dynamic") of an
    epoch are functions of `seed` and the epoch number, which `fit` of every
    tfvb model sets: two runs with one seed see the same data, and a run
    resumed by `tfvb.callbacks.BackupAndRestore` continues exactly. Each new
    pass over the dataset takes the next epoch number; `fit` of a tfvb model
    sets it before every epoch, so a resumed run continues with the right
    epoch's data. With a Keras model of your own, add
    `tfvb.data.image_dataset_epoch(ds)` to `fit`'s callbacks for the same.

    Args:
        images: float array (N, H, W[, C]) in [0, 1] or uint8.
        labels: optional labels; when given, elements are (image, label).
        batch_size: images per batch.
        binarize: "dynamic" (re-drawn each epoch), "fixed" (one seeded draw) or None (grey values).
        shuffle: a new order every epoch.
        seed: seed of the order and the draws.
        drop_remainder: drop a last, smaller batch.
    """
    _checks.one_of("binarize", binarize, {"dynamic", "fixed", None})
    batch_size = _checks.positive_int("batch_size", batch_size)
    shuffle = _checks.boolean("shuffle", shuffle)
    drop_remainder = _checks.boolean("drop_remainder", drop_remainder)
    images = _to_float(images)
    if len(images) == 0:
        raise ValueError("Expected a non-empty set of images. Received: 0 images")
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(images):
            raise ValueError(f"Expected one label per image. Received: {len(images)} images and "
                             f"{len(labels)} labels")
    if binarize == "fixed":
        images = binarize_fixed(images, seed)
    else:
        _check_grey(images)
    if not shuffle and binarize != "dynamic":
        ds = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    counter = EpochCounter()
    n, key = len(images), np.int64(seed) * 1_000_003 + 17
    batches = n // batch_size if drop_remainder else -(-n // batch_size)
    pixels = tf.constant(images)
    targets = None if labels is None else tf.constant(labels)

    def start_epoch():
        # Each pass over the data takes the next epoch number; `fit` (through the counter) sets it
        # before every epoch, which is what makes a resumed run exact.
        epoch = counter.variable.assign_add(1, read_value=True) - 1
        order = tf.range(n, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=tf.stack([np.int64(seed), epoch]))
        return order, epoch

    def one_batch(state, b):
        # A pass is one `scan` over the batch numbers: its first batch draws the epoch's order, which
        # the state carries to the pass's other batches (each iterator its own). One gather and one
        # draw per batch, not per image: the pipeline's cost stays far below the step's. The draw is a
        # function of (seed, epoch, batch), so a resumed run sees the same data.
        order, epoch = tf.cond(tf.equal(b, 0), start_epoch, lambda: state)
        i = order[b * batch_size:tf.minimum((b + 1) * batch_size, n)]
        x = tf.gather(pixels, i)
        if binarize == "dynamic":
            u = tf.random.stateless_uniform(tf.shape(x), seed=tf.stack([key, epoch * batches + b]), dtype=x.dtype)
            x = tf.cast(u < x, x.dtype)
        return (order, epoch), (x if targets is None else (x, tf.gather(targets, i)))

    # One function per pass, not a dataset built per pass (`flat_map`): a new pass (an epoch of
    # `fit`) started in about half the time in a single probe (no stored result). A fixed prefetch
    # and no autotuning: with autotuning on, every new epoch waited seconds for the previous epoch's
    # iterator to shut down on one thread (observed while profiling; no stored result).
    options = tf.data.Options()
    options.autotune.enabled = False
    initial = (tf.zeros([n], tf.int64), tf.constant(-1, tf.int64))
    ds = tf.data.Dataset.range(batches).scan(initial, one_batch).prefetch(2).with_options(options)
    ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    ds.tfvb_epoch_counter = counter
    return ds


def image_dataset_epoch(dataset):
    """The callback that tells an `image_dataset` which epoch `fit` is in (None for other datasets)."""
    return getattr(dataset, "tfvb_epoch_counter", None)


def mnist(split="train", data_dir=None, batch_size=128, binarize="dynamic", shuffle=None, seed=0):
    """MNIST as a batched dataset of (image, label); see `image_dataset` for the options."""
    shuffle = split == "train" if shuffle is None else _checks.boolean("shuffle", shuffle)
    images, labels = mnist_arrays(split, data_dir)
    return image_dataset(images, labels, batch_size, binarize, shuffle, seed)


def fashion_mnist(split="train", data_dir=None, batch_size=128, binarize="dynamic", shuffle=None, seed=0):
    """Fashion-MNIST as a batched dataset of (image, label); see `image_dataset`."""
    shuffle = split == "train" if shuffle is None else _checks.boolean("shuffle", shuffle)
    images, labels = fashion_mnist_arrays(split, data_dir)
    return image_dataset(images, labels, batch_size, binarize, shuffle, seed)
