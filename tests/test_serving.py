"""The posterior survives export: SavedModel (in a process without tfvb), LiteRT and ONNX serve Python's numbers.

SavedModel: the same draws as Python (stateless Philox, same seeds), so the
same numbers to float rounding. LiteRT and ONNX: the portable counter-based
generator, so Python's predictive within Monte Carlo error: the largest
standardized difference of the predictive means, |m_served - m_python| /
(sqrt(2) sd / sqrt(T)), over all outputs stays below 6 (for independent
estimates a |z| > 6 happens with probability 2e-9 per output).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvb
from tfvb import _counter_rng, randomness
from tfvb.models import IWAE, BNNClassifier

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _serving_models as families  # noqa: E402

SEED, OTHER_SEED, T = 5, 6, 7
#: Families checked in the default run; every family runs with -m slow (the machine's minutes are few).
FAST = ("bnn_regressor", "mc_dropout_regressor", "gaussian_ensemble", "bayesianized_cnn")
FAST_PORTABLE = ("mc_dropout_regressor", "gaussian_ensemble")
#: ONNX conversion (tf2onnx) takes a minute a model on a busy machine: every family runs with -m slow.
FAST_ONNX = ()


def _marked(names, fast):
    return [pytest.param(n, marks=() if n in fast else pytest.mark.slow) for n in names]


_cache = {}


def exported(name, tmp_path_factory):
    """(model, SavedModel folder) of a family: fitted once per session, exported right after fit."""
    if name not in _cache:
        model = families.FAMILIES[name]()
        path = str(tmp_path_factory.mktemp("serving") / name)
        model.export(path)
        _cache[name] = model, path
    return _cache[name]


def python_numbers(model, x, samples, seed):
    u = model.predict_uncertainty(x, samples=samples, seed=seed)
    draws = model.predict_samples(x, samples=samples, seed=seed)
    if not isinstance(draws, dict):
        draws = {"probs" if "entropy" in u else "mean": draws}  # a VAE's draws: pixel means
    elif "variance" not in draws:
        draws = {"mean": draws["mean"]}
    return u, draws


def assert_close_dicts(served, expected, atol=1e-6):
    for key, value in expected.items():
        np.testing.assert_allclose(np.asarray(served[key], np.float64), value, rtol=1e-5, atol=atol, err_msg=key)


# ---- model.export works whenever the model is built ------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: tfvb.models.BNNClassifier(10, hidden_units=(8,), seed=0),
    pytest.param(lambda: tfvb.models.BNNClassifier(10, hidden_units=(8,), architecture="lenet", seed=0),
                 marks=pytest.mark.slow),
    pytest.param(lambda: tfvb.models.BNNRegressor(hidden_units=(8,), input_dim=3, seed=0), marks=pytest.mark.slow),
], ids=["bnn_mlp", "bnn_lenet", "bnn_regressor"])
def test_export_right_after_construction_and_after_load_model(make, tmp_path):
    model = make()
    model.export(str(tmp_path / "built"))
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    loaded.export(str(tmp_path / "loaded"))
    served = tf.saved_model.load(str(tmp_path / "loaded"))
    shape = served.signatures["serve"].structured_input_signature[1]["x"].shape[1:]
    x = tf.constant(np.random.default_rng(0).uniform(size=(2,) + tuple(shape)), tf.float32)
    np.testing.assert_allclose(served.serve(x), model(x), atol=1e-6)
    u = served.predict_uncertainty(x, tf.constant(3), tf.constant(SEED, tf.int64))
    assert_close_dicts(u, model.predict_uncertainty(x.numpy(), samples=3, seed=SEED))


@pytest.mark.parametrize("form", ["flat_rows", "images"])
def test_an_mlp_mc_dropout_classifier_serves_the_shape_it_was_trained_on(form, tmp_path):
    """Python takes either form; the export takes the one the model was fitted with, also after load_model
    (an MLP fitted on flat 784-wide rows was served with 28x28x1 images only)."""
    images, labels = families._images(32)
    x = images.reshape(len(images), -1) if form == "flat_rows" else images
    model = families._fit(tfvb.models.MCDropoutClassifier(10, hidden_units=(8,), dropout_rate=0.2, seed=0),
                          x, labels)
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    loaded.export(str(tmp_path / "serving"))
    served = tf.saved_model.load(str(tmp_path / "serving"))
    shape = served.signatures["predict_uncertainty"].structured_input_signature[1]["x"].shape
    assert tuple(shape[1:]) == x.shape[1:]
    assert_close_dicts(served.predict_uncertainty(tf.constant(x[:4]), tf.constant(T), tf.constant(SEED, tf.int64)),
                       model.predict_uncertainty(x[:4], samples=T, seed=SEED))


@pytest.mark.slow
def test_a_bayesianized_network_exports_after_load_model(tmp_path_factory, tmp_path):
    model, _ = exported("bayesianized_cnn", tmp_path_factory)
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    loaded.export(str(tmp_path / "serving"))
    x = families.inputs("bayesianized_cnn", 3)
    served = tf.saved_model.load(str(tmp_path / "serving"))
    assert_close_dicts(served.predict_uncertainty(x, tf.constant(4), tf.constant(1, tf.int64)),
                       model.predict_uncertainty(x, samples=4, seed=1))


# ---- SavedModel: Python's numbers, in-graph -----------------------------------------------------------------
@pytest.mark.parametrize("name", _marked(families.FAMILIES, FAST))
def test_savedmodel_serves_pythons_predictive(name, tmp_path_factory):
    model, path = exported(name, tmp_path_factory)
    served = tf.saved_model.load(path)
    assert {"serve", "predict_uncertainty", "predict_samples"} <= set(served.signatures)
    x = families.inputs(name)
    for samples in (1, T):
        u, draws = python_numbers(model, x, samples, SEED)
        first = served.predict_uncertainty(x, tf.constant(samples), tf.constant(SEED, tf.int64))
        assert_close_dicts(first, u)
        assert_close_dicts(served.predict_samples(x, tf.constant(samples), tf.constant(SEED, tf.int64)), draws)
    again = served.predict_uncertainty(x, tf.constant(T), tf.constant(SEED, tf.int64))
    other = served.predict_uncertainty(x, tf.constant(T), tf.constant(OTHER_SEED, tf.int64))
    for key in first:  # the same seed, the same numbers: bit for bit (Python's agree to float rounding, above)
        np.testing.assert_array_equal(again[key], first[key], err_msg=key)
    if name in families.STOCHASTIC:
        assert not np.allclose(other["mean"], again["mean"])
    serve = served.serve(tf.constant(x))
    np.testing.assert_array_equal(serve, served.serve(tf.constant(x)))  # deterministic
    if "mc_dropout" not in name:  # MC dropout's model(x) is one stochastic pass; its serve turns dropout off
        np.testing.assert_allclose(serve, model(x, training=False), atol=1e-5)


def test_weight_draws_in_several_groups_are_pythons_groups(tmp_path, monkeypatch):
    """T above a group's size: the served while-loop draws the groups Python draws, with the same seeds."""
    from tfvb.models import _weight_draws

    model = tfvb.models.BNNRegressor(hidden_units=(8,), input_dim=3, posterior_sigma_init=0.3, seed=0)
    monkeypatch.setattr(_weight_draws, "MAX_ACTIVATION_ELEMENTS", 3 * _weight_draws.REFERENCE_BATCH * 8)
    assert model._sample_plan(10, None)[0] == 3
    model.export(str(tmp_path / "s"))
    served = tf.saved_model.load(str(tmp_path / "s"))
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    assert_close_dicts(served.predict_uncertainty(x, tf.constant(10), tf.constant(SEED, tf.int64)),
                       model.predict_uncertainty(x, samples=10, seed=SEED))


def test_normalization_layers_stay_in_inference_mode_while_weights_are_drawn(tmp_path_factory):
    """A bayesianized CNN with BatchNormalization: one input served alone or among others gets the same draws'
    predictions (batch statistics would couple the inputs)."""
    model, path = exported("bayesianized_cnn", tmp_path_factory)
    served = tf.saved_model.load(path)
    x = families.inputs("bayesianized_cnn", 4)
    together = served.predict_samples(x, tf.constant(3), tf.constant(SEED, tf.int64))["probs"]
    alone = served.predict_samples(x[:1], tf.constant(3), tf.constant(SEED, tf.int64))["probs"]
    np.testing.assert_allclose(alone[:, 0], together[:, 0], atol=1e-6)


def test_bad_samples_is_refused_by_the_served_graph(tmp_path_factory):
    _, path = exported("bnn_regressor", tmp_path_factory)
    served = tf.saved_model.load(path)
    with pytest.raises(tf.errors.InvalidArgumentError, match="samples"):
        served.predict_uncertainty(families.inputs("bnn_regressor"), tf.constant(0), tf.constant(1, tf.int64))


# ---- a process with TensorFlow and without tfvb serves the SavedModels ----------------------------------------
CHILD = r"""
import importlib.abc, json, sys

class BlockTfvb(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tfvb" or name.startswith("tfvb."):
            raise ImportError(f"tfvb is blocked in this process ({name})")
        return None

sys.meta_path.insert(0, BlockTfvb())
import numpy as np
import tensorflow as tf

jobs = json.load(open(sys.argv[1]))
out = {}
for name, job in jobs.items():
    served = tf.saved_model.load(job["path"])
    x = tf.constant(np.load(job["x"]))
    call = lambda seed: {k: v.numpy() for k, v in served.signatures["predict_uncertainty"](
        x=x, samples=tf.constant(job["samples"]), seed=tf.constant(seed, tf.int64)).items()}
    a, b, c = call(job["seed"]), call(job["seed"]), call(job["seed"] + 1)
    reproducible = all(np.array_equal(a[k], b[k]) for k in a)
    np.savez(job["out"], **a)
    out[name] = {"reproducible": reproducible, "other_seed_differs": not np.allclose(a["mean"], c["mean"]),
                 "serve": served.signatures["serve"](x=x)["output_0"].shape.as_list()}
try:
    import tfvb  # noqa: F401
    out["_tfvb_importable"] = True
except ImportError:
    out["_tfvb_importable"] = False
out["_tfvb_modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "tfvb")
print(json.dumps(out))
"""


def _serve_in_a_process_without_tfvb(names, tmp_path_factory, tmp_path):
    jobs, expected = {}, {}
    for name in names:
        model, path = exported(name, tmp_path_factory)
        x = families.inputs(name)
        np.save(tmp_path / f"{name}_x.npy", x)
        jobs[name] = {"path": path, "x": str(tmp_path / f"{name}_x.npy"), "samples": T, "seed": SEED,
                      "out": str(tmp_path / f"{name}_out.npz")}
        expected[name] = model.predict_uncertainty(x, samples=T, seed=SEED)
    with open(tmp_path / "jobs.json", "w") as f:
        json.dump(jobs, f)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "jobs.json")], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["_tfvb_importable"] is False and report["_tfvb_modules"] == []
    for name in names:
        assert report[name]["reproducible"], name
        assert report[name]["other_seed_differs"] == (name in families.STOCHASTIC), name
        with np.load(jobs[name]["out"]) as served:
            assert_close_dicts(dict(served), expected[name])


def test_savedmodels_serve_in_a_process_without_tfvb(tmp_path_factory, tmp_path):
    _serve_in_a_process_without_tfvb(FAST, tmp_path_factory, tmp_path)


@pytest.mark.slow
def test_every_family_serves_in_a_process_without_tfvb(tmp_path_factory, tmp_path):
    _serve_in_a_process_without_tfvb(list(families.FAMILIES), tmp_path_factory, tmp_path)


# ---- LiteRT and ONNX: T fixed at export, portable noise ----------------------------------------------------
PORTABLE_T = 100


def _within_monte_carlo_error(name, model, x, served_u, served_draws):
    _, draws = python_numbers(model, x, PORTABLE_T, SEED)
    key = "probs" if "probs" in draws else "mean"
    sd = draws[key].std(axis=0)
    z = np.abs(np.asarray(served_u["mean"], np.float64) - draws[key].mean(axis=0)) / (
        np.sqrt(2.0 / PORTABLE_T) * sd + 1e-6)
    assert z.max() < 6, f"{name}: largest standardized difference {z.max():.2f}"
    assert np.asarray(served_draws[key]).shape == draws[key].shape


def _litert_runner(path, signature):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path).get_signature_runner(signature)


@pytest.mark.parametrize("name", _marked(families.FAMILIES, FAST_PORTABLE))
def test_litert_serves_the_predictive_within_monte_carlo_error(name, tmp_path_factory, tmp_path):
    pytest.importorskip("ai_edge_litert")
    model, _ = exported(name, tmp_path_factory)
    path = model.export(str(tmp_path / f"{name}.tflite"), format="litert", samples=PORTABLE_T)
    x = families.inputs(name)
    uncertainty = _litert_runner(path, "predict_uncertainty")
    a, b = uncertainty(x=x, seed=np.array(SEED, np.int64)), uncertainty(x=x, seed=np.array(SEED, np.int64))
    c = uncertainty(x=x, seed=np.array(OTHER_SEED, np.int64))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert set(a) == set(model.predict_uncertainty(x, samples=2, seed=0))
    if name in families.STOCHASTIC:
        assert not np.allclose(a["mean"], c["mean"])
    draws = _litert_runner(path, "predict_samples")(x=x, seed=np.array(SEED, np.int64))
    _within_monte_carlo_error(name, model, x, a, draws)
    serve = _litert_runner(path, "serve")(x=x)["output"]
    saved = tf.saved_model.load(_cache[name][1])  # held: its variables live as long as it does
    np.testing.assert_allclose(serve, saved.serve(tf.constant(x)), atol=1e-5)


@pytest.mark.parametrize("name", _marked(families.FAMILIES, FAST_ONNX))
def test_onnx_serves_the_predictive_within_monte_carlo_error(name, tmp_path_factory, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    model, _ = exported(name, tmp_path_factory)
    folder = model.export(str(tmp_path / "onnx"), format="onnx", samples=PORTABLE_T)
    x = families.inputs(name)

    def run(signature, **inputs):
        session = ort.InferenceSession(os.path.join(folder, f"{signature}.onnx"))
        return dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))

    a, b = run("predict_uncertainty", x=x, seed=np.array(SEED, np.int64)), run(
        "predict_uncertainty", x=x, seed=np.array(SEED, np.int64))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert set(a) == set(model.predict_uncertainty(x, samples=2, seed=0))
    if name in families.STOCHASTIC:
        assert not np.allclose(a["mean"], run("predict_uncertainty", x=x, seed=np.array(OTHER_SEED, np.int64))["mean"])
    _within_monte_carlo_error(name, model, x, a, run("predict_samples", x=x, seed=np.array(SEED, np.int64)))
    saved = tf.saved_model.load(_cache[name][1])
    np.testing.assert_allclose(run("serve", x=x)["output"], saved.serve(tf.constant(x)), atol=1e-5)


def _bad_rows(x, high):
    """`x` with row 1 out of range (a value above `high`) and row 2 holding a NaN."""
    x = np.array(x, np.float32)
    x.reshape(len(x), -1)[1, 3] = high + 0.5
    x.reshape(len(x), -1)[2, 0] = np.nan
    return x


@pytest.mark.parametrize("format", ["litert", pytest.param("onnx", marks=pytest.mark.slow)])
def test_portable_formats_mark_the_rows_python_would_refuse(format, tmp_path):
    # LiteRT and ONNX drop CheckNumerics, which kept only the check's inf: one pixel of 1.5 in a batch made
    # every row's outputs NaN and every `prediction` 0 (a confident label), and an IWAE served 5.0-valued
    # pixels as made-up numbers. Now the bad rows alone are NaN with prediction -1.
    pytest.importorskip("ai_edge_litert" if format == "litert" else "onnxruntime")
    images, labels = families._images(16)
    bnn = BNNClassifier(10, hidden_units=(8,), posterior_sigma_init=0.1, input_range=(0, 1), seed=0)
    bnn.compile(optimizer="adam")
    bnn.fit(images, labels, epochs=1, verbose=0)
    vae = families._fit(IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=0), (images > 0.5).astype("float32"))
    for name, model in (("bnn", bnn), ("vae", vae)):
        x = _bad_rows(images[:5], 1.0)
        with pytest.raises(Exception, match=r"Expected `inputs` in \[0, 1\]|to be finite"):
            model.predict_uncertainty(x, samples=3, seed=0)  # Python refuses the batch
        if format == "litert":
            path = model.export(str(tmp_path / f"{name}.tflite"), format="litert", samples=3)
            runs = {sig: _litert_runner(path, sig) for sig in ("predict_uncertainty", "predict_samples", "serve")}
        else:
            ort = pytest.importorskip("onnxruntime")
            folder = model.export(str(tmp_path / name), format="onnx", samples=3)

            def session(sig, folder=folder, ort=ort):
                s = ort.InferenceSession(os.path.join(folder, f"{sig}.onnx"))
                return lambda **inputs: dict(zip([o.name for o in s.get_outputs()], s.run(None, inputs)))
            runs = {sig: session(sig) for sig in ("predict_uncertainty", "predict_samples", "serve")}
        seed = np.array(SEED, np.int64)
        outputs = [(runs["predict_uncertainty"](x=x, seed=seed), 0), (runs["predict_samples"](x=x, seed=seed), 1),
                   (runs["serve"](x=x), 0)]
        for out, axis in outputs:
            for key, value in out.items():
                value = np.moveaxis(np.asarray(value), axis, 0)
                if value.dtype.kind == "f":
                    assert np.isnan(value[1:3]).all() and np.isfinite(value[[0, 3, 4]]).all(), (name, key)
                else:
                    assert (value[1:3] == -1).all() and (value[[0, 3, 4]] >= 0).all(), (name, key)
        if name == "bnn":
            assert set(outputs[0][0]["prediction"][[0, 3, 4]]) <= set(range(10))


def test_a_savedmodel_refuses_a_fixed_samples_and_unknown_formats_are_refused(tmp_path_factory, tmp_path):
    model, _ = exported("bnn_regressor", tmp_path_factory)
    with pytest.raises(ValueError, match="samples=None for format='tf_saved_model'"):
        model.export(str(tmp_path / "a"), samples=10)
    with pytest.raises(ValueError, match="Expected `format` to be one of"):
        model.export(str(tmp_path / "b"), format="openvino")


# ---- the portable generator ---------------------------------------------------------------------------------
def test_portable_uniforms_and_normals_have_the_right_moments_and_no_neighbour_correlation():
    n = 100_000
    u = _counter_rng.uniform((n,), tf.constant([3, 0], tf.int64)).numpy().astype(np.float64)
    z = _counter_rng.normal((n,), tf.constant([3, 0], tf.int64)).numpy().astype(np.float64)
    se = 1 / np.sqrt(n)
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * se * np.sqrt(1 / 12) and abs(u.var() - 1 / 12) < 5 * se * np.sqrt(1 / 180)
    assert abs(z.mean()) < 5 * se and abs(z.var() - 1) < 5 * se * np.sqrt(2)
    for a in (u, z):
        assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 5 * se
    other = _counter_rng.normal((n,), tf.constant([4, 0], tf.int64)).numpy()
    assert abs(np.corrcoef(z, other)[0, 1]) < 5 * se


def test_portable_noise_replaces_philox_only_inside_its_context():
    seed = tf.constant([1, 2], tf.int64)
    philox = randomness.stateless_normal((4,), seed).numpy()
    np.testing.assert_array_equal(philox, tf.random.stateless_normal((4,), seed).numpy())
    with randomness.portable_noise():
        portable = randomness.stateless_normal((4,), seed).numpy()
    np.testing.assert_array_equal(portable, _counter_rng.normal((4,), seed).numpy())
    assert not randomness.is_portable()


@pytest.mark.parametrize("layer", ["DenseFlipout", pytest.param("DenseReparameterization", marks=pytest.mark.slow)])
def test_portable_dense_draws_are_the_weight_posteriors_outputs(layer):
    """In LiteRT/ONNX graphs a dense layer draws its outputs, N(x mu + b, x^2 sigma^2) per input and unit (the
    distribution T drawn kernels give), for shared (N, in) and per-draw (T, N, in) inputs alike."""
    dense = getattr(tfvb.layers, layer)(3, posterior_sigma_init=0.5, seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4)).astype("float32")
    dense.build(x.shape)
    dense.bias.assign(rng.normal(size=3).astype("float32"))
    mu, sigma = dense.kernel_loc.numpy().astype(np.float64), dense.kernel_scale.numpy().astype(np.float64)
    mean, var = x @ mu + dense.bias.numpy(), np.square(x) @ np.square(sigma)
    draws = 20_000
    with randomness.portable_noise():
        shared = dense(x, num_samples=draws, seed=3).numpy().astype(np.float64)
        per_draw = dense(np.broadcast_to(x, (draws,) + x.shape), num_samples=draws, seed=4).numpy()
    for y in (shared, per_draw.astype(np.float64)):
        assert y.shape == (draws, 2, 3)
        se = np.sqrt(var / draws)
        assert np.all(np.abs(y.mean(axis=0) - mean) < 5 * se)
        assert np.all(np.abs(y.var(axis=0) - var) < 5 * var * np.sqrt(2 / draws))
    with randomness.portable_noise():
        graph = tf.function(lambda x: dense(x, num_samples=5, seed=1)).get_concrete_function(
            tf.TensorSpec((None, 4), tf.float32)).graph
    assert not any(op.type == "BatchMatMulV2" or op.type == "Einsum" for op in graph.get_operations())


def test_portable_dense_layers_that_see_several_rows_per_example_share_each_draws_kernel():
    """A sequence's positions, and the call sites of a layer used twice, share draw t's weights in LiteRT/ONNX
    graphs too (drawing the outputs would give each its own independent noise)."""
    dense = tfvb.layers.DenseFlipout(3, posterior_sigma_init=0.5, seed=0)
    rng = np.random.default_rng(0)
    row = rng.normal(size=(2, 1, 4)).astype("float32")
    x = np.concatenate([row, row], axis=1)  # (N, L = 2, in): both positions hold the same row
    dense.build(x.shape)
    with randomness.portable_noise():
        y = dense(x, num_samples=50, seed=3).numpy()
    assert y.shape == (50, 2, 2, 3)
    np.testing.assert_allclose(y[:, :, 0], y[:, :, 1], atol=1e-5)  # one kernel per draw for both positions
    assert y.std(axis=0).min() > 0.1  # and the draws differ
    # A layer called at two places: unit inputs e_0 and e_1 read two different weights of each draw's kernel,
    # independent across draws (identical output noise would correlate them perfectly).
    shared = tfvb.layers.DenseFlipout(1, posterior_sigma_init=0.5, seed=0)
    a, b = keras.Input((2,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Concatenate()([shared(a), shared(b)]))
    model([np.zeros((1, 2), "float32"), np.ones((1, 2), "float32")])
    e0, e1 = np.array([[1.0, 0.0]], "float32"), np.array([[0.0, 1.0]], "float32")
    draws = 4000
    with randomness.portable_noise():
        y0, y1 = (shared(e, num_samples=draws, seed=5).numpy()[:, 0, 0] for e in (e0, e1))
    assert len(shared._inbound_nodes) == 2
    assert abs(np.corrcoef(y0, y1)[0, 1]) < 5 / np.sqrt(draws)


# ---- zoo entries ship the signatures ---------------------------------------------------------------------------
def test_a_new_zoo_entry_ships_and_exposes_the_serving_signatures(tmp_path_factory, tmp_path, monkeypatch):
    from tfvb.zoo import store

    model, _ = exported("bnn_regressor", tmp_path_factory)
    x = families.inputs("bnn_regressor")
    store.write_entry(str(tmp_path), "bnn_flipout_uci_boston", model, {"metrics": {}}, x)
    monkeypatch.setenv("TFVB_SAVED_MODELS", str(tmp_path))
    served = tfvb.zoo.load("bnn_flipout_uci_boston", format="savedmodel")
    assert {"serve", "predict_uncertainty", "predict_samples"} <= set(served.signatures)
    assert_close_dicts(served.predict_uncertainty(x, tf.constant(T), tf.constant(SEED, tf.int64)),
                       model.predict_uncertainty(x, samples=T, seed=SEED))


@pytest.mark.parametrize("padding, strides, dilation, size", [
    ("same", (1, 1), (1, 1), 12), ("valid", (2, 2), (1, 1), 13), ("same", (2, 2), (1, 1), 13),
    ("valid", (1, 1), (2, 2), 12)])
def test_per_sample_convolution_by_patches_equals_conv2d(padding, strides, dilation, size):
    """The per-draw convolution of the LiteRT/ONNX graphs (slices and one batched matmul) is Conv2D's."""
    from tfvb.layers.conv import conv_by_patches

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, size, size, 4)).astype("float32")
    k = rng.normal(size=(3, 5, 5, 4, 6)).astype("float32")
    expected = np.stack([tf.nn.conv2d(x[t], k[t], strides=(1, *strides, 1), padding=padding.upper(),
                                      dilations=(1, *dilation, 1)) for t in range(3)])
    np.testing.assert_allclose(conv_by_patches(x, k, strides, padding, dilation), expected, atol=1e-4)


@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_bayesian_transposed_convolutions_are_refused_where_they_cannot_be_expressed(format, tmp_path):
    net = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2DTranspose(2, 3), keras.layers.Flatten()])
    bnn = tfvb.bayesianize(net, task="regression", seed=0)
    with pytest.raises(ValueError, match="Conv2DTranspose.*format='tf_saved_model'"):
        bnn.export(str(tmp_path / "m"), format=format, samples=3)


@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_mixed_precision_models_are_refused_by_the_portable_formats_with_the_way_out(format, tmp_path):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tfvb.models.BNNRegressor(hidden_units=(4,), input_dim=3, seed=0)  # built by input_dim
    finally:
        keras.mixed_precision.set_global_policy(previous)
    with pytest.raises(ValueError, match=r"Expected a model computing in float32 for format='(litert|onnx)'\. "
                                         r"Received: layers computing in float16 .*set_weights.*tf_saved_model"):
        model.export(str(tmp_path / ("m.tflite" if format == "litert" else "m")), format=format, samples=3)


def test_an_ensemble_whose_members_python_cannot_summarize_is_not_exported(tmp_path):
    def member():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.Reshape((2, 3))])

    ensemble = tfvb.models.DeepEnsemble(member, n=2, seed=0, task="regression")
    x = np.ones((5, 4), "float32")
    with pytest.raises(ValueError, match=r"\(T, N\) or \(T, N, D\)"):
        ensemble.predict_uncertainty(x)
    with pytest.raises(ValueError, match=r"outputs of shape \(N,\) or \(N, D\).*Received: members' outputs of "
                                         r"shape \(None, 2, 3\)"):
        ensemble.export(str(tmp_path / "m"))
