"""Catalogue cases: models' prediction inputs and options, calibration options, flags and the UCI protocol (audit 9).

Each is refused with what was expected and what was received, before any
prediction that the option would have wasted (`Unasked` fails a case that
predicts first).
"""

import types

import keras
import numpy as np
import tensorflow as tf
from _bad_inputs.common import (
    Case,
    bnn_classifier,
    cvae,
    ensemble,
    features,
    iwae,
    mc_classifier,
    mc_dropout,
    targets,
)

import tfvb
from tfvb import calibrate, data
from tfvb.calibrate.sets import ConformalClassifier
from tfvb.models import MCDropoutClassifier, MCDropoutRegressor
from tfvb.uci_protocol import Protocol


class Unasked:
    """A classifier that must not be asked: the calibration checks its options before predicting."""

    def predict_uncertainty(self, x, samples=None, seed=None):
        raise AssertionError("predicted before checking the options")


def built(model, x):
    model(x)
    return model


def bnn(e):
    """A small BNNClassifier built on 28x28x1 images (untrained: the checks come before any draw)."""
    return built(bnn_classifier(num_examples=8), e.images[:1])


def mc_regressor():
    return mc_dropout().adapt(features(), targets())


def mc_images(e, **kwargs):
    """An MC-dropout classifier adapted on (N, 28, 28, 1) images: an MLP, or LeNet with architecture='lenet'."""
    return mc_classifier(**kwargs).adapt(e.images[:8], e.labels[:8])


def flipout_net():
    """A Keras Sequential with a tfvb layer, for `tfvb.predict_uncertainty` (the graph sampler's path)."""
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                            tfvb.layers.DenseFlipout(10, num_examples=8, seed=1)])
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return net


def images_dataset(e):
    return tf.data.Dataset.from_tensor_slices(e.images[:4]).batch(2)


def uci_data():
    """What `Protocol.of` reads of a UCI folder."""
    return types.SimpleNamespace(n_epochs=1, dropout_rates=(0.01, 0.05), tau_values=(0.1, 1.0))


def protocol(**kwargs):
    return Protocol.of(uci_data(), **{"epochs": 1, "samples": 2, **kwargs})


def calibration_split(n=40, classes=4):
    return np.zeros((n, 3), np.float32), np.arange(n) % classes


PROBS = np.random.default_rng(0).dirichlet(np.ones(4), size=40)
FLAG = r"Expected `{}` to be True or False"
ARRAYS = r"Expected `x` as an array \(or tensor\) of inputs for `{}`"
PASS_ARRAYS = r"Received: {}; pass the arrays the dataset holds"
SEED = r"Expected `seed` to be None, an integer or a pair of integers"
BOUNDS = r"Expected `bounds` = \(T_min, T_max\) with 0 < T_min < T_max"

CASES = [
    # an empty batch where the mean of the images is taken
    Case("empty data", "initialize_output_bias_of_0_images", lambda e: iwae().initialize_output_bias(e.images[:0]),
         ValueError, "Expected at least one image", "Received: 0 images"),
    Case("empty data", "mc_dropout_predict_uncertainty_0_rows",
         lambda e: mc_regressor().predict_uncertainty(features(0), samples=2), ValueError,
         "Expected at least one input", r"Received: inputs.shape=\(0, 3\)"),
    Case("empty data", "mc_classifier_predict_samples_0_images",
         lambda e: mc_images(e).predict_samples(e.images[:0], samples=2), ValueError,
         "Expected at least one input", r"Received: inputs.shape=\(0, 28, 28, 1\)"),
    # boolean options given as strings or numbers ("False" was True)
    Case("non-boolean flag", "mc_dropout_heteroscedastic_string", lambda e: mc_dropout(heteroscedastic="False"),
         ValueError, FLAG.format("heteroscedastic"), "Received: heteroscedastic='False'"),
    Case("non-boolean flag", "mc_dropout_concrete_string",
         lambda e: MCDropoutRegressor(concrete="no", heteroscedastic=True), ValueError, FLAG.format("concrete"),
         "Received: concrete='no'"),
    Case("non-boolean flag", "mc_classifier_concrete_1", lambda e: MCDropoutClassifier(10, concrete=1), ValueError,
         FLAG.format("concrete"), "Received: concrete=1"),
    Case("non-boolean flag", "conformal_sets_randomized_string",
         lambda e: calibrate.conformal_sets(Unasked(), *calibration_split(), randomized="False"), ValueError,
         FLAG.format("randomized"), "Received: randomized='False'"),
    Case("non-boolean flag", "conformal_classifier_randomized_string",
         lambda e: ConformalClassifier(Unasked(), 0.5, randomized="yes"), ValueError, FLAG.format("randomized"),
         "Received: randomized='yes'"),
    Case("non-boolean flag", "set_scores_randomized_string", lambda e: calibrate.set_scores(PROBS, randomized="no"),
         ValueError, FLAG.format("randomized"), "Received: randomized='no'"),
    Case("non-boolean flag", "set_coverage_randomized_string",
         lambda e: calibrate.set_coverage({"mean": PROBS}, np.arange(40) % 4, randomized="no", splits=2), ValueError,
         FLAG.format("randomized"), "Received: randomized='no'"),
    Case("non-boolean flag", "interval_coverage_conformal_string",
         lambda e: calibrate.interval_coverage({"mean": np.zeros(40), "std": np.ones(40)}, np.zeros(40),
                                               conformal="no"),
         ValueError, FLAG.format("conformal"), "Received: conformal='no'"),
    Case("non-boolean flag", "image_dataset_shuffle_string",
         lambda e: data.image_dataset(e.images[:4], batch_size=2, shuffle="False"), ValueError,
         FLAG.format("shuffle"), "Received: shuffle='False'"),
    Case("non-boolean flag", "image_dataset_drop_remainder_1",
         lambda e: data.image_dataset(e.images[:4], batch_size=3, drop_remainder=1), ValueError,
         FLAG.format("drop_remainder"), "Received: drop_remainder=1"),
    Case("non-boolean flag", "mnist_shuffle_string", lambda e: data.mnist("test", shuffle="no"), ValueError,
         FLAG.format("shuffle"), "Received: shuffle='no'"),
    Case("non-boolean flag", "ensemble_fit_shuffle_string",
         lambda e: ensemble().fit(e.images[:4], e.labels[:4], shuffle="False", verbose=0), ValueError,
         FLAG.format("shuffle"), "Received: shuffle='False'"),
    Case("non-boolean flag", "vae_decode_apply_sigmoid_string",
         lambda e: cvae().decode(np.zeros((1, 2), np.float32), apply_sigmoid="yes"), ValueError,
         FLAG.format("apply_sigmoid"), "Received: apply_sigmoid='yes'"),
    Case("non-boolean flag", "predict_uncertainty_mc_dropout_string_for_a_tfvb_model",
         lambda e: tfvb.predict_uncertainty(bnn(e), e.images[:2], samples=2, mc_dropout="False"), ValueError,
         FLAG.format("mc_dropout"), "Received: mc_dropout='False'"),
    # datasets and generators where the Monte Carlo predictions need arrays
    Case("dataset where arrays are needed", "bnn_predict_uncertainty_of_a_dataset",
         lambda e: bnn(e).predict_uncertainty(images_dataset(e), samples=2), ValueError,
         ARRAYS.format("predict_uncertainty"), PASS_ARRAYS.format("_BatchDataset")),
    Case("dataset where arrays are needed", "mc_classifier_predict_samples_of_a_dataset",
         lambda e: mc_images(e).predict_samples(images_dataset(e), samples=2), ValueError,
         ARRAYS.format("predict_samples"), PASS_ARRAYS.format("_BatchDataset")),
    Case("dataset where arrays are needed", "ensemble_predict_uncertainty_of_a_dataset",
         lambda e: ensemble().predict_uncertainty(images_dataset(e)), ValueError,
         ARRAYS.format("predict_uncertainty"), PASS_ARRAYS.format("_BatchDataset")),
    Case("dataset where arrays are needed", "vae_predict_uncertainty_of_a_dataset",
         lambda e: cvae().predict_uncertainty(images_dataset(e), samples=2), ValueError,
         ARRAYS.format("predict_uncertainty"), PASS_ARRAYS.format("_BatchDataset")),
    Case("dataset where arrays are needed", "keras_model_predict_uncertainty_of_a_dataset",
         lambda e: tfvb.predict_uncertainty(flipout_net(), images_dataset(e), samples=2), ValueError,
         ARRAYS.format("predict_uncertainty"), PASS_ARRAYS.format("_BatchDataset")),
    Case("dataset where arrays are needed", "keras_model_predict_samples_of_a_generator",
         lambda e: tfvb.predict_samples(flipout_net(), (x for x in e.images[:2]), samples=2), ValueError,
         ARRAYS.format("predict_samples"), PASS_ARRAYS.format("generator")),
    # seeds that are not integers (1.5 was seed 1, True seed 1) or out of int64's range
    *[Case("bad seed", f"bnn_predict_uncertainty_seed_{name}",
           lambda e, seed=seed: bnn(e).predict_uncertainty(e.images[:2], samples=2, seed=seed), ValueError, SEED,
           rf"Received: seed={received}")
      for name, seed, received in (("1.5", 1.5, r"1\.5"), ("True", True, "True"), ("string", "42", "'42'"),
                                   ("triple", (1, 2, 3), r"\(1, 2, 3\)"), ("nan", float("nan"), "nan"),
                                   ("2**70", 2**70, r"1180591620717411303424 \(beyond int64's range\)"))],
    Case("bad seed", "mc_dropout_predict_samples_seed_float",
         lambda e: mc_regressor().predict_samples(features(2), samples=2, seed=1.99), ValueError, SEED,
         r"Received: seed=1\.99"),
    Case("bad seed", "mc_dropout_call_seed_pair_of_floats",
         lambda e: mc_regressor()(features(2), seed=(1.0, 2.0)), ValueError, SEED, r"Received: seed=\(1\.0, 2\.0\)"),
    Case("bad seed", "keras_model_predict_uncertainty_seed_string",
         lambda e: tfvb.predict_uncertainty(flipout_net(), e.images[:2], samples=2, seed="x"), ValueError, SEED,
         "Received: seed='x'"),
    Case("bad seed", "vae_sample_seed_float", lambda e: cvae().sample(2, seed=0.5), ValueError, SEED,
         r"Received: seed=0\.5"),
    Case("bad seed", "ensemble_predict_uncertainty_seed_float",
         lambda e: ensemble().predict_uncertainty(e.images[:2], seed=2.5), ValueError, SEED, r"Received: seed=2\.5"),
    # MC dropout: 784 values in another layout were re-read as 28x28 digits
    Case("input of another layout", "mc_classifier_56x14_images",
         lambda e: mc_images(e).predict_uncertainty(e.images[:2].reshape(2, 56, 14), samples=2), ValueError,
         r"Expected `inputs` with 784 features, one example of shape \(28, 28, 1\) or \(784,\) or \(28, 28\)",
         r"Received: inputs.shape=\(2, 56, 14\)"),
    Case("input of another layout", "lenet_14x14x4_images",
         lambda e: mc_images(e, architecture="lenet").predict_uncertainty(e.images[:2].reshape(2, 14, 14, 4),
                                                                          samples=2),
         ValueError, r"Expected `inputs` with 784 features, one example of shape .*\(28, 28, 1\)",
         r"Received: inputs.shape=\(2, 14, 14, 4\)"),
    Case("input of another layout", "mc_classifier_refit_on_56x14_images",
         lambda e: mc_images(e).fit(e.images[:8].reshape(8, 56, 14), e.labels[:8], verbose=0), ValueError,
         r"Expected `x` with 784 features, one example of shape \(28, 28, 1\)", r"Received: x.shape=\(8, 56, 14\)"),
    Case("input of another layout", "mc_regressor_given_3x2_for_2x3",
         lambda e: mc_dropout().adapt(features(8, 6).reshape(8, 2, 3), targets()).predict_samples(
             features(2, 6).reshape(2, 3, 2), samples=2),
         ValueError, r"Expected `inputs` with 6 features, one example of shape \(2, 3\) or \(6,\)",
         r"Received: inputs.shape=\(2, 3, 2\)"),
    # one image without its batch axis: the error showed (28, 28, 1, 1)
    Case("single image without batch axis", "bnn_one_unbatched_image",
         lambda e: bnn(e).predict_uncertainty(e.images[0], samples=2), ValueError,
         r"Expected `inputs` of shape \(None, 28, 28, 1\)",
         r"Received: inputs.shape=\(28, 28, 1\) \(one image: add a batch axis: x\[None\]\)"),
    Case("single image without batch axis", "vae_encode_one_unbatched_image", lambda e: cvae().encode(e.images[0]),
         ValueError, r"Expected `inputs` of shape \(None, 28, 28, 1\)",
         r"Received: inputs.shape=\(28, 28, 1\) \(one image: add a batch axis"),
    # task= contradicting a tfvb model, or a typo
    Case("task contradicting the model", "predict_uncertainty_regression_task_for_a_classifier",
         lambda e: tfvb.predict_uncertainty(bnn(e), e.images[:2], samples=2, task="regression"), ValueError,
         r"Expected `task` to be None or 'classification', the task of the BNNClassifier",
         "Received: task='regression'"),
    Case("task contradicting the model", "predict_uncertainty_classification_task_for_a_regressor",
         lambda e: tfvb.predict_uncertainty(mc_regressor(), features(2), samples=2, task="classification"),
         ValueError, r"Expected `task` to be None or 'regression', the task of the MCDropoutRegressor",
         "Received: task='classification'"),
    Case("task contradicting the model", "predict_uncertainty_task_typo_for_a_tfvb_model",
         lambda e: tfvb.predict_uncertainty(bnn(e), e.images[:2], samples=2, task="clf"), ValueError,
         r"Expected `task` to be one of \['classification', 'regression', None\]", "Received: task='clf'"),
    # calibration options: checked before the calibration split is predicted
    Case("bad calibration options", "conformal_sets_unknown_score",
         lambda e: calibrate.conformal_sets(Unasked(), *calibration_split(), score="lac"), ValueError,
         r"Expected `score` to be one of \['aps', 'raps'\]", "Received: score='lac'"),
    Case("bad calibration options", "conformal_sets_negative_lam",
         lambda e: calibrate.conformal_sets(Unasked(), *calibration_split(), score="raps", lam=-1), ValueError,
         "Expected `lam` to be a non-negative finite number", "Received: lam=-1"),
    Case("bad calibration options", "conformal_sets_fractional_k_reg",
         lambda e: calibrate.conformal_sets(Unasked(), *calibration_split(), score="raps", k_reg=1.5), ValueError,
         "Expected `k_reg` to be a non-negative integer", r"Received: k_reg=1\.5"),
    Case("bad calibration options", "conformal_sets_float_seed",
         lambda e: calibrate.conformal_sets(Unasked(), *calibration_split(), seed=1.5), ValueError,
         "Expected `seed` to be None or an integer", r"Received: seed=1\.5"),
    Case("bad calibration options", "temperature_scale_float_seed",
         lambda e: calibrate.temperature_scale(Unasked(), *calibration_split(), seed=1.5), ValueError,
         "Expected `seed` to be None or an integer", r"Received: seed=1\.5"),
    Case("bad calibration options", "temperature_scale_zero_samples",
         lambda e: calibrate.temperature_scale(Unasked(), *calibration_split(), samples=0), ValueError,
         "Expected `samples` to be None or a positive integer", "Received: samples=0"),
    *[Case("bad calibration options", f"temperature_scale_bounds_{name}",
           lambda e, bounds=bounds: calibrate.temperature_scale(Unasked(), *calibration_split(), bounds=bounds),
           ValueError, BOUNDS, rf"Received: bounds={received}")
      for name, bounds, received in (("scalar", 5.0, r"5\.0"), ("one_value", (0.5,), r"\(0\.5,\)"),
                                     ("three_values", (0.1, 10.0, 0.01), r"\(0\.1, 10\.0, 0\.01\)"),
                                     ("reversed", (10.0, 1.0), r"\(10\.0, 1\.0\)"), ("zero", (0, 1), r"\(0, 1\)"),
                                     ("strings", "ab", "'ab'"), ("infinite", (1.0, np.inf), r"\(1\.0, inf\)"))],
    # Gal's UCI protocol: "25" was the grid (2.0, 5.0), seed 1.5 was 1, taus of a heteroscedastic run were dropped
    Case("bad protocol settings", "protocol_taus_string", lambda e: protocol(taus="25"), ValueError,
         "Expected `taus` to be a non-empty list of numbers positive and finite", "Received: taus='25'"),
    Case("bad protocol settings", "protocol_dropout_rates_of_strings", lambda e: protocol(dropout_rates=["0.1"]),
         ValueError, r"Expected `dropout_rates` to be a non-empty list of numbers in \(0, 1\)",
         r"Received: dropout_rates=\['0.1'\]"),
    Case("bad protocol settings", "protocol_float_seed", lambda e: protocol(seed=1.5), ValueError,
         "Expected `seed` to be an integer", r"Received: seed=1\.5"),
    Case("bad protocol settings", "protocol_string_seed", lambda e: protocol(seed="a"), ValueError,
         "Expected `seed` to be an integer", "Received: seed='a'"),
    *[Case("bad protocol settings", f"protocol_taus_for_the_{variant}_variant",
           lambda e, variant=variant: protocol(variant=variant, taus=[0.1]), ValueError,
           rf"Expected taus=None for variant='{variant}': its network predicts the noise variance",
           r"Received: taus=\[0.1\]")
      for variant in ("heteroscedastic", "concrete")],
]
