"""Reader and writer for the IDX format of MNIST and Fashion-MNIST (gzip or plain)."""

import glob
import gzip
import math
import os
import struct
import zlib

import numpy as np

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path):
    """Read an IDX file (gzip-compressed or not) into a numpy array.

    Raises ValueError, naming the file, when the header or the size is not that of an IDX file.
    """
    try:
        with _open(path) as f:
            header = f.read(4)
            if len(header) != 4 or header[0] != 0 or header[1] != 0 or header[2] not in _DTYPES:
                raise ValueError(
                    f"Expected an IDX file (magic 0x00 0x00 <type> <ndim>). Received header {header!r} in {path}"
                )
            ndim = header[3]
            dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            dtype = np.dtype(_DTYPES[header[2]])
            data = f.read()
    except (OSError, EOFError, struct.error, zlib.error) as e:  # zlib.error: a corrupt gzip stream
        raise ValueError(f"Could not read IDX file {path}: {e}") from e
    expected = math.prod(dims) * dtype.itemsize  # Python ints: a corrupt header cannot overflow
    if len(data) != expected:
        raise ValueError(
            f"Expected {expected} bytes of data for an IDX array of shape {dims} in {path}. "
            f"Received: {len(data)} bytes (truncated or corrupt file)"
        )
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write a uint8/int8 array as IDX; gzip-compressed when `path` ends in .gz (or `compress`)."""
    path = os.fspath(path)
    array = np.ascontiguousarray(array)
    if array.dtype not in _CODES:
        raise ValueError(f"Expected a uint8 or int8 array. Received: dtype={array.dtype}")
    header = bytes([0, 0, _CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    compress = path.endswith(".gz") if compress is None else compress
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def find_idx_file(folder, prefix, kind):
    """Path of `<prefix>-<kind>-idx?-ubyte[.gz]` in `folder`, or None.

    `kind` is "images" or "labels"; `prefix` is "train", "t10k", or a custom prefix such as "mnist10k".
    """
    hits = sorted(glob.glob(os.path.join(glob.escape(os.fspath(folder)), f"{prefix}-{kind}-idx*-ubyte*")))
    return hits[0] if hits else None


def load_idx_split(folder, prefix):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) from an IDX folder; ValueError if absent or mismatched."""
    img, lab = find_idx_file(folder, prefix, "images"), find_idx_file(folder, prefix, "labels")
    if img is None or lab is None:
        raise FileNotFoundError(
            f"Expected IDX files {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz] "
            f"in {folder}. Received: {sorted(os.listdir(folder)) if os.path.isdir(folder) else 'no such folder'}"
        )
    images, labels = read_idx(img), read_idx(lab)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"Expected images (N, H, W) and labels (N,) of the same length in {folder}. "
            f"Received: images {images.shape}, labels {labels.shape}"
        )
    return images, labels
