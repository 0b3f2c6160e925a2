"""The rows of the side-by-side benchmark, and the MNIST digits both sides read (numpy only).

Both sides import this file: the tfvb side in tfvb's environment, the
PyTorch side in the peers' own (which has no TensorFlow and no tfvb), so it
needs nothing beyond numpy and the standard library.

A row is one workload, timed the same way on each side:

- `iwae_epoch`: IWAE k=50 (Burda et al.'s 784-200-200-50 tanh MLP, Adam 1e-3), batch 100, the
  first `digits` training digits dynamically binarized; the second epoch of a 2-epoch fit.
- `vae_epoch`: the same network with k=1 (the single-sample ELBO).
- `vae_step` / `vae_data`: the VAE epoch in its two parts, for the profile of that row: the training
  steps alone (each side's step over `digits` fixed-binarized digits in order, no data pipeline, no
  framework loop) and the data alone (one pass of each side's dynamic binarization: shuffle, gather,
  one Bernoulli draw per pixel, no training).
- `iwae5000`: the IWAE-5000 log-likelihood of `ll_digits` digits (one fixed binarization).
- `bnn_epoch`: a Flipout MLP 784-400-400-10 (ReLU, N(0, 1) prior, posterior sigma 0.01 at the
  start, Adam 1e-3) on grey digits and labels, batch 128; the second epoch of a 2-epoch fit.
- `bnn_predict`: the predictive mean of `draws` weight draws on `predict_digits` digits.
"""

import gzip
import os
import struct

import numpy as np

#: row -> (what it times, the peers it is compared with)
ROWS = {
    "iwae_epoch": ("IWAE k=50 training epoch (784-200-200-50, batch 100)", ("pythae", "plain_torch")),
    "iwae5000": ("IWAE-5000 log-likelihood", ("pythae", "plain_torch")),
    "vae_epoch": ("VAE k=1 training epoch (784-200-200-50, batch 100)", ("pythae", "plain_torch")),
    "vae_step": ("VAE k=1 epoch: its steps alone (pre-binarized batches)", ("plain_torch",)),
    "vae_data": ("VAE k=1 epoch: its data alone (shuffle, binarize a pass)", ("plain_torch",)),
    "bnn_epoch": ("BNN Flipout 784-400-400-10 training epoch (batch 128)", ("bayesian_torch",)),
    "bnn_predict": ("BNN prediction, weight draws on digits", ("bayesian_torch",)),
}

#: The protocol's sizes; `run.py --smoke` shrinks them.
SIZES = {"digits": 6000, "ll_digits": 200, "ll_k": 5000, "predict_digits": 2000, "draws": 30, "iwae_k": 50,
         "vae_batch": 100, "bnn_batch": 128, "epochs": 2}
SMOKE_SIZES = {**SIZES, "digits": 400, "ll_digits": 4, "ll_k": 200, "predict_digits": 200, "draws": 5}

#: Model hyper-parameters both sides use.
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-4  # Burda et al.'s (and the zoo recipes')
POSTERIOR_SIGMA = 0.01


def default_data_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("TFVB_PEERS_DATA", os.path.join(here, "..", "..", "..", "shared", "data", "mnist"))


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        ndim = magic & 0xFF
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)


def mnist_train(n, data_dir=None):
    """The first n official training digits: (grey values float32 (n, 784) in [0, 1], labels int64 (n,))."""
    folder = data_dir or default_data_dir()
    images = _read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))[:n]
    labels = _read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))[:n]
    return images.reshape(len(images), -1).astype(np.float32) / 255.0, labels.astype(np.int64)


def binarized(grey, seed=0):
    """One fixed Bernoulli(grey value) draw per pixel (the evaluation digits of the IWAE-5000 row)."""
    rng = np.random.default_rng(seed)
    return (rng.random(grey.shape, dtype=np.float32) < grey).astype(np.float32)
