"""What keeps a Keras model with tfvb layers from reporting zero uncertainty in silence.

`tfp.layers` draw new weights on every call, so TFP code estimates uncertainty
with a loop, `[model.predict(x) for _ in range(T)]` or `[model(x) for _ in range(T)]`.
A tfvb layer called without `training=True` or `num_samples` uses the posterior-mean
weights, so the T predictions of such a loop are identical. Two guards, for a
user's own Keras model (tfvb's models sample with their own `predict_uncertainty`):

- `model(x, num_samples=T)` on a Sequential or Functional model is refused with an
  error that names `tfvb.predict_samples` and `tfvb.predict_uncertainty` (Keras hands
  the argument to every tfvb layer of the graph, where the layers after them would
  mix the T draws into the batch; without the guard it would be dropped).
- A deterministic prediction repeated on the same inputs (the model called again
  eagerly on the same tensor values, or its `predict` run again on the same array)
  warns once per model, naming the same functions.
"""

import functools
import hashlib
import warnings
import weakref

import keras
import numpy as np
import tensorflow as tf
from keras.src.backend.common import global_state

__all__ = ["refuse_graph_samples", "note_deterministic", "ADVICE"]

#: What the error and the warning tell the user to do instead.
ADVICE = ("use tfvb.predict_uncertainty(model, x, samples=T) or tfvb.predict_samples(model, x, samples=T), "
          "which draw the tfvb layers' weights T times in one vectorized call (normalization layers stay in "
          "inference mode)")
#: Floats of an input hashed to recognise it again (a strided subset of larger arrays).
_FINGERPRINT_ELEMENTS = 1 << 16

_warned = weakref.WeakSet()
_last_inputs = weakref.WeakKeyDictionary()  # model -> {id(layer): fingerprint of its last deterministic input}


def _entry_layer():
    context = global_state.get_global_attribute("current_call_ctx")
    return getattr(context, "entry_layer", None)


def _is_user_model(entry):
    return isinstance(entry, keras.Model) and not type(entry).__module__.startswith("tfvb.")


def _is_graph_model(entry):
    from keras.src.models.functional import Functional

    return isinstance(entry, (keras.Sequential, Functional))


def refuse_graph_samples(layer, num_samples):
    """Raise when `num_samples` reached `layer` from a call of a user's Sequential or Functional model."""
    entry = _entry_layer()
    if entry is None or entry is layer or not _is_user_model(entry) or not _is_graph_model(entry):
        return
    raise ValueError(
        f"Expected `num_samples` on a tfvb layer called by itself or inside a tfvb model. Received: "
        f"num_samples={num_samples!r} passed to the Keras model {entry.name!r}, whose other layers (pooling, "
        f"flatten, ...) cannot take T weight draws; {ADVICE.replace('samples=T', f'samples={num_samples!r}')}"
    )


def _fingerprint(value):
    """A hashable summary of an input, equal for equal values (shape, dtype, a hash of a strided subset)."""
    if isinstance(value, (list, tuple)):
        parts = [_fingerprint(v) for v in value]
        return None if any(p is None for p in parts) else tuple(parts)
    if isinstance(value, dict):
        return _fingerprint([value[k] for k in sorted(value)])
    if isinstance(value, tf.Tensor) and not tf.executing_eagerly():
        return None
    if not isinstance(value, (np.ndarray, tf.Tensor)) and not hasattr(value, "__array__"):
        return None  # a dataset or a generator: not recognised
    array = np.asarray(value)
    flat = array.reshape(-1)
    step = max(1, flat.size // _FINGERPRINT_ELEMENTS)
    digest = hashlib.blake2b(np.ascontiguousarray(flat[::step]).tobytes(), digest_size=16).hexdigest()
    return array.shape, array.dtype.str, digest


def _warn(model, what):
    if model in _warned:
        return
    _warned.add(model)
    warnings.warn(
        f"The Keras model {model.name!r} {what} with the posterior-mean weights of its tfvb layers, and gave the "
        "same predictions: a Monte Carlo loop over them measures zero uncertainty (unlike tfp.layers, tfvb "
        f"layers draw weights only with training=True or num_samples). For T draws, {ADVICE}.",
        UserWarning, stacklevel=4)


def note_deterministic(layer, inputs):
    """Record a posterior-mean call of `layer`; warn when it repeats a prediction of a user's model.

    Eagerly, the layer's inputs and posterior means are compared with its previous deterministic call
    in an earlier call of the same model (calls within one model call, e.g. the time steps of a
    TimeDistributed, are not repeats; weights changed by training make another prediction); while a
    model's function is traced (`predict`, `evaluate`), the model's `predict` is watched.
    """
    entry = _entry_layer()
    if entry is None or entry is layer or not _is_user_model(entry) or entry in _warned:
        return
    if not tf.executing_eagerly():
        _watch_predict(entry)
        return
    context = global_state.get_global_attribute("current_call_ctx")
    key = _fingerprint(inputs)
    if key is not None:
        key = (key, _fingerprint(layer.kernel_loc))
    seen = _last_inputs.setdefault(entry, {})
    previous = seen.get(id(layer))
    if key is not None and previous is not None and previous[0] == key and previous[1] is not context:
        _warn(entry, "was called again on the same inputs")
    seen[id(layer)] = (key, context)


def _watch_predict(model):
    """Wrap `model.predict` (on this instance only) to notice a second prediction on the same array."""
    if "_tfvb_watched_predict" in model.__dict__:
        return
    original = model.predict
    ref = weakref.ref(model)
    last = {}

    @functools.wraps(original)
    def predict(*args, **kwargs):
        x = args[0] if args else kwargs.get("x")
        owner = ref()
        key = _fingerprint(x)
        if key is not None and owner is not None:  # trained in between: another prediction
            key = (key, _fingerprint([w.value for w in owner.trainable_weights]))
        if key is not None and last.get("key") == key and owner is not None:
            _warn(owner, "ran `predict` again on the same inputs")
        last["key"] = key
        return original(*args, **kwargs)

    model.__dict__["_tfvb_watched_predict"] = True
    model.__dict__["predict"] = predict  # an instance attribute, untracked by Keras, never saved
