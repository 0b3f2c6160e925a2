"""The signatures of the LiteRT and ONNX exports: T fixed at export, noise from the portable generator.

Both runtimes lack TensorFlow's stateless Philox ops (LiteRT has no kernel for
them; ONNX's random ops take their seed as a constant attribute), so these
functions are traced inside `tfvb.randomness.portable_noise()`: every draw
comes from `tfvb._counter_rng`, keyed by the `seed` input (int64 scalar).
Summaries are computed in float32, which both runtimes support everywhere.
"""

import tensorflow as tf

from tfvb import randomness
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


def signatures(predictive, samples, format):
    """{name: (function, input signature)} of serve(x), predict_uncertainty(x, seed), predict_samples(x, seed),
    each a concrete function traced with portable noise."""
    refuse_unportable(predictive.model, format)
    x = tf.TensorSpec(predictive.input_spec.shape, tf.float32, name="x")

    def predict_uncertainty(x, seed):
        return summary_of(predictive, predictive.draws(x, samples, seed), tf.float32)

    def predict_samples(x, seed):
        return predictive.draws(x, samples, seed)

    def serve(x):
        return {"output": predictive.serve(x)}

    out = {}
    with randomness.portable_noise():
        for name, fn, spec in (("serve", serve, [x]), ("predict_uncertainty", predict_uncertainty, [x, SEED_SPEC]),
                               ("predict_samples", predict_samples, [x, SEED_SPEC])):
            function = tf.function(fn, input_signature=spec, autograph=False)
            out[name] = (function, function.get_concrete_function(), spec)
    return out
