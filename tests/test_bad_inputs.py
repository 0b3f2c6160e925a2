"""The catalogue of bad inputs: each is refused with an error that says what was expected and what was received.

A case is (kind, id, call, error type, what-was-expected pattern,
what-was-received pattern). The call gets a `Env` with data and a fresh
zoo entry; it builds a fresh model, because after an error inside
`train_on_batch` Keras 3's train function silently runs no step on later
calls. `KINDS` groups the cases by the kind of mistake.
"""

import dataclasses
import json
import os
import re
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import data, evaluate, tuning, zoo
from tfvb.models import CVAE, IWAE
from tfvb.zoo import store

ARTIFACT = zoo.ArtifactError
INVALID = tf.errors.InvalidArgumentError


# -- what the cases act on ---------------------------------------------------------------------------
@dataclasses.dataclass
class Env:
    images: np.ndarray  # binarized MNIST, (N, 28, 28, 1)
    labels: np.ndarray
    entry: str  # the folder of a valid zoo entry "cvae_mnist" (TFVB_SAVED_MODELS points at its parent)


def cvae():
    model = CVAE(latent_dim=2, filters=(4, 8), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def iwae():
    model = IWAE(k=3, latent_dim=2, hidden_units=(8,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def bnn_regressor(**kwargs):
    from tfvb.models import BNNRegressor

    model = BNNRegressor(hidden_units=(4,), input_dim=3, seed=1, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def bnn_classifier():
    from tfvb.models import BNNClassifier

    model = BNNClassifier(10, hidden_units=(4,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def mc_dropout(**kwargs):
    from tfvb.models import MCDropoutRegressor

    model = MCDropoutRegressor(hidden_units=(4,), seed=1, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


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


def regression_dataset(x, y, batch=4):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def fitted_mc_dropout():
    model = mc_dropout()
    model.fit(features(), targets(), epochs=1, verbose=0)
    return model


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


def tampered_model(env):
    flip_byte(os.path.join(env.entry, store.MODEL_FILE))
    zoo.load("cvae_mnist")


def missing_golden(env):
    os.remove(os.path.join(env.entry, store.GOLDEN_FILE))
    zoo.golden_check("cvae_mnist")


def missing_metadata(env):
    os.remove(os.path.join(env.entry, store.META_FILE))
    zoo.load("cvae_mnist")


def corrupt_metadata(env):
    with open(os.path.join(env.entry, store.META_FILE), "w") as f:
        f.write("{not json")
    zoo.info("cvae_mnist")


def no_checksums(env):
    edit_metadata(env.entry, files={})
    zoo.load("cvae_mnist")


def future_version(env):
    edit_metadata(env.entry, format_version=99, versions={"tfvb": "9.0"})
    zoo.load("cvae_mnist")


def corrupt_archive_with_matching_checksum(env):
    with open(os.path.join(env.entry, store.MODEL_FILE), "wb") as f:
        f.write(b"PK\x03\x04 not really a zip archive")
    rehash(env.entry)
    zoo.load("cvae_mnist")


# -- the catalogue -------------------------------------------------------------------------------------
@dataclasses.dataclass
class Case:
    kind: str
    id: str
    call: object
    error: type
    expected: str  # regex: the message says what was expected
    received: str  # regex: ... and what was received
    xfail: str = ""  # a known gap, with its fix (reported; strict, so the fix flips it)


SHAPE = r"Expected `inputs` of shape \(None, 28, 28, 1\)"
FINITE, UNIT = r"Expected `inputs` to be finite", r"Expected `inputs` in \[0, 1\] for the Bernoulli likelihood"

CASES = [
    # wrong rank or size
    Case("wrong rank", "vae_flat_vectors", lambda e: cvae().train_on_batch(e.images[:4].reshape(4, 784)),
         ValueError, SHAPE, r"Received: inputs.shape=\(4, 784\)"),
    Case("wrong rank", "mc_dropout_scalar_inputs", lambda e: mc_dropout().adapt(np.zeros(8), targets()),
         ValueError, r"Expected `x` of shape \(N, features...\)", r"Received: x.shape=\(8,\)"),
    Case("wrong size", "vae_32x32_images", lambda e: iwae().train_on_batch(np.zeros((4, 32, 32, 1), "float32")),
         ValueError, SHAPE, r"Received: inputs.shape=\(4, 32, 32, 1\)"),
    Case("wrong size", "bnn_classifier_27x28_images",
         lambda e: bnn_classifier().fit(np.zeros((8, 27, 28, 1), "float32"), e.labels[:8], verbose=0),
         ValueError, SHAPE, r"Received: inputs.shape=\(\d+, 27, 28, 1\)"),
    Case("wrong size", "bnn_regressor_4_features",
         lambda e: bnn_regressor(num_examples=8).predict_uncertainty(features(2, 4), samples=3),
         ValueError, r"Expected inputs of shape \(batch, 3\)", r"Received: inputs.shape=\(2, 4\)"),
    Case("wrong size", "mc_dropout_4_features", lambda e: fitted_mc_dropout().predict_uncertainty(features(2, 4)),
         ValueError, r"Expected `inputs` with 3 features", r"Received: inputs.shape=\(2, 4\)"),
    Case("wrong size", "bnn_two_target_columns",
         lambda e: bnn_regressor().fit(features(), np.zeros((8, 2), "float32"), verbose=0),
         ValueError, r"Expected targets of shape \(batch,\) or \(batch, 1\)", r"Received: y.shape=\(\w+, 2\)"),
    Case("wrong size", "mc_dropout_rows_mismatch", lambda e: mc_dropout().fit(features(8), targets(7), verbose=0),
         ValueError, r"Expected `y` with 8 rows to match `x`", r"Received: y.shape=\(7,\)"),
    # NaN / inf in inputs
    Case("NaN/inf inputs", "vae_nan_pixel", lambda e: cvae().train_on_batch(with_pixel(e.images[:4], np.nan)),
         INVALID, FINITE, "Received a tensor containing NaN or inf"),
    Case("NaN/inf inputs", "vae_inf_pixel_evaluate",
         lambda e: iwae().evaluate(with_pixel(e.images[:4], np.inf), verbose=0),
         INVALID, FINITE, "Received a tensor containing NaN or inf"),
    Case("NaN/inf inputs", "vae_nan_in_a_dataset",
         lambda e: cvae().fit(tf.data.Dataset.from_tensors(with_pixel(e.images[:4], np.nan)), verbose=0),
         INVALID, FINITE, "Received a tensor containing NaN or inf"),
    Case("NaN/inf inputs", "image_dataset_nan", lambda e: data.image_dataset(with_pixel(e.images[:4], np.nan)),
         ValueError, r"Expected `images` to be finite", r"Received 1 NaN or inf values"),
    Case("NaN/inf inputs", "mc_dropout_nan_features",
         lambda e: fitted_mc_dropout().predict_uncertainty(np.full((2, 3), np.nan, "float32")),
         ValueError, r"Expected `x` to be finite", r"Received 6 NaN or inf values"),
    Case("NaN/inf inputs", "bnn_nan_features_in_a_dataset",
         lambda e: bnn_regressor(num_examples=8).fit(
             regression_dataset(np.full((8, 3), np.nan, "float32"), targets()), verbose=0),
         INVALID, r"Expected `(x|inputs)` to be finite", r"Received"),
    # NaN / inf in targets
    Case("NaN/inf targets", "bnn_nan_target",
         lambda e: bnn_regressor().fit(features(), targets(bad=np.nan), verbose=0),
         ValueError, r"Expected `y` to be finite", r"Received 1 NaN or inf values"),
    Case("NaN/inf targets", "mc_dropout_inf_target",
         lambda e: mc_dropout().fit(features(), targets(bad=np.inf), verbose=0),
         ValueError, r"Expected `y` to be finite", r"Received 1 NaN or inf values"),
    Case("NaN/inf targets", "mc_dropout_nan_target_in_a_dataset",
         lambda e: mc_dropout().adapt(features(), targets()).fit(regression_dataset(features(), targets(bad=np.nan)),
                                                                   verbose=0),
         INVALID, r"Expected `y` to be finite", "Received a tensor containing NaN or inf"),
    # data outside the range of the likelihood
    Case("non-binary-range data", "vae_pixels_0_to_255", lambda e: cvae().fit(e.images[:4] * 255, verbose=0),
         INVALID, UNIT, r"Received values outside \[0, 1\]"),
    Case("non-binary-range data", "vae_negative_pixels", lambda e: iwae().predict(e.images[:4] - 0.5, verbose=0),
         INVALID, UNIT, r"Received values outside \[0, 1\]"),
    Case("non-binary-range data", "image_dataset_grey_values_above_1",
         lambda e: data.image_dataset(e.images[:4] * 2.0), ValueError, r"Expected grey values in \[0, 1\]",
         r"Received: min=0.0, max=2.0"),
    Case("non-binary-range data", "classifier_label_12_of_10",
         lambda e: bnn_classifier().fit(e.images[:8], np.full(8, 12), verbose=0),
         ValueError, r"Expected labels in \[0, 9\] for num_classes=10", r"Received labels in \[12, 12\]"),
    # empty data
    Case("empty data", "vae_fit_on_0_images", lambda e: cvae().fit(e.images[:0], verbose=0),
         ValueError, "Expected at least one example for `fit`", r"Received: x.shape=\(0, 28, 28, 1\)"),
    Case("empty data", "vae_fit_on_a_dataset_of_0_batches",
         lambda e: cvae().fit(tf.data.Dataset.from_tensor_slices(e.images[:0]).batch(8), verbose=0),
         ValueError, "Expected a non-empty dataset for `fit`", "Received: a dataset of 0 batches"),
    Case("empty data", "vae_fit_on_a_dataset_that_turns_out_empty",
         lambda e: cvae().fit(tf.data.Dataset.from_tensor_slices(e.images[:4]).filter(lambda x: False).batch(2),
                              verbose=0),
         ValueError, "Expected at least one batch of training data", "Received: a dataset that yielded no batch"),
    Case("empty data", "vae_evaluate_on_0_images", lambda e: iwae().evaluate(e.images[:0], verbose=0),
         ValueError, "Expected at least one example for `evaluate`", r"Received: x.shape=\(0, 28, 28, 1\)"),
    Case("empty data", "image_dataset_of_0_images", lambda e: data.image_dataset(e.images[:0]),
         ValueError, "Expected a non-empty set of images", "Received: 0 images"),
    Case("empty data", "log_likelihood_of_0_images",
         lambda e: evaluate.log_likelihood(iwae(), e.images[:0], k=2, verbose=0),
         ValueError, "Expected at least one image", "Received: 0 images"),
    Case("empty data", "mc_dropout_fit_on_0_rows", lambda e: mc_dropout().fit(features(0), targets(0), verbose=0),
         ValueError, r"Expected `x` of shape \(N, features...\) with N >= 1", r"Received: x.shape=\(0, 3\)"),
    Case("empty data", "bnn_fit_on_0_rows", lambda e: bnn_regressor().fit(features(0), targets(0), verbose=0),
         ValueError, "Expected", "Received"),
    # zoo names and artifacts
    Case("unknown zoo name", "misspelled_name", lambda e: zoo.load("cvae_mnsit"), KeyError,
         r"Did you mean: cvae_mnist\b.*Available: .*cvae_mnist", r"Unknown zoo model 'cvae_mnsit'"),
    Case("unknown zoo name", "unknown_format", lambda e: zoo.load("cvae_mnist", format="onnx"), ValueError,
         r"Expected `format` to be one of \['keras', 'savedmodel'\]", r"Received: format='onnx'"),
    Case("corrupt or tampered artifact", "tampered_model_file", tampered_model, ARTIFACT,
         r"expected sha256 [0-9a-f]{64}", r"received [0-9a-f]{64}\. The file was modified or corrupted"),
    Case("corrupt or tampered artifact", "missing_file", missing_golden, ARTIFACT,
         r"Expected zoo file .*golden.npz", "Received: missing"),
    Case("corrupt or tampered artifact", "missing_metadata", missing_metadata, ARTIFACT,
         r"Expected zoo metadata at .*metadata.json", "Received: no such file"),
    Case("corrupt or tampered artifact", "corrupt_metadata_json", corrupt_metadata, ARTIFACT,
         r"Expected valid JSON in .*metadata.json", "Received: Expecting property name"),
    Case("corrupt or tampered artifact", "metadata_without_checksums", no_checksums, ARTIFACT,
         "Expected checksums for model.keras", "Received none"),
    Case("corrupt or tampered artifact", "corrupt_archive_with_a_matching_checksum",
         corrupt_archive_with_matching_checksum, ARTIFACT, r"Expected a readable .keras archive",
         r"Received: \w+(Error|File): "),
    Case("incompatible version", "zoo_format_version_99", future_version, ARTIFACT,
         r"Expected zoo format_version 1", r"Received: 99 \(written by tfvb 9.0\)"),
    # counts and sizes
    Case("non-positive k / samples", "iwae_k_0", lambda e: IWAE(k=0), ValueError,
         "Expected `k` to be a positive integer", "Received: k=0"),
    Case("non-positive k / samples", "iwae_k_negative", lambda e: IWAE(k=-3), ValueError,
         "Expected `k` to be a positive integer", "Received: k=-3"),
    Case("non-positive k / samples", "iwae_k_not_an_integer", lambda e: IWAE(k=2.5), ValueError,
         "Expected `k` to be a positive integer", "Received: k=2.5"),
    Case("non-positive k / samples", "log_likelihood_k_0",
         lambda e: evaluate.log_likelihood(iwae(), e.images[:2], k=0), ValueError,
         "Expected `k` to be a positive integer", "Received: k=0"),
    Case("non-positive k / samples", "bnn_samples_0",
         lambda e: bnn_regressor(num_examples=8).predict_uncertainty(features(2), samples=0), ValueError,
         "Expected `samples` to be a positive integer", "Received: samples=0"),
    Case("non-positive k / samples", "mc_dropout_samples_negative",
         lambda e: fitted_mc_dropout().predict_uncertainty(features(2), samples=-1), ValueError,
         "Expected `samples` to be a positive integer", "Received: samples=-1"),
    Case("non-positive k / samples", "sample_0_images", lambda e: cvae().sample(0), ValueError,
         "Expected `n` to be a positive integer", "Received: n=0"),
    *[Case("dropout rate outside (0, 1)", f"dropout_rate_{p}", lambda e, p=p: mc_dropout(dropout_rate=p), ValueError,
           r"Expected `dropout_rate` to be a number in the open interval \(0, 1\)", rf"Received: dropout_rate={p}")
      for p in (0.0, 1.0, 1.5, -0.1)],
    *[Case("non-positive tau", f"tau_{t}", lambda e, t=t: mc_dropout(tau=t), ValueError,
           "Expected `tau` to be a positive finite number", rf"Received: tau={t}")
      for t in (0, -1.0, float("inf"))],
    Case("bad sizes and options", "latent_dim_0", lambda e: CVAE(latent_dim=0), ValueError,
         "Expected `latent_dim` to be a positive integer", "Received: latent_dim=0"),
    Case("bad sizes and options", "hidden_units_negative", lambda e: IWAE(hidden_units=(-5,)), ValueError,
         "Expected `hidden_units` to be a tuple of positive integers", r"Received: hidden_units=\(-5,\)"),
    Case("bad sizes and options", "image_shape_rank_2", lambda e: CVAE(image_shape=(28, 28)), ValueError,
         r"Expected `image_shape` \(H, W, C\)", r"Received: image_shape=\(28, 28\)"),
    Case("bad sizes and options", "image_side_not_divisible", lambda e: CVAE(image_shape=(30, 30, 1)), ValueError,
         "Expected image height and width divisible by 4", r"Received: image_shape=\(30, 30, 1\)"),
    Case("bad sizes and options", "negative_beta", lambda e: CVAE(beta=-1.0), ValueError,
         "Expected `beta` to be a non-negative finite number", "Received: beta=-1.0"),
    Case("bad sizes and options", "unknown_kl_estimator", lambda e: CVAE(kl="exact"), ValueError,
         r"Expected `kl` to be one of \['analytic', 'sample'\]", "Received: kl='exact'"),
    Case("bad sizes and options", "unknown_bnn_layer", lambda e: bnn_regressor(layer="dropout"), ValueError,
         r"Expected `layer` to be one of \['flipout', 'local_reparameterization', 'reparameterization'\]",
         "Received: layer='dropout'"),
    Case("bad sizes and options", "unknown_prior", lambda e: bnn_regressor(prior="laplace"), ValueError,
         r"Expected `prior` to be None, a tfvb.priors.Prior", "Received: prior='laplace'"),
    Case("bad sizes and options", "zero_posterior_sigma", lambda e: bnn_regressor(posterior_sigma_init=0.0),
         ValueError, "Expected `posterior_sigma_init` to be a positive finite number",
         "Received: posterior_sigma_init=0.0"),
    Case("bad sizes and options", "batch_size_0", lambda e: data.image_dataset(e.images[:4], batch_size=0),
         ValueError, "Expected `batch_size` to be a positive integer", "Received: batch_size=0"),
    Case("bad sizes and options", "unknown_binarization", lambda e: data.image_dataset(e.images[:4], binarize="yes"),
         ValueError, r"Expected `binarize` to be one of \['dynamic', 'fixed', None\]", "Received: binarize='yes'"),
    Case("bad sizes and options", "unknown_hyperparameter", lambda e: tuning.CVAEHyperModel(space={"latnet_dim": [2]}),
         ValueError, r"Expected hyperparameter names among \[", r"Received: \['latnet_dim'\]"),
    # what training needs
    Case("BNN without a dataset size", "bnn_fit_on_a_dataset_without_num_examples",
         lambda e: bnn_regressor().fit(regression_dataset(features(), targets()), verbose=0), ValueError,
         "Expected `num_examples` in the constructor, or `fit` on arrays", "Received: num_examples=None"),
    Case("missing targets", "bnn_fit_without_y", lambda e: bnn_regressor(num_examples=8).fit(features(), verbose=0),
         ValueError, r"Expected batches \(x, y\) with targets y", "Received: y=None"),
    Case("missing targets", "mc_dropout_fit_without_y", lambda e: mc_dropout().adapt(features()).fit(features(),
                                                                                                     verbose=0),
         ValueError, r"Expected \(x, y\) or \(x, y, sample_weight\) batches", "Received x only"),
    Case("missing targets", "mc_dropout_dataset_before_adapt",
         lambda e: mc_dropout().fit(regression_dataset(features(), targets()), verbose=0), ValueError,
         r"call `model.adapt\(x, y\)` on arrays before `fit` on a dataset", "Received: x of type"),
]

KINDS = sorted({c.kind for c in CASES})


@pytest.fixture(scope="module")
def entry_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo_template") / "cvae_mnist"
    write_entry(str(folder), CVAE(latent_dim=2, filters=(4, 8), seed=1))
    return folder


@pytest.fixture
def env(binary_images, mnist_sample, entry_template, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(entry_template, tmp_path / "cvae_mnist")
    monkeypatch.setenv("TFVB_SAVED_MODELS", str(tmp_path))
    return Env(binary_images, mnist_sample[1], str(tmp_path / "cvae_mnist"))


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
             for c in CASES])
def test_bad_input_is_refused_with_a_clear_error(case, env):
    with pytest.raises(case.error) as info:
        case.call(env)
    message = str(info.value.message if isinstance(info.value, tf.errors.OpError) else info.value)
    assert re.search(case.expected, message, re.S), f"expected-part {case.expected!r} not in: {message}"
    assert re.search(case.received, message, re.S), f"received-part {case.received!r} not in: {message}"


def test_the_catalogue_covers_the_kinds_the_issue_lists():
    assert {"wrong rank", "wrong size", "NaN/inf inputs", "NaN/inf targets", "non-binary-range data", "empty data",
            "unknown zoo name", "corrupt or tampered artifact", "incompatible version", "non-positive k / samples",
            "dropout rate outside (0, 1)", "non-positive tau", "BNN without a dataset size"} <= set(KINDS)


# -- loading untrusted files ---------------------------------------------------------------------------
def _swap_model_file(env, model):
    os.remove(os.path.join(env.entry, store.MODEL_FILE))
    model.save(os.path.join(env.entry, store.MODEL_FILE))
    rehash(env.entry)  # the attacker controls the metadata too: only safe loading stands in the way


def test_zoo_refuses_a_keras_file_with_python_code(env):
    marker = os.path.join(os.path.dirname(env.entry), "code_ran")
    evil = keras.Sequential([keras.Input((28, 28, 1)),
                             keras.layers.Lambda(lambda t: (open(marker, "w").close(), t)[1])])
    _swap_model_file(env, evil)
    os.remove(marker)  # building the model ran the lambda once; loading must not
    with pytest.raises(ARTIFACT, match=r"Lambda.*safe_mode"):
        zoo.load("cvae_mnist")
    assert not os.path.exists(marker)


def test_zoo_refuses_a_keras_file_naming_an_arbitrary_callable(env):
    path = os.path.join(env.entry, store.MODEL_FILE)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    config = json.loads(files["config.json"])
    config.update(module="os", class_name="system", registered_name=None, config={"command": "true"})
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in files.items():
            z.writestr(name, blob)
    rehash(env.entry)
    with pytest.raises(ARTIFACT, match=r"Expected a readable .keras archive.*Received: \w+"):
        zoo.load("cvae_mnist")


def test_checksums_are_verified_before_anything_is_deserialized(env, monkeypatch):
    flip_byte(os.path.join(env.entry, store.MODEL_FILE))
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: pytest.fail("deserialized a tampered file"))
    with pytest.raises(ARTIFACT, match="Checksum mismatch"):
        zoo.load("cvae_mnist")


def test_golden_files_are_never_unpickled(env):
    np.savez(os.path.join(env.entry, store.GOLDEN_FILE), inputs=np.array([object()], dtype=object),
             outputs=np.zeros(1))
    rehash(env.entry)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        zoo.golden_check("cvae_mnist", model=cvae())
