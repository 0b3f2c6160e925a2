"""CVAE and IWAE with the user's own encoder and decoder (keras.io's "Variational AutoEncoder" ported).

The networks are checked for the shapes the objective needs when the model
is built, saved in its `.keras` file, and served by `export` like tfvb's own.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import objectives
from tfvb.models import CVAE, IWAE

LATENT = 2


def keras_io_encoder(latent_dim=LATENT, outputs="two"):
    """keras.io's VAE encoder, without its Sampling layer (tfvb draws z itself): [z_mean, z_log_var]."""
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    h = keras.layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(16, activation="relu")(h)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    out = [z_mean, z_log_var] if outputs == "two" else keras.layers.Concatenate()([z_mean, z_log_var])
    return keras.Model(inputs, out, name="encoder")


def keras_io_decoder(latent_dim=LATENT, last=None):
    """keras.io's VAE decoder with a logits output (no sigmoid: tfvb's likelihood takes logits)."""
    inputs = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(7 * 7 * 64, activation="relu")(inputs)
    h = keras.layers.Reshape((7, 7, 64))(h)
    h = keras.layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(h)
    h = keras.layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(h)
    out = (last or keras.layers.Conv2DTranspose(1, 3, padding="same"))(h)
    return keras.Model(inputs, out, name="decoder")


@pytest.fixture(scope="module")
def ported(binary_images):
    """keras.io's architecture in a CVAE, fitted a few steps."""
    model = CVAE(latent_dim=LATENT, encoder=keras_io_encoder(), decoder=keras_io_decoder(), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(binary_images[:256], epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    return model


def _plain(config):
    """A config as its file holds it (Keras' nested build configs come back with lists for tuples)."""
    return json.loads(json.dumps(config))


def _same_outputs(a, b, x):
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    for u, v in zip(a.encode(x), b.encode(x)):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    z = np.random.default_rng(0).normal(size=(3, a.latent_dim)).astype("float32")
    np.testing.assert_array_equal(a.decode(z, apply_sigmoid=True).numpy(), b.decode(z, apply_sigmoid=True).numpy())
    np.testing.assert_array_equal(a.sample(4, seed=1).numpy(), b.sample(4, seed=1).numpy())
    np.testing.assert_array_equal(a.predict_samples(x, samples=3, seed=2), b.predict_samples(x, samples=3, seed=2))


def test_keras_io_vae_ports_fits_and_round_trips_through_keras_files(ported, binary_images, tmp_path):
    x = binary_images[300:308]
    mean, logvar = ported.encode(x)
    assert mean.shape == logvar.shape == (8, LATENT)
    logits = ported.decode(mean)
    np.testing.assert_allclose(ported.decode(mean, apply_sigmoid=True), tf.sigmoid(logits), rtol=1e-6)
    ported.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    assert type(loaded) is CVAE and _plain(loaded.get_config()) == _plain(ported.get_config())
    assert [layer.name for layer in loaded.encoder.layers] == [layer.name for layer in ported.encoder.layers]
    _same_outputs(ported, loaded, x)
    rebuilt = CVAE.from_config(ported.get_config())  # the networks come back from the config alone
    rebuilt.set_weights(ported.get_weights())
    _same_outputs(ported, rebuilt, x)
    loaded.compile(optimizer="adam")
    loaded.fit(binary_images[:64], epochs=1, batch_size=64, verbose=0)  # fine-tunable after loading


def test_the_ported_vae_exports_its_encode_decode_sample_and_predictive(ported, binary_images, tmp_path):
    ported.export(str(tmp_path / "serving"))
    served = tf.saved_model.load(str(tmp_path / "serving"))
    assert {"serve", "encode", "decode", "sample", "predict_uncertainty", "predict_samples"} <= set(served.signatures)
    x = binary_images[:4]
    encoded = served.encode(tf.constant(x))
    for got, want in zip((encoded["mean"], encoded["logvar"]), ported.encode(x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    z = np.random.default_rng(1).normal(size=(5, LATENT)).astype("float32")
    np.testing.assert_allclose(served.decode(tf.constant(z)), ported.decode(z), rtol=1e-5, atol=1e-5)
    assert tuple(served.sample(tf.constant(3), tf.constant(0)).shape) == (3, 28, 28, 1)
    u = served.predict_uncertainty(tf.constant(x), tf.constant(4), tf.constant(7, tf.int64))
    want = ported.predict_uncertainty(x, samples=4, seed=7)
    for key in ("mean", "variance"):
        np.testing.assert_allclose(np.asarray(u[key]), want[key], rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("make, message", [
    (lambda: CVAE(latent_dim=LATENT, decoder=keras_io_decoder(last=keras.Sequential(
        [keras.layers.Flatten(), keras.layers.Dense(784)]))),
     r"Expected `decoder` output of shape \(None, 28, 28, 1\): the images' Bernoulli logits .*"
     r"Received: \(None, 784\)"),
    (lambda: CVAE(latent_dim=3, encoder=keras_io_encoder(latent_dim=2, outputs="one")),
     r"Expected `encoder` outputs of one tensor of shape \(None, 6\) .* or two tensors \[mean, log_variance\] of "
     r"shape \(None, 3\), for latent_dim=3. Received: \(None, 4\)"),
    (lambda: CVAE(latent_dim=LATENT, encoder=keras.Model(*_with_sampled_z())),
     r"Expected `encoder` outputs .* Received: \[\(None, 2\), \(None, 2\), \(None, 2\)\]"),
    (lambda: CVAE(latent_dim=LATENT, image_shape=(32, 32, 1), encoder=keras_io_encoder()),
     r"Expected `encoder` to take images of shape \(None, 32, 32, 1\). Received: a network that fails on them"),
    (lambda: CVAE(latent_dim=LATENT, decoder=keras_io_decoder(latent_dim=3)),
     r"Expected `decoder` to take latents of shape \(None, 2\)"),
    (lambda: CVAE(encoder=lambda x: x),
     r"Expected `encoder` to be a keras.Model .* Received: encoder of type function"),
    (lambda: IWAE(k=2, stochastic_layers=2, decoder=keras_io_decoder()),
     r"Expected stochastic_layers=1 with your own `encoder`/`decoder` .* Received: stochastic_layers=2"),
], ids=["decoder-flat", "encoder-width", "encoder-three-outputs", "encoder-input", "decoder-input", "not-a-model",
        "iwae-two-layers"])
def test_networks_of_the_wrong_shape_are_refused_with_both_shapes(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _with_sampled_z():
    """keras.io's encoder as published, z included: (inputs, [z_mean, z_log_var, z])."""
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Dense(4)(keras.layers.Flatten()(inputs))
    return inputs, [keras.layers.Dense(LATENT)(h), keras.layers.Dense(LATENT)(h), keras.layers.Dense(LATENT)(h)]


@pytest.mark.parametrize("gradient", ["iwae", "dreg"])
def test_iwae_trains_saves_and_serves_with_user_networks(binary_images, tmp_path, gradient):
    encoder = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(2 * 3)], name="enc")
    decoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(32, activation="tanh"),
                                keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))], name="dec")
    model = IWAE(k=4, latent_dim=3, encoder=encoder, decoder=decoder, gradient=gradient, seed=0)
    assert model.encoder is encoder and model.decoder is decoder
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [v.numpy().copy() for v in encoder.trainable_variables]
    history = model.fit(binary_images[:128], epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["iwae_bound"]).all()
    assert any(not np.array_equal(a, v.numpy()) for a, v in zip(before, encoder.trainable_variables))
    model.save(tmp_path / "iwae.keras")
    loaded = keras.saving.load_model(tmp_path / "iwae.keras")
    assert _plain(loaded.get_config()) == _plain(model.get_config())
    _same_outputs(model, loaded, binary_images[:4])
    x = binary_images[:4]
    np.testing.assert_array_equal(model.log_importance_weights(x, 3, seed=5).numpy(),
                                  loaded.log_importance_weights(x, 3, seed=5).numpy())


def test_constant_networks_give_the_closed_form_bound(binary_images):
    """q(z|x) = p(z) = N(0, I) and logits b whatever z: log w = log p(x) = sum_d x_d b_d - softplus(b_d)
    for every sample, so the ELBO and the IWAE bound equal it exactly, for any k."""
    zeros = keras.initializers.Zeros()
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    encoder = keras.Model(inputs, [keras.layers.Dense(LATENT, kernel_initializer=zeros)(flat),
                                   keras.layers.Dense(LATENT, kernel_initializer=zeros)(flat)])
    bias = np.random.default_rng(0).normal(size=784).astype("float32")
    decoder = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(
        784, kernel_initializer=zeros, bias_initializer=keras.initializers.Constant(bias)),
        keras.layers.Reshape((28, 28, 1))])
    x = binary_images[:16]
    flat_x = x.reshape(16, -1).astype(np.float64)
    b = bias.astype(np.float64)
    log_px = flat_x @ b - np.logaddexp(0.0, b).sum()
    iwae = IWAE(k=7, latent_dim=LATENT, encoder=encoder, decoder=decoder, seed=0)
    terms = iwae.per_example_terms(tf.constant(x), training=False)
    np.testing.assert_allclose(terms["iwae_bound"], log_px, rtol=1e-5)
    np.testing.assert_allclose(terms["elbo"], log_px, rtol=1e-5)
    cvae = CVAE(latent_dim=LATENT, encoder=encoder, decoder=decoder, kl="sample", seed=0)
    terms = cvae.per_example_terms(tf.constant(x), training=False)
    np.testing.assert_allclose(terms["elbo"], log_px, rtol=1e-5)
    np.testing.assert_allclose(terms["kl"], 0.0, atol=1e-6)
    np.testing.assert_allclose(objectives.iwae_bound(iwae.log_importance_weights(tf.constant(x), 50), axis=0),
                               log_px, rtol=1e-5)
