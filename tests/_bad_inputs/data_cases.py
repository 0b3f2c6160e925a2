"""Catalogue cases: data of the wrong shape, values or container, refused where it is handed over."""

import numpy as np
import tensorflow as tf
from _bad_inputs.common import (
    INVALID,
    Case,
    bnn_classifier,
    bnn_regressor,
    cvae,
    features,
    fitted_mc_dropout,
    image_dataset,
    iwae,
    mc_dropout,
    regression_dataset,
    targets,
    with_pixel,
)

from tfvb import data, evaluate

SHAPE = r"Expected `inputs` of shape \(None, 28, 28, 1\)"
X_SHAPE = r"Expected `x` of shape \(None, 28, 28, 1\)"
FINITE, UNIT = r"Expected `inputs` to be finite", r"Expected `inputs` in \[0, 1\] for the Bernoulli likelihood"
FLOAT32 = r"Expected `{}` within float32's range"


def overflowing(n=8, d=3):
    x = features(n, d).astype("float64")
    x[0, 0] = 1e39
    return x


def two_fits(model, first, second):
    model.fit(first, targets(len(first)), epochs=1, verbose=0)
    return model.fit(second, targets(len(second)), epochs=1, verbose=0)


CASES = [
    # wrong rank or size
    Case("wrong rank", "vae_flat_vectors", lambda e: cvae().train_on_batch(e.images[:4].reshape(4, 784)),
         ValueError, SHAPE, r"Received: inputs.shape=\(4, 784\)"),
    Case("wrong rank", "mc_dropout_scalar_inputs", lambda e: mc_dropout().adapt(np.zeros(8), targets()),
         ValueError, r"Expected `x` of shape \(N, features...\)", r"Received: x.shape=\(8,\)"),
    Case("wrong size", "vae_32x32_images", lambda e: iwae().train_on_batch(np.zeros((4, 32, 32, 1), "float32")),
         ValueError, SHAPE, r"Received: inputs.shape=\(4, 32, 32, 1\)"),
    Case("wrong size", "vae_fit_on_32x32_images", lambda e: cvae().fit(np.zeros((4, 32, 32, 1), "float32"), verbose=0),
         ValueError, X_SHAPE, r"Received: x.shape=\(4, 32, 32, 1\)"),
    Case("wrong size", "bnn_classifier_27x28_images",
         lambda e: bnn_classifier().fit(np.zeros((8, 27, 28, 1), "float32"), e.labels[:8], verbose=0),
         ValueError, X_SHAPE, r"Received: x.shape=\(8, 27, 28, 1\)"),
    Case("wrong size", "bnn_regressor_4_features",
         lambda e: bnn_regressor(num_examples=8).predict_uncertainty(features(2, 4), samples=3),
         ValueError, r"Expected `inputs` of shape \(batch, 3\)", r"Received: inputs.shape=\(2, 4\)"),
    Case("wrong size", "mc_dropout_4_features", lambda e: fitted_mc_dropout().predict_uncertainty(features(2, 4)),
         ValueError, r"Expected `inputs` with 3 features", r"Received: inputs.shape=\(2, 4\)"),
    Case("wrong size", "bnn_two_target_columns",
         lambda e: bnn_regressor().fit(features(), np.zeros((8, 2), "float32"), verbose=0),
         ValueError, r"Expected `y` of shape \(N,\) or \(N, 1\)", r"Received: y.shape=\(8, 2\)"),
    Case("rows of x and y differ", "mc_dropout_7_targets_for_8_rows",
         lambda e: mc_dropout().fit(features(8), targets(7), verbose=0),
         ValueError, r"Expected `y` with 8 rows, one per example of `x`", r"Received: y.shape=\(7,\)"),
    Case("rows of x and y differ", "bnn_classifier_9_labels_for_8_images",
         lambda e: bnn_classifier().fit(e.images[:8], e.labels[:9], verbose=0),
         ValueError, r"Expected `y` with 8 rows, one per example of `x`", r"Received: y.shape=\(9,\)"),
    # a second fit on other data
    Case("second fit with other features", "bnn_regressor_3_then_4_features",
         lambda e: two_fits(bnn_regressor(input_dim=None), features(8, 3), features(8, 4)),
         ValueError, r"Expected `x` of shape \(batch, 3\)", r"Received: x.shape=\(8, 4\)"),
    Case("second fit with other features", "mc_dropout_3_then_4_features",
         lambda e: two_fits(mc_dropout(), features(8, 3), features(8, 4)),
         ValueError, r"Expected `x` with 3 features, as MCDropoutRegressor was built with",
         r"Received: x.shape=\(8, 4\)"),
    # NaN / inf in inputs
    Case("NaN/inf inputs", "vae_nan_pixel", lambda e: cvae().train_on_batch(with_pixel(e.images[:4], np.nan)),
         INVALID, FINITE, "Received a tensor containing NaN or inf"),
    Case("NaN/inf inputs", "vae_inf_pixel_evaluate",
         lambda e: iwae().evaluate(with_pixel(e.images[:4], np.inf), verbose=0),
         ValueError, r"Expected `x` to be finite", r"Received 1 NaN or inf values"),
    Case("NaN/inf inputs", "vae_nan_in_a_dataset",
         lambda e: cvae().fit(tf.data.Dataset.from_tensors(with_pixel(e.images[:4], np.nan)), verbose=0),
         INVALID, FINITE, "Received a tensor containing NaN or inf"),
    Case("NaN/inf inputs", "image_dataset_nan", lambda e: data.image_dataset(with_pixel(e.images[:4], np.nan)),
         ValueError, r"Expected `images` to be finite", r"Received 1 NaN or inf values"),
    Case("NaN/inf inputs", "mc_dropout_nan_features",
         lambda e: fitted_mc_dropout().predict_uncertainty(np.full((2, 3), np.nan, "float32")),
         ValueError, r"Expected `x` to be finite", r"Received 6 NaN or inf values"),
    Case("NaN/inf inputs", "bnn_nan_features_in_a_dataset",
         lambda e: bnn_regressor(num_examples=8).adapt(features(), targets()).fit(
             regression_dataset(np.full((8, 3), np.nan, "float32"), targets()), verbose=0),
         INVALID, r"Expected `(x|inputs)` to be finite", r"Received"),
    # NaN / inf in targets
    Case("NaN/inf targets", "bnn_nan_target",
         lambda e: bnn_regressor().fit(features(), targets(bad=np.nan), verbose=0),
         ValueError, r"Expected `y` to be finite", r"Received 1 NaN or inf values"),
    Case("NaN/inf targets", "mc_dropout_inf_target",
         lambda e: mc_dropout().fit(features(), targets(bad=np.inf), verbose=0),
         ValueError, r"Expected `y` to be finite", r"Received 1 NaN or inf values"),
    Case("NaN/inf targets", "mc_dropout_nan_target_in_a_dataset",
         lambda e: mc_dropout().adapt(features(), targets()).fit(regression_dataset(features(), targets(bad=np.nan)),
                                                                   verbose=0),
         INVALID, r"Expected `y` to be finite", "Received a tensor containing NaN or inf"),
    # finite float64 values a float32 model cannot hold
    Case("float64 beyond float32", "bnn_regressor_x_1e39", lambda e: bnn_regressor().fit(overflowing(), targets(),
                                                                                         verbose=0),
         ValueError, FLOAT32.format("x"), r"Received: max \|x\| = 1e\+39 \(float64\)"),
    Case("float64 beyond float32", "mc_dropout_y_1e39",
         lambda e: mc_dropout().fit(features(), targets().astype("float64") * 1e38, verbose=0),
         ValueError, FLOAT32.format("y"), r"Received: max \|y\| = 7e\+38 \(float64\)"),
    Case("float64 beyond float32", "bnn_predict_uncertainty_x_1e39",
         lambda e: bnn_regressor().predict_uncertainty(overflowing(2), samples=2),
         ValueError, FLOAT32.format("x"), r"Received: max \|x\| = 1e\+39"),
    # data outside the range of the likelihood
    Case("non-binary-range data", "vae_pixels_0_to_255", lambda e: cvae().fit(e.images[:4] * 255, verbose=0),
         INVALID, UNIT, r"Received values outside \[0, 1\]"),
    Case("non-binary-range data", "vae_negative_pixels", lambda e: iwae().predict(e.images[:4] - 0.5, verbose=0),
         INVALID, UNIT, r"Received values outside \[0, 1\]"),
    Case("non-binary-range data", "image_dataset_grey_values_above_1",
         lambda e: data.image_dataset(e.images[:4] * 2.0), ValueError, r"Expected grey values in \[0, 1\]",
         r"Received: min=0.0, max=2.0"),
    # empty data
    Case("empty data", "vae_fit_on_0_images", lambda e: cvae().fit(e.images[:0], verbose=0),
         ValueError, "Expected at least one example for `fit`", r"Received: x.shape=\(0, 28, 28, 1\)"),
    Case("empty data", "vae_fit_on_a_dataset_of_0_batches",
         lambda e: cvae().fit(tf.data.Dataset.from_tensor_slices(e.images[:0]).batch(8), verbose=0),
         ValueError, "Expected a non-empty dataset for `fit`", "Received: a dataset of 0 batches"),
    Case("empty data", "vae_fit_on_a_dataset_that_turns_out_empty",
         lambda e: cvae().fit(tf.data.Dataset.from_tensor_slices(e.images[:4]).filter(lambda x: False).batch(2),
                              verbose=0),
         ValueError, "Expected at least one batch of training data", "Received: a dataset that yielded no batch"),
    Case("empty data", "vae_evaluate_on_0_images", lambda e: iwae().evaluate(e.images[:0], verbose=0),
         ValueError, "Expected at least one example for `evaluate`", r"Received: x.shape=\(0, 28, 28, 1\)"),
    Case("empty data", "image_dataset_of_0_images", lambda e: data.image_dataset(e.images[:0]),
         ValueError, "Expected a non-empty set of images", "Received: 0 images"),
    Case("empty data", "log_likelihood_of_0_images",
         lambda e: evaluate.log_likelihood(iwae(), e.images[:0], k=2, verbose=0),
         ValueError, "Expected at least one image", "Received: 0 images"),
    Case("empty data", "mc_dropout_fit_on_0_rows", lambda e: mc_dropout().fit(features(0), targets(0), verbose=0),
         ValueError, "Expected at least one example for `fit`", r"Received: x.shape=\(0, 3\)"),
    Case("empty data", "bnn_fit_on_0_rows", lambda e: bnn_regressor().fit(features(0), targets(0), verbose=0),
         ValueError, "Expected at least one example for `fit`", r"Received: x.shape=\(0, 3\)"),
    # Python containers
    Case("Python lists", "vae_ragged_list", lambda e: cvae().fit([[0.0, 1.0], [0.0]], verbose=0),
         ValueError, r"Expected `x` to be an array, a tensor, or nested lists of numbers forming one array",
         "Received: a list of 2 items that is not one numeric array"),
    Case("Python lists", "bnn_list_of_strings", lambda e: bnn_regressor().fit([["a", "b", "c"]] * 8, targets(),
                                                                              verbose=0),
         ValueError, r"Expected `x` to be an array", "Received: a list of 8 items that is not one numeric array"),
    Case("dicts as inputs", "mc_dropout_dict_of_arrays",
         lambda e: mc_dropout().fit({"a": features()}, targets(), verbose=0),
         ValueError, r"Expected `x` to be an array or a tensor \(tfvb models take a single input\)",
         r"Received: a dict with keys \['a'\]"),
    Case("dicts as inputs", "vae_fit_on_tfds_style_dicts",
         lambda e: cvae().fit(tf.data.Dataset.from_tensor_slices({"image": e.images[:8], "label": e.labels[:8]})
                              .batch(4), verbose=0),
         ValueError, r"Expected a dataset of x, \(x,\), \(x, y\) or \(x, y, sample_weight\) batches for `fit`",
         r"Received: a dataset of dicts with keys \['image', 'label'\]; map it to tuples"),
    Case("dicts as inputs", "bnn_classifier_evaluate_on_dicts",
         lambda e: bnn_classifier(num_examples=8).evaluate(
             tf.data.Dataset.from_tensor_slices({"image": e.images[:8], "label": e.labels[:8]}).batch(4), verbose=0),
         ValueError, r"Expected a dataset of x, \(x,\), \(x, y\) or \(x, y, sample_weight\) batches for `evaluate`",
         r"Received: a dataset of dicts with keys \['image', 'label'\]"),
    Case("dicts as inputs", "mc_dropout_tuples_of_dicts",
         lambda e: mc_dropout().adapt(features(), targets()).fit(
             tf.data.Dataset.from_tensor_slices(({"f": features()}, targets())).batch(4), verbose=0),
         ValueError, r"Expected a dataset of x, \(x,\), \(x, y\)", r"Received: a dataset of dicts with keys \['f'\]"),
    # sample weights and class weights
    Case("bad sample weights", "vae_weights_of_another_length",
         lambda e: cvae().fit(e.images[:8], sample_weight=np.ones(7), verbose=0),
         ValueError, r"Expected `sample_weight` of shape \(8,\), one weight per example of `x`",
         r"Received: sample_weight.shape=\(7,\)"),
    Case("bad sample weights", "iwae_weights_of_another_length_evaluate",
         lambda e: iwae().evaluate(e.images[:8], sample_weight=np.ones(9), verbose=0),
         ValueError, r"Expected `sample_weight` of shape \(8,\)", r"Received: sample_weight.shape=\(9,\)"),
    Case("bad sample weights", "bnn_negative_weights",
         lambda e: bnn_regressor().fit(features(), targets(), sample_weight=-np.ones(8), verbose=0),
         ValueError, r"Expected `sample_weight` to be non-negative", r"Received: min=-1"),
    Case("bad sample weights", "mc_dropout_nan_weight",
         lambda e: mc_dropout().fit(features(), targets(), sample_weight=np.r_[np.nan, np.ones(7)], verbose=0),
         ValueError, r"Expected `sample_weight` to be finite", r"Received 1 NaN or inf values"),
    Case("bad sample weights", "vae_all_zero_weights",
         lambda e: cvae().fit(e.images[:8], sample_weight=np.zeros(8), verbose=0),
         ValueError, r"Expected `sample_weight` with a positive sum", r"Received: all zero"),
    Case("bad sample weights", "bnn_weights_per_output",
         lambda e: bnn_regressor().fit(features(), targets(), sample_weight=np.ones((8, 2)), verbose=0),
         ValueError, r"Expected `sample_weight` of shape \(8,\)", r"Received: sample_weight.shape=\(8, 2\)"),
    Case("bad sample weights", "bnn_negative_weight_in_a_dataset",
         lambda e: bnn_regressor(num_examples=8).adapt(features(), targets()).fit(
             regression_dataset(features(), targets(), 4, -np.ones(8)), verbose=0),
         INVALID, r"Expected `sample_weight` to be finite and non-negative", "Received a negative, NaN or inf value"),
    Case("class_weight without classes", "vae_class_weight",
         lambda e: cvae().fit(e.images[:8], class_weight={0: 1.0, 1: 2.0}, verbose=0),
         ValueError, r"Expected no `class_weight` for CVAE: it has no class labels",
         r"Received: class_weight=\{0: 1.0, 1: 2.0\}"),
    Case("class_weight without classes", "bnn_regressor_class_weight",
         lambda e: bnn_regressor().fit(features(), targets(), class_weight={0: 2.0}, verbose=0),
         ValueError, r"Expected no `class_weight` for BNNRegressor", r"Received: class_weight=\{0: 2.0\}"),
    Case("class_weight without classes", "mc_dropout_regressor_class_weight",
         lambda e: mc_dropout().fit(features(), targets(), class_weight={0: 2.0}, verbose=0),
         ValueError, r"Expected no `class_weight` for MCDropoutRegressor", r"Received: class_weight=\{0: 2.0\}"),
    Case("class_weight without classes", "vae_class_weight_on_a_dataset",
         lambda e: iwae().fit(image_dataset(e.images[:8], e.labels[:8]), class_weight={0: 2.0}, verbose=0),
         ValueError, r"Expected no `class_weight` for IWAE", r"Received: class_weight="),
]
