"""Catalogue cases: the evaluation and objective helpers' arguments (audit 9), refused before any work."""

import numpy as np
from _bad_inputs.common import Case, iwae, with_pixel

from tfvb import calibrate, evaluate, objectives, uci_protocol, zoo
from tfvb.evaluate import shift


class Unused:
    """A classifier that must not be asked: `rotation_shift` checks every argument before its first prediction."""

    def predict_uncertainty(self, x, samples=None, seed=None):
        raise AssertionError("rotation_shift predicted before checking its arguments")


def pixels_0_to_255(e, n=4):
    return (e.images[:n] * 255).astype(np.uint8)


def rotation_shift(e, **kwargs):
    kwargs = {"images": e.images[:4], "labels": e.labels[:4], "angles": [15], **kwargs}
    return evaluate.rotation_shift(Unused(), samples=1, **kwargs)


ANGLES = r"Expected `angles` to be one number or a list of finite numbers \(degrees\)"
PROBS = np.full((5, 10), 0.1)

CASES = [
    # the rotated-digits benchmark: 0-255 pixels were clipped to silhouettes and scored without an error
    Case("non-binary-range data", "rotation_shift_of_0_to_255_pixels",
         lambda e: rotation_shift(e, images=pixels_0_to_255(e)), ValueError,
         r"Expected `images` in \[0, 1\] \(scale pixels by 1/255\)", r"Received: min=0, max=255"),
    Case("non-binary-range data", "rotation_shift_ood_of_0_to_255_pixels",
         lambda e: rotation_shift(e, ood=pixels_0_to_255(e)), ValueError,
         r"Expected `ood` in \[0, 1\] \(scale pixels by 1/255\)", r"Received: min=0, max=255"),
    Case("non-binary-range data", "rotate_0_to_255_pixels", lambda e: shift.rotate(pixels_0_to_255(e), 15),
         ValueError, r"Expected `images` in \[0, 1\]", r"Received: min=0, max=255"),
    Case("NaN/inf inputs", "rotation_shift_nan_pixel", lambda e: rotation_shift(e, images=with_pixel(e.images[:4],
                                                                                                    np.nan)),
         ValueError, r"Expected `images` to be finite", r"Received 1 NaN or inf values"),
    # angles: "90" was read as the angles 9 and 0; 90 failed with "'int' object is not iterable"
    Case("bad sizes and options", "rotation_shift_angles_as_a_string", lambda e: rotation_shift(e, angles="90"),
         ValueError, ANGLES, r"Received: angles='90'"),
    Case("bad sizes and options", "rotation_shift_nan_angle",
         lambda e: rotation_shift(e, angles=[0.0, float("nan")]), ValueError, ANGLES, r"Received: angles=\[0.0, nan\]"),
    Case("bad sizes and options", "rotate_by_a_string", lambda e: shift.rotate(e.images[:2], "90"), ValueError,
         r"Expected `degrees` to be a finite number", r"Received: degrees='90'"),
    # OOD scores: (N, C) probabilities were flattened into N * C "scores"
    Case("wrong rank", "ood_auroc_of_class_probabilities", lambda e: evaluate.ood_auroc(PROBS, PROBS[:3]),
         ValueError, r"Expected `scores_in` of shape \(N_in,\), one score per input",
         r"Received: scores_in.shape=\(5, 10\)"),
    Case("wrong rank", "ood_aupr_of_a_single_number", lambda e: evaluate.ood_aupr([0.1, 0.2], 0.3),
         ValueError, r"Expected `scores_out` of shape \(N_out,\)", r"Received: scores_out.shape=\(\)"),
    # log-likelihood estimates: steps and seeds failed in range(), np.concatenate or TensorFlow
    Case("bad sizes and options", "log_likelihood_batch_size_0",
         lambda e: evaluate.log_likelihood(iwae(), e.images[:2], k=2, batch_size=0, verbose=0), ValueError,
         "Expected `batch_size` to be a positive integer", "Received: batch_size=0"),
    Case("bad sizes and options", "log_likelihood_chunk_2.5",
         lambda e: evaluate.log_likelihood(iwae(), e.images[:2], k=2, chunk=2.5, verbose=0), ValueError,
         "Expected `chunk` to be a positive integer", "Received: chunk=2.5"),
    Case("bad sizes and options", "log_likelihood_seed_as_a_string",
         lambda e: evaluate.log_likelihood(iwae(), e.images[:2], k=2, seed="0", verbose=0), ValueError,
         "Expected `seed` to be a non-negative integer", "Received: seed='0'"),
    Case("bad sizes and options", "log_importance_weights_chunk_-2",
         lambda e: evaluate.log_importance_weights(iwae(), e.images[:2], k=2, chunk=-2), ValueError,
         "Expected `chunk` to be a positive integer", "Received: chunk=-2"),
    Case("bad sizes and options", "active_units_batch_size_-10",
         lambda e: evaluate.active_units(iwae(), e.images[:4], batch_size=-10), ValueError,
         "Expected `batch_size` to be a positive integer", "Received: batch_size=-10"),
    Case("wrong size", "log_likelihood_of_a_list_of_batches_of_another_size",
         lambda e: evaluate.log_likelihood(iwae(), (e.images[:2], np.zeros((2, 14, 14, 1), np.float32)), k=2,
                                           verbose=0),
         ValueError, r"Expected `data` of shape \(None, 28, 28, 1\)", r"Received: data.shape=\(2, 14, 14, 1\)"),
    # objectives
    Case("bad sizes and options", "jackknife_max_subsets_-3",
         lambda e: objectives.jackknife_bound(np.zeros((30, 2)), order=2, max_subsets=-3), ValueError,
         "Expected `max_subsets` to be a positive integer", "Received: max_subsets=-3"),
    Case("bad sizes and options", "jackknife_order_1.5",
         lambda e: objectives.jackknife_bound(np.zeros((30, 2)), order=1.5), ValueError,
         "Expected `order` to be a non-negative integer", "Received: order=1.5"),
    Case("empty data", "log_mean_exp_over_no_samples", lambda e: objectives.log_mean_exp(np.zeros((0, 3))),
         ValueError, "Expected `x` to hold at least one sample along axis 0", r"Received: x.shape=\(0, 3\)"),
    Case("empty data", "iwae_bound_over_no_samples", lambda e: objectives.iwae_bound(np.zeros((2, 0)), axis=1),
         ValueError, "Expected `log_w` to hold at least one sample along axis 1", r"Received: log_w.shape=\(2, 0\)"),
    Case("empty data", "jackknife_over_no_samples",
         lambda e: objectives.jackknife_bound(np.zeros((0, 3)), order=0), ValueError,
         "Expected `log_w` to hold at least one sample along axis 0", r"Received: log_w.shape=\(0, 3\)"),
    Case("evaluation outside its domain", "iwae_bound_of_strings", lambda e: objectives.iwae_bound(["a", "b"]),
         TypeError, "Expected `log_w` to hold real numbers", "Received: log_w.dtype=string"),
    # smaller items
    Case("bad sizes and options", "zoo_list_models_of_a_number", lambda e: zoo.list_models(5), ValueError,
         r"Expected `pattern` to be None or a glob string such as 'cvae_\*'", "Received: pattern=5"),
    Case("bad sizes and options", "gap_splits_of_one_feature_number",
         lambda e: uci_protocol.gap_splits(e.tmp, features=3), ValueError,
         r"Expected `features` to be None or a list of input-feature positions", "Received: features=3"),
    Case("bad sizes and options", "conformal_quantile_axis_5",
         lambda e: calibrate.conformal_quantile(np.arange(10.0), axis=5), ValueError,
         r"Expected `axis` to be an integer in \[-1, 0\] \(an axis of `scores`, shape \(10,\)\)",
         "Received: axis=5"),
]
