"""What the models, calibration, flags and UCI settings still accept, next to what they now refuse
(tests/_bad_inputs/refusal_cases, run by tests/test_bad_inputs.py)."""

import warnings

import numpy as np
import pytest
import tensorflow as tf
from _bad_inputs import refusal_cases
from _bad_inputs.common import bnn_classifier, cvae, features, mc_classifier, mc_dropout, targets

import tfvb
from tfvb import _checks, calibrate, randomness
from tfvb.models import MCDropoutRegressor


# -- boolean flags --------------------------------------------------------------------------------------
def test_boolean_takes_python_and_numpy_bools_only():
    assert _checks.boolean("flag", np.True_) is True and _checks.boolean("flag", False) is False
    for value in ("True", 1, 0, None, np.array([True])):
        with pytest.raises(ValueError, match=r"Expected `flag` to be True or False\. Received: flag="):
            _checks.boolean("flag", value)


def test_numpy_bools_still_set_the_flags(binary_images):
    model = MCDropoutRegressor(hidden_units=(4,), heteroscedastic=np.True_, concrete=np.False_)
    assert model.heteroscedastic is True and model.concrete is False
    assert model.get_config()["heteroscedastic"] is True  # a plain bool in the saved config
    sets = calibrate.conformal_sets(_Lookup(), *refusal_cases.calibration_split(), randomized=np.False_)
    assert sets.randomized is False
    ds = tfvb.data.image_dataset(binary_images[:4], batch_size=4, shuffle=np.False_, binarize=None)
    np.testing.assert_array_equal(next(iter(ds)).numpy(), binary_images[:4])


class _Lookup:
    """A classifier predicting fixed class probabilities for 40 rows."""

    def predict_uncertainty(self, x, samples=None, seed=None):
        return {"mean": refusal_cases.PROBS[: len(x)]}


# -- MC dropout: the example shapes it takes ------------------------------------------------------------
def test_mlp_classifier_takes_flat_rows_and_its_image_shape(mnist_sample):
    images, labels = mnist_sample[0][:8], mnist_sample[1][:8]
    for fitted_on in (images, images.reshape(8, -1)):  # trained on images, or on flat rows
        model = mc_classifier().adapt(fitted_on, labels)
        want = model.predict_samples(images[:3], samples=2, seed=5)
        for x in (images[:3].reshape(3, 784), images[:3, ..., 0]):  # flat rows, (N, 28, 28) for one channel
            np.testing.assert_array_equal(model.predict_samples(x, samples=2, seed=5), want)
        assert model.example_shapes()[0] == fitted_on.shape[1:]


def test_lenet_takes_images_and_flat_rows(mnist_sample):
    images, labels = mnist_sample[0][:8], mnist_sample[1][:8]
    model = mc_classifier(architecture="lenet").adapt(images, labels)
    want = model.predict_uncertainty(images[:2], samples=2, seed=1)["mean"]
    np.testing.assert_array_equal(model.predict_uncertainty(images[:2].reshape(2, -1), samples=2, seed=1)["mean"],
                                  want)


def test_regressor_takes_its_fitted_shape_and_flat_rows_but_not_an_image_shape():
    x = features(8, 6).reshape(8, 2, 3)
    model = mc_dropout().adapt(x, targets())
    assert model.example_shapes() == [(2, 3), (6,)]
    np.testing.assert_array_equal(model.predict_samples(x[:2], samples=2, seed=0)["mean"],
                                  model.predict_samples(x[:2].reshape(2, 6), samples=2, seed=0)["mean"])
    assert mc_dropout().adapt(features(8, 784), targets()).example_shapes() == [(784,)]  # no (28, 28, 1)


def test_a_regressor_fitted_on_flat_rows_still_trains_and_predicts():
    model = mc_dropout()
    model.fit(features(16), targets(16), batch_size=8, epochs=1, verbose=0)
    assert model.predict_uncertainty(features(2), samples=3, seed=0)["mean"].shape == (2,)


# -- seeds --------------------------------------------------------------------------------------------
def test_numpy_integer_seeds_and_pairs_give_the_same_draws(mnist_sample):
    x = mnist_sample[0][:2]
    model = bnn_classifier(num_examples=8)
    model(x)
    want = model.predict_samples(x, samples=2, seed=3)
    for seed in (np.int64(3), np.int32(3), (3, 0), (np.int64(3), np.uint8(0)), np.array([3, 0]), np.array(3)):
        np.testing.assert_array_equal(model.predict_samples(x, samples=2, seed=seed), want)
    regressor = mc_dropout().adapt(features(), targets())
    np.testing.assert_array_equal(regressor.predict_samples(features(2), samples=2, seed=np.int64(4))["mean"],
                                  regressor.predict_samples(features(2), samples=2, seed=4)["mean"])


def test_tensor_seeds_still_work_in_graphs_and_eagerly():
    @tf.function
    def pair(seed):
        return randomness.seed_tensor(seed)

    np.testing.assert_array_equal(pair(tf.constant(7, tf.int64)), [7, 0])
    np.testing.assert_array_equal(pair(tf.constant([7, 8], tf.int32)), [7, 8])
    np.testing.assert_array_equal(randomness.seed_tensor(tf.constant([1, 2])), [1, 2])
    model = cvae()
    logits = tf.function(lambda s: model.stateless_sample_logits(2, s))(tf.constant(5, tf.int64))
    np.testing.assert_array_equal(logits, model.stateless_sample_logits(2, tf.constant(5, tf.int64)))
    assert randomness.seed_pair(tf.constant([3, 4])) == (3, 4)  # eager tensors as pairs, as before


def test_check_seed_accepts_none_and_int64_extremes():
    for seed in (None, 0, -1, 2**63 - 1, -(2**63), (2**63 - 1, 0)):
        assert randomness.check_seed(seed) is seed
    with pytest.raises(ValueError, match="beyond int64's range"):
        randomness.check_seed(2**63)


# -- predict_uncertainty(task=...) --------------------------------------------------------------------------
def test_a_task_that_agrees_with_a_tfvb_model_is_accepted(mnist_sample):
    x = mnist_sample[0][:2]
    model = bnn_classifier(num_examples=8)
    model(x)
    u = tfvb.predict_uncertainty(model, x, samples=2, seed=0, task="classification")
    np.testing.assert_array_equal(u["mean"], model.predict_uncertainty(x, samples=2, seed=0)["mean"])
    regressor = mc_dropout().adapt(features(), targets())
    assert "variance" in tfvb.predict_uncertainty(regressor, features(2), samples=2, seed=0, task="regression")


# -- calibration ----------------------------------------------------------------------------------------------
def test_temperature_bounds_take_any_pair_of_positive_numbers():
    x, y = refusal_cases.calibration_split()
    for bounds in ([0.5, 2.0], (np.float32(0.5), np.int64(2)), np.array([0.5, 2.0])):
        with warnings.catch_warnings():  # random probabilities: T may run to a bound, which warns
            warnings.simplefilter("ignore", UserWarning)
            scaled = calibrate.temperature_scale(_Lookup(), x, y, bounds=bounds)
        assert 0.5 <= scaled.temperature <= 2.0 and scaled.seed == 0


# -- the images' mean, the UCI protocol ----------------------------------------------------------------------
def test_output_bias_from_one_image(binary_images):
    bias = cvae().initialize_output_bias(binary_images[:1])
    assert bias.shape == (1,) and np.isfinite(bias).all()


def test_protocol_still_takes_faithful_taus_numpy_grids_and_numpy_seeds():
    p = refusal_cases.protocol(taus=np.array([0.5, 2.0]), dropout_rates=[np.float32(0.25)], seed=np.int64(3))
    assert p.taus == (0.5, 2.0) and p.dropout_rates == (0.25,) and p.seed == 3 and type(p.seed) is int
    assert refusal_cases.protocol(variant="heteroscedastic").taus is None
