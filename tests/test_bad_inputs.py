"""The catalogue of bad inputs: each is refused with an error that says what was expected and what was received.

The cases live in `tests/_bad_inputs/` by subject (data, labels, models,
artifacts and the command line); each is (kind, id, call, error type,
what-was-expected pattern, what-was-received pattern), and this file runs
them all. `KINDS` groups the cases by the kind of mistake. Run the
catalogue alone with

    pytest tests/test_bad_inputs.py -q
"""

import json
import os
import re
import shutil
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from _bad_inputs import artifact_cases, data_cases, evaluate_cases, label_cases, model_cases, refusal_cases
from _bad_inputs.common import ARTIFACT, Env, cvae, flip_byte, rehash, write_entry

from tfvb import zoo
from tfvb.models import CVAE
from tfvb.zoo import store

CASES = (data_cases.CASES + label_cases.CASES + model_cases.CASES + artifact_cases.CASES + evaluate_cases.CASES
         + refusal_cases.CASES)
KINDS = sorted({c.kind for c in CASES})


@pytest.fixture(scope="module")
def entry_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo_template") / "cvae_mnist"
    write_entry(str(folder), CVAE(latent_dim=2, filters=(4, 8), seed=1))
    return folder


@pytest.fixture
def env(binary_images, mnist_sample, entry_template, tmp_path, monkeypatch):
    shutil.copytree(entry_template, tmp_path / "cvae_mnist")
    (tmp_path / "case").mkdir()
    monkeypatch.setenv("TFVB_SAVED_MODELS", str(tmp_path))
    return Env(binary_images, mnist_sample[1], str(tmp_path / "cvae_mnist"), str(tmp_path / "case"))


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
             for c in CASES])
# Keras warns before tfvb raises when a dataset yields no batch (the "empty data" cases, on purpose).
@pytest.mark.filterwarnings("ignore:Your input ran out of data:UserWarning")
def test_bad_input_is_refused_with_a_clear_error(case, env):
    with pytest.raises(case.error) as info:
        case.call(env)
    message = str(info.value.message if isinstance(info.value, tf.errors.OpError) else info.value)
    assert re.search(case.expected, message, re.S), f"expected-part {case.expected!r} not in: {message}"
    assert re.search(case.received, message, re.S), f"received-part {case.received!r} not in: {message}"


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_the_catalogue_covers_the_kinds_the_issues_list():
    assert {"wrong rank", "wrong size", "NaN/inf inputs", "NaN/inf targets", "non-binary-range data", "empty data",
            "unknown zoo name", "corrupt or tampered artifact", "incompatible version", "non-positive k / samples",
            "dropout rate outside (0, 1)", "non-positive tau", "BNN without a dataset size",
            # issue 14
            "label outside [0, C)", "non-integer labels", "bad labels through tf.data",
            "one-hot labels of another width", "rows that are not one-hot", "bad sample weights",
            "class_weight without classes", "encode input checks", "decode latent of the wrong size",
            "diverged training", "non-finite weights", "evaluation outside its domain", "command-line options",
            "dicts as inputs", "unbuilt model", "second fit with other features", "Python lists",
            "float64 beyond float32", "corrupt .keras file", "rows of x and y differ"} <= set(KINDS)
    assert len(KINDS) >= 30


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
