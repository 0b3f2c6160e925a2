"""MC-dropout networks (Gal & Ghahramani 2016): a regressor and a classifier.

An MLP with dropout before every dense layer, the input layer included, kept
active at prediction. Training with dropout and L2 weight decay

    lambda = l^2 (1 - p) / (2 N tau)

(l the prior lengthscale, p the dropout rate, N the number of training
examples, tau the noise precision) fits a Bernoulli variational distribution
over the weights; T stochastic passes f_1..f_T are samples of the approximate
predictive distribution:

    E[y]   ~ (1/T) sum_t f_t
    Var[y] ~ 1/tau + (1/T) sum_t f_t^2 - E[y]^2        (aleatoric + epistemic)

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation: Representing Model
    Uncertainty in Deep Learning. ICML 2016.
    Hernández-Lobato, Adams. Probabilistic Backpropagation for Scalable
    Learning of Bayesian Neural Networks. ICML 2015.
    Kendall, Gal. What Uncertainties Do We Need in Bayesian Deep Learning for
    Computer Vision? NeurIPS 2017 (the heteroscedastic output).
    Gal, Hron, Kendall. Concrete Dropout. NeurIPS 2017 (learned dropout rates).

Concrete dropout (`concrete=True`) learns one dropout rate p_l per layer by
gradient descent on the ELBO: masks are relaxed Bernoulli draws of temperature
t (0.1), 1 - z with z = sigmoid((logit p + log u - log(1 - u)) / t), u ~ U(0, 1),
and the KL term per layer of input width K is

    l^2 ||W||^2 / (2 N (1 - p)) + (K / N) (p log p + (1 - p) log(1 - p)),

the per-example negative ELBO of the paper (its code's weight and dropout
regularizers l^2 / N and 2 / N, halved for a data term that is the negative
log-likelihood itself). Its data term must be a likelihood, so it applies to the
heteroscedastic regressor and the classifier.
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, uncertainty
from tfvb.models._base import SavesSeedState, average_loss, replica_batch_slice, unpack_batch, update_trackers

__all__ = ["MCDropoutRegressor", "MCDropoutClassifier"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# Elements of one chunk of T stacked passes (T_chunk * N * width): bounds the memory of predict_uncertainty.
_CHUNK_ELEMENTS = 1 << 23
_EPS = 1e-7  # inside the logs of concrete dropout, as in the paper's code


def concrete_dropout(h, p, u, temperature):
    """h * (1 - z) / (1 - p): z the relaxed Bernoulli(p) drop of uniforms u at `temperature` (broadcasting)."""
    drop = tf.sigmoid((tf.math.log(p + _EPS) - tf.math.log(1.0 - p + _EPS) + tf.math.log(u + _EPS)
                       - tf.math.log(1.0 - u + _EPS)) / temperature)
    return h * (1.0 - drop) / (1.0 - p)


def concrete_kl(squared_norm, p, fan_in, decay, inv_n):
    """One layer's concrete-dropout KL per example: decay ||W||^2 / (1 - p) + (K / N)(p log p + (1 - p) log(1 - p)),
    with decay = l^2 / (2 N), K = fan_in and 1 / N = inv_n."""
    entropy = p * tf.math.log(p + _EPS) + (1.0 - p) * tf.math.log(1.0 - p + _EPS)
    return decay * squared_norm / (1.0 - p) + fan_in * inv_n * entropy


@keras.saving.register_keras_serializable(package="tfvb")
class RootMean(keras.metrics.Mean):
    """sqrt of a running mean: the RMSE when fed squared errors."""

    def result(self):
        return tf.sqrt(super().result())


def _seed_pair(seed):
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return (int(seed), 0)
    pair = tuple(int(s) for s in np.asarray(seed).reshape(-1))
    if len(pair) != 2:
        raise ValueError(f"Expected `seed` to be an integer or a pair of integers. Received: seed={seed!r}")
    return pair


class _MCDropoutMLP(SavesSeedState, keras.Model):
    """Shared network, normalization, MC sampling and train/test steps."""

    metric_names = ("loss",)
    normalizes_inputs = True

    def __init__(self, hidden_units=(50,), dropout_rate=0.05, lengthscale=1e-2, num_examples=None,
                 seed=None, concrete=False, temperature=0.1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = _checks.int_tuple("hidden_units", hidden_units)
        self.dropout_rate = _checks.open_unit_interval("dropout_rate", dropout_rate)
        self.concrete = bool(concrete)
        self.temperature = _checks.positive_float("temperature", temperature)
        if self.concrete and not self.likelihood_objective:
            raise ValueError(
                "Expected heteroscedastic=True with concrete=True: concrete dropout learns p from the ELBO, "
                "and the homoscedastic objective (Gal's protocol: tau in the targets' units, targets "
                "standardized) is not on its scale. Received: concrete=True, heteroscedastic=False"
            )
        self.lengthscale = _checks.positive_float("lengthscale", lengthscale)
        self.num_examples = None if num_examples is None else _checks.positive_int("num_examples", num_examples)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.hidden = [keras.layers.Dense(h, activation="relu", name=f"hidden_{i}")
                       for i, h in enumerate(self.hidden_units)]
        self.head = keras.layers.Dense(self.output_units, name="head")
        self.trackers = [RootMean(name=n) if n == "rmse" else keras.metrics.Mean(name=n) for n in self.metric_names]

    # -- subclass hooks -------------------------------------------------------
    output_units = 1
    #: The data term is the per-example negative log-likelihood (concrete dropout needs it).
    likelihood_objective = True

    def objective(self, raw, y):
        """Per-example data term (normalized units) and the tracker values."""
        raise NotImplementedError

    def noise_precision(self):
        """The tau in lambda = l^2 (1 - p) / (2 N tau)."""
        return 1.0

    # -- building and normalization ---------------------------------------------
    def build(self, input_shape):
        self.input_dim = int(np.prod(input_shape[1:]))
        self.x_mean = self.add_weight(shape=(self.input_dim,), initializer="zeros", trainable=False, name="x_mean")
        self.x_scale = self.add_weight(shape=(self.input_dim,), initializer="ones", trainable=False, name="x_scale")
        self.adapted = self.add_weight(shape=(), initializer="zeros", trainable=False, name="adapted")
        width = self.input_dim
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        self.head.build((None, width))
        if self.concrete:
            logit = math.log(self.dropout_rate) - math.log1p(-self.dropout_rate)
            self.dropout_logits = self.add_weight(
                shape=(len(self.hidden) + 1,), initializer=keras.initializers.Constant(logit), name="dropout_logits")
        self.build_targets()

    def build_targets(self):
        pass

    def build_from_config(self, config):
        super().build_from_config(config)
        if self.built:
            self.mark_called()

    def mark_called(self):
        """One forward pass, so Keras records the input signature `model.export` needs."""
        self(keras.ops.zeros((1, self.input_dim)))

    @property
    def metrics(self):
        return self.trackers

    def _flat_inputs(self, x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank is None or x.shape.rank < 2:
            raise ValueError(f"Expected `inputs` of shape (batch, features...). Received: inputs.shape={x.shape}")
        x = tf.cast(tf.reshape(x, (-1, int(np.prod(x.shape[1:])))), self.compute_dtype)
        if self.built and x.shape[-1] != self.input_dim:
            raise ValueError(
                f"Expected `inputs` with {self.input_dim} features. Received: inputs.shape={x.shape}"
            )
        return x

    def _normalize(self, x):
        return (x - self.x_mean) / self.x_scale

    def adapt(self, x, y=None):
        """Learn the input (and target) normalization from training data; set `num_examples` if unset."""
        x = np.asarray(_checks.finite_array("x", x), dtype=np.float64)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"Expected `x` of shape (N, features...) with N >= 1. Received: x.shape={x.shape}")
        x = x.reshape(len(x), -1)
        if not self.built:
            self.build((None,) + x.shape[1:])
        if self.normalizes_inputs:
            mean, std = x.mean(axis=0), x.std(axis=0)
            self.x_mean.assign(mean.astype("float32"))
            # Constant features (std zero, or rounding noise ~1e-16 |mean|) are centred, not scaled.
            self.x_scale.assign(np.where(std > 1e-8 * np.abs(mean), std, 1.0).astype("float32"))
        if y is not None:
            self.adapt_targets(self.check_targets(y, len(x)))
        if self.num_examples is None:
            self.num_examples = len(x)
        self.adapted.assign(1.0)
        self.mark_called()
        return self

    def adapt_targets(self, y):
        pass

    def check_targets(self, y, n):
        y = np.asarray(_checks.finite_array("y", y), dtype=np.float64)
        if len(y) != n:
            raise ValueError(f"Expected `y` with {n} rows to match `x`. Received: y.shape={y.shape}")
        return y

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, adapting the normalization first when given arrays and not yet adapted."""
        if not (self.built and float(keras.ops.convert_to_numpy(self.adapted)) > 0):
            if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)) or callable(x) or x is None:
                raise ValueError(
                    f"{type(self).__name__} learns its normalization and N from the training data: call "
                    "`model.adapt(x, y)` on arrays before `fit` on a dataset. Received: "
                    f"x of type {type(x).__name__}"
                )
            self.adapt(x, y)
        return super().fit(x, y, *args, **kwargs)

    # -- the stochastic network -------------------------------------------------
    def _require_num_examples(self):
        if self.num_examples is None:
            raise ValueError(
                "Expected `num_examples` (N in the weight decay) to be set. Received: num_examples=None; "
                "pass it to the constructor or call `model.adapt(x, y)`"
            )

    @property
    def dropout_rates(self):
        """Dropout rate of each dense layer's input (numpy): learned with `concrete`, else p everywhere."""
        if self.concrete and self.built:
            return 1.0 / (1.0 + np.exp(-keras.ops.convert_to_numpy(self.dropout_logits).astype(np.float64)))
        return np.full(len(self.hidden) + 1, self.dropout_rate)

    @property
    def weight_decay(self):
        """The L2 coefficient of the kernels: lambda = l^2 (1 - p) / (2 N tau) (with `concrete`, per
        layer: l^2 / (2 N (1 - p_l)) at the current rates)."""
        self._require_num_examples()
        if self.concrete:
            return self.lengthscale**2 / (2.0 * self.num_examples * (1.0 - self.dropout_rates))
        return self.lengthscale**2 * (1.0 - self.dropout_rate) / (2.0 * self.num_examples * self.noise_precision())

    def _l2(self):
        # Kernels only, as in Gal's published code; the biases are not decayed.
        kernels = [l.kernel for l in self.hidden + [self.head]]
        if not self.concrete:
            return self.weight_decay * tf.add_n([tf.reduce_sum(tf.square(w)) for w in kernels])
        self._require_num_examples()
        p = tf.sigmoid(tf.cast(self.dropout_logits, self.compute_dtype))
        n = float(self.num_examples)
        return tf.add_n([concrete_kl(tf.reduce_sum(tf.square(w)), p[i], float(w.shape[0]),
                                     self.lengthscale**2 / (2.0 * n), 1.0 / n) for i, w in enumerate(kernels)])

    def _mask(self, h, u, i):
        """Dropout on the input of dense layer i, from uniforms u shaped like h (rescaled by 1 / (1 - p))."""
        if not self.concrete:
            keep = 1.0 - self.dropout_rate
            return tf.where(u < keep, h / keep, tf.zeros_like(h))
        return concrete_dropout(h, tf.sigmoid(tf.cast(self.dropout_logits[i], h.dtype)), u, self.temperature)

    def _layers_with_noise(self, h, noises):
        for layer, noise in zip(self.hidden + [self.head], noises):
            h = layer(noise(h))
        return h

    def _one_pass(self, x, batch_slice=None):
        """One stochastic pass from the model's SeedGenerator: raw outputs (N, units).

        `batch_slice` = `replica_batch_slice(N)` under tf.distribute: every
        replica draws the masks of the whole global batch (their seed
        generators agree) and keeps its own rows, so each example gets the mask
        it would get on one device instead of repeating another replica's.
        """
        offset, total = (0, tf.shape(x)[0]) if batch_slice is None else batch_slice

        def noise(h, i):
            u = keras.random.uniform(tf.stack([total, tf.shape(h)[1]]), seed=self.seed_generator, dtype=h.dtype)
            return self._mask(h, u[offset:offset + tf.shape(h)[0]], i)

        noises = [lambda h, i=i: noise(h, i) for i in range(len(self.hidden) + 1)]
        return self._layers_with_noise(self._normalize(x), noises)

    def _seeded_passes(self, x, seeds):
        """Passes t = 0..T-1 with dropout noise from the stateless seed pairs `seeds` (T, 2): (T, N, units)."""
        x = self._normalize(x)
        n = tf.shape(x)[0]
        widths = (self.input_dim,) + self.hidden_units

        def draw(seed):
            return tuple(
                tf.random.stateless_uniform(
                    (n, w), seed=tf.random.experimental.stateless_fold_in(seed, i), dtype=x.dtype)
                for i, w in enumerate(widths)
            )

        if seeds.shape[0] == 1:
            uniforms = [u[tf.newaxis] for u in draw(seeds[0])]
        else:
            # Only the noise is drawn per pass (stateless ops do not vectorize over seeds); the
            # network then runs on all T passes in one batched matmul per layer.
            uniforms = tf.map_fn(draw, seeds, fn_output_signature=(tf.TensorSpec(None, x.dtype),) * len(widths),
                                 parallel_iterations=64)
        noises = [lambda h, u=u, i=i: self._mask(h, u, i) for i, u in enumerate(uniforms)]
        return self._layers_with_noise(x[tf.newaxis], noises)

    def call(self, inputs, training=None, seed=None):
        """One stochastic pass (dropout stays on); `seed`, an int or a pair, makes it deterministic.

        Pass `t` of `predict_uncertainty(x, seed=s)` equals `model(x, seed=(s, t))`.
        """
        x = self._flat_inputs(inputs)
        if seed is None:
            return self.outputs_from_raw(self._one_pass(x))[0]
        seeds = tf.constant([_seed_pair(seed)], dtype=tf.int64)
        return self.outputs_from_raw(self._seeded_passes(x, seeds)[0])[0]

    def outputs_from_raw(self, raw):
        """Raw network outputs -> (prediction, per-pass noise variance or None), in data units."""
        return raw, None

    def golden_outputs(self, x):
        """Deterministic outputs that pin the model's behaviour (zoo drift checks): the predictive
        mean of 1,000 passes with seed 0."""
        return self.predict_uncertainty(x, samples=1000, seed=0)["mean"]

    def sample_predictions(self, x, samples=1000, seed=None):
        """T stochastic passes in batched calls: a dict of numpy arrays (T, N, ...).

        Pass t uses the seed pair (seed, t) when `seed` is an int (or (a, b + t)
        for a pair (a, b)); with `seed=None` the pair comes from the model's
        SeedGenerator, so successive calls differ.
        """
        samples = _checks.positive_int("samples", samples)
        x = np.asarray(_checks.finite_array("x", x), dtype=np.float32)
        x = self._flat_inputs(x)
        if seed is None:
            # A fresh random first component: calls never share the (a, t) pairs of their passes.
            seed = int(keras.ops.convert_to_numpy(
                keras.random.randint((), 0, 2**31 - 1, seed=self.seed_generator, dtype="int32")))
        a, b = _seed_pair(seed)
        widest = max((self.input_dim,) + self.hidden_units + (self.output_units,))
        chunk = max(1, min(samples, _CHUNK_ELEMENTS // max(1, int(x.shape[0]) * widest)))
        if not hasattr(self, "_passes_fn"):
            self._passes_fn = tf.function(
                lambda x, s: self.outputs_from_raw(self._seeded_passes(x, s)), reduce_retracing=True)
        out = {}
        for start in range(0, samples, chunk):
            t = np.arange(start, min(samples, start + chunk), dtype=np.int64)
            seeds = tf.constant(np.stack([np.full_like(t, a), b + t], axis=1))
            for key, value in zip(self.sample_names, self._passes_fn(x, seeds)):
                if value is not None:
                    out.setdefault(key, []).append(value.numpy())
        return {k: np.concatenate(v, axis=0) for k, v in out.items()}

    # -- training ---------------------------------------------------------------
    def _step_values(self, data):
        x, y, w = unpack_batch(data)
        if y is None:
            raise ValueError(
                f"Expected (x, y) or (x, y, sample_weight) batches for {type(self).__name__}. Received x only")
        x = self._flat_inputs(x)
        y = self.prepare_targets(y)
        context = tf.distribute.get_replica_context()
        batch_slice = None
        if context is not None and context.num_replicas_in_sync > 1:
            batch_slice = replica_batch_slice(tf.shape(x)[0])
        with tf.control_dependencies([_checks.assert_finite(x, "x"), _checks.assert_finite(y, "y")]):
            raw = self._one_pass(x, batch_slice)
        per_example, values = self.objective(raw, y)
        l2 = self._l2()
        values["loss"] = per_example + l2
        # The decay is added once per replica: scale it so the replicas' sum counts it once.
        return average_loss(per_example, w) + tf.nn.scale_regularization_loss(l2), values, w

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, values, w = self._step_values(data)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return update_trackers(self.trackers, values, w)

    def test_step(self, data):
        _, values, w = self._step_values(data)
        return update_trackers(self.trackers, values, w)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": list(self.hidden_units),
            "dropout_rate": self.dropout_rate,
            "lengthscale": self.lengthscale,
            "num_examples": self.num_examples,
            "seed": self.seed,
            "concrete": self.concrete,
            "temperature": self.temperature,
        }


@keras.saving.register_keras_serializable(package="tfvb")
class MCDropoutRegressor(_MCDropoutMLP):
    """MC-dropout regression MLP with inputs and targets normalized inside the model.

    Homoscedastic (default): y = f(x) + eps, eps ~ N(0, 1/tau), tau in the
    target's original units. The train step minimizes the objective of Gal's
    published code, on targets standardized with the training statistics:

        (1/B) sum_n (y_n - f(x_n))^2 + lambda sum_layers ||W||^2,
        lambda = l^2 (1 - p) / (2 N tau)

    (the negative ELBO scaled by 2 / (N tau), for a prior of lengthscale
    l / sqrt(2)). With `heteroscedastic=True` the network outputs a mean and a
    log-variance per target, the data term is the Gaussian negative
    log-likelihood, and lambda = l^2 (1 - p) / (2 N): the ELBO per example.

    `adapt(x, y)` (called by `fit` on arrays) stores the normalization as
    weights, so a saved model predicts in original units.

    Args:
        hidden_units: widths of the ReLU hidden layers.
        dropout_rate: p, the probability of dropping a unit, in (0, 1).
        tau: noise precision (homoscedastic), > 0.
        lengthscale: prior lengthscale l, > 0.
        num_examples: N of the weight decay; None takes the size of the data given to `adapt`.
        heteroscedastic: predict a per-input noise variance.
        output_dim: number of targets.
        seed: seed of the dropout noise.
        concrete: learn one dropout rate per layer (concrete dropout, Gal et
            al. 2017), starting from `dropout_rate`; needs heteroscedastic=True.
            `model.dropout_rates` reads them.
        temperature: the relaxed masks' temperature with `concrete`.

    Metrics: `loss` (objective), `rmse` and `nll` (one stochastic pass, original units).

    Example:
        >>> model = tfvb.models.MCDropoutRegressor(hidden_units=(50,), dropout_rate=0.05, tau=0.15)
        >>> model.compile(keras.optimizers.Adam(1e-3))
        >>> model.fit(x_train, y_train, batch_size=128, epochs=400, verbose=0)
        >>> u = model.predict_uncertainty(x_test, samples=1000)
        >>> u["mean"], u["variance"], u["epistemic"], u["aleatoric"]
    """

    metric_names = ("loss", "rmse", "nll")
    sample_names = ("mean", "variance")

    def __init__(self, hidden_units=(50,), dropout_rate=0.05, tau=1.0, lengthscale=1e-2, num_examples=None,
                 heteroscedastic=False, output_dim=1, seed=None, concrete=False, temperature=0.1, **kwargs):
        self.tau = _checks.positive_float("tau", tau)
        self.heteroscedastic = bool(heteroscedastic)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        super().__init__(hidden_units, dropout_rate, lengthscale, num_examples, seed, concrete, temperature,
                         **kwargs)

    @property
    def likelihood_objective(self):
        return self.heteroscedastic

    @property
    def output_units(self):
        return self.output_dim * (2 if self.heteroscedastic else 1)

    def noise_precision(self):
        return 1.0 if self.heteroscedastic else self.tau

    def build_targets(self):
        d = self.output_dim
        self.y_mean = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="y_mean")
        self.y_scale = self.add_weight(shape=(d,), initializer="ones", trainable=False, name="y_scale")

    def check_targets(self, y, n):
        y = super().check_targets(y, n).reshape(n, -1)
        if y.shape[1] != self.output_dim:
            raise ValueError(f"Expected `y` with {self.output_dim} target(s) per row. Received: y.shape={y.shape}")
        return y

    def adapt_targets(self, y):
        mean, std = y.mean(axis=0), y.std(axis=0)
        self.y_mean.assign(mean.astype("float32"))
        self.y_scale.assign(np.where(std > 1e-8 * np.abs(mean), std, 1.0).astype("float32"))

    def prepare_targets(self, y):
        y = tf.cast(tf.convert_to_tensor(y), self.compute_dtype)
        if y.shape.rank not in (1, 2) or (y.shape.rank == 2 and y.shape[-1] not in (None, self.output_dim)):
            raise ValueError(f"Expected targets of shape (batch,) or (batch, {self.output_dim}). Received: {y.shape}")
        return tf.reshape(y, (-1, self.output_dim))

    def _split(self, raw):
        if self.heteroscedastic:
            return raw[..., : self.output_dim], raw[..., self.output_dim:]
        return raw, None

    def outputs_from_raw(self, raw):
        mean, logvar = self._split(raw)
        mean = mean * self.y_scale + self.y_mean
        if logvar is None:
            return mean, tf.fill(tf.shape(mean), tf.cast(1.0 / self.tau, mean.dtype))
        return mean, tf.exp(logvar) * tf.square(self.y_scale)

    def objective(self, raw, y):
        mean, logvar = self._split(raw)
        z = (y - self.y_mean) / self.y_scale
        if logvar is None:
            data_term = tf.reduce_mean(tf.square(z - mean), axis=-1)
        else:
            data_term = tf.reduce_sum(0.5 * tf.square(z - mean) * tf.exp(-logvar) + 0.5 * logvar + _HALF_LOG_2PI, -1)
        pred, var = self.outputs_from_raw(raw)
        sq = tf.square(y - pred)
        nll = tf.reduce_sum(0.5 * sq / var + 0.5 * tf.math.log(var) + _HALF_LOG_2PI, axis=-1)
        return data_term, {"rmse": tf.reduce_mean(sq, axis=-1), "nll": nll}

    def predict_uncertainty(self, x, samples=1000, seed=None):
        """Predictive mean and variance from T dropout passes, in the targets' units.

        Returns a dict of numpy arrays, (N,) for one target else (N, D):
        `mean` (1/T sum f_t), `variance` = `epistemic` (sample variance of the
        f_t) + `aleatoric` (1/tau, or the mean predicted noise variance), `std`.
        """
        s = self.sample_predictions(x, samples=samples, seed=seed)
        out = uncertainty.regression_uncertainty(s["mean"], s["variance"])
        return {k: v[..., 0] if self.output_dim == 1 else v for k, v in out.items()}

    def get_config(self):
        return {**super().get_config(), "tau": self.tau, "heteroscedastic": self.heteroscedastic,
                "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="tfvb")
class MCDropoutClassifier(_MCDropoutMLP):
    """MC-dropout classification MLP (softmax head); images are flattened.

    The train step minimizes the per-example negative ELBO of Gal (2016):
    cross-entropy + lambda sum ||W||^2 with lambda = l^2 (1 - p) / (2 N).
    Inputs are used as given (scale them, e.g. pixels to [0, 1]).
    `predict_uncertainty` reports Gal's three measures: variation ratio,
    predictive entropy and mutual information.

    Args:
        num_classes: number of classes (labels 0..C-1, or one-hot targets).
        hidden_units, dropout_rate, lengthscale, num_examples, seed, concrete, temperature: as in
            `MCDropoutRegressor`.

    Metrics: `loss`, `accuracy`, `nll` (one stochastic pass).

    Example:
        >>> model = tfvb.models.MCDropoutClassifier(10, hidden_units=(512, 512), dropout_rate=0.5)
        >>> model.compile(keras.optimizers.Adam(1e-3))
        >>> model.fit(images / 255.0, labels, batch_size=128, epochs=10)
        >>> model.predict_uncertainty(test_images / 255.0, samples=100)["mutual_information"]
    """

    metric_names = ("loss", "accuracy", "nll")
    sample_names = ("probs", "unused")
    normalizes_inputs = False

    def __init__(self, num_classes, hidden_units=(50,), dropout_rate=0.05, lengthscale=1e-2, num_examples=None,
                 seed=None, concrete=False, temperature=0.1, **kwargs):
        self.num_classes = _checks.positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"Expected `num_classes` >= 2. Received: num_classes={num_classes!r}")
        super().__init__(hidden_units, dropout_rate, lengthscale, num_examples, seed, concrete, temperature,
                         **kwargs)

    @property
    def output_units(self):
        return self.num_classes

    def outputs_from_raw(self, raw):
        return tf.nn.softmax(raw, axis=-1), None

    def prepare_targets(self, y):
        y = tf.convert_to_tensor(y)
        if y.shape.rank == 2 and y.shape[-1] == self.num_classes:
            return tf.cast(y, self.compute_dtype)
        if y.shape.rank == 2 and y.shape[-1] == 1:
            y = y[:, 0]
        if y.shape.rank != 1:
            raise ValueError(
                f"Expected labels of shape (batch,) or one-hot (batch, {self.num_classes}). Received: {y.shape}"
            )
        return tf.one_hot(tf.cast(y, tf.int32), self.num_classes, dtype=self.compute_dtype)

    def objective(self, raw, y):
        nll = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=raw)
        correct = tf.cast(tf.equal(tf.argmax(raw, -1), tf.argmax(y, -1)), raw.dtype)
        return nll, {"accuracy": correct, "nll": nll}

    def predict_uncertainty(self, x, samples=100, seed=None):
        """Gal's uncertainty measures from T dropout passes.

        Returns a dict of numpy arrays: `mean` (N, C) predictive probabilities,
        `entropy`, `mutual_information`, `variation_ratio`, `expected_entropy`
        (N,) and `prediction` (N,).
        """
        probs = self.sample_predictions(x, samples=samples, seed=seed)["probs"]
        return uncertainty.classification_uncertainty(probs)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
