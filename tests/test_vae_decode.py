"""`decode(z)` returns Bernoulli logits and `decode(z, apply_sigmoid=True)` pixel probabilities, as in
TensorFlow's convolutional VAE tutorial."""

import numpy as np
import tensorflow as tf

from tfvb.models import CVAE


def test_decode_returns_logits_or_probabilities():
    vae = CVAE(latent_dim=2, seed=0)
    z = np.random.default_rng(0).normal(size=(3, 2)).astype("float32")
    logits = vae.decode(z).numpy()
    probs = vae.decode(z, apply_sigmoid=True).numpy()
    assert probs.shape == logits.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(probs, tf.sigmoid(logits).numpy(), rtol=1e-6)
    assert logits.min() < 0 and 0 <= probs.min() and probs.max() <= 1
