"""`tfvb.bayesianize`: a trained Keras model -> a Bayesian neural network of the same structure.

Every `Dense`, `Conv2D` and `Conv2DTranspose` becomes its tfvb counterpart
with a Gaussian posterior q(w) = N(mu, sigma^2) whose mean is the trained
weight (MOPED: Krishnan et al., 2020):

    mu = w,   sigma = delta |w|   (posterior_sigma_init=None; delta = moped_delta)
              sigma = s           (posterior_sigma_init=s)

and keeps its activation, bias, strides, padding and dilation. Layers
without weights (pooling, flatten, dropout, reshape, activations, merges)
and normalization layers are kept as they are, with their trained state;
layers named in `skip` stay deterministic. In posterior-mean mode the
result computes exactly what the original computed.
"""

import keras
import numpy as np

from tfvb import _checks
from tfvb import priors as priors_lib
from tfvb.layers._variational import check_posterior_sigma_init
from tfvb.layers.conv import Conv2DFlipout, Conv2DLocalReparameterization, Conv2DReparameterization
from tfvb.layers.conv_transpose import Conv2DTransposeFlipout, Conv2DTransposeReparameterization
from tfvb.layers.dense import DenseFlipout, DenseLocalReparameterization, DenseReparameterization
from tfvb.models import _task
from tfvb.models.bayesian_network import BayesianNetwork

__all__ = ["bayesianize", "SUPPORTED_LAYERS"]

#: Keras layer -> {estimator: tfvb layer}.
SUPPORTED_LAYERS = {
    keras.layers.Dense: {"flipout": DenseFlipout, "reparameterization": DenseReparameterization,
                         "local_reparameterization": DenseLocalReparameterization},
    keras.layers.Conv2D: {"flipout": Conv2DFlipout, "reparameterization": Conv2DReparameterization,
                          "local_reparameterization": Conv2DLocalReparameterization},
    keras.layers.Conv2DTranspose: {"flipout": Conv2DTransposeFlipout,
                                   "reparameterization": Conv2DTransposeReparameterization},
}
#: Layers with weights kept deterministic (their trained statistics carried over).
KEPT_WITH_WEIGHTS = (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                     keras.layers.GroupNormalization)
_CONV_ARGS = ("filters", "kernel_size", "strides", "padding", "dilation_rate")
#: Settings of a converted layer with no meaning for a posterior: refused, or dropped on request.
_WEIGHT_PENALTIES = ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint")
#: MOPED scales are floored here: a weight of exactly 0 still gets a (tiny) posterior.
MIN_MOPED_SIGMA = 1e-5


def _supported_names():
    kept = ", ".join(c.__name__ for c in KEPT_WITH_WEIGHTS)
    return (f"{', '.join(c.__name__ for c in SUPPORTED_LAYERS)} (made Bayesian); layers without weights and "
            f"{kept} (kept); any layer named in `skip` (kept deterministic)")


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a keras.Model. Received: model={model!r}")
    if not (isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"):
        raise ValueError("Expected a Sequential or Functional keras.Model (a subclassed model's graph cannot be "
                         f"rewritten). Received: a {type(model).__name__}")
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError("Expected a built model with a known input (start a Sequential with keras.Input). "
                         f"Received: model {model.name!r} with no input")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"Expected a model with one input and one output. Received: {len(model.inputs)} "
                         f"input(s) and {len(model.outputs)} output(s)")


def _check_penalties(op, drop_regularizers):
    """Refuse a converted layer's weight regularizers and constraints unless asked to drop them."""
    config = op.get_config()
    found = {key: config[key] for key in _WEIGHT_PENALTIES if config.get(key) is not None}
    if found and not drop_regularizers:
        shown = ", ".join(f"{key}={value.get('class_name', value) if isinstance(value, dict) else value!r}"
                          for key, value in found.items())
        raise ValueError(
            f"Expected layers to convert without weight regularizers or constraints: in a BNN the prior "
            f"(`prior=`) regularizes the weights, and a constraint has no counterpart on a posterior. Received: "
            f"layer {op.name!r} with {shown} (pass drop_regularizers=True to drop them, or name the layer in "
            "`skip` to keep it deterministic)")


def _plan(model, layer, skip, drop_regularizers=False):
    """{layer name: tfvb class or None (kept)}; raises on layers it cannot handle."""
    names = {op.name for op in model.layers}
    unknown = sorted(set(skip) - names)
    if unknown:
        raise ValueError(f"Expected `skip` to name layers of the model. Received unknown names {unknown}; "
                         f"the model's layers are {sorted(names)}")
    plan = {}
    for op in model.layers:
        if isinstance(op, keras.layers.InputLayer):
            continue
        if isinstance(op, keras.Model):
            raise ValueError(f"Expected a flat model; nested models are not supported. Received: layer "
                             f"{op.name!r} ({type(op).__name__}), a model inside the model (rebuild it flat)")
        if op.name in skip:
            plan[op.name] = None
        elif type(op) in SUPPORTED_LAYERS:
            choices = SUPPORTED_LAYERS[type(op)]
            if layer not in choices:
                raise ValueError(f"Expected `layer` to be one of {sorted(choices)} for {type(op).__name__} "
                                 f"layer {op.name!r}. Received: layer={layer!r} (or name it in `skip`)")
            config = op.get_config()
            if config.get("data_format", "channels_last") != "channels_last" or config.get("groups", 1) != 1 \
                    or getattr(op, "lora_enabled", False) or getattr(op, "quantization_mode", None):
                raise ValueError(f"Expected channels_last, ungrouped, unquantized layers without LoRA. Received: "
                                 f"layer {op.name!r} ({type(op).__name__}) with an unsupported setting "
                                 "(name it in `skip` to keep it deterministic)")
            _check_penalties(op, drop_regularizers)
            plan[op.name] = choices[layer]
        elif not op.weights or isinstance(op, KEPT_WITH_WEIGHTS):
            plan[op.name] = None
        else:
            raise ValueError(f"Expected layers tfvb can convert or keep: {_supported_names()}. Received: layer "
                             f"{op.name!r} ({type(op).__name__})")
    if not any(plan.values()):
        raise ValueError("Expected at least one Dense, Conv2D or Conv2DTranspose layer to make Bayesian. "
                         f"Received none outside `skip` in {model.name!r}")
    return plan


def _bayesian_layer(op, cls, prior, seed):
    config = op.get_config()
    kwargs = {key: config[key] for key in (("units",) if "units" in config else _CONV_ARGS)}
    if "output_padding" in config:
        kwargs["output_padding"] = config["output_padding"]
    return cls(**kwargs, activation=config["activation"], use_bias=config["use_bias"], prior=prior, seed=seed,
               name=op.name, dtype=op.dtype_policy, activity_regularizer=config.get("activity_regularizer"))


def _kept_layer(op):
    """A fresh copy of a layer kept as it is (its weights are copied after cloning)."""
    if isinstance(op, keras.layers.Lambda):
        # A Lambda's function is in memory, not read from a file: Keras' safe mode (against code in saved
        # files) has nothing to protect here.
        from keras.src.saving import serialization_lib

        with serialization_lib.SafeModeScope(False):
            return op.__class__.from_config(op.get_config())
    return op.__class__.from_config(op.get_config())


def _posterior_rho(kernel, posterior_sigma_init, moped_delta):
    """rho = softplus^-1(sigma) with sigma fixed, or delta |w| (floored), computed without overflow."""
    if posterior_sigma_init is not None:
        sigma = np.full(kernel.shape, posterior_sigma_init, np.float64)
    else:
        sigma = np.maximum(moped_delta * np.abs(kernel.astype(np.float64)), MIN_MOPED_SIGMA)
    return (sigma + np.log(-np.expm1(-sigma))).astype(np.float32)


def bayesianize(model, layer="flipout", prior=None, posterior_sigma_init=None, num_examples=None, skip=(),
                task=None, moped_delta=0.1, seed=None, drop_regularizers=False):
    """Turn a trained Keras model into a Bayesian neural network of the same structure.

    Every `Dense`, `Conv2D` (and `Conv2DTranspose`) becomes a tfvb Bayesian
    layer with posterior mean = the trained weights and posterior scale
    `moped_delta * |w|` (MOPED, the default) or `posterior_sigma_init`;
    pooling, flatten, dropout, normalization and other weightless layers are
    kept with their trained state, layers named in `skip` stay deterministic.
    The result is a `tfvb.models.BayesianNetwork`: `model(x)` returns what
    the original returned (logits stay logits) from the posterior means;
    `fit` on the original's targets minimizes the negative ELBO with the KL
    weighed by the training-set size N (as tfvb's BNNs do: learned from `fit`
    on arrays, or `num_examples`); `predict_uncertainty(x, samples=T)`
    reports `BNNClassifier`'s or `BNNRegressor`'s named outputs; it saves to
    and loads from `.keras`.

    Args:
        model: a built Sequential or Functional Keras model, one input and one
            output (nested models are refused).
        layer: "flipout", "reparameterization" or "local_reparameterization"
            (transposed convolutions: the first two).
        prior: a `tfvb.priors` prior for every converted weight (None: N(0, 1)).
        posterior_sigma_init: a fixed initial posterior scale; None for MOPED
            scales `moped_delta * |w|` (floored at 1e-5).
        num_examples: training-set size N (None: learned by `fit` from arrays).
        skip: names of layers to keep deterministic.
        task: "classification", "regression", or None to infer it from the
            model's compiled loss: a (sparse) categorical cross-entropy means
            classification (logits when `from_logits=True`, else probabilities),
            any other loss regression (a Gaussian likelihood with a learned
            noise scale, so `predict_uncertainty` splits epistemic and aleatoric).
        moped_delta: the MOPED factor delta (Krishnan et al. use 0.1).
        seed: seed of the weight draws (None: random).
        drop_regularizers: whether to drop the weight regularizers and constraints of the layers made
            Bayesian (the prior takes a regularizer's place); by default such a layer is refused with
            an error. An activity regularizer is kept; it and the losses of the layers kept as they are
            (their weight regularizers, `add_loss` terms) join the objective at full weight, as Keras adds
            them, outside the KL / N term.

    Returns:
        A `tfvb.models.BayesianNetwork`, compiled with a fresh copy of the
        original's optimizer and its compiled metrics when the original was
        compiled (its loss becomes the ELBO's data term).

    Example:
        >>> images, labels = tfvb.data.mnist_sample()             # 2,000 digits bundled with tfvb
        >>> x_train, y_train, x_test = images[:1000], labels[:1000], images[1000:1100]
        >>> net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
        ...                         keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(10)])
        >>> net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> history = net.fit(x_train, y_train, epochs=1, verbose=0)
        >>> bnn = tfvb.bayesianize(net, layer="flipout")          # same logits in posterior-mean mode
        >>> history = bnn.fit(x_train, y_train, epochs=1, verbose=0)   # ELBO, KL / len(x_train)
        >>> u = bnn.predict_uncertainty(x_test, samples=100)      # mean, entropy, mutual_information, ...
        >>> u["mean"].shape
        (100, 10)

    References:
        Krishnan, Subedar, Tickoo. Specifying Weight Priors in Bayesian Deep
        Neural Networks with Empirical Bayes. AAAI 2020.
        Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
    """
    _check_model(model)
    layer = _checks.one_of("layer", layer, {"flipout", "reparameterization", "local_reparameterization"})
    prior = priors_lib.get(prior)
    if posterior_sigma_init is not None:
        posterior_sigma_init = check_posterior_sigma_init(posterior_sigma_init)
    moped_delta = _checks.positive_float("moped_delta", moped_delta)
    if isinstance(skip, str):
        skip = (skip,)
    skip = tuple(skip)
    seed = _checks.integer("seed", seed, allow_none=True)  # the layers take Python ints
    loss = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
    task, outputs = _task.infer(None if loss is None else keras.losses.get(loss), task=task, model=model)
    if outputs == "gaussian":
        raise ValueError("Expected a network predicting class scores or regression means (bayesianize's regressor "
                         "learns one noise variance). Received: a network compiled with tfvb.gaussian.GaussianNLL "
                         "(means and variances); compile it with a mean-squared error to bayesianize it")
    plan = _plan(model, layer, skip, drop_regularizers)

    count = iter(range(len(plan)))

    def clone(op):
        cls = plan[op.name]
        if cls is None:
            return _kept_layer(op)
        return _bayesian_layer(op, cls, prior, None if seed is None else seed * 1000 + next(count) + 1)

    cloned = keras.models.clone_model(model, clone_function=clone)
    network = keras.Model(cloned.inputs, cloned.outputs, name=f"{model.name}_bayesian")
    for op in model.layers:
        if op.name not in plan:  # the input layer
            continue
        new = network.get_layer(op.name)
        if plan[op.name] is None:
            new.set_weights(op.get_weights())
            continue
        kernel = op.kernel.numpy()
        new.kernel_loc.assign(kernel)
        new.kernel_rho.assign(_posterior_rho(kernel, posterior_sigma_init, moped_delta))
        if op.use_bias:
            new.bias.assign(op.bias.numpy())
    result = BayesianNetwork(network, task=task, outputs=outputs, layer=layer, prior=prior,
                             num_examples=num_examples, posterior_sigma_init=posterior_sigma_init, seed=seed)
    if loss is not None and getattr(model, "optimizer", None) is not None:
        optimizer = model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # a fresh optimizer, not the loss-scale wrapper
        from keras.src.saving import serialization_lib

        config = serialization_lib.deserialize_keras_object(model.get_compile_config() or {})
        result.compile(optimizer=inner.__class__.from_config(inner.get_config()), metrics=config.get("metrics"),
                       weighted_metrics=config.get("weighted_metrics"))
    return result
