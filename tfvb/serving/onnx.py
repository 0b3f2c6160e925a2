"""The ONNX export: a folder with one model per signature, converted by tf2onnx.

    serve.onnx                 x -> output
    predict_uncertainty.onnx   x, seed -> the named outputs of Python's predict_uncertainty
    predict_samples.onnx       x, seed -> the T draws

T is fixed at export (`samples`); the noise comes from `tfvb._counter_rng`
(ONNX's RandomNormal / RandomUniform take their seed as a constant attribute,
so a seed input could not reach them). The graph outputs carry the Python names.
"""

import os

from tfvb.serving import _portable

__all__ = ["write", "OPSET"]

#: ONNX opset of the exports (onnxruntime >= 1.14 runs it).
OPSET = 17


def _require_tf2onnx():
    try:
        import tf2onnx
    except ImportError as e:
        raise ImportError("Expected tf2onnx for format='onnx' (pip install 'tfvb[serving]'). Received: "
                          f"{e}. Alternatives without it: format='tf_saved_model' or format='litert'") from e
    return tf2onnx


def _named_outputs(model, names):
    """Give the graph's outputs the names of the signature's dict (tf2onnx names them Identity:0, ...)."""
    import onnx

    graph = model.graph
    if [value.name for value in graph.output] == list(names):
        return model
    outputs = list(graph.output)
    del graph.output[:]
    for value, name in zip(outputs, names):
        graph.node.append(onnx.helper.make_node("Identity", [value.name], [name], name=f"output_{name}"))
        renamed = onnx.ValueInfoProto()
        renamed.CopyFrom(value)
        renamed.name = name
        graph.output.append(renamed)
    return model


def write(predictive, filepath, samples, verbose=False):
    tf2onnx = _require_tf2onnx()
    os.makedirs(filepath, exist_ok=True)
    for name, (function, concrete, spec) in _portable.signatures(predictive, samples, "onnx").items():
        names = sorted(concrete.structured_outputs)  # tf.nest flattens a dict by sorted keys
        model, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET)
        with open(os.path.join(filepath, f"{name}.onnx"), "wb") as f:
            f.write(_named_outputs(model, names).SerializeToString())
    if verbose:
        print(f"Saved ONNX models (T={samples}) serve.onnx, predict_uncertainty.onnx, predict_samples.onnx at "
              f"{filepath}")
    return filepath
