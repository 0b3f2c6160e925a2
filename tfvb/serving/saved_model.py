"""The SavedModel export: `serve`, `predict_uncertainty(x, samples, seed)`, `predict_samples(x, samples, seed)`.

Written with `keras.export.ExportArchive` and explicit input signatures, so a
model that never ran `model(x)` (a BNN trained through `fit`, one just built,
one just loaded) exports as well. The signatures need TensorFlow only: a
process without tfvb loads and serves them.
"""

import keras
import tensorflow as tf

from tfvb.serving import summaries

__all__ = ["write", "uncertainty_fn", "SAMPLES_SPEC", "SEED_SPEC"]

SAMPLES_SPEC = tf.TensorSpec((), tf.int32, name="samples")
SEED_SPEC = tf.TensorSpec((), tf.int64, name="seed")


def _checked_samples(samples):
    check = tf.debugging.assert_positive(samples, message="Expected `samples` to be a positive integer")
    with tf.control_dependencies([check]):
        return tf.identity(samples)


def summary_of(predictive, draws, dtype):
    if predictive.task == "classification":
        return summaries.classification(draws["probs"], dtype)
    return summaries.regression(draws["mean"], draws["variance"], dtype)


def uncertainty_fn(predictive, dtype=tf.float64):
    """x, samples, seed -> the named outputs of the model's Python `predict_uncertainty`."""
    def predict_uncertainty(x, samples, seed):
        return summary_of(predictive, predictive.draws(x, _checked_samples(samples), seed), dtype)
    return predict_uncertainty


def write(predictive, filepath, verbose=False):
    archive = keras.export.ExportArchive()
    archive.track(predictive.model)
    x = predictive.input_spec
    archive.add_endpoint("serve", predictive.serve, input_signature=[x])
    archive.add_endpoint("predict_uncertainty", uncertainty_fn(predictive),
                         input_signature=[x, SAMPLES_SPEC, SEED_SPEC])
    archive.add_endpoint("predict_samples",
                         lambda x, samples, seed: predictive.draws(x, _checked_samples(samples), seed),
                         input_signature=[x, SAMPLES_SPEC, SEED_SPEC])
    for name, (fn, signature) in predictive.extra.items():
        archive.add_endpoint(name, fn, input_signature=signature)
    archive.write_out(filepath, verbose=verbose)
    return filepath
