"""The LiteRT export: one .tflite file with signatures serve(x), predict_uncertainty(x, seed), predict_samples(x, seed).

T is fixed at export (`samples`). The graph uses LiteRT builtin ops only (no
Select TF ops): the noise comes from `tfvb._counter_rng` (see `_portable`).
"""

import os
import tempfile

import tensorflow as tf

from tfvb.serving import _portable

__all__ = ["write"]


def write(predictive, filepath, samples, verbose=False):
    functions = _portable.signatures(predictive, samples, "litert")
    module = tf.Module()
    # The variables the functions capture (the Keras model itself would bring its own default signature).
    module.tracked = [getattr(v, "value", v) for v in predictive.model.variables]
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={name: concrete for name, (_, concrete, _) in functions.items()})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(functions))
        flatbuffer = converter.convert()
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    with open(filepath, "wb") as f:
        f.write(flatbuffer)
    if verbose:
        print(f"Saved a LiteRT model (T={samples}, signatures {', '.join(functions)}) at {filepath}")
    return filepath
