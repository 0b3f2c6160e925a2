"""What the evaluation and objective helpers now accept, next to what they refuse (tests/_bad_inputs/evaluate_cases)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvb
from tfvb import evaluate, objectives
from tfvb.evaluate import likelihood, shift
from tfvb.models import IWAE


@pytest.fixture(scope="module")
def iwae():
    model = IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=1)
    model(np.zeros((1, 28, 28, 1), np.float32))
    return model


def _all_images(data):
    return likelihood._all_images(data, (28, 28, 1))


def test_lists_of_images_or_batches_keep_every_image_and_labels_are_still_dropped(binary_images):
    x = binary_images[:6]
    for n in (1, 2, 3, 4):  # 2 and 3 single images were read as (images, labels)
        np.testing.assert_array_equal(_all_images([x[i] for i in range(n)]), x[:n])
    np.testing.assert_array_equal(_all_images([x[i, ..., 0] for i in range(2)]), x[:2])  # (28, 28) images
    np.testing.assert_array_equal(_all_images((x[:4], x[4:])), x)  # two batches: all 6, not the first 4
    np.testing.assert_array_equal(_all_images((x[:3], x[3:, ..., 0], x[:1])), np.concatenate([x, x[:1]]))
    labels, one_hot, weights = np.arange(6), np.eye(10)[np.arange(6)], np.ones(6)
    for data in ((x, labels), (x, one_hot), (x, labels, weights), [x, list(labels)], (x,)):
        np.testing.assert_array_equal(_all_images(data), x)


def test_a_tuple_of_two_batches_is_estimated_on_all_images(iwae, binary_images):
    x = binary_images[:6]
    both = evaluate.log_likelihood(iwae, (x[:2], x[2:]), k=3, batch_size=2, verbose=0, seed=1)
    whole = evaluate.log_likelihood(iwae, x, k=3, batch_size=2, verbose=0, seed=1)
    assert len(both.per_example) == 6
    np.testing.assert_allclose(both.per_example, whole.per_example, rtol=1e-6)


def test_numpy_integers_are_accepted_for_steps_seeds_and_orders(iwae, binary_images):
    x = binary_images[:3]
    a = evaluate.log_likelihood(iwae, x, k=4, method="jackknife", order=np.int64(1), batch_size=np.int32(2),
                                chunk=np.int64(2), seed=np.int64(3), verbose=0)
    b = evaluate.log_likelihood(iwae, x, k=4, method="jackknife", order=1, batch_size=2, chunk=2, seed=3, verbose=0)
    np.testing.assert_array_equal(a.per_example, b.per_example)
    assert evaluate.active_units(iwae, binary_images[:4], batch_size=np.int64(2))[1].shape == (2,)


def test_integer_log_weights_give_float_bounds():
    log_w = np.array([[1, 2], [3, 4], [5, 6]])
    as_float = log_w.astype(np.float32)
    got = objectives.jackknife_bound(log_w)  # was cast back to int: [4, 5] for [4.67, 5.67]
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got, objectives.jackknife_bound(as_float), rtol=1e-6)
    np.testing.assert_allclose(got, [4.671248, 5.671248], rtol=1e-6)
    np.testing.assert_allclose(objectives.iwae_bound(log_w), objectives.iwae_bound(as_float))
    assert objectives.log_mean_exp([1, 2, 3]).dtype == tf.float32
    assert objectives.jackknife_bound(np.zeros((3, 2)), order=np.int64(1), max_subsets=np.int64(5),
                                      seed=np.int64(0)).shape == (2,)


def test_bayesianize_takes_a_numpy_integer_seed():
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    net.compile("adam", "mse")
    a = tfvb.bayesianize(net, seed=np.int64(3))
    b = tfvb.bayesianize(net, seed=3)
    x = np.ones((2, 3), np.float32)
    draws = [m.predict_samples(x, samples=2, seed=1)["mean"] for m in (a, b)]
    np.testing.assert_array_equal(*draws)


class _Uniform:
    def predict_uncertainty(self, x, samples=None, seed=None):
        probs = np.full((len(x), 10), 0.1)
        entropy = np.full(len(x), np.log(10.0))
        return {"mean": probs, "entropy": entropy, "mutual_information": entropy / 2}


def test_one_angle_is_that_angle_alone(mnist_sample):
    x, y = mnist_sample[0][:4], mnist_sample[1][:4]
    assert shift.rotation_shift(_Uniform(), x, y, angles=90, samples=1)["angles"] == [90.0]
    assert shift.rotation_shift(_Uniform(), x, y, angles=np.array([0, 45]), samples=1)["angles"] == [0.0, 45.0]
    with pytest.raises(ValueError, match=r"Expected at least one angle"):
        shift.rotation_shift(_Uniform(), x, y, angles=[], samples=1)


def test_rotations_of_unit_range_images_stay_in_it_and_uint8_is_refused(mnist_sample):
    x = mnist_sample[0][:2]
    r = shift.rotate(x, 30)
    assert r.min() >= 0 and r.max() <= 1
    with pytest.raises(ValueError, match=r"Expected `images` in \[0, 1\].*Received: min=0, max=255"):
        shift.rotate((x * 255).astype(np.uint8), 0)  # angle 0 too: it was returned unchecked


def test_column_scores_are_squeezed():
    s_in, s_out = np.array([0.1, 0.2, 0.3]), np.array([0.25, 0.5])
    assert evaluate.ood_auroc(s_in[:, None], s_out[:, None]) == evaluate.ood_auroc(s_in, s_out)
    assert evaluate.ood_aupr(s_in[:, None], s_out) == evaluate.ood_aupr(s_in, s_out)
    with pytest.raises(ValueError, match=r"Received: scores_in.shape=\(1, 3\)"):
        evaluate.ood_auroc(s_in[None], s_out)


def test_conformal_quantile_takes_a_negative_or_numpy_axis():
    scores = np.arange(40.0).reshape(20, 2)
    np.testing.assert_array_equal(tfvb.calibrate.conformal_quantile(scores, axis=np.int64(0)),
                                  tfvb.calibrate.conformal_quantile(scores.T, axis=-1))
