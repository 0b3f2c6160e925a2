"""What the cases of the bad-input catalogue share: the case record, the data they act on, small models.

A case is (kind, id, call, error type, what-was-expected pattern,
what-was-received pattern). The call gets an `Env` with data, a fresh zoo
entry and a temporary folder; it builds a fresh model, because after an
error inside `train_on_batch` Keras 3's train function silently runs no step
on later calls.
"""

import contextlib
import dataclasses
import io
import json
import os

import keras
import numpy as np
import tensorflow as tf

from tfvb import cli, zoo
from tfvb.models import CVAE, IWAE
from tfvb.zoo import store

ARTIFACT = zoo.ArtifactError
INVALID = tf.errors.InvalidArgumentError


@dataclasses.dataclass
class Env:
    images: np.ndarray  # binarized MNIST, (N, 28, 28, 1)
    labels: np.ndarray
    entry: str  # the folder of a valid zoo entry "cvae_mnist" (TFVB_SAVED_MODELS points at its parent)
    tmp: str  # an empty folder of the case's own


@dataclasses.dataclass
class Case:
    kind: str
    id: str
    call: object
    error: type
    expected: str  # regex: the message says what was expected
    received: str  # regex: ... and what was received
    xfail: str = ""  # a known gap, with its fix (reported; strict, so the fix flips it)


# -- models ------------------------------------------------------------------------------------------
def compiled(model, optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3))
    return model


def cvae(**kwargs):
    return compiled(CVAE(latent_dim=2, filters=(4, 8), seed=1), **kwargs)


def iwae(**kwargs):
    return compiled(IWAE(k=3, latent_dim=2, hidden_units=(8,), seed=1), **kwargs)


def bnn_regressor(optimizer=None, **kwargs):
    from tfvb.models import BNNRegressor

    kwargs.setdefault("input_dim", 3)
    return compiled(BNNRegressor(hidden_units=(4,), seed=1, **kwargs), optimizer)


def bnn_classifier(optimizer=None, **kwargs):
    from tfvb.models import BNNClassifier

    return compiled(BNNClassifier(10, hidden_units=(4,), seed=1, **kwargs), optimizer)


def mc_dropout(optimizer=None, **kwargs):
    from tfvb.models import MCDropoutRegressor

    return compiled(MCDropoutRegressor(hidden_units=(4,), seed=1, **kwargs), optimizer)


def mc_classifier(**kwargs):
    from tfvb.models import MCDropoutClassifier

    return compiled(MCDropoutClassifier(10, hidden_units=(4,), seed=1, **kwargs))


def fitted_mc_dropout():
    model = mc_dropout()
    model.fit(features(), targets(), epochs=1, verbose=0)
    return model


def poisoned(model):
    """`model` with one NaN in its first float kernel, as a diverged run leaves it."""
    variable = next(v for v in model.weights if "kernel" in v.path)
    value = variable.numpy()
    value.flat[0] = np.nan
    variable.assign(value)
    return model


# -- data ----------------------------------------------------------------------------------------------
def features(n=8, d=3):
    return np.random.default_rng(0).normal(size=(n, d)).astype("float32")


def targets(n=8, bad=None):
    y = np.arange(n, dtype="float32")
    if bad is not None:
        y[0] = bad
    return y


def with_pixel(x, value):
    x = x.copy()
    x[0, 3, 3, 0] = value
    return x


def regression_dataset(x, y, batch=4, *more):
    return tf.data.Dataset.from_tensor_slices((x, y, *more)).batch(batch)


def image_dataset(x, y, batch=4):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def diverging(x, y, model):
    """Fit far too fast: the loss overflows in a few steps."""
    return model.fit(x, y, batch_size=16, epochs=3, verbose=0)


# -- the command line ------------------------------------------------------------------------------
class CLIError(Exception):
    """`tfvb ...` ended with a non-zero status; the message is what it printed on stderr."""


def run_cli(*argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            status = cli.main([str(a) for a in argv])
        except SystemExit as e:  # argparse's usage errors
            status = e.code
    if status:
        raise CLIError(err.getvalue())
    return status


# -- zoo artifacts: a small valid entry, then one defect per case -----------------------------------
def write_entry(folder, model):
    """A zoo entry as `tfvb.zoo.store.write_entry` lays it out (without the slow SavedModel export)."""
    os.makedirs(folder, exist_ok=True)
    model.save(os.path.join(folder, store.MODEL_FILE))
    golden = np.zeros((2, 28, 28, 1), np.float32)
    np.savez(os.path.join(folder, store.GOLDEN_FILE), inputs=golden, outputs=store.golden_outputs(model, golden))
    rehash(folder)


def rehash(folder, **changes):
    """(Re)write metadata.json with the files' current checksums, as an attacker who rewrites both would."""
    meta = {"name": "cvae_mnist", "format_version": store.FORMAT_VERSION, "class": "CVAE",
            "files": store._files(folder), **changes}
    with open(os.path.join(folder, store.META_FILE), "w") as f:
        json.dump(meta, f)


def edit_metadata(folder, **changes):
    path = os.path.join(folder, store.META_FILE)
    with open(path) as f:
        meta = json.load(f)
    meta.update(changes)
    with open(path, "w") as f:
        json.dump(meta, f)


def flip_byte(path, offset=100):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def _mlp(inputs, outputs):
    return keras.Sequential([keras.Input(inputs), keras.layers.Flatten(), keras.layers.Dense(4, activation="tanh"),
                             keras.layers.Dense(outputs)])


def ensemble(task="classification", optimizer=None):
    """A DeepEnsemble of two small MLPs: 10 classes of 28x28x1 images, or one target of 3 features."""
    from tfvb.models import DeepEnsemble

    shape, outputs = ((28, 28, 1), 10) if task == "classification" else ((3,), 1)
    model = DeepEnsemble(lambda: _mlp(shape, outputs), n=2, seed=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if task == "classification" else "mse"
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss=loss)
    return model


def bayesianized(optimizer=None):
    """`tfvb.bayesianize` of a small MLP classifier of 28x28x1 images."""
    import tfvb

    net = _mlp((28, 28, 1), 10)
    net.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return compiled(tfvb.bayesianize(net, seed=0), optimizer)
