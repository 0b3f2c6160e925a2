"""Importance-sampled evaluation: compiled once per model, memory-bounded steps, reproducible draws."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from tfvb import evaluate, objectives
from tfvb.evaluate import likelihood
from tfvb.models import CVAE, IWAE


def _small_iwae(seed):
    return IWAE(k=1, latent_dim=3, hidden_units=(8,), seed=seed)


def test_each_model_is_traced_once_and_nothing_warns_of_retracing(binary_images, caplog):
    # TensorFlow warns when a function is traced 5 times in its last ~10 calls, and it counts
    # closures over different models as one function: six models evaluated once each (as the
    # demo does) must not look like retracing, and batches, chunks and seeds must not retrace.
    x = binary_images[:9]
    models = [_small_iwae(seed) for seed in range(6)]
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for model in models:
            evaluate.log_likelihood(model, x, k=1, verbose=0)
        first = [m._tfvb_log_w_fn for m in models]
        for model in models[:2]:
            evaluate.log_likelihood(model, x, k=7, chunk=3, batch_size=4, verbose=0, seed=5)
    assert "retracing" not in caplog.text
    # One concrete function per model (it cannot retrace), kept across batches, chunks and seeds.
    assert all(isinstance(f, tf.types.experimental.ConcreteFunction) for f in first)
    assert [m._tfvb_log_w_fn for m in models] == first


def test_fixed_seed_reproduces_the_estimate_exactly(binary_images):
    model = _small_iwae(0)
    x = binary_images[:6]
    a = evaluate.log_likelihood(model, x, k=40, chunk=15, batch_size=4, verbose=0, seed=3)
    b = evaluate.log_likelihood(model, x, k=40, chunk=15, batch_size=4, verbose=0, seed=3)
    np.testing.assert_array_equal(a.per_example, b.per_example)
    c = evaluate.log_likelihood(model, x, k=40, chunk=15, batch_size=4, verbose=0, seed=4)
    assert not np.array_equal(a.per_example, c.per_example)


def test_default_steps_bound_the_decoders_widest_tensor():
    # The MLP's widest tensor is its logits (the pixels); the convolutional decoder's is its
    # 28x28x32 feature map, so a step holds 32x fewer of its samples.
    assert likelihood.values_per_sample(IWAE(k=1)) == 784
    assert likelihood.values_per_sample(IWAE(k=1, stochastic_layers=2)) == 784
    assert likelihood.values_per_sample(CVAE(latent_dim=2)) == 28 * 28 * 32
    assert likelihood.STEP_BUDGET // likelihood.values_per_sample(CVAE(latent_dim=2)) == 668


def test_jackknife_at_large_k_is_computed_in_float64(binary_images):
    # K L_K - (K - 1) L_{K-1} multiplies float32 rounding by K: at K = 5000 the float32
    # jackknife was off by about a nat. The estimate must equal the float64 jackknife of
    # the same (float32) weights.
    model = _small_iwae(0)
    x = model.check_inputs(binary_images[:3])
    log_w = evaluate.log_importance_weights(model, x, 5000, seed=0)
    exact = objectives.jackknife_bound(tf.cast(log_w, tf.float64), axis=0).numpy()
    got = evaluate.log_likelihood(model, binary_images[:3], k=5000, method="jackknife", batch_size=3, verbose=0)
    np.testing.assert_allclose(got.per_example, exact, rtol=0, atol=1e-9)
    iwae = evaluate.log_likelihood(model, binary_images[:3], k=5000, batch_size=3, verbose=0)
    np.testing.assert_allclose(iwae.per_example, objectives.iwae_bound(log_w, axis=0), rtol=1e-6)


def test_a_dataset_of_dicts_is_refused_with_what_to_do(binary_images):
    model = IWAE(k=2, latent_dim=2, hidden_units=(4,), seed=0)
    data = tf.data.Dataset.from_tensor_slices({"image": binary_images[:8]}).batch(4)
    with pytest.raises(ValueError, match=r"Expected images, \(images, labels\) or \(images,\) batches. Received: "
                                         r"batches of dict with keys \['image'\]; map them to the images first, "
                                         r"e.g. data.map\(lambda d: d\['image'\]\)"):
        evaluate.log_likelihood(model, data, k=2)
    estimate = evaluate.log_likelihood(model, data.map(lambda d: d["image"]), k=2)
    assert np.isfinite(estimate.mean)
