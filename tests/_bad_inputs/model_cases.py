"""Catalogue cases: model arguments, model methods on the wrong input or state, diverged training."""

import os

import keras
import numpy as np
from _bad_inputs.common import (
    INVALID,
    Case,
    bayesianized,
    bnn_classifier,
    bnn_regressor,
    cvae,
    diverging,
    ensemble,
    features,
    fitted_mc_dropout,
    iwae,
    mc_classifier,
    mc_dropout,
    poisoned,
    regression_dataset,
    targets,
)

from tfvb import callbacks, data, evaluate, layers, tuning
from tfvb.models import CVAE, IWAE

DIVERGED = callbacks.TrainingDivergedError
NON_FINITE = r"Received: NaN or inf in 1 of \d+ variables \(.*kernel"
UNBUILT = "Received: a model never fitted"


def far_too_fast():
    return keras.optimizers.SGD(1e6)


def big_targets(n=64):
    x = features(n)
    return x, (x.sum(axis=1) * 1e3).astype("float32")


CASES = [
    # counts and sizes
    Case("non-positive k / samples", "iwae_k_0", lambda e: IWAE(k=0), ValueError,
         "Expected `k` to be a positive integer", "Received: k=0"),
    Case("non-positive k / samples", "iwae_k_negative", lambda e: IWAE(k=-3), ValueError,
         "Expected `k` to be a positive integer", "Received: k=-3"),
    Case("non-positive k / samples", "iwae_k_not_an_integer", lambda e: IWAE(k=2.5), ValueError,
         "Expected `k` to be a positive integer", "Received: k=2.5"),
    Case("non-positive k / samples", "log_likelihood_k_0",
         lambda e: evaluate.log_likelihood(iwae(), e.images[:2], k=0), ValueError,
         "Expected `k` to be a positive integer", "Received: k=0"),
    Case("non-positive k / samples", "bnn_samples_0",
         lambda e: bnn_regressor(num_examples=8).predict_uncertainty(features(2), samples=0), ValueError,
         "Expected `samples` to be a positive integer", "Received: samples=0"),
    Case("non-positive k / samples", "mc_dropout_samples_negative",
         lambda e: fitted_mc_dropout().predict_uncertainty(features(2), samples=-1), ValueError,
         "Expected `samples` to be a positive integer", "Received: samples=-1"),
    Case("non-positive k / samples", "sample_0_images", lambda e: cvae().sample(0), ValueError,
         "Expected `n` to be a positive integer", "Received: n=0"),
    *[Case("dropout rate outside (0, 1)", f"dropout_rate_{p}", lambda e, p=p: mc_dropout(dropout_rate=p), ValueError,
           r"Expected `dropout_rate` to be a number in the open interval \(0, 1\)", rf"Received: dropout_rate={p}")
      for p in (0.0, 1.0, 1.5, -0.1)],
    *[Case("non-positive tau", f"tau_{t}", lambda e, t=t: mc_dropout(tau=t), ValueError,
           "Expected `tau` to be a positive finite number", rf"Received: tau={t}")
      for t in (0, -1.0, float("inf"))],
    Case("bad sizes and options", "latent_dim_0", lambda e: CVAE(latent_dim=0), ValueError,
         "Expected `latent_dim` to be a positive integer", "Received: latent_dim=0"),
    Case("bad sizes and options", "hidden_units_negative", lambda e: IWAE(hidden_units=(-5,)), ValueError,
         "Expected `hidden_units` to be a tuple of positive integers", r"Received: hidden_units=\(-5,\)"),
    Case("bad sizes and options", "image_shape_rank_2", lambda e: CVAE(image_shape=(28, 28)), ValueError,
         r"Expected `image_shape` \(H, W, C\)", r"Received: image_shape=\(28, 28\)"),
    Case("bad sizes and options", "image_side_not_divisible", lambda e: CVAE(image_shape=(30, 30, 1)), ValueError,
         "Expected image height and width divisible by 4", r"Received: image_shape=\(30, 30, 1\)"),
    Case("bad sizes and options", "negative_beta", lambda e: CVAE(beta=-1.0), ValueError,
         "Expected `beta` to be a non-negative finite number", "Received: beta=-1.0"),
    Case("bad sizes and options", "unknown_kl_estimator", lambda e: CVAE(kl="exact"), ValueError,
         r"Expected `kl` to be one of \['analytic', 'sample'\]", "Received: kl='exact'"),
    Case("bad sizes and options", "unknown_bnn_layer", lambda e: bnn_regressor(layer="dropout"), ValueError,
         r"Expected `layer` to be one of \['flipout', 'local_reparameterization', 'reparameterization'\]",
         "Received: layer='dropout'"),
    Case("bad sizes and options", "unknown_prior", lambda e: bnn_regressor(prior="laplace"), ValueError,
         r"Expected `prior` to be None, a tfvb.priors.Prior", "Received: prior='laplace'"),
    Case("bad sizes and options", "zero_posterior_sigma", lambda e: bnn_regressor(posterior_sigma_init=0.0),
         ValueError, "Expected `posterior_sigma_init` to be a positive finite number",
         "Received: posterior_sigma_init=0.0"),
    Case("bad sizes and options", "batch_size_0", lambda e: data.image_dataset(e.images[:4], batch_size=0),
         ValueError, "Expected `batch_size` to be a positive integer", "Received: batch_size=0"),
    Case("bad sizes and options", "unknown_binarization", lambda e: data.image_dataset(e.images[:4], binarize="yes"),
         ValueError, r"Expected `binarize` to be one of \['dynamic', 'fixed', None\]", "Received: binarize='yes'"),
    Case("bad sizes and options", "unknown_hyperparameter", lambda e: tuning.CVAEHyperModel(space={"latnet_dim": [2]}),
         ValueError, r"Expected hyperparameter names among \[", r"Received: \['latnet_dim'\]"),
    Case("bad sizes and options", "layer_num_examples_0", lambda e: layers.DenseFlipout(4, num_examples=0),
         ValueError, "Expected `num_examples` to be a positive integer", "Received: num_examples=0"),
    # what training needs
    Case("BNN without a dataset size", "bnn_fit_on_a_dataset_without_num_examples",
         lambda e: bnn_regressor().fit(regression_dataset(features(), targets()), verbose=0), ValueError,
         "Expected `num_examples` in the constructor, or `fit` on arrays", "Received: num_examples=None"),
    Case("missing targets", "bnn_fit_without_y", lambda e: bnn_regressor(num_examples=8).fit(features(), verbose=0),
         ValueError, r"Expected batches \(x, y\) with targets y", "Received: y=None"),
    Case("missing targets", "mc_dropout_fit_without_y", lambda e: mc_dropout().adapt(features()).fit(features(),
                                                                                                     verbose=0),
         ValueError, r"Expected \(x, y\) or \(x, y, sample_weight\) batches", "Received x only"),
    Case("missing targets", "mc_dropout_dataset_before_adapt",
         lambda e: mc_dropout().fit(regression_dataset(features(), targets()), verbose=0), ValueError,
         r"call `model.adapt\(x, y\)` on arrays before `fit` on a dataset", "Received: x of type"),
    # encode and decode
    Case("encode input checks", "encode_pixels_0_to_255", lambda e: cvae().encode(e.images[:2] * 255),
         INVALID, r"Expected `inputs` in \[0, 1\] for the Bernoulli likelihood", r"Received values outside \[0, 1\]"),
    Case("encode input checks", "encode_nan_image", lambda e: iwae().encode(np.full((2, 28, 28, 1), np.nan, "float32")),
         INVALID, r"Expected `inputs` to be finite", "Received a tensor containing NaN or inf"),
    Case("encode input checks", "encode_flat_vectors", lambda e: cvae().encode(e.images[:2].reshape(2, 784)),
         ValueError, r"Expected `inputs` of shape \(None, 28, 28, 1\)", r"Received: inputs.shape=\(2, 784\)"),
    Case("decode latent of the wrong size", "cvae_decode_3_of_2", lambda e: cvae().decode(np.zeros((4, 3), "float32")),
         ValueError, r"Expected `z` of shape \(\.\.\., 2\), latent_dim=2 values in its last axis",
         r"Received: z.shape=\(4, 3\)"),
    Case("decode latent of the wrong size", "iwae_decode_a_scalar", lambda e: iwae().decode(np.float32(0.5)),
         ValueError, r"Expected `z` of shape \(\.\.\., 2\)", r"Received: z.shape=\(\)"),
    Case("decode latent of the wrong size", "cvae_decode_nan", lambda e: cvae().decode(np.full((2, 2), np.nan)),
         INVALID, r"Expected `z` to be finite", "Received a tensor containing NaN or inf"),
    # a model that never saw data
    Case("unbuilt model", "bnn_regressor_predict_uncertainty_before_fit",
         lambda e: bnn_regressor(input_dim=None).predict_uncertainty(features(2), samples=2),
         ValueError, r"Expected a built BNNRegressor to predict_uncertainty", UNBUILT),
    Case("unbuilt model", "bnn_regressor_predict_before_fit",
         lambda e: bnn_regressor(input_dim=None).predict(features(2), verbose=0),
         ValueError, r"Expected a built BNNRegressor to predict", UNBUILT),
    Case("unbuilt model", "mc_dropout_export_before_fit", lambda e: mc_dropout().export(os.path.join(e.tmp, "s")),
         ValueError, r"Expected a built MCDropoutRegressor to export", UNBUILT),
    Case("unbuilt model", "mc_classifier_predict_uncertainty_before_fit",
         lambda e: mc_classifier().predict_uncertainty(e.images[:2], samples=2),
         ValueError, r"Expected a built MCDropoutClassifier to predict_uncertainty", UNBUILT),
    Case("unbuilt model", "mc_dropout_evaluate_before_fit",
         lambda e: mc_dropout().evaluate(features(), targets(), verbose=0),
         ValueError, r"Expected a built MCDropoutRegressor to evaluate", UNBUILT),
    # diverged training and what it leaves
    Case("diverged training", "bnn_regressor_sgd_1e6",
         lambda e: diverging(*big_targets(), bnn_regressor(optimizer=far_too_fast())),
         DIVERGED, "Expected a finite loss", r"Received: loss=(inf|nan)"),
    Case("diverged training", "mc_dropout_sgd_1e6",
         lambda e: diverging(*big_targets(), mc_dropout(optimizer=far_too_fast())),
         DIVERGED, "Expected a finite loss", r"Received: loss=(inf|nan)"),
    Case("diverged training", "cvae_sgd_1e4",
         lambda e: diverging(e.images[:64], None, cvae(optimizer=keras.optimizers.SGD(1e4))),
         DIVERGED, "Expected a finite loss", r"Received: loss=(inf|nan)"),
    Case("diverged training", "ensemble_sgd_1e6",
         lambda e: diverging(*big_targets(), ensemble("regression", optimizer=far_too_fast())),
         DIVERGED, "Expected a finite loss", r"Received: loss=(inf|nan)"),
    Case("diverged training", "bayesianized_sgd_1e6",
         lambda e: diverging(e.images[:64], e.labels[:64], bayesianized(optimizer=far_too_fast())),
         DIVERGED, "Expected a finite loss", r"Received: loss=(inf|nan)"),
    Case("non-finite weights", "predict_uncertainty_of_a_nan_ensemble",
         lambda e: poisoned(ensemble()).predict_uncertainty(e.images[:2]),
         ValueError, "Expected finite weights to predict with DeepEnsemble", NON_FINITE),
    Case("non-finite weights", "save_a_nan_bayesianized_network",
         lambda e: poisoned(bayesianized()).save(os.path.join(e.tmp, "m.keras")),
         ValueError, "Expected finite weights to save BayesianNetwork", NON_FINITE),
    Case("non-finite weights", "save_a_nan_cvae", lambda e: poisoned(cvae()).save(os.path.join(e.tmp, "m.keras")),
         ValueError, "Expected finite weights to save CVAE", NON_FINITE),
    Case("non-finite weights", "save_weights_of_a_nan_iwae",
         lambda e: poisoned(iwae()).save_weights(os.path.join(e.tmp, "m.weights.h5")),
         ValueError, "Expected finite weights to save the weights of IWAE", NON_FINITE),
    Case("non-finite weights", "export_a_nan_bnn", lambda e: poisoned(bnn_regressor()).export(os.path.join(e.tmp, "s")),
         ValueError, "Expected finite weights to export BNNRegressor", NON_FINITE),
    Case("non-finite weights", "predict_with_a_nan_cvae", lambda e: poisoned(cvae()).predict(e.images[:2], verbose=0),
         ValueError, "Expected finite weights to predict with CVAE", NON_FINITE),
    Case("non-finite weights", "sample_from_a_nan_cvae", lambda e: poisoned(cvae()).sample(2),
         ValueError, "Expected finite weights to sample from CVAE", NON_FINITE),
    Case("non-finite weights", "predict_uncertainty_of_a_nan_bnn",
         lambda e: poisoned(bnn_classifier()).predict_uncertainty(e.images[:2], samples=2),
         ValueError, "Expected finite weights to predict with BNNClassifier", NON_FINITE),
    Case("non-finite weights", "predict_uncertainty_of_a_nan_mc_dropout",
         lambda e: poisoned(fitted_mc_dropout()).predict_uncertainty(features(2), samples=2),
         ValueError, "Expected finite weights to predict with MCDropoutRegressor", NON_FINITE),
    Case("non-finite weights", "log_likelihood_of_a_nan_iwae",
         lambda e: evaluate.log_likelihood(poisoned(iwae()), e.images[:2], k=2, verbose=0),
         ValueError, r"Expected finite weights to estimate log p\(x\) with IWAE", NON_FINITE),
]
