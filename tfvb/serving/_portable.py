"""The signatures of the LiteRT and ONNX exports: T fixed at export, noise from the portable generator.

Both runtimes lack TensorFlow's stateless Philox ops (LiteRT has no kernel for
them; ONNX's random ops take their seed as a constant attribute), so these
functions are traced inside `tfvb.randomness.portable_noise()`: every draw
comes from `tfvb._counter_rng`, keyed by the `seed` input (int64 scalar).
Summaries are computed in float32, which both runtimes support everywhere.
"""

import tensorflow as tf

from tfvb import _checks, randomness
from tfvb.serving.saved_model import SEED_SPEC, summary_of

__all__ = ["signatures"]


def refuse_unportable(model, format):
    """ValueError for what the portable graphs cannot serve: layers computing in float16 / bfloat16 (a mixed
    precision policy: LiteRT has no float16 kernels for them, and float16 draws of the outputs would floor
    their variances at float16 resolution), and Bayesian Conv2DTranspose layers (a `tfvb.bayesianize` of a
    decoder: their T per-draw kernels run as a map over the draws, a TensorList loop LiteRT cannot lower,
    and not checked in ONNX)."""
    low = sorted({layer.name for layer in model._flatten_layers(include_self=True)
                  if getattr(layer, "compute_dtype", "float32") in ("float16", "bfloat16")})
    if low:
        raise ValueError(f"Expected a model computing in float32 for format={format!r}. Received: layers "
                         f"computing in float16 or bfloat16 (a mixed precision policy): {low[:5]}"
                         f"{' ...' if len(low) > 5 else ''}. Build the same model under "
                         "keras.mixed_precision.set_global_policy('float32'), copy the weights with "
                         "`set_weights(model.get_weights())` and export that; format='tf_saved_model' serves "
                         "the mixed-precision model as it is")
    layers = getattr(model, "_bayesian_layers", [])
    bad = [layer.name for layer in layers if type(layer).__name__.startswith("Conv2DTranspose")]
    if bad:
        raise ValueError(f"Expected Bayesian Dense and Conv2D layers for format={format!r}. Received: Bayesian "
                         f"Conv2DTranspose layer(s) {bad}, whose per-draw kernels run as a loop over the draws "
                         "that this format cannot express. Export format='tf_saved_model' instead: its "
                         "predict_uncertainty(x, samples, seed) serves them")


def value_range(model):
    """(low, high) every input value of `model` must lie in, or None: a VAE's Bernoulli pixels, else the
    model's `input_range`."""
    if hasattr(model, "posterior_predictive_draws"):
        return 0.0, 1.0
    return getattr(model, "input_range", None)


def valid_rows(x, bounds):
    """(N,) bool: the rows of `x` whose values are all finite and within `bounds` (None: any finite value).

    Written with comparisons only (LiteRT has no IsFinite): |v| <= the largest float32 is False for inf and NaN.
    """
    flat = tf.reshape(x, tf.stack([tf.shape(x)[0], -1]))
    ok = tf.abs(flat) <= _checks.FLOAT32_MAX
    if bounds is not None:
        ok = tf.logical_and(ok, tf.logical_and(flat >= bounds[0], flat <= bounds[1]))
    return tf.reduce_all(ok, axis=1)


def _marked(outputs, valid, row_axis):
    """`outputs` with the rows where `valid` is False set to NaN (floats) or -1 (integers: `prediction`)."""
    out = {}
    for name, value in outputs.items():
        shape = [1] * value.shape.rank
        shape[row_axis] = -1
        mask = tf.reshape(valid, shape)
        bad = float("nan") if value.dtype.is_floating else -1
        out[name] = tf.where(mask, value, tf.constant(bad, value.dtype))
    return out


def signatures(predictive, samples, format):
    """{name: (function, input signature)} of serve(x), predict_uncertainty(x, seed), predict_samples(x, seed),
    each a concrete function traced with portable noise.

    LiteRT and ONNX drop the run-time checks that make Python and the SavedModel refuse a batch holding
    NaN, inf or a value outside the model's range (`input_range`; [0, 1] for a VAE): here each such row's
    outputs are NaN and its `prediction` -1, and the other rows are served as usual.
    """
    refuse_unportable(predictive.model, format)
    x = tf.TensorSpec(predictive.input_spec.shape, tf.float32, name="x")
    bounds = value_range(predictive.model)

    def predict_uncertainty(x, seed):
        return _marked(summary_of(predictive, predictive.draws(x, samples, seed), tf.float32),
                       valid_rows(x, bounds), 0)

    def predict_samples(x, seed):
        return _marked(predictive.draws(x, samples, seed), valid_rows(x, bounds), 1)

    def serve(x):
        return _marked({"output": predictive.serve(x)}, valid_rows(x, bounds), 0)

    out = {}
    with randomness.portable_noise():
        for name, fn, spec in (("serve", serve, [x]), ("predict_uncertainty", predict_uncertainty, [x, SEED_SPEC]),
                               ("predict_samples", predict_samples, [x, SEED_SPEC])):
            function = tf.function(fn, input_signature=spec, autograph=False)
            out[name] = (function, function.get_concrete_function(), spec)
    return out
