"""`tfvb.predict_samples` and `tfvb.predict_uncertainty`: T weight draws of any Keras model with tfvb layers.

A user's Sequential or Functional model (any number of inputs and outputs)
holding tfvb Bayesian layers is run as one graph on the batch tiled T times
(row t * N + n is draw t of example n). Each tfvb layer folds the T draws out
of the batch and applies T independent weight draws in one batched op
(`VariationalLayer.tiled_call`); every other layer runs unchanged on the T * N
rows, in inference mode:

    normalization (BatchNormalization, ...)   moving statistics, as in predict
    Dropout                                   off; with mc_dropout=True a fresh
                                              mask per row (MC dropout)
    tfvb layers                               W_t ~ q(W), t = 1..T

so the draws differ only by the Bayesian layers' weights (and the dropout
masks when asked). The T draws run in groups whose kernels and widest
activation stay near `tfvb.models._weight_draws.MAX_ACTIVATION_ELEMENTS`
floats, each group one compiled call (traced once per model and group size);
`seed` fixes every draw for a given `batch_size`. Weight draws (the
reparameterization and Flipout layers') are the same whatever the batch size;
the per-example noise (local reparameterization's outputs, MC dropout's masks)
is drawn per chunk of `batch_size` rows, keyed by the chunk (no two chunks
share it), so another batch size gives other, equally distributed draws. A model that is a tfvb
model (`BNNClassifier`, `bayesianize`'s network, MC dropout, `DeepEnsemble`)
is handed to its own `predict_samples` / `predict_uncertainty`.

Example:
    >>> images, labels = tfvb.data.mnist_sample()
    >>> model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 5, activation="relu"),
    ...                           keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(),
    ...                           keras.layers.Flatten(), tfvb.layers.DenseFlipout(10, num_examples=1000)])
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = model.fit(images[:1000], labels[:1000], epochs=1, verbose=0)
    >>> u = tfvb.predict_uncertainty(model, images[1000:1100], samples=50, seed=0)
    >>> u["mean"].shape, u["mutual_information"].shape
    ((100, 10), (100,))
"""

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, _traced, randomness, uncertainty
from tfvb.layers._variational import VariationalLayer
from tfvb.models import _inputs, _task
from tfvb.models._weight_draws import MAX_ACTIVATION_ELEMENTS, REFERENCE_BATCH

__all__ = ["predict_samples", "predict_uncertainty", "graph_task"]

#: T, the draws of a Keras graph (and of a tfvb model) when `samples` is not given.
DEFAULT_SAMPLES = 100
#: Offset of the dropout layers' seeds among a pass's per-layer seeds (the Bayesian layers' come first).
_DROPOUT_SEEDS = 1 << 20


def _is_tfvb_model(model):
    return type(model).__module__.startswith("tfvb.") and hasattr(model, "predict_samples")


def _has_own(model, method):
    """Whether `model` answers `method` itself (a tfvb model, a calibrated model, any object with the method)."""
    return _is_tfvb_model(model) or callable(getattr(model, method, None))


def _graph(model):
    """The Functional graph of `model` (a Sequential's inner one), or a ValueError saying what is needed."""
    from keras.src.models.functional import Functional

    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if not isinstance(graph, Functional):
        raise ValueError(
            "Expected a tfvb model, or a Sequential or Functional keras.Model built on known inputs (start a "
            "Sequential with keras.Input). Received: "
            + (f"a Sequential model {model.name!r} without a known input" if isinstance(model, keras.Sequential)
               else f"{model!r} (a subclassed model's layers cannot be reached: call its tfvb layers with "
                    "`num_samples` in its `call`, or build it as a Functional model)"))
    return graph


def _graph_layers(graph):
    """The layers `graph` runs, nested Sequential/Functional models opened up."""
    out = []
    for op in graph.layers:
        out.extend(_graph_layers(_graph(op)) if isinstance(op, keras.Model) else [op])
    return out


class _GraphSampler:
    """T draws of a Functional graph with tfvb layers; built once per model and kept on it."""

    def __init__(self, model):
        self.model = model
        self.graph = _graph(model)
        layers = _graph_layers(self.graph)
        self.bayesian = [op for op in layers if isinstance(op, VariationalLayer)]
        reachable = {id(op) for op in self.bayesian}
        for op in layers:  # first: a tfvb layer inside a wrapper (TimeDistributed, a custom layer) is named
            for inner in op._flatten_layers(include_self=False):
                if isinstance(inner, VariationalLayer) and id(inner) not in reachable:
                    raise ValueError(f"Expected tfvb layers as layers of the model's graph. Received: "
                                     f"{inner.name!r} inside the custom layer {op.name!r}, which tfvb cannot "
                                     "sample (call it with `num_samples` in that layer's `call`)")
        if not self.bayesian:
            raise ValueError(f"Expected a model with at least one tfvb Bayesian layer. Received none in "
                             f"{model.name!r} (a deterministic model has no weight uncertainty to sample)")
        self.dropout = [op for op in layers if isinstance(op, keras.layers.Dropout)]
        self.input_specs = [tf.TensorSpec((None,) + tuple(t.shape[1:]), t.dtype) for t in self.graph.inputs]
        self.widest = max([int(np.prod(s.shape[1:])) for s in self.input_specs] + [
            int(np.prod(t.shape[1:])) for op in layers for t in tf.nest.flatten(getattr(op, "output", None))
            if getattr(t, "shape", None) is not None and all(d is not None for d in t.shape[1:])])
        self.kernel_elements = max(1, sum(int(np.prod(op.kernel_loc.shape)) for op in self.bayesian))

    @classmethod
    def of(cls, model):
        sampler = model.__dict__.get("_tfvb_graph_sampler")
        if sampler is None:
            sampler = model.__dict__["_tfvb_graph_sampler"] = cls(model)
        return sampler

    # ---- one pass: the graph on a tiled batch ---------------------------------------------------
    def _run(self, graph, inputs, count, seeds, mc_dropout):
        def operation_fn(op):
            if isinstance(op, VariationalLayer):
                return lambda h, **kwargs: op.tiled_call(h, count, seeds[id(op)])
            if isinstance(op, keras.Model):
                return lambda *args, **kwargs: self._run(_graph(op), tf.nest.flatten(args), count, seeds,
                                                         mc_dropout)
            if mc_dropout and type(op) in _SEEDED_DROPOUT:
                return lambda h, **kwargs: _dropout(op, h, seeds[id(op)])
            params = getattr(op, "call_signature_parameters", None) or ()
            if "training" in params:
                on = mc_dropout and isinstance(op, keras.layers.Dropout)  # a Dropout subclass: its own generator
                return lambda *args, **kwargs: op(*args, **{**kwargs, "training": on})
            return op

        outputs = graph._run_through_graph(list(inputs), operation_fn=operation_fn)  # the graph's output structure
        return tf.nest.flatten(outputs) if graph is self.graph else outputs

    def draw_fn(self, count, mc_dropout):
        """`count` draws on a chunk of inputs -> outputs (count, rows, ...), compiled once per count."""

        def draw(*args):
            *inputs, seed, first_row = args
            with randomness.chunk_of_rows(first_row):
                return _draws(inputs, seed)

        def _draws(inputs, seed):
            tiled = [tf.reshape(tf.tile(x[tf.newaxis], tf.concat([[count], tf.ones_like(tf.shape(x))], 0)),
                                tf.concat([[-1], tf.shape(x)[1:]], 0)) for x in inputs]
            seeds = {id(op): tf.random.experimental.stateless_fold_in(seed, i) for i, op in enumerate(self.bayesian)}
            # Dropout masks are per example: other ones per chunk of inputs.
            seeds.update({id(op): randomness.per_example_seed(tf.random.experimental.stateless_fold_in(
                seed, _DROPOUT_SEEDS + i)) for i, op in enumerate(self.dropout)})
            outputs = self._run(self.graph, tiled, count, seeds, mc_dropout)
            return [tf.reshape(o, tf.concat([[count, -1], tf.shape(o)[1:]], 0)) for o in outputs]

        name = f"_tfvb_sample_fn_{count}_{int(mc_dropout)}"
        return _traced.traced_once(self.model, name, draw, *self.input_specs, tf.TensorSpec((2,), tf.int64),
                                   tf.TensorSpec((), tf.int64), autograph=False)

    # ---- T draws, block by block ----------------------------------------------------------------
    def blocks(self, inputs, samples, seed, batch_size, mc_dropout):
        """Yield (rows, [outputs (T_g, rows, ...)]): groups of draws on chunks of the inputs."""
        group = max(1, min(samples, MAX_ACTIVATION_ELEMENTS // (REFERENCE_BATCH * self.widest),
                           MAX_ACTIVATION_ELEMENTS // self.kernel_elements))
        if batch_size is None:
            batch_size = max(1, MAX_ACTIVATION_ELEMENTS // (group * self.widest))
        batch_size = _checks.positive_int("batch_size", batch_size)
        n = len(inputs[0])
        base = randomness.seed_tensor(seed)
        fn = self.draw_fn(group, mc_dropout)
        for g, first in enumerate(range(0, samples, group)):
            count = min(group, samples - first)
            key = base if g == 0 else tf.cast(tf.random.experimental.stateless_fold_in(base, g), tf.int64)
            for i in range(0, n, batch_size):
                outs = fn(*[tf.constant(x[i:i + batch_size]) for x in inputs], key, tf.constant(i, tf.int64))
                yield slice(i, min(n, i + batch_size)), [o if count == group else o[:count] for o in outs]


#: Keras' dropout layers whose masks tfvb draws from its seeds (the same noise shapes as theirs).
_SEEDED_DROPOUT = (keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
                   keras.layers.SpatialDropout3D)


def _dropout(op, h, seed):
    """Keras' Dropout with a mask drawn from `seed` (reproducible MC dropout), the same noise_shape (spatial
    dropout: one mask entry per example and channel)."""
    if not op.rate:
        return h
    shape = None
    if type(op) is not keras.layers.Dropout:  # SpatialDropout1D/2D/3D
        shape = tf.stack([tf.convert_to_tensor(d, tf.int32) for d in op._get_noise_shape(h)])
    elif op.noise_shape is not None:
        dynamic = tf.shape(h)
        shape = tf.stack([dynamic[i] if s is None else s for i, s in enumerate(op.noise_shape)])
    return tf.nn.experimental.stateless_dropout(h, op.rate, seed=seed, noise_shape=shape)


def _input_arrays(sampler, x, method):
    """`x` as a list of numpy arrays, one per model input, with the same number of rows."""
    names = [t.name for t in sampler.graph.inputs]
    _inputs.require_arrays(x, method)
    if isinstance(x, dict):
        missing = sorted(set(names) - set(x))
        if missing:
            raise ValueError(f"Expected `x` to hold the model's inputs {names}. Received: keys {sorted(x)}")
        x = [x[name] for name in names]
    elif not isinstance(x, (list, tuple)):
        x = [x]
    if len(x) != len(names):
        raise ValueError(f"Expected {len(names)} input array(s), one per model input {names}. Received: "
                         f"{len(x)} array(s)")
    arrays = []
    for value, spec, name in zip(x, sampler.input_specs, names):
        _inputs.require_arrays(value, method)
        array = np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
        if array.ndim != len(spec.shape) or any(
                s is not None and a != s for a, s in zip(array.shape[1:], spec.shape[1:])):
            raise ValueError(f"Expected input {name!r} of shape {tuple(spec.shape)}. Received: shape={array.shape}")
        if array.dtype.kind == "f":
            _checks.finite_array(name, array)
        arrays.append(array)
    rows = {len(a) for a in arrays}
    if len(rows) != 1 or 0 in rows:
        raise ValueError(f"Expected inputs with the same, non-zero number of rows. Received: rows {sorted(rows)}")
    return arrays


def _prepare(model, x, samples, seed, mc_dropout, method):
    samples = _checks.positive_int("samples", samples)
    mc_dropout = _checks.boolean("mc_dropout", mc_dropout)
    if seed is None:
        seed = int(np.random.default_rng().integers(1 << 62))
    randomness.check_seed(seed)
    sampler = _GraphSampler.of(model)
    return sampler, _input_arrays(sampler, x, method), samples, seed, mc_dropout


def _own_task(model):
    """The task a tfvb model predicts ("classification" or "regression"), or None when it has none to tell."""
    innermost = getattr(model, "_innermost", None)  # a calibrated model: its own task, else its base model's
    if callable(innermost) and getattr(model, "task", None) not in _task.TASKS:
        model = innermost()
    if hasattr(type(model), "task_and_outputs"):  # DeepEnsemble: from its task or compiled loss
        try:
            return model.task_and_outputs[0]
        except ValueError:  # neither given: it cannot predict either, and says so itself
            return None
    if getattr(model, "task", None) in _task.TASKS:
        return model.task
    has_labels = getattr(model, "has_labels", None)
    if isinstance(has_labels, bool):
        return "classification" if has_labels else "regression"
    return None


def _delegate(model, method, x, samples, seed, batch_size, mc_dropout):
    mc_dropout = _checks.boolean("mc_dropout", mc_dropout)
    if mc_dropout:
        raise ValueError(f"Expected mc_dropout=False for a model with its own `{method}`: {type(model).__name__}."
                         f"{method} decides its own sampling. Received: mc_dropout=True")
    if samples is None and _is_tfvb_model(model) and not callable(getattr(model, "_innermost", None)):
        samples = DEFAULT_SAMPLES
    # Only what is given: a calibrated model then draws the T and seed it was calibrated with.
    options = {"samples": samples, "seed": seed, "batch_size": batch_size}
    return getattr(model, method)(x, **{k: v for k, v in options.items() if v is not None})


def graph_task(model, task=None):
    """(task, outputs) of a Keras model with tfvb layers: `task` if given, else from its compiled loss or a
    softmax head (see `tfvb.models._task.infer`); a ValueError when neither says."""
    _checks.one_of("task", task, {*_task.TASKS, None})
    loss = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
    if task is None and loss is None and _task.softmax_head(model):
        task = "classification"
    return _task.infer(None if loss is None else keras.losses.get(loss), task=task, model=model)


def predict_samples(model, x, samples=None, seed=None, batch_size=None, mc_dropout=False):
    """The raw outputs of T draws of a Keras model with tfvb layers, stacked: (T, N, ...) per output.

    Args:
        model: a Sequential or Functional `keras.Model` holding tfvb Bayesian layers (at any depth of
            nested Sequential/Functional models), or a tfvb model (then its own `predict_samples`), or any
            object with its own `predict_samples` (handed to it).
        x: the inputs: an array, or a list (or a dict by input name) of arrays, one per model input.
        samples: T, the number of weight draws (None: 100; a calibrated model's own, the T it was
            calibrated with).
        seed: an integer (or pair) fixing every draw; None draws a random one (a calibrated model: its own).
        batch_size: inputs per compiled call (None: sized to keep memory bounded).
        mc_dropout: whether `keras.layers.Dropout` layers drop (a fresh mask per draw and example) as in
            MC dropout; by default they are off, as in `predict`. Normalization layers always use their
            moving statistics.

    Returns:
        A numpy array (T, N, ...) of the model's outputs (logits stay logits), or a list of them for a
        model with several outputs.
    """
    if _has_own(model, "predict_samples"):
        return _delegate(model, "predict_samples", x, samples, seed, batch_size, mc_dropout)
    if callable(getattr(model, "predict_uncertainty", None)):
        raise ValueError(f"Expected a model with Monte Carlo draws for tfvb.predict_samples. Received: "
                         f"{type(model).__name__}, which has `predict_uncertainty` but no `predict_samples` (a "
                         "conformal model calibrates the predictive, not the draws): use "
                         "tfvb.predict_uncertainty(model, x), or the draws of the model it calibrates, "
                         "tfvb.predict_samples(model.base, x)")
    samples = DEFAULT_SAMPLES if samples is None else samples
    sampler, arrays, samples, seed, mc_dropout = _prepare(model, x, samples, seed, mc_dropout, "predict_samples")
    per_output = None
    for rows, outs in sampler.blocks(arrays, samples, seed, batch_size, mc_dropout):
        if per_output is None:
            per_output = [{} for _ in outs]
        for store, out in zip(per_output, outs):
            store.setdefault(rows.start, []).append(out.numpy())
    stacked = [np.concatenate([np.concatenate(store[start], axis=0) for start in sorted(store)], axis=1)
               for store in per_output]
    return stacked[0] if len(stacked) == 1 else stacked


def predict_uncertainty(model, x, samples=None, seed=None, batch_size=None, mc_dropout=False, task=None):
    """Monte Carlo predictive summaries of a Keras model with tfvb layers, from T weight draws.

    Classification (outputs are class logits or probabilities): `mean`, `entropy`, `expected_entropy`,
    `mutual_information`, `variation_ratio`, `prediction` (see `tfvb.uncertainty`). Regression (outputs are
    means): `mean`, `variance` (= `epistemic`, the variance of the T means), `epistemic`, `aleatoric` (0: the
    model predicts no noise), `std`; a model compiled with `tfvb.gaussian.GaussianNLL` (means and variances):
    the same names for the mixture of its T Gaussians (`aleatoric`: the mean predicted variance). Memory
    stays bounded for any T: the draws are summarized as they come.

    Args:
        model, x, samples, seed, batch_size, mc_dropout: as in `tfvb.predict_samples`.
        task: "classification", "regression" or None: from the compiled loss (a (sparse) categorical
            cross-entropy means classification, logits when `from_logits=True`), else from a softmax head.
            A tfvb model knows its own task: a `task` that contradicts it is refused.

    Returns:
        A dict of numpy arrays, one row per input, with the names every tfvb model's
        `predict_uncertainty` reports. A model with its own `predict_uncertainty` (a tfvb model, a
        calibrated model of `tfvb.calibrate`, any object with the method) answers with it: a calibrated
        model's names include its `lower` / `upper` or `prediction_set`.
    """
    _checks.one_of("task", task, {*_task.TASKS, None})
    if _has_own(model, "predict_uncertainty"):
        own = _own_task(model)
        if task is not None and own is not None and task != own:
            raise ValueError(f"Expected `task` to be None or {own!r}, the task of the {type(model).__name__} "
                             f"given. Received: task={task!r}")
        return _delegate(model, "predict_uncertainty", x, samples, seed, batch_size, mc_dropout)
    samples = DEFAULT_SAMPLES if samples is None else samples
    sampler, arrays, samples, seed, mc_dropout = _prepare(model, x, samples, seed, mc_dropout,
                                                          "predict_uncertainty")
    if len(sampler.graph.outputs) != 1:
        raise ValueError(f"Expected a model with one output for predict_uncertainty. Received "
                         f"{len(sampler.graph.outputs)} outputs (use tfvb.predict_samples)")
    loss = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
    task, kind = graph_task(model, task)
    n = len(arrays[0])
    out_shape = tuple(sampler.graph.outputs[0].shape[1:])
    if task == "classification":
        summary = uncertainty.ClassificationAccumulator(n, out_shape[-1])
    elif kind == "gaussian":
        d = out_shape[-1] // 2
        summary = uncertainty.RegressionAccumulator((n,) + ((d,) if d > 1 else ()))
    else:
        summary = uncertainty.RegressionAccumulator((n,) + (out_shape if out_shape not in ((), (1,)) else ()))
    for rows, (out,) in sampler.blocks(arrays, samples, seed, batch_size, mc_dropout):
        if task == "classification":
            summary.add(_task.probabilities(out, kind).numpy(), rows)
        elif kind == "gaussian":  # means and variances (tfvb.gaussian.GaussianNLL): their mixture
            summary.add(*keras.losses.get(loss).numpy_moments(out), rows=rows)
        else:
            values = out.numpy()
            summary.add(values.reshape(values.shape[:2]) if out_shape in ((), (1,)) else values, rows=rows)
    return summary.result()
