"""What each tfvb family serves: its input, its deterministic `serve`, and its T draws as graph ops.

`for_model(model)` returns a `Predictive`: `serve(x)`, `draws(x, samples, seed)`
(the T raw draws stacked on a leading axis, as a dict: `probs` for classifiers,
`mean` and `variance` for regressors and for the VAEs' pixels), and the task
that says which summary `predict_uncertainty` reports. The draws are those of
the model's own Python `predict_samples` for the same samples and seed:

- BNNs (BNNClassifier, BNNRegressor, `tfvb.bayesianize` results): T weight
  draws in groups of G (the model's memory plan, `WeightDraws._sample_plan`),
  each group one vectorized call, group 0 with the seed pair (seed, 0),
  group g with its fold-in by g; normalization layers in inference mode.
- MC dropout: pass t with the seed pair (seed, t), all passes in one batched call.
- DeepEnsemble: the members are the draws (`samples` and `seed` are not used); members trained
  with `tfvb.gaussian.GaussianNLL` give each draw's mean and variance, as in Python.
- CVAE / IWAE: T latents z ~ q(z|x) (seed pair (seed, 0)), decoded to Bernoulli means.

`samples` is an int32 tensor (a SavedModel input: the group loop is a
`tf.while_loop`) or a Python int (LiteRT and ONNX fix T at export: the groups
are unrolled).
"""

import math

import tensorflow as tf

from tfvb import randomness

__all__ = ["Predictive", "for_model"]


class Predictive:
    """The served view of a model: `input_spec`, `task`, `serve(x)`, `draws(x, samples, seed)`, `extra`."""

    def __init__(self, model, input_spec, task, serve, draws, extra=None):
        self.model = model
        self.input_spec = input_spec
        self.task = task  # "classification" or "regression"
        self.serve = serve
        self.draws = draws
        #: Further SavedModel endpoints: {name: (fn, input_signature)}.
        self.extra = extra or {}


def seed_pair(seed):
    """An int64 scalar seed s as the stateless pair (s, 0) Python's methods use for `seed=s`."""
    seed = tf.cast(seed, tf.int64)
    return tf.stack([seed, tf.zeros_like(seed)])


def _squeeze_single(t, dim):
    return t[..., 0] if dim == 1 else t


# ---- BNNs --------------------------------------------------------------------------------------------
def _grouped_draws(model, x, samples, seed):
    """The T raw outputs (T, N, ...) of `WeightDraws._sample_blocks`, groups and seeds alike."""
    group_max = model._sample_plan(2**62, 1)[0]
    base = seed_pair(seed)

    def draw(count, key):
        return model._forward(x, training=False, num_samples=count, seed=key)

    def key_of(g):
        return tf.cast(randomness.stateless_fold_in(base, g), tf.int64)

    if isinstance(samples, int):  # fixed at export: the groups unrolled
        group = min(samples, group_max)
        out = [draw(group, base)] + [draw(group, key_of(g)) for g in range(1, math.ceil(samples / group))]
        return tf.concat(out, axis=0)[:samples] if len(out) > 1 else out[0]
    group = tf.minimum(samples, group_max)
    groups = (samples + group - 1) // group
    first = draw(group, base)

    def body(g, stack):
        return g + 1, tf.concat([stack, draw(group, key_of(g))], axis=0)

    _, stack = tf.while_loop(lambda g, _: g < groups, body, (tf.constant(1), first),
                             shape_invariants=(tf.TensorShape([]), tf.TensorShape([None] + first.shape[1:])))
    return stack[:samples]


def _bnn(model):
    if hasattr(model, "network"):  # a tfvb.bayesianize result (BayesianNetwork)
        shape, task = model.input_spec_shape, model.task

        def outputs(raw):
            if task == "classification":
                return {"probs": tf.exp(model._log_probs(raw))}
            mean = tf.reshape(raw, tf.concat([tf.shape(raw)[:2], [model.output_dim]], 0))
            variance = tf.exp(2.0 * model.noise_log_std) * tf.ones_like(mean)
            return {"mean": _squeeze_single(mean, model.output_dim),
                    "variance": _squeeze_single(variance, model.output_dim)}
    elif hasattr(model, "num_classes"):  # BNNClassifier
        shape, task = model.image_shape, "classification"

        def outputs(raw):
            return {"probs": tf.nn.softmax(raw)}
    else:  # BNNRegressor
        shape, task = (model.input_dim,), "regression"

        def outputs(raw):
            mean, std = model._mean_std(raw)
            return {"mean": _squeeze_single(mean, model.output_dim),
                    "variance": _squeeze_single(tf.square(std), model.output_dim)}

    def draws(x, samples, seed):
        return outputs(_grouped_draws(model, model._check_inputs(x), samples, seed))

    return Predictive(model, tf.TensorSpec((None,) + tuple(shape), tf.float32), task,
                      lambda x: model(x, training=False), draws)


# ---- MC dropout ---------------------------------------------------------------------------------------
def _mc_dropout(model):
    classifier = model.has_labels
    # LeNet takes images; an MLP the per-example shape it was built (trained) with, images or flat rows.
    shape = tuple(model.image_shape) if model.conv_layers else model.example_shape

    def named(outs):
        if classifier:
            return {"probs": outs[0]}
        return {"mean": _squeeze_single(outs[0], model.output_dim),
                "variance": _squeeze_single(outs[1], model.output_dim)}

    def serve(x):
        """Dropout off (the weights scaled, as Keras' Dropout at inference): one deterministic prediction."""
        x = model._flat_inputs(x)
        raw = model._layers_with_noise(model._normalize(x), [lambda h: h] * len(model.noise_shapes))
        out = named(model.outputs_from_raw(raw))
        return out["probs"] if classifier else out["mean"]

    def draws(x, samples, seed):
        x = model._flat_inputs(x)
        if randomness.is_portable():
            return named(model.outputs_from_raw(_portable_passes(model, x, samples, seed)))
        t = tf.range(samples, dtype=tf.int64)
        seeds = tf.stack([tf.fill(tf.shape(t), tf.cast(seed, tf.int64)), t], axis=1)
        if isinstance(samples, int):
            seeds = tf.reshape(seeds, (samples, 2))  # a static T (a T = 1 pass skips the map over seeds)
        return named(model.outputs_from_raw(model._seeded_passes(x, seeds)))

    return Predictive(model, tf.TensorSpec((None,) + shape, tf.float32),
                      "classification" if classifier else "regression", serve, draws)


def _portable_passes(model, x, samples, seed):
    """`MCDropoutBase._seeded_passes` for a fixed T without its map over per-pass seeds (LiteRT cannot lower
    the loop): site i's uniforms for all T passes in one draw keyed by (seed, i). Same distribution,
    other draws."""
    x = model._normalize(x)
    n = tf.shape(x)[0]
    pair = seed_pair(seed)
    uniforms = [randomness.stateless_uniform(tf.concat([[samples, n], list(w)], 0),
                                             randomness.stateless_fold_in(pair, i), dtype=x.dtype)
                for i, w in enumerate(model.noise_shapes)]
    noises = [lambda h, u=u, i=i: model._mask(h, u, i) for i, u in enumerate(uniforms)]
    return model._layers_with_noise(x[tf.newaxis], noises)


# ---- deep ensembles -----------------------------------------------------------------------------------
def _probabilities(outputs, kind):
    """Class probabilities from member outputs, as `tfvb.models._task.probabilities` (not imported: the
    models import this package)."""
    if kind == "logits":
        return tf.nn.softmax(outputs)
    outputs = tf.maximum(outputs, 0.0)
    return outputs / tf.reduce_sum(outputs, axis=-1, keepdims=True)


def _ensemble(model):
    task, kind = model.task_and_outputs

    def draws(x, samples, seed):
        stack = tf.stack(model._member_outputs(x))
        if task == "classification":
            return {"probs": _probabilities(stack, kind)}
        if kind == "gaussian":  # each member's (mean, variance), mixed by the summary as Python mixes them
            means, variances = model._gaussian.moments(stack)
            dim = means.shape[-1]
            return {"mean": _squeeze_single(means, dim), "variance": _squeeze_single(variances, dim)}
        if stack.shape.rank > 3:  # Python's predict_uncertainty refuses these too
            raise ValueError("Expected regression members with outputs of shape (N,) or (N, D) to serve a "
                             "DeepEnsemble's predictive (it summarizes draws (n, N) or (n, N, D)). Received: "
                             f"members' outputs of shape {(None,) + tuple(stack.shape[2:])}")
        dim = int(stack.shape[2]) if stack.shape.rank > 2 else 1
        stack = tf.reshape(stack, tf.concat([tf.shape(stack)[:2], [dim]], 0))
        mean = _squeeze_single(stack, dim)
        return {"mean": mean, "variance": tf.zeros_like(mean)}

    def members(x):
        return draws(x, None, None)

    spec = tf.TensorSpec((None,) + tuple(model.member_input_shape), tf.float32)
    extra = {"members": (members, [spec])}
    return Predictive(model, spec, task, lambda x: model(x, training=False), draws, extra)


# ---- VAEs ----------------------------------------------------------------------------------------------
def _vae(model):
    images = tf.TensorSpec((None,) + tuple(model.image_shape), tf.float32)

    def draws(x, samples, seed):
        probs = model.posterior_predictive_draws(x, samples, seed_pair(seed))
        return {"mean": probs, "variance": probs * (1.0 - probs)}

    def encode(x):
        mean, logvar = model.encode(x)
        return {"mean": mean, "logvar": logvar}

    def sample(n, seed):
        return tf.sigmoid(model.stateless_sample_logits(n, seed))

    scalar = tf.TensorSpec((), tf.int32)
    extra = {"encode": (encode, [images]),
             "decode": (lambda z: model.decode(z), [tf.TensorSpec((None, model.latent_dim), tf.float32)]),
             "sample": (sample, [scalar, scalar])}
    return Predictive(model, images, "regression", lambda x: model(x, training=False), draws, extra)


#: (the hook a family's models define, the family's Predictive). The models call `tfvb.serving` from
#: their `export`, so this module knows them by their hooks, not their classes (no import cycle).
_FAMILIES = (("posterior_predictive_draws", "_vae"), ("_seeded_passes", "_mc_dropout"),
             ("task_and_outputs", "_ensemble"), ("_sample_plan", "_bnn"))


def for_model(model):
    """The `Predictive` of a tfvb model; TypeError for another kind of model."""
    for hook, make in _FAMILIES:
        if hasattr(model, hook):
            return globals()[make](model)
    raise TypeError(f"Expected a tfvb model (BNNClassifier, BNNRegressor, a tfvb.bayesianize result, "
                    f"MCDropoutClassifier, MCDropoutRegressor, DeepEnsemble, CVAE, IWAE). "
                    f"Received: {type(model).__name__}")
