"""Serving the posterior: every tfvb model exports its uncertainty to SavedModel, LiteRT and ONNX.

`model.export(path, format=..., samples=T)` (every tfvb model) lands here:

    format="tf_saved_model"   a SavedModel with signatures `serve(x)`, `predict_uncertainty(x, samples,
                              seed)`, `predict_samples(x, samples, seed)` (and the family's own: a VAE's
                              encode / decode / sample, an ensemble's members); T is an input
    format="litert"           a .tflite file with signatures serve(x), predict_uncertainty(x, seed),
                              predict_samples(x, seed); T fixed at export
    format="onnx"             a folder of ONNX models, one per signature (serve.onnx, predict_uncertainty.onnx,
                              predict_samples.onnx); T fixed at export

The SavedModel draws with TensorFlow's stateless Philox ops, exactly as the
model's Python `predict_uncertainty(x, samples=T, seed=s)`: the same numbers.
LiteRT lacks those ops and ONNX takes its random seeds as constants, so those
exports draw from `tfvb._counter_rng` (integer hashing every runtime runs):
the same distribution, so Python's numbers within Monte Carlo error.
"""

from tfvb import _checks
from tfvb.serving.predictive import for_model

__all__ = ["export", "FORMATS", "SIGNATURES"]

FORMATS = ("tf_saved_model", "litert", "onnx")
#: The signatures every export carries.
SIGNATURES = ("serve", "predict_uncertainty", "predict_samples")


def export(model, filepath, format="tf_saved_model", samples=None, verbose=None):
    """Write `model`'s serving export; returns `filepath`. See the module docstring for the formats.

    Args:
        model: a built tfvb model with finite weights.
        filepath: the SavedModel folder, the .tflite file, or the folder of ONNX files.
        format: "tf_saved_model", "litert" or "onnx".
        samples: T of the LiteRT and ONNX `predict_uncertainty` (default 100); a SavedModel takes
            T as an input and refuses this argument.
        verbose: print what was written.
    """
    _checks.one_of("format", format, set(FORMATS))
    predictive = for_model(model)
    if format == "tf_saved_model":
        if samples is not None:
            raise ValueError("Expected samples=None for format='tf_saved_model': its predict_uncertainty takes "
                             f"`samples` as an input. Received: samples={samples!r}")
        from tfvb.serving import saved_model

        return saved_model.write(predictive, filepath, verbose=bool(verbose))
    samples = 100 if samples is None else _checks.positive_int("samples", samples)
    if format == "litert":
        from tfvb.serving import litert

        return litert.write(predictive, filepath, samples, verbose=bool(verbose))
    from tfvb.serving import onnx

    return onnx.write(predictive, filepath, samples, verbose=bool(verbose))
