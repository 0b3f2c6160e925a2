"""A `.keras` file of any tfvb class loads in a fresh process after `import tfvb` alone (the README's
promise), whether Keras is imported before or after tfvb; the command line still starts without Keras."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tfvb
from tfvb.models import CVAE, BNNClassifier, BNNRegressor, DeepEnsemble

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _models():
    bnn = BNNClassifier(3, hidden_units=(4,), image_shape=(4,), seed=0)
    bnn(np.zeros((1, 4), "float32"))
    ensemble = DeepEnsemble(lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), n=2)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)])
    # Lakshminarayanan et al.'s Gaussian members: the compiled loss (`tfvb.gaussian.GaussianNLL`) comes back
    # too, since it decides how the members' outputs are read (the mixture). Fitted once: a compiled model
    # saved untrained warns on load.
    gaussian = DeepEnsemble(lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), n=2, seed=0)
    gaussian.compile(optimizer="adam", loss=tfvb.gaussian.GaussianNLL())
    rows = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    gaussian.fit(rows, rows[:, 0], epochs=1, verbose=0)
    # The calibrated wrappers (tfvb.calibrate), one inside another.
    labels = np.arange(16) % 3
    scaled = tfvb.calibrate.TemperatureScaled(bnn, 2.0, samples=4, seed=0)
    regressor = BNNRegressor(hidden_units=(4,), num_examples=16, seed=0)
    regressor.compile(optimizer="adam")
    regressor.fit(rows, rows[:, 0], epochs=1, batch_size=16, verbose=0)
    return {
        "temperature_scaled": scaled,
        "conformal_sets": tfvb.calibrate.conformal_sets(scaled, rows, labels, coverage=0.8, samples=4, seed=0),
        "conformal_intervals": tfvb.calibrate.conformal(regressor, rows, rows[:, 0], coverage=0.8,
                                                        score="normalized", samples=4, seed=0),
        "gaussian_ensemble": gaussian,
        "cvae": CVAE(latent_dim=2, filters=(4, 8), seed=0),
        "bnn": bnn,
        "ensemble": ensemble,
        "bayesianized": tfvb.bayesianize(plain, task="classification", seed=0),
        "sequential": keras.Sequential([keras.Input((4,)), tfvb.layers.DenseFlipout(3, seed=0)]),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    out = {}
    for name, model in _models().items():
        path = str(folder / f"{name}.keras")
        model.save(path)
        out[name] = (path, [type(model).__name__, type(getattr(model, "loss", None)).__name__], model.get_weights())
    return out


_LOAD = """
import json, sys
import numpy as np
{imports}
paths = json.loads(sys.argv[1])
out = {{}}
for name, path in paths.items():
    model = keras.saving.load_model(path)
    np.savez(path + ".weights.npz", *model.get_weights())
    out[name] = [type(model).__name__, type(getattr(model, "loss", None)).__name__]
print(json.dumps(out))
"""


# The third: TensorFlow between them (its import looks Keras up, which used up the hook: nothing was
# registered). The fourth: a low module imported first (tfvb.randomness raised "partially initialized module":
# its `import keras` made Keras register tfvb's classes, whose modules import it back, before it was complete).
@pytest.mark.parametrize("imports", ["import tfvb\nimport keras", "import keras, tfvb",
                                     "import tfvb\nimport tensorflow as tf\nimport keras",
                                     "import tfvb.randomness\nimport keras"])
def test_every_tfvb_class_reloads_in_a_fresh_process_after_import_tfvb(imports, saved):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    paths = {name: path for name, (path, _, _) in saved.items()}
    run = subprocess.run([sys.executable, "-c", _LOAD.format(imports=imports), json.dumps(paths)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    classes = json.loads(run.stdout.strip().splitlines()[-1])
    assert classes == {name: cls for name, (_, cls, _) in saved.items()}
    for name, (path, _, weights) in saved.items():
        with np.load(path + ".weights.npz") as npz:
            for i, w in enumerate(weights):
                np.testing.assert_array_equal(npz[f"arr_{i}"], w, err_msg=name)


def test_import_tfvb_alone_does_not_import_keras():
    code = "import sys, tfvb, tfvb.cli; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=REPO), capture_output=True,
                         text=True, timeout=120)
    assert run.stdout.split() == ["False", "False"], run.stderr[-2000:]
