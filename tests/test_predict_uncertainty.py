"""`tfvb.predict_samples` / `tfvb.predict_uncertainty` on user-built Keras models, and the guards that keep a
TFP porter from zero uncertainty in silence (`model(x, num_samples=T)` refused, repeated posterior-mean
predictions warned about)."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvb
from tfvb.layers import Conv2DFlipout, DenseFlipout, DenseLocalReparameterization, DenseReparameterization


def _lenet_like(sigma=0.1, seed=0):
    return keras.Sequential([
        keras.Input((8, 8, 1)), Conv2DFlipout(3, 3, posterior_sigma_init=sigma, seed=seed),
        keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(), keras.layers.Dropout(0.5),
        keras.layers.Flatten(), DenseFlipout(4, posterior_sigma_init=sigma, seed=seed + 1)])


def _images(n=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 8, 8, 1)).astype("float32")


def _shift_batchnorm(model):
    bn = next(op for op in model.layers if isinstance(op, keras.layers.BatchNormalization))
    bn.moving_mean.assign(np.full(bn.moving_mean.shape, 0.7, "float32"))
    bn.moving_variance.assign(np.full(bn.moving_variance.shape, 3.0, "float32"))


def test_draws_of_a_sequential_model_are_reproducible_and_vary():
    model, x = _lenet_like(), _images()
    draws = tfvb.predict_samples(model, x, samples=7, seed=3)
    assert draws.shape == (7, 6, 4)
    assert draws.std(axis=0).min() > 0  # the weights are drawn: not the posterior mean seven times
    np.testing.assert_allclose(tfvb.predict_samples(model, x, samples=7, seed=3, batch_size=2), draws, atol=1e-5)
    assert not np.allclose(tfvb.predict_samples(model, x, samples=7, seed=4), draws)


def test_normalization_stays_in_inference_mode_and_dropout_off():
    # With a posterior of tiny scale every draw is the posterior-mean network: the draws then equal
    # model(x) (moving statistics, no dropout), not model(x, training=True) (batch statistics, dropout on).
    model, x = _lenet_like(sigma=1e-6), _images()
    _shift_batchnorm(model)
    draws = tfvb.predict_samples(model, x, samples=3, seed=0)
    np.testing.assert_allclose(draws, np.broadcast_to(model(x).numpy(), draws.shape), atol=1e-3)
    assert not np.allclose(draws[0], model(x, training=True).numpy(), atol=1e-2)
    dropped = tfvb.predict_samples(model, x, samples=3, seed=0, mc_dropout=True)
    assert not np.allclose(dropped, draws, atol=1e-2)  # MC dropout masks where asked
    np.testing.assert_array_equal(tfvb.predict_samples(model, x, samples=3, seed=0, mc_dropout=True), dropped)


def test_spatial_dropout_masks_come_from_the_seed_too():
    # SpatialDropout (a Dropout subclass) drew its masks from its own generator: the same seed gave other
    # draws. Its masks keep their shape: one entry per example and channel.
    x = np.random.default_rng(0).normal(size=(6, 4, 5)).astype("float32")
    model = keras.Sequential([keras.Input((4, 5)), keras.layers.SpatialDropout1D(0.5), keras.layers.Flatten(),
                              DenseFlipout(2, posterior_sigma_init=1e-6, seed=0)])
    a = tfvb.predict_samples(model, x, samples=4, seed=0, mc_dropout=True)
    np.testing.assert_array_equal(tfvb.predict_samples(model, x, samples=4, seed=0, mc_dropout=True), a)
    np.testing.assert_array_equal(tfvb.predict_samples(model, x, samples=4, seed=0, mc_dropout=True, batch_size=2),
                                  tfvb.predict_samples(model, x, samples=4, seed=0, mc_dropout=True, batch_size=2))
    assert not np.allclose(tfvb.predict_samples(model, x, samples=4, seed=1, mc_dropout=True), a)
    # A channel is dropped for all 4 time steps: with a one-channel input the pass is all or nothing.
    one = keras.Sequential([keras.Input((4, 1)), keras.layers.SpatialDropout1D(0.5), keras.layers.Flatten(),
                            DenseReparameterization(1, use_bias=False, posterior_sigma_init=1e-6, seed=0)])
    one.layers[-1].kernel_loc.assign(np.ones((4, 1), "float32"))
    draws = tfvb.predict_samples(one, np.ones((3, 4, 1), "float32"), samples=50, seed=2, mc_dropout=True)
    assert set(np.round(np.unique(draws), 3)) <= {0.0, 8.0}


def test_per_example_noise_is_not_repeated_from_chunk_to_chunk():
    # Local reparameterization's outputs and MC dropout's masks are drawn per example. The inputs run in
    # chunks of batch_size rows with one seed (so that draw t is one network for every chunk), and each
    # chunk drew the same noise: rows i and i + batch_size shared it. Now the chunk keys it too.
    x = np.tile(_images(3), (2, 1, 1, 1))  # rows i and i + 3 are the same image
    local = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              DenseLocalReparameterization(4, posterior_sigma_init=0.3, seed=0)])
    draws = tfvb.predict_samples(local, x, samples=5, seed=0, batch_size=3)
    assert not np.allclose(draws[:, :3], draws[:, 3:], atol=1e-3)
    # The first chunk draws what a call in one chunk draws (as before, and as a served model does).
    np.testing.assert_array_equal(draws[:, :3], tfvb.predict_samples(local, x[:3], samples=5, seed=0))
    np.testing.assert_array_equal(tfvb.predict_samples(local, x, samples=5, seed=0, batch_size=3), draws)
    dropped = tfvb.predict_samples(_lenet_like(sigma=1e-6), x, samples=5, seed=0, mc_dropout=True, batch_size=3)
    assert not np.allclose(dropped[:, :3], dropped[:, 3:], atol=1e-3)
    # Weight draws (Flipout's and reparameterization's kernels) stay one network per draw for every chunk.
    weights = tfvb.predict_samples(_lenet_like(), x, samples=5, seed=0, batch_size=3)
    np.testing.assert_allclose(weights[:, :3], weights[:, 3:], atol=1e-5)
    # The same in a tfvb model's own draws.
    bnn = tfvb.models.BNNClassifier(4, hidden_units=(8,), layer="local_reparameterization",
                                    posterior_sigma_init=0.3, image_shape=(8, 8, 1), seed=0)
    probs = bnn.predict_samples(x, samples=5, seed=0, batch_size=3)
    assert not np.allclose(probs[:, :3], probs[:, 3:], atol=1e-4)
    np.testing.assert_array_equal(probs[:, :3], bnn.predict_samples(x[:3], samples=5, seed=0))


def test_a_tfvb_layer_inside_a_wrapper_is_named():
    model = keras.Sequential([keras.Input((3, 5)), keras.layers.TimeDistributed(DenseFlipout(2, seed=0))])
    with pytest.raises(ValueError, match=r"Received: 'dense_flipout.*' inside the custom layer 'time_distributed"):
        tfvb.predict_samples(model, np.zeros((2, 3, 5), "float32"), samples=3)


def test_draws_match_the_posterior_moments():
    # A linear model y = x W: over the draws, Var[y_j] = sum_i x_i^2 sigma_ij^2 (within 4 standard errors).
    layer = DenseReparameterization(2, use_bias=False, posterior_sigma_init=0.5, seed=0)
    model = keras.Sequential([keras.Input((3,)), layer])
    x = np.array([[1.0, -2.0, 0.5]], "float32")
    t = 4000
    draws = tfvb.predict_samples(model, x, samples=t, seed=1)[:, 0, :]
    want_mean = x @ layer.kernel_loc.numpy()
    want_var = np.square(x) @ np.square(layer.kernel_scale.numpy())
    np.testing.assert_array_less(np.abs(draws.mean(0) - want_mean), 4 * np.sqrt(want_var / t))
    np.testing.assert_array_less(np.abs(draws.var(0) - want_var), 4 * want_var * np.sqrt(2 / t))


def test_functional_models_with_several_inputs_and_nested_models():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    inner = keras.Sequential([keras.Input((4,)), DenseLocalReparameterization(3, seed=2)])
    h = keras.layers.Concatenate()([inner(DenseFlipout(4, seed=1)(a)), b])
    model = keras.Model([a, b], [DenseFlipout(2, seed=3)(h), h])
    xa, xb = np.ones((5, 3), "float32"), np.zeros((5, 2), "float32")
    out, hidden = tfvb.predict_samples(model, [xa, xb], samples=4, seed=0)
    assert out.shape == (4, 5, 2) and hidden.shape == (4, 5, 5)
    assert hidden[..., :3].std(axis=0).min() > 0  # the nested model's layer is drawn too
    by_name = tfvb.predict_samples(model, {"a": xa, "b": xb}, samples=4, seed=0)
    np.testing.assert_array_equal(by_name[0], out)


def test_predict_uncertainty_names_for_classification_and_regression():
    model, x = _lenet_like(), _images()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    u = tfvb.predict_uncertainty(model, x, samples=20, seed=0)
    assert u["mean"].shape == (6, 4) and np.allclose(u["mean"].sum(-1), 1)
    assert u["mutual_information"].min() >= 0 and u["mutual_information"].max() > 0
    regressor = keras.Sequential([keras.Input((3,)), DenseFlipout(8, activation="relu", seed=0), DenseFlipout(1)])
    regressor.compile("adam", "mse")
    r = tfvb.predict_uncertainty(regressor, np.ones((4, 3), "float32"), samples=30, seed=0)
    assert r["mean"].shape == (4,) and r["epistemic"].min() > 0
    np.testing.assert_allclose(r["variance"], r["epistemic"])


def test_a_tfvb_model_is_handed_to_its_own_method(mnist_sample):
    images, labels = mnist_sample
    bnn = tfvb.models.BNNClassifier(10, hidden_units=(8,), num_examples=100, seed=0)
    got = tfvb.predict_uncertainty(bnn, images[:5], samples=4, seed=1)
    want = bnn.predict_uncertainty(images[:5], samples=4, seed=1)
    np.testing.assert_array_equal(got["mean"], want["mean"])


def test_models_that_cannot_be_sampled_are_refused():
    with pytest.raises(ValueError, match="at least one tfvb Bayesian layer"):
        tfvb.predict_samples(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), np.ones((2, 3)))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = DenseFlipout(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ValueError, match="subclassed model"):
        tfvb.predict_samples(Subclassed(), np.ones((2, 3)))
    with pytest.raises(ValueError, match="Expected input 'a' of shape"):
        tfvb.predict_samples(keras.Sequential([keras.Input((3,), name="a"), DenseFlipout(2)]), np.ones((2, 4)))


def test_num_samples_on_a_user_model_names_predict_uncertainty():
    model, x = _lenet_like(), _images()
    with pytest.raises(ValueError, match=r"tfvb.predict_uncertainty\(model, x, samples=3\)"):
        model(x, num_samples=3)
    assert DenseFlipout(2)(np.ones((4, 3), "float32"), num_samples=3).shape == (3, 4, 2)  # a layer by itself


def test_a_repeated_posterior_mean_prediction_warns_once():
    model, x = _lenet_like(), _images()
    model(x)
    model(_images(seed=1))  # other inputs: no warning
    with pytest.warns(UserWarning, match="tfvb.predict_uncertainty"):
        model(x)
        model(x)
    other = keras.Sequential([keras.Input((3,)), DenseFlipout(2, seed=0)])
    inputs = np.ones((4, 3), "float32")
    other.predict(inputs, verbose=0)
    with pytest.warns(UserWarning, match="ran `predict` again on the same inputs"):
        for _ in range(3):  # the TFP idiom: [model.predict(x) for _ in range(T)]
            other.predict(inputs, verbose=0)


def test_no_warning_within_one_call_or_after_training():
    # The time steps of one TimeDistributed call (two identical padded steps) are not a repeated prediction,
    # nor is a prediction on the same inputs after `fit` changed the weights.
    inputs = keras.Input((4,), dtype="int32")
    hidden = keras.layers.Embedding(10, 6, mask_zero=True)(inputs)
    model = keras.Model(inputs, keras.layers.TimeDistributed(DenseFlipout(5, seed=0))(hidden))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(np.array([[3, 4, 0, 0]]))
        dense = keras.Sequential([keras.Input((3,)), DenseFlipout(2, seed=0)])
        dense.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        x, y = np.ones((8, 3), "float32"), np.ones((8, 2), "float32")
        before = dense(x).numpy()
        dense.fit(x, y, epochs=1, verbose=0)
        assert not np.allclose(dense(x).numpy(), before)
        dense.predict(x, verbose=0)
        dense.fit(x, y, epochs=1, verbose=0)
        dense.predict(x, verbose=0)
    with pytest.warns(UserWarning, match="was called again on the same inputs"):  # nothing changed in between
        dense(x)
        dense(x)


def test_training_passes_do_not_warn():
    model, x = _lenet_like(), _images()
    for _ in range(3):
        model(x, training=True)
    assert tf.is_tensor(model(x))
