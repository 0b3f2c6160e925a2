"""tfp.layers arguments on tfvb layers (the migration guide's table): accepted where they mean what a tfvb
argument means, refused otherwise with an error that names the tfvb argument."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvb import layers

tfd = tfp.distributions
N = 60000


@pytest.mark.parametrize("cls", [layers.DenseFlipout, layers.DenseReparameterization,
                                 layers.DenseLocalReparameterization])
def test_the_common_scaled_divergence_is_num_examples(cls):
    layer = cls(4, kernel_divergence_fn=lambda q, p, _: tfd.kl_divergence(q, p) / tf.cast(N, tf.float32), seed=0)
    assert layer.num_examples == N and layer.get_config()["num_examples"] == N
    layer(np.ones((2, 3), "float32"), training=True)
    np.testing.assert_allclose(layer.losses[0].numpy(), layer.kl_divergence().numpy() / N, rtol=1e-6)
    whole = cls(4, kernel_divergence_fn=lambda q, p, ignore: tfd.kl_divergence(q, p))  # TFP's default
    assert whole.num_examples is None


def test_tfp_names_and_dense_variational_arguments():
    conv = layers.Convolution2DFlipout(4, 3, kernel_divergence_fn=lambda q, p, _: tfd.kl_divergence(q, p) / 100.0)
    assert isinstance(conv, layers.Conv2DFlipout) and conv.num_examples == 100
    assert layers.Convolution2DReparameterization is layers.Conv2DReparameterization
    # tfp.layers.DenseVariational(units, make_posterior_fn, make_prior_fn, kl_weight, kl_use_exact) samples the
    # kernel once per call: DenseReparameterization, with kl_weight = 1/N and kl_use_exact read.
    dense = layers.DenseReparameterization(4, kl_weight=1 / N, kl_use_exact=False)
    assert dense.num_examples == N and dense.kl == "sample"
    kept = layers.DenseFlipout(4, bias_divergence_fn=lambda q, p, _: tfd.kl_divergence(q, p), bias_prior_fn=None)
    assert kept.num_examples is None


@pytest.mark.parametrize("kwargs, names", [
    (dict(kernel_posterior_fn=lambda *a: None), "posterior_sigma_init"),
    (dict(make_posterior_fn=lambda *a: None), "posterior_sigma_init"),
    (dict(kernel_prior_fn=lambda *a: None), "prior=tfvb.priors.Normal"),
    (dict(make_prior_fn=lambda *a: None), "prior=tfvb.priors.Normal"),
    (dict(kernel_posterior_tensor_fn=lambda d: d.sample()), "the layer class"),
    (dict(bias_posterior_fn=lambda *a: None), "bias_initializer"),
    (dict(bias_prior_fn=lambda *a: None), "point estimate"),
    (dict(kernel_divergence_fn=None), "keras.layers.Dense"),
    (dict(kernel_divergence_fn=lambda q, p, _: 0.4 * tfd.kl_divergence(q, p)), "num_examples=N"),
    (dict(kernel_divergence_fn=lambda q, p, _: q.log_prob(0.0)), "num_examples=N"),
    (dict(kl_weight=0.3), "num_examples=N"),
    (dict(kl_weight=1 / 10, num_examples=20), "agree with `num_examples`"),
    (dict(kl_use_exact=True, kl="sample"), "agree with `kl`"),
])
def test_arguments_with_another_meaning_are_refused_naming_the_tfvb_argument(kwargs, names):
    with pytest.raises(ValueError, match=r"Expected .*" + names.replace("(", r"\(").replace(".", r"\.")):
        layers.DenseFlipout(3, **kwargs)
