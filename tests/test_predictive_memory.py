"""`predict_uncertainty(samples=T)` keeps its memory bounded for any T, in every predictive family.

The T draws are summarized chunk by chunk (`tfvb.uncertainty`'s
accumulators); a chunk's size depends on the network, not on T. Checked:
the accumulators equal the summaries of the stacked draws, the chunked
predictive equals the one of the same draws stacked, no call holds more
than the budget, and (slow) T = 100,000 runs in a process whose peak memory
stays far below what the stacked draws would need.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tfvb import uncertainty
from tfvb.models import BNNClassifier, BNNRegressor, MCDropoutClassifier, MCDropoutRegressor, _bnn_base, _weight_draws


def test_accumulators_equal_the_summaries_of_the_stacked_draws():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(30, 7))
    means, variances = rng.normal(size=(30, 7, 2)), rng.gamma(2.0, size=(30, 7, 2))
    classes = uncertainty.ClassificationAccumulator(7, 4)
    values = uncertainty.RegressionAccumulator((7, 2))
    for start, stop in ((0, 11), (11, 12), (12, 30)):  # uneven chunks of the 30 draws
        for rows in (slice(0, 3), slice(3, 7)):
            classes.add(probs[start:stop, rows], rows)
            values.add(means[start:stop, rows], variances[start:stop, rows], rows)
    for name, expected in uncertainty.classification_uncertainty(probs).items():
        np.testing.assert_allclose(classes.result()[name], expected, rtol=1e-12, atol=1e-12, err_msg=name)
    for name, expected in uncertainty.regression_uncertainty(means, variances).items():
        np.testing.assert_allclose(values.result()[name], expected, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.fixture
def small_budget(monkeypatch):
    """A budget of 2^12 floats per call, and a record of every call's draws x inputs."""
    monkeypatch.setattr(_weight_draws, "MAX_ACTIVATION_ELEMENTS", 1 << 12)
    calls = []
    original = _bnn_base.BNNBase._draw_fn

    def recording(self, count, example):
        fn = original(self, count, example)

        def call(x, seed, first_row):
            calls.append((count, int(x.shape[0])))
            return fn(x, seed, first_row)
        return call

    monkeypatch.setattr(_bnn_base.BNNBase, "_draw_fn", recording)
    return calls


def test_bnn_draws_come_in_chunks_within_the_budget_and_match_the_stacked_draws(small_budget, binary_images):
    model = BNNClassifier(10, hidden_units=(16,), posterior_sigma_init=0.2, seed=0)
    x = binary_images[:12]
    u = model.predict_uncertainty(x, samples=50, seed=4)
    kernels, widest = model._kernel_elements(), model._widest_activation()
    assert max(count for count, _ in small_budget) < 50  # the 50 draws came in chunks
    for count, rows in small_budget:
        assert count * kernels <= (1 << 12) + kernels and count * rows * widest <= (1 << 12) + widest * rows
    stacked = uncertainty.classification_uncertainty(model.predict_samples(x, samples=50, seed=4))
    for name, expected in stacked.items():
        np.testing.assert_allclose(u[name], expected, rtol=1e-6, atol=1e-7, err_msg=name)
    assert model.predict_samples(x, samples=50, seed=4).shape == (50, 12, 10)
    # Draw t is the same network whatever the inputs per call.
    again = model.predict_uncertainty(x, samples=50, seed=4, batch_size=7)
    for name in u:
        np.testing.assert_allclose(again[name], u[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_bnn_regressor_streams_the_law_of_total_variance(small_budget):
    x = np.random.default_rng(0).normal(size=(9, 3)).astype("float32")
    model = BNNRegressor(hidden_units=(8,), input_dim=3, output_dim=2, noise="heteroscedastic",
                         posterior_sigma_init=0.2, seed=0)
    u = model.predict_uncertainty(x, samples=150, seed=1)  # 64 draws per call within the budget
    s = model.predict_samples(x, samples=150, seed=1)
    for name, expected in uncertainty.regression_uncertainty(s["mean"], s["variance"]).items():
        np.testing.assert_allclose(u[name], expected, rtol=1e-6, atol=1e-9, err_msg=name)


def test_a_bayesianized_network_streams_its_draws(small_budget, binary_images):
    import keras

    import tfvb

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(10)])
    net.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model = tfvb.bayesianize(net, posterior_sigma_init=0.2, seed=0)
    x = binary_images[:6]
    u = model.predict_uncertainty(x, samples=40, seed=2)
    assert max(count for count, _ in small_budget) < 40
    for name, expected in uncertainty.classification_uncertainty(model.predict_samples(x, samples=40, seed=2)).items():
        np.testing.assert_allclose(u[name], expected, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("family", ["mc_dropout_regressor", "mc_dropout_classifier"])
def test_mc_dropout_streams_its_passes(family, monkeypatch):
    from tfvb.models import _mc_dropout_base

    monkeypatch.setattr(_mc_dropout_base, "_CHUNK_ELEMENTS", 64)  # many chunks of passes
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype("float32")
    if family == "mc_dropout_regressor":
        model = MCDropoutRegressor(hidden_units=(8,), dropout_rate=0.2, seed=0)
        model.adapt(x, x.sum(axis=1))
        u = model.predict_uncertainty(x, samples=30, seed=2)
        s = model.predict_samples(x, samples=30, seed=2)
        expected = uncertainty.regression_uncertainty(s["mean"], s["variance"])
    else:
        model = MCDropoutClassifier(3, hidden_units=(8,), dropout_rate=0.2, seed=0)
        model.adapt(x, np.arange(6) % 3)
        u = model.predict_uncertainty(x, samples=30, seed=2)
        expected = uncertainty.classification_uncertainty(model.predict_samples(x, samples=30, seed=2))
    for name, value in expected.items():
        np.testing.assert_allclose(u[name], value, rtol=1e-6, atol=1e-9, err_msg=name)


def test_an_ensembles_samples_are_its_members_whatever_t():
    import keras

    from tfvb.models import DeepEnsemble

    def member():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])

    model = DeepEnsemble(member, n=3, seed=0)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    u = model.predict_uncertainty(x, samples=100000)
    assert model.predict_samples(x, samples=100000).shape == (3, 5, 4)  # n members x N x C, not T x N x C
    for name, expected in model.predict_uncertainty(x).items():
        np.testing.assert_array_equal(u[name], expected, err_msg=name)


PROBE = r"""
import json, resource, sys
import numpy as np
import tfvb
family, samples = sys.argv[1], int(sys.argv[2])
x = tfvb.data.mnist_sample()[0][:4]
if family == "bnn":
    model = tfvb.models.BNNClassifier(10, hidden_units=(100,), seed=0)
elif family == "bayesianized":
    import keras
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(100, activation="relu"),
                            keras.layers.Dense(10)])
    net.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model = tfvb.bayesianize(net, seed=0)
else:
    model = tfvb.models.MCDropoutClassifier(10, hidden_units=(100,), seed=0)
    model.adapt(x, np.arange(4))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
u = model.predict_uncertainty(x, samples=samples, seed=0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
finite = bool(np.isfinite(u["entropy"]).all())
print(json.dumps({"before_mib": before / 1024, "peak_mib": peak / 1024, "finite": finite}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("family", ["bnn", "bayesianized", "mc_dropout"])
def test_100000_samples_run_in_bounded_memory(family):
    # Stacked, the BNN's 100,000 draws of its 79,400 kernel weights alone would take 32 GB.
    out = subprocess.run(
        [sys.executable, "-c", PROBE, family, "100000"],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["finite"]
    assert result["peak_mib"] - result["before_mib"] < 1024, result
