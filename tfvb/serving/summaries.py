"""`tfvb.uncertainty`'s measures as TensorFlow ops, for the served graphs.

The same formulas as `tfvb.uncertainty` (see there), on stacked draws of
shape (T, N, ...) and in the dtype given (float64 in a SavedModel, as Python
reports them; float32 where a runtime lacks float64 kernels, LiteRT and ONNX).
"""

import tensorflow as tf

__all__ = ["classification", "regression"]


def _entropy(p):
    return -tf.reduce_sum(p * tf.math.log(tf.where(p > 0, p, tf.ones_like(p))), axis=-1)


def classification(probs, dtype=tf.float64):
    """Gal's measures from class probabilities (T, N, C): the names `classification_uncertainty` returns."""
    probs = tf.cast(probs, dtype)
    count = tf.cast(tf.shape(probs)[0], dtype)
    mean = tf.reduce_sum(probs, axis=0) / count
    total = _entropy(mean)
    expected = tf.reduce_sum(_entropy(probs), axis=0) / count
    votes = tf.reduce_sum(tf.one_hot(tf.argmax(probs, axis=-1, output_type=tf.int32), tf.shape(probs)[-1],
                                     dtype=dtype), axis=0)
    return {
        "mean": mean,
        "entropy": total,
        "expected_entropy": expected,
        "mutual_information": tf.maximum(total - expected, 0.0),
        "variation_ratio": 1.0 - tf.reduce_max(votes, axis=-1) / count,
        "prediction": tf.cast(tf.argmax(mean, axis=-1, output_type=tf.int32), tf.int64),
    }


def regression(means, variances, dtype=tf.float64):
    """The law of total variance from Gaussian draws (T, N[, D]): the names `regression_uncertainty` returns."""
    means, variances = tf.cast(means, dtype), tf.cast(variances, dtype)
    count = tf.cast(tf.shape(means)[0], dtype)
    mean = tf.reduce_sum(means, axis=0) / count
    epistemic = tf.reduce_sum(tf.square(means - mean), axis=0) / count
    aleatoric = tf.reduce_sum(variances, axis=0) / count
    variance = epistemic + aleatoric
    return {"mean": mean, "variance": variance, "epistemic": epistemic, "aleatoric": aleatoric,
            "std": tf.sqrt(variance)}
