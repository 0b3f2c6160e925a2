"""What tfvb's Bayesian neural networks share: the minibatch ELBO, KL weighting, steps, fit.

With a mean-field posterior q(W) over the weights and N training examples,

    ELBO = sum_n E_q[log p(y_n | x_n, W)] - KL(q(W) || p(W)).

Each step estimates it on a minibatch of B examples, per example:

    loss = (1/B) sum_b E_q[-log p(y_b | x_b, W)]  +  w_i KL / N

with the expectation from `train_samples` weight draws. The KL weights w_i
(relative to a uniform share) spread the KL over the M minibatches of an
epoch: "uniform" w_i = 1, or "blundell" w_i = M pi_i with
pi_i = 2^(M-i) / (2^M - 1) for the i-th minibatch (pi sums to 1 over the
epoch: early batches carry the prior, later ones the data). Optional linear
warm-up multiplies w_i by min(1, step / kl_warmup_steps).

N is needed to weigh data against prior: give `num_examples`, or let `fit`
count the arrays it receives; the models refuse to train without it.
Reported metrics are per example: `nll`, `kl` (= KL / N), `elbo`
(= -(nll + kl)), `loss` (the weighted objective), and `accuracy` or `rmse`,
then the metrics passed to `compile` (on the predictive probabilities or
mean, see `tfvb.models._compile`); a `loss` passed to `compile` is refused.

References:
    Blundell, Cornebise, Kavukcuoglu, Wierstra. Weight Uncertainty in Neural
    Networks. ICML 2015.
    Gal. Uncertainty in Deep Learning. PhD thesis, 2016.
"""

import math
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, randomness
from tfvb import priors as priors_lib
from tfvb.layers._variational import check_posterior_sigma_init
from tfvb.layers.dense import DenseFlipout, DenseLocalReparameterization, DenseReparameterization
from tfvb.models import _base, _divergence, _inputs, _train_function
from tfvb.models._base import average_loss, global_batch_size, replicas_in_sync, unpack_batch, update_trackers
from tfvb.models._compile import KerasCompile
from tfvb.models._distribute import LocalBatchBuild
from tfvb.models._weight_draws import WeightDraws

__all__ = ["BNNBase", "blundell_kl_weights"]

DENSE_LAYERS = {
    "flipout": DenseFlipout,
    "reparameterization": DenseReparameterization,
    "local_reparameterization": DenseLocalReparameterization,
}
KL_WEIGHTINGS = ("uniform", "blundell")


def blundell_kl_weights(num_batches):
    """pi_i = 2^(M-i) / (2^M - 1), i = 1..M: Blundell et al.'s minibatch KL weights (sum to 1)."""
    m = _checks.positive_int("num_batches", num_batches)
    i = np.arange(1, m + 1, dtype=np.float64)
    # 2^-i / (1 - 2^-M) is the same number without overflowing 2^M.
    return np.exp2(-i) / -np.expm1(-m * np.log(2.0))


def _num_examples_of(x, validation_split):
    """The training-set size `fit` will see, or None when it cannot be known without iterating."""
    first = x
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, dict) and first:
        first = next(iter(first.values()))
    if isinstance(first, (np.ndarray, tf.Tensor)) or hasattr(first, "__array__"):
        n = int(np.shape(first)[0])
        return int(math.floor(n * (1.0 - (validation_split or 0.0))))
    return None


class BNNBase(
    LocalBatchBuild, KerasCompile, WeightDraws,
    _divergence.FiniteWeightsOnly, _train_function.LeanTrainFunction, randomness.SavesSeedState, keras.Model,
):
    """What the classifier and the regressor share: layers, KL weighting, steps, fit."""

    def __init__(self, *, hidden_units, layer="flipout", prior=None, num_examples=None, activation="relu",
                 kl_weighting="uniform", kl_warmup_steps=0, train_samples=1, posterior_sigma_init=0.01, seed=None,
                 **kwargs):
        # Under mixed precision the model's inputs reach `call` in float32, as in `fit` and `predict_uncertainty`
        # (Keras' autocast would round raw regression features to float16 before they are standardized, and
        # check `input_range` on rounded values); the layers cast their own inputs to the policy's dtype.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.hidden_units = _checks.int_tuple("hidden_units", hidden_units, allow_empty=True)
        self.layer = _checks.one_of("layer", layer, set(DENSE_LAYERS))
        self.prior = priors_lib.get(prior)
        self.num_examples = None if num_examples is None else _checks.positive_int("num_examples", num_examples)
        self.activation = activation
        self.kl_weighting = _checks.one_of("kl_weighting", kl_weighting, set(KL_WEIGHTINGS))
        if isinstance(kl_warmup_steps, bool) or not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
            raise ValueError(
                "Expected `kl_warmup_steps` to be a non-negative integer. "
                f"Received: kl_warmup_steps={kl_warmup_steps!r}"
            )
        self.kl_warmup_steps = kl_warmup_steps
        self.train_samples = _checks.positive_int("train_samples", train_samples)
        # None: the subclass initialises the posterior scales itself (tfvb.bayesianize's MOPED scales).
        self.posterior_sigma_init = (
            None if posterior_sigma_init is None else check_posterior_sigma_init(posterior_sigma_init)
        )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Expected `seed` to be None or an integer. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Bookkeeping for the KL weights; under tf.distribute every replica sees the first one's values.
        bookkeeping = {"trainable": False, "aggregation": "only_first_replica"}
        self._n_var = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(num_examples or 0), name="num_examples", **bookkeeping
        )
        self._steps_var = self.add_weight(shape=(), initializer="zeros", name="steps_per_epoch", **bookkeeping)
        self._kl_step = self.add_weight(shape=(), initializer="zeros", name="kl_step", **bookkeeping)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self._num_bayesian = 0

    # ---- N: a Python attribute, restored from `_n_var` when weights are loaded -------
    @property
    def num_examples(self):
        n = self.__dict__.get("_num_examples")
        if n is None and "_n_var" in self.__dict__ and tf.executing_eagerly():
            stored = float(self._n_var.numpy())
            if stored > 0:
                n = self._num_examples = int(round(stored))
        return n

    @num_examples.setter
    def num_examples(self, value):
        self._num_examples = value

    def load_own_variables(self, store):
        super().load_own_variables(store)
        stored = float(self._n_var.numpy())
        if stored > 0:
            # `load_weights` (keras-tuner reloads, BackupAndRestore) brings back the N trained with.
            self._num_examples = int(round(stored))

    def _bayesian(self, cls, *args, **kwargs):
        """A Bayesian layer sharing the model's prior, initial sigma and dtype policy, with its own seed."""
        index = self._num_bayesian
        self._num_bayesian += 1
        return cls(
            *args,
            prior=self.prior,
            posterior_sigma_init=self.posterior_sigma_init,
            seed=None if self.seed is None else self.seed * 1000 + index + 1,
            name=f"{cls.__name__.lower()}_{index}",
            **{"dtype": self.dtype_policy, **kwargs},  # the model's policy, not the global one
        )

    @property
    def _bayesian_layers(self):
        return list(getattr(self, "conv_layers", [])) + list(self.dense_layers)

    def _build_dense_layers(self, units):
        """Build `self.dense_layers` in order, the first on `units` input features."""
        for dense in self.dense_layers:
            dense.build((None, units))
            units = dense.units

    def _dense_forward(self, h, seeds, **kwargs):
        """Run `self.dense_layers` in order, each with the next seed of `seeds`; outputs in float32."""
        for dense in self.dense_layers:
            h = dense(h, seed=next(seeds), **kwargs)
        # Under mixed precision the layers compute in float16/bfloat16; the softmax, the likelihood
        # and the metrics take the head's outputs in the variable dtype (float32).
        return tf.cast(h, self.variable_dtype)

    def _layer_seeds(self, seed):
        """Per-layer [2] seeds from a call seed (None: the layers' own generators)."""
        if seed is None:
            return [None] * len(self._bayesian_layers)
        base = randomness.seed_tensor(seed)
        return [randomness.stateless_fold_in(base, i) for i in range(len(self._bayesian_layers))]

    # ---- the objective ------------------------------------------------------------
    def _collect_kl(self):
        """The KL terms of the Bayesian layers' last calls (a training pass adds one per layer)."""
        return tf.add_n([layer.__dict__["_tfvb_kl"] for layer in self._bayesian_layers])

    def _other_losses(self, kl):
        """The model's losses other than the layers' KL terms (the weight regularizers of layers kept
        deterministic, activity regularizers, `add_loss` terms), summed: what Keras adds to a model's loss at
        full weight. None when there are none."""
        losses = self.losses
        if len(losses) == len(self._bayesian_layers):  # one KL term per layer, nothing else
            return None
        return tf.add_n([tf.cast(loss, kl.dtype) for loss in losses]) - kl

    objective_name = "the negative ELBO per example (nll + KL / N)"

    def _require_num_examples(self):
        if self.num_examples is None:
            raise ValueError(
                f"{type(self).__name__} needs the training-set size to weigh the KL against the data. "
                "Expected `num_examples` in the constructor, or `fit` on arrays (whose length is counted). "
                "Received: num_examples=None"
            )

    def _kl_weight(self, batch_size):
        """w_i for this step (advances the within-epoch counter)."""
        weight = tf.constant(1.0)
        if self.kl_weighting == "blundell":
            n = self._n_var
            steps = tf.where(
                self._steps_var > 0,
                self._steps_var,
                tf.math.ceil(n / tf.cast(global_batch_size(batch_size), tf.float32)),
            )
            i = tf.math.floormod(self._kl_step, steps) + 1.0
            weight = steps * tf.pow(2.0, -i) / -tf.math.expm1(-steps * math.log(2.0))
        if self.kl_warmup_steps:
            done = tf.cast(self.optimizer.iterations + 1, tf.float32) / float(self.kl_warmup_steps)
            weight = weight * tf.minimum(1.0, done)
        self._kl_step.assign_add(1.0)
        return weight

    def _estimate(self, x, y):
        """Per-example NLL averaged over `train_samples` draws, their mean KL, and predictions."""
        nll, kl, others, outputs = [], [], [], []
        # Under tf.distribute: where this replica's examples sit in the global batch, for the
        # layers' per-example noise (computed once, before any layer runs).
        batch_slice = randomness.replica_batch_slice(tf.shape(x)[0]) if replicas_in_sync() > 1 else None
        for _ in range(self.train_samples):
            out = self._forward(x, training=True, batch_slice=batch_slice)
            kl.append(self._collect_kl())
            other = self._other_losses(kl[-1])
            if other is not None:
                others.append(other)
            nll.append(self._nll(out, y))
            outputs.append(out)
        other = tf.add_n(others) / len(others) if others else None
        return tf.add_n(nll) / len(nll), tf.add_n(kl) / len(kl), other, outputs

    def _step_values(self, x, y, sample_weight, kl_weight):
        nll, kl, other, outputs = self._estimate(x, y)
        kl_per_example = kl / self._n_var
        loss = average_loss(nll, sample_weight) + kl_weight * kl_per_example / replicas_in_sync()
        ones = tf.ones_like(nll)
        objective = nll + kl_weight * kl_per_example * ones
        if other is not None:  # as Keras adds a model's other losses: at full weight, in `loss` only
            loss = loss + other / replicas_in_sync()
            objective = objective + other * ones
        reported = nll + self._nll_offset()  # the NLL of the data as given (the regressor's targets' units)
        values = {
            "loss": objective,
            "nll": reported,
            "kl": kl_per_example * ones,
            "elbo": -(reported + kl_per_example),
            **self._extra_values(outputs, y),
        }
        return loss, values

    def _nll_offset(self):
        """What turns `_nll` into the NLL of the data as given (0: `_nll` already is; see `BNNRegressor`)."""
        return 0.0

    def _checked_batch(self, x, y):
        """The subclass's shape checks, then run-time finite checks wired into x and y."""
        x, y = self._check_batch(x, y)
        if x.dtype.is_floating:
            x = _checks.assert_finite(x, "inputs")
        if y.dtype.is_floating:
            y = _checks.assert_finite(y, "targets")
        return x, y

    def train_step(self, data):
        self._require_num_examples()
        x, given, sample_weight = unpack_batch(data)
        x, y = self._checked_batch(x, given)
        kl_weight = self._kl_weight(tf.shape(x)[0])
        with tf.GradientTape() as tape:
            loss, values = self._step_values(x, y, sample_weight, kl_weight)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.update_compiled_metrics(x, given, values["_prediction"], sample_weight)
        return self._update(values, y, sample_weight)

    def test_step(self, data):
        self._require_num_examples()
        x, given, sample_weight = unpack_batch(data)
        x, y = self._checked_batch(x, given)
        _, values = self._step_values(x, y, sample_weight, tf.constant(1.0))
        self.update_compiled_metrics(x, given, values["_prediction"], sample_weight)
        return self._update(values, y, sample_weight)

    def _update(self, values, y, sample_weight):
        return update_trackers(self.metrics, values, sample_weight)

    # ---- fit: check the data, learn N ----------------------------------------------
    #: Whether `y` holds class labels (the classifier) or real targets.
    has_labels = False

    def _check_arrays(self, x, y):
        """The subclass's checks of array inputs and targets, before Keras sees them."""

    def _user_data(self, x, y, kwargs, method):
        """(x, y, kwargs) of a fit/evaluate call, lists made arrays and everything checked."""
        x, y, weights = _inputs.user_data(
            x, y, kwargs.pop("sample_weight", None), method=method, labels=self.has_labels
        )
        if weights is not None:
            kwargs["sample_weight"] = weights
        if not self.has_labels:
            _inputs.refuse_class_weight(self, kwargs)
        _base.require_examples(x, method)
        if _inputs.num_rows(x) is not None:
            self._check_arrays(x, y)
        return x, y, _inputs.validation_data(kwargs, labels=self.has_labels)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` that first checks the data and learns the training-set size (N) from arrays."""
        x, y, kwargs = self._user_data(x, y, kwargs, "fit")
        counted = _num_examples_of(x, _inputs.validation_split_of(kwargs))
        self._before_fit(x, y, counted)
        if counted is not None:
            if self.num_examples is not None and self.num_examples != counted:
                warnings.warn(
                    f"{type(self).__name__}: num_examples={self.num_examples} replaced by the "
                    f"{counted} training examples passed to fit.",
                    stacklevel=2,
                )
            self.num_examples = counted
        self._require_num_examples()
        self._n_var.assign(float(self.num_examples))
        steps = kwargs.get("steps_per_epoch")
        if steps is None and counted is not None:
            steps = math.ceil(counted / (batch_size or 32))
        elif steps is None and isinstance(x, tf.data.Dataset) and int(x.cardinality()) > 0:
            steps = int(x.cardinality())
        self._steps_var.assign(float(steps or 0))
        self._kl_step.assign(0.0)
        self._build_from(x)
        x, kwargs = _base.fit_arguments(self, x, kwargs)
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def _before_fit(self, x, y, counted):
        """What a subclass learns from the checked data of `fit`, of which the first `counted` rows train
        (None: not arrays); nothing here."""

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        x, y, kwargs = self._user_data(x, y, kwargs, "evaluate")
        # Built here as `fit` builds it: Keras' own build inside `evaluate` would lock the model's state
        # half-built, and the next `fit` could not create the weights.
        self._build_from(x)
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def _build_from(self, x):
        if not self.built:
            shape = self._input_shape_of(x)
            if shape is not None:
                self.build(shape)

    @staticmethod
    def _input_shape_of(x):
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            spec = spec[0] if isinstance(spec, tuple) else spec
            return tuple(spec.shape)
        if x is not None and hasattr(x, "shape"):
            return (None,) + tuple(np.shape(x)[1:])
        return None

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": self.hidden_units,
            "layer": self.layer,
            "prior": keras.saving.serialize_keras_object(self.prior),
            "num_examples": self.num_examples,
            "activation": self.activation,
            "kl_weighting": self.kl_weighting,
            "kl_warmup_steps": self.kl_warmup_steps,
            "train_samples": self.train_samples,
            "posterior_sigma_init": self.posterior_sigma_init,
            "seed": self.seed,
        }
