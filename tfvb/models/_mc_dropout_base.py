"""What the MC-dropout regressor and classifier share: the network, normalization, passes, steps.

An MLP with dropout before every dense layer (the input layer included),
kept on at prediction; or (classifier, `architecture="lenet"`) LeNet-5 with
dropout before every weight layer but the first, as in Gal & Ghahramani's
Bayesian CNN ("lenet-all"). Its formulas (masks, weight decay, concrete-dropout
KL) are `tfvb.dropout`'s. The T stochastic passes of `predict_samples` are
drawn in chunks of batched calls: pass t uses the stateless seed pair
(seed, t), so `model(x, seed=(s, t))` repeats pass t of a call with `seed=s`.
Inputs (and, for regression, targets) are normalized inside the model with
statistics learned by `adapt`, so a saved model predicts in original units.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, _traced, dropout, gaussian, randomness
from tfvb.models import _base, _divergence, _inputs, _train_function
from tfvb.models._base import average_loss, unpack_batch, update_trackers
from tfvb.models._compile import KerasCompile
from tfvb.models._distribute import LocalBatchBuild

__all__ = ["MCDropoutBase", "RootMean"]

# Elements of one chunk of T stacked passes (T_chunk * N * width): bounds the memory of `predict_samples`.
_CHUNK_ELEMENTS = 1 << 23


@keras.saving.register_keras_serializable(package="tfvb")
class RootMean(keras.metrics.Mean):
    """sqrt of a running mean: the RMSE when fed squared errors."""

    def result(self):
        return tf.sqrt(super().result())


class MCDropoutBase(
    LocalBatchBuild, KerasCompile, _divergence.FiniteWeightsOnly, _train_function.LeanTrainFunction,
    randomness.SavesSeedState, keras.Model,
):
    """Base class (not used directly): subclasses pass `output_units` and define the hooks below.

    Args:
        output_units: width of the network's last layer (from the subclass's own arguments).
        hidden_units, dropout_rate, lengthscale, num_examples, seed, concrete, temperature:
            as in `MCDropoutRegressor`.
        architecture, image_shape: as in `MCDropoutClassifier`.
    """

    metric_names = ("loss",)
    #: Names of the outputs of `outputs_from_raw`, the arrays `_passes` returns.
    sample_names = ()
    normalizes_inputs = True
    #: Whether `y` holds class labels (the classifier) or real targets.
    has_labels = False

    def __init__(self, *, output_units, hidden_units=(50,), dropout_rate=0.05, lengthscale=1e-2, num_examples=None,
                 seed=None, concrete=False, temperature=0.1, architecture="mlp", image_shape=(28, 28, 1), **kwargs):
        # Under mixed precision the model's own inputs, normalization, noise, dropout rates and
        # likelihood stay in float32 (rounding raw UCI features to float16 before standardizing them
        # would erase their spread); its Dense layers compute in the policy's dtype.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.output_units = _checks.positive_int("output_units", output_units)
        self.hidden_units = _checks.int_tuple("hidden_units", hidden_units)
        self.dropout_rate = _checks.open_unit_interval("dropout_rate", dropout_rate)
        self.concrete = _checks.boolean("concrete", concrete)
        self.temperature = _checks.positive_float("temperature", temperature)
        self.lengthscale = _checks.positive_float("lengthscale", lengthscale)
        self.num_examples = None if num_examples is None else _checks.positive_int("num_examples", num_examples)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.architecture = _checks.one_of("architecture", architecture, {"mlp", "lenet"})
        self.image_shape = _checks.int_tuple("image_shape", image_shape)
        self.conv_layers = []
        policy = self.dtype_policy  # the model's (a float32 model stays float32 under a mixed global policy)
        if self.architecture == "lenet":
            if self.concrete:
                raise ValueError("Expected concrete=False with architecture='lenet' (concrete dropout is offered "
                                 "for the MLP). Received: concrete=True")
            if len(self.image_shape) != 3:
                raise ValueError(f"Expected `image_shape` (height, width, channels). Received: {image_shape!r}")
            self.conv_layers = [
                keras.layers.Conv2D(6, 5, padding="same", activation="relu", name="conv_0", dtype=policy),
                keras.layers.Conv2D(16, 5, activation="relu", name="conv_1", dtype=policy)]
            self.pool = keras.layers.MaxPooling2D(2, name="pool", dtype=policy)
        self.hidden = [keras.layers.Dense(h, activation="relu", name=f"hidden_{i}", dtype=policy)
                       for i, h in enumerate(self.hidden_units)]
        self.head = keras.layers.Dense(self.output_units, name="head", dtype=policy)
        self.trackers = [RootMean(name=n) if n == "rmse" else keras.metrics.Mean(name=n) for n in self.metric_names]

    # -- subclass hooks (called after construction) -----------------------------------
    def objective(self, raw, y):
        """Per-example data term (normalized units) and the tracker values."""
        raise NotImplementedError

    def outputs_from_raw(self, raw):
        """Raw network outputs -> the arrays named by `sample_names`, in data units."""
        raise NotImplementedError

    def prepare_targets(self, y):
        raise NotImplementedError

    def noise_precision(self):
        """The tau in lambda = l^2 (1 - p) / (2 N tau)."""
        return 1.0

    def build_targets(self):
        pass

    def adapt_targets(self, y):
        pass

    def check_targets(self, y, n):
        y = np.asarray(_checks.float32_array("y", _inputs.as_array("y", y)), dtype=np.float64)
        if len(y) != n:
            raise ValueError(f"Expected `y` with {n} rows to match `x`. Received: y.shape={y.shape}")
        return y

    # -- building and normalization --------------------------------------------------------
    def build(self, input_shape):
        # The weights' order is the layout of saved files: x_mean, x_scale, adapted, [dropout_logits], targets.
        self.input_dim = int(np.prod(input_shape[1:]))
        #: One example's shape as the model was built with (its training data's): the shape it is served with.
        self.example_shape = tuple(int(d) for d in input_shape[1:])
        # autocast=False: float32 under mixed precision too (see __init__).
        self.x_mean = self.add_weight(shape=(self.input_dim,), initializer="zeros", trainable=False, name="x_mean",
                                      autocast=False)
        self.x_scale = self.add_weight(shape=(self.input_dim,), initializer="ones", trainable=False, name="x_scale",
                                       autocast=False)
        self.adapted = self.add_weight(shape=(), initializer="zeros", trainable=False, name="adapted", autocast=False)
        width = self.input_dim
        #: The per-example shape of the dropout noise at each site, in the order the network meets them.
        self.noise_shapes = [(width,)]
        if self.conv_layers:
            width = self._build_conv()
        for layer in self.hidden:
            layer.build((None, width))
            self.noise_shapes.append((layer.units,))
            width = layer.units
        self.head.build((None, width))
        if self.concrete:
            logit = float(dropout.dropout_logit(self.dropout_rate))
            self.dropout_logits = self.add_weight(
                shape=(len(self.hidden) + 1,), initializer=keras.initializers.Constant(logit), name="dropout_logits",
                autocast=False)
        self.build_targets()

    def _build_conv(self):
        """Build LeNet-5's convolutions; the noise sites are the second convolution's and the first dense
        layer's inputs. Returns the width of the flattened features."""
        if self.input_dim != int(np.prod(self.image_shape)):
            raise ValueError(f"Expected inputs of {int(np.prod(self.image_shape))} values (image_shape="
                             f"{self.image_shape}) for architecture='lenet'. Received: {self.input_dim} features")
        shape = (None,) + self.image_shape
        self.conv_layers[0].build(shape)
        first = self.pool.compute_output_shape(self.conv_layers[0].compute_output_shape(shape))
        self.conv_layers[1].build(first)
        second = self.pool.compute_output_shape(self.conv_layers[1].compute_output_shape(first))
        width = int(np.prod(second[1:]))
        self.noise_shapes = [tuple(first[1:]), (width,)]
        return width

    def build_from_config(self, config):
        super().build_from_config(config)
        if self.built:
            self.mark_called()

    def mark_called(self):
        """One forward pass, so Keras records the input signature `model.export` needs."""
        self(keras.ops.zeros((1, self.input_dim)))

    objective_name = "MC dropout's objective (the data term plus the weight decay of Gal's protocol)"

    @property
    def metrics(self):
        return self.own_metrics(self.trackers)

    def example_shapes(self):
        """The shapes of one example the built model takes: the one it was built (trained) with, flat rows
        (input_dim,) and, for a classifier, `image_shape` (and (H, W) for one channel), those of input_dim
        values. Any other layout of input_dim values is refused: reshaping it would misread the values."""
        candidates = [getattr(self, "example_shape", None), (self.input_dim,)]
        if self.has_labels:
            candidates.append(self.image_shape)
            if len(self.image_shape) == 3 and self.image_shape[-1] == 1:
                candidates.append(self.image_shape[:-1])
        shapes = []
        for shape in candidates:
            if shape is not None and int(np.prod(shape)) == self.input_dim and tuple(shape) not in shapes:
                shapes.append(tuple(shape))
        return shapes

    def _check_example_shape(self, shape, name):
        """Raise ValueError unless the batch shape `shape` holds examples of one of `example_shapes`."""
        shapes = self.example_shapes()
        if tuple(shape[1:]) not in shapes:
            raise ValueError(f"Expected `{name}` with {self.input_dim} features, one example of shape "
                             f"{' or '.join(map(str, shapes))}. Received: {name}.shape={tuple(shape)}")

    def _flat_inputs(self, x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank is None or x.shape.rank < 2:
            raise ValueError(f"Expected `inputs` of shape (batch, features...). Received: inputs.shape={x.shape}")
        if self.built:
            self._check_example_shape(tuple(x.shape), "inputs")
        # float32 whatever the dtype policy: the normalization and the noise stay in float32, the
        # layers cast to their compute dtype (mixed precision).
        return tf.cast(tf.reshape(x, (-1, int(np.prod(x.shape[1:])))), tf.float32)

    def _normalize(self, x):
        return (x - self.x_mean) / self.x_scale

    def adapt(self, x, y=None):
        """Learn the input (and target) normalization from training data; set `num_examples` if unset."""
        x = np.asarray(_checks.float32_array("x", _inputs.as_array("x", x)), dtype=np.float64)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"Expected `x` of shape (N, features...) with N >= 1. Received: x.shape={x.shape}")
        if not self.built:
            self.build((None,) + x.shape[1:])  # images stay images: the served signature takes them so
        x = x.reshape(len(x), -1)
        if self.normalizes_inputs:
            mean, scale = gaussian.standardization(x)
            self.x_mean.assign(mean.astype("float32"))
            self.x_scale.assign(scale.astype("float32"))
        if y is not None:
            self.adapt_targets(self.check_targets(y, len(x)))
        if self.num_examples is None:
            self.num_examples = len(x)
        self.adapted.assign(1.0)
        self.mark_called()
        return self

    def _unbuilt_hint(self):
        return " (call `fit`, or `adapt(x, y)` on the training data)"

    def _user_data(self, x, y, kwargs, method):
        """(x, y, kwargs) of a fit/evaluate call, lists made arrays and everything checked."""
        x, y, weights = _inputs.user_data(x, y, kwargs.pop("sample_weight", None), method=method,
                                          labels=self.has_labels)
        if weights is not None:
            kwargs["sample_weight"] = weights
        if not self.has_labels:
            _inputs.refuse_class_weight(self, kwargs)
        _base.require_examples(x, method)
        n = _inputs.num_rows(x)
        if n is not None:
            if np.ndim(x) < 2:
                raise ValueError(f"Expected `x` of shape (N, features...). Received: x.shape={np.shape(x)}")
            features = int(np.prod(np.shape(x)[1:]))
            if self.built and features != self.input_dim:
                raise ValueError(f"Expected `x` with {self.input_dim} features, as {type(self).__name__} was "
                                 f"built with. Received: x.shape={np.shape(x)}")
            if self.built:
                self._check_example_shape(np.shape(x), "x")
            if y is not None:
                self.check_targets(y, n)
        return x, y, _inputs.validation_data(kwargs, labels=self.has_labels)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit`, adapting the normalization first when given arrays and not yet adapted."""
        x, y, kwargs = self._user_data(x, y, kwargs, "fit")
        if not (self.built and float(keras.ops.convert_to_numpy(self.adapted)) > 0):
            if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)) or callable(x) or x is None:
                raise ValueError(
                    f"{type(self).__name__} learns its normalization and N from the training data: call "
                    "`model.adapt(x, y)` on arrays before `fit` on a dataset. Received: "
                    f"x of type {type(x).__name__}"
                )
            # Keras holds out the last rows for `validation_split` (unless `validation_data` is given): N and
            # the normalization come from the others.
            train = int(math.floor(_inputs.num_rows(x) * (1.0 - _inputs.validation_split_of(kwargs))))
            self.adapt(x[:train], None if y is None else y[:train])
        x, kwargs = _base.fit_arguments(self, x, kwargs)
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        self.require_built("evaluate")
        x, y, kwargs = self._user_data(x, y, kwargs, "evaluate")
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    # -- the variational objective ---------------------------------------------------------
    def _require_num_examples(self):
        if self.num_examples is None:
            raise ValueError(
                "Expected `num_examples` (N in the weight decay) to be set. Received: num_examples=None; "
                "pass it to the constructor or call `model.adapt(x, y)`"
            )

    @property
    def layer_dropout_rates(self):
        """Dropout rate of each dense layer's input (numpy): learned with `concrete`, else p everywhere."""
        if self.concrete and self.built:
            return dropout.rate_from_logit(keras.ops.convert_to_numpy(self.dropout_logits))
        return np.full(len(self.hidden) + (2 if self.conv_layers else 1), self.dropout_rate)

    def __dir__(self):
        # Deprecated names are left out of dir(): Keras's saving walks dir(model) with getattr, and would
        # raise their DeprecationWarning on every save of a model that never used them.
        return [name for name in super().__dir__() if name != "dropout_rates"]

    @property
    def dropout_rates(self):
        """Deprecated name of `layer_dropout_rates`."""
        import warnings

        warnings.warn("`dropout_rates` is deprecated: use `layer_dropout_rates`.", DeprecationWarning, stacklevel=2)
        return self.layer_dropout_rates

    @property
    def weight_decay(self):
        """The L2 coefficient of the kernels: lambda = l^2 (1 - p) / (2 N tau) (with `concrete`, per
        layer: l^2 / (2 N (1 - p_l)) at the current rates)."""
        self._require_num_examples()
        if self.concrete:
            return dropout.concrete_weight_decay(self.lengthscale, self.num_examples) / (1.0 - self.layer_dropout_rates)
        return dropout.weight_decay(self.lengthscale, self.dropout_rate, self.num_examples, self.noise_precision())

    def _l2(self):
        # Kernels only, as in Gal's published code; the biases are not decayed.
        kernels = [layer.kernel for layer in self.conv_layers + self.hidden + [self.head]]
        if not self.concrete:
            return self.weight_decay * tf.add_n([tf.reduce_sum(tf.square(w)) for w in kernels])
        self._require_num_examples()
        p = tf.sigmoid(tf.cast(self.dropout_logits, tf.float32))
        n = float(self.num_examples)
        decay = dropout.concrete_weight_decay(self.lengthscale, n)
        return tf.add_n([dropout.concrete_kl(tf.reduce_sum(tf.square(w)), p[i], float(w.shape[0]), decay, 1.0 / n)
                         for i, w in enumerate(kernels)])

    # -- the stochastic network --------------------------------------------------------------
    def _mask(self, h, u, i):
        """Dropout on the input of dense layer i, from uniforms u shaped like h."""
        if self.concrete:
            rate = tf.sigmoid(tf.cast(self.dropout_logits[i], u.dtype))
            return dropout.concrete_dropout(h, rate, u, self.temperature)
        # Kept where u < 1 - p: the concrete relaxation's convention (it drops as u -> 1), which the
        # masks of saved models follow. 1 - u is exact for float32 uniforms (multiples of 2^-23).
        return dropout.bernoulli_dropout(h, 1.0 - u, self.dropout_rate)

    def _layers_with_noise(self, h, noises):
        """The network on flattened inputs h (..., input_dim); `noises[i]` drops out the input of site i.

        With stacked noise (T, N, ...) on inputs (1, N, input_dim), the T
        passes run as one batch; LeNet's first convolution, before any noise,
        runs once.
        """
        if self.conv_layers:
            h = self.pool(self.conv_layers[0](tf.reshape(h, (-1,) + self.image_shape)))
            h = noises[0](h)  # (N, ...) or, stacked, (T, N, ...)
            lead = tf.shape(h)[:-3]
            h = self.pool(self.conv_layers[1](tf.reshape(h, tf.concat([[-1], tf.shape(h)[-3:]], 0))))
            h = tf.reshape(h, tf.concat([lead, [-1]], 0))
            noises = noises[1:]
        for layer, noise in zip(self.hidden + [self.head], noises):
            h = layer(noise(h))
        return tf.cast(h, tf.float32)  # raw outputs, likelihoods and losses in float32

    def _one_pass(self, x, batch_slice=None):
        """One stochastic pass from the model's SeedGenerator: raw outputs (N, units).

        `batch_slice` (under tf.distribute): see `tfvb.randomness.per_example`.
        """
        def noise(h, i):
            u = randomness.per_example(
                lambda shape: keras.random.uniform(shape, seed=self.seed_generator, dtype="float32"),
                tf.shape(h), batch_slice)
            return self._mask(h, u, i)

        noises = [lambda h, i=i: noise(h, i) for i in range(len(self.noise_shapes))]
        return self._layers_with_noise(self._normalize(x), noises)

    def _seeded_passes(self, x, seeds):
        """Passes t = 0..T-1 with dropout noise from the stateless seed pairs `seeds` (T, 2): (T, N, units)."""
        x = self._normalize(x)
        n = tf.shape(x)[0]
        widths = self.noise_shapes

        def draw(seed):
            return tuple(
                randomness.stateless_uniform((n,) + tuple(w), randomness.stateless_fold_in(seed, i), dtype=x.dtype)
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

        Pass `t` of `predict_samples(x, seed=s)` equals `model(x, seed=(s, t))`.
        """
        x = self._flat_inputs(inputs)
        if seed is None:
            return self.outputs_from_raw(self._one_pass(x))[0]
        seeds = tf.constant([randomness.seed_pair(seed)], dtype=tf.int64)
        return self.outputs_from_raw(self._seeded_passes(x, seeds)[0])[0]

    def golden_outputs(self, x):
        """Deterministic outputs that pin the model's behaviour (zoo drift checks): the predictive
        mean of 1,000 passes with seed 0."""
        return self.predict_uncertainty(x, samples=1000, seed=0)["mean"]

    def _prediction_inputs(self, x, method):
        """`x` checked and flattened for a prediction from a built model with finite weights."""
        self.require_built(method)
        _divergence.require_finite_weights(self, "predict with")
        x, _, _ = _inputs.user_data(x, method=method)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim >= 1 and len(x) == 0:
            raise ValueError(f"Expected at least one input. Received: inputs.shape={x.shape}")
        return self._flat_inputs(x)

    def _passes(self, x, samples, seed):
        """T stochastic passes: {name: numpy (T, N, units)} for `sample_names` (T x N x units floats)."""
        out = {}
        for chunk in self._pass_chunks(self._prediction_inputs(x, "predict_samples"), samples, seed):
            for key, value in chunk.items():
                out.setdefault(key, []).append(value)
        return {k: np.concatenate(v, axis=0) for k, v in out.items()}

    def _pass_chunks(self, x, samples, seed):
        """Yield the T stochastic passes on checked inputs `x` in batched chunks: {name: numpy (T_c, N, units)}.

        Pass t uses the seed pair (seed, t) for an int seed, (a, b + t) for a
        pair (a, b); with `seed=None` the pair comes from the model's
        SeedGenerator, so successive calls differ. A chunk holds about
        2^23 floats per layer, so a consumer that summarizes chunk by chunk
        (`predict_uncertainty`) keeps its memory bounded for any T.
        """
        samples = _checks.positive_int("samples", samples)
        if seed is None:
            # A fresh random first component: calls never share the (a, t) pairs of their passes.
            seed = int(keras.ops.convert_to_numpy(
                keras.random.randint((), 0, 2**31 - 1, seed=self.seed_generator, dtype="int32")))
        a, b = randomness.seed_pair(seed)
        # Per pass and example: the widest noise site (LeNet's second convolution outputs at most twice it).
        widest = max([int(np.prod(w)) for w in self.noise_shapes] + [self.output_units]) * (
            2 if self.conv_layers else 1)
        chunk = max(1, min(samples, _CHUNK_ELEMENTS // max(1, int(x.shape[0]) * widest)))
        passes = _traced.traced_once(
            self, "_tfvb_passes_fn", lambda x, s: self.outputs_from_raw(self._seeded_passes(x, s)),
            tf.TensorSpec((None,) + tuple(x.shape[1:]), x.dtype), tf.TensorSpec((None, 2), tf.int64))
        for start in range(0, samples, chunk):
            t = np.arange(start, min(samples, start + chunk), dtype=np.int64)
            seeds = tf.constant(np.stack([np.full_like(t, a), b + t], axis=1))
            yield {key: value.numpy() for key, value in zip(self.sample_names, passes(x, seeds))
                   if value is not None}

    # -- training ---------------------------------------------------------------------------
    def _step_values(self, data):
        x, y, w = unpack_batch(data)
        if y is None:
            raise ValueError(
                f"Expected (x, y) or (x, y, sample_weight) batches for {type(self).__name__}. Received x only")
        x = self._flat_inputs(x)
        given = y
        y = self.prepare_targets(y)
        context = tf.distribute.get_replica_context()
        batch_slice = None
        if context is not None and context.num_replicas_in_sync > 1:
            batch_slice = randomness.replica_batch_slice(tf.shape(x)[0])
        with tf.control_dependencies([_checks.assert_finite(x, "x"), _checks.assert_finite(y, "y")]):
            raw = self._one_pass(x, batch_slice)
        per_example, values = self.objective(raw, y)
        l2 = self._l2()
        values["loss"] = per_example + l2
        if getattr(self, "_compile_metrics", None) is not None:
            self.update_compiled_metrics(x, given, self.outputs_from_raw(raw)[0], w)
        # The decay is added once per replica: scale it so the replicas' sum counts it once.
        return average_loss(per_example, w) + tf.nn.scale_regularization_loss(l2), values, w

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, values, w = self._step_values(data)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return update_trackers(self.metrics, values, w)

    def test_step(self, data):
        _, values, w = self._step_values(data)
        return update_trackers(self.metrics, values, w)

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
