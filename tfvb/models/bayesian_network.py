"""A Keras Functional network with tfvb Bayesian layers, trained as a BNN (what `tfvb.bayesianize` returns).

The network is any single-input, single-output Functional graph in which
some layers are tfvb Bayesian layers (the rest: pooling, flatten, dropout,
normalization, deterministic layers). The model adds what a BNN needs:

    loss = (1/B) sum_b -log p(y_b | x_b, W)  +  w_i KL(q(W) || p(W)) / N

with the likelihood of the task (categorical on the network's logits or
probabilities; Gaussian with a learned noise scale for regression), N the
training-set size (learned by `fit` from arrays, or given), and the KL
weighting of `tfvb.models.BNNClassifier`. `model(x)` returns what the
network returns, from the posterior-mean weights.

T weight draws in one call: the batch is tiled T times (row t * N + n is
draw t of example n); each Bayesian layer folds the T draws out of the
batch, applies T independent kernels in one batched op, and folds them back
(`VariationalLayer.tiled_call`, as `tfvb.predict_samples` does for any Keras
model), so every other layer of the graph runs unchanged on a batch of T * N.

References:
    Blundell, Cornebise, Kavukcuoglu, Wierstra. Weight Uncertainty in Neural
    Networks. ICML 2015.
    Krishnan, Subedar, Tickoo. Specifying Weight Priors in Bayesian Deep
    Neural Networks with Empirical Bayes. AAAI 2020 (MOPED).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvb import _checks, uncertainty
from tfvb.layers import conv_transpose  # noqa: F401  (registers the transposed layers for loading)
from tfvb.layers._variational import VariationalLayer, _dims
from tfvb.models import _labels, _task
from tfvb.models._base import update_trackers
from tfvb.models._bnn_base import BNNBase

tfd = tfp.distributions

__all__ = ["BayesianNetwork"]


def _takes_training(layer):
    params = getattr(layer, "call_signature_parameters", None)
    return params is not None and "training" in params


@keras.saving.register_keras_serializable(package="tfvb")
class BayesianNetwork(BNNBase):
    """A Functional network with Bayesian layers, trained on the ELBO; usually made by `tfvb.bayesianize`.

    Args:
        network: a built Functional `keras.Model` with one input and one
            output, holding tfvb Bayesian layers.
        task: "classification" or "regression".
        outputs: for classification, "logits" or "probabilities" (what the
            network returns); "values" for regression.
        layer: the estimator of the Bayesian layers ("flipout",
            "reparameterization", "local_reparameterization"), for the record.
        prior: the layers' prior (for the record; each layer holds its own).
        num_examples: training-set size N (None: learned by `fit` from arrays).
        kl_weighting, kl_warmup_steps, train_samples, seed: as in
            `tfvb.models.BNNClassifier`.
        posterior_sigma_init: the fixed initial posterior scale the network
            was made with (None: scales proportional to |w|), for the record.

    Example:
        >>> images, labels = tfvb.data.mnist_sample()             # 2,000 digits bundled with tfvb
        >>> net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
        >>> net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> history = net.fit(images[:1000], labels[:1000], epochs=1, verbose=0)   # a trained Keras model
        >>> bnn = tfvb.bayesianize(net, layer="flipout")
        >>> bnn.compile(optimizer=keras.optimizers.Adam(1e-4))
        >>> history = bnn.fit(images[:1000], labels[:1000], epochs=1, verbose=0)
        >>> u = bnn.predict_uncertainty(images[1000:1100], samples=100)
    """

    def __init__(self, network, task, outputs, layer="flipout", prior=None, num_examples=None,
                 kl_weighting="uniform", kl_warmup_steps=0, train_samples=1, posterior_sigma_init=None,
                 seed=None, **kwargs):
        super().__init__(hidden_units=(), layer=layer, prior=prior, num_examples=num_examples, activation=None,
                         kl_weighting=kl_weighting, kl_warmup_steps=kl_warmup_steps, train_samples=train_samples,
                         posterior_sigma_init=posterior_sigma_init, seed=seed, **kwargs)
        if not isinstance(network, keras.Model) or not hasattr(network, "_run_through_graph") \
                or len(network.inputs) != 1 or len(network.outputs) != 1:
            raise ValueError("Expected a built Functional keras.Model with one input and one output. "
                             f"Received: network={network!r}")
        self.network = network
        self.task = _checks.one_of("task", task, set(_task.TASKS))
        expected = {"logits", "probabilities"} if task == "classification" else {"values"}
        self.outputs_kind = _checks.one_of("outputs", outputs, expected)
        self.dense_layers = [op for op in network.layers if isinstance(op, VariationalLayer)]
        if not self.dense_layers:
            raise ValueError("Expected a network with at least one tfvb Bayesian layer. Received none in "
                             f"{network.name!r}")
        self._shared_layers = any(len(getattr(op, "_inbound_nodes", ())) > 1 for op in self.dense_layers)
        self.input_spec_shape = tuple(network.inputs[0].shape[1:])
        out_shape = tuple(network.outputs[0].shape[1:])
        self.output_dim = int(np.prod(out_shape)) if out_shape else 1
        self.noise_log_std = None
        if task == "regression":
            self.noise_log_std = self.add_weight(shape=(self.output_dim,), initializer="zeros", name="noise_log_std",
                                                 autocast=False)
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.rmse_tracker = keras.metrics.RootMeanSquaredError(name="rmse")
        self.build((None,) + self.input_spec_shape)

    def build(self, input_shape):
        self.built = True

    @property
    def metrics(self):
        last = self.accuracy_tracker if self.task == "classification" else self.rmse_tracker
        return self.own_metrics([self.loss_tracker, self.nll_tracker, self.kl_tracker, self.elbo_tracker, last])

    # ---- the forward pass through the graph -------------------------------------------------------
    def _forward(self, x, training=None, num_samples=None, seed=None, batch_slice=None):
        if seed is None and training and self._shared_layers:
            # One seed per pass: a layer called at several places of the graph draws the same weights at each.
            seed = self.seed_generator.next()
        seeds = dict(zip(map(id, self.dense_layers), self._layer_seeds(seed)))
        sampled = num_samples is not None  # T may be a tensor (a served graph's input)
        if sampled:
            x = tf.reshape(tf.tile(x[tf.newaxis], tf.concat([[num_samples], tf.ones_like(tf.shape(x))], 0)),
                           tf.concat([[-1], tf.shape(x)[1:]], 0))

        def operation_fn(op):
            if isinstance(op, VariationalLayer):
                def bayesian(h, **kwargs):
                    if not sampled:
                        return op(h, training=training, seed=seeds[id(op)], batch_slice=batch_slice)
                    return op.tiled_call(h, num_samples, seeds[id(op)])
                return bayesian
            if _takes_training(op):
                return lambda *args, **kwargs: op(*args, **{**kwargs, "training": bool(training) and not sampled})
            return op

        out = tf.cast(self.network._run_through_graph([x], operation_fn=operation_fn)[0], self.variable_dtype)
        if sampled:
            out = tf.reshape(out, [num_samples, -1] + _dims(out)[1:])
        return out

    def _widest_activation(self):
        sizes = [int(np.prod(self.input_spec_shape))]
        for op in self.network.layers:
            for node_output in tf.nest.flatten(getattr(op, "output", None)):
                shape = getattr(node_output, "shape", None)
                if shape is not None and all(d is not None for d in shape[1:]):
                    sizes.append(int(np.prod(shape[1:])))
        return max(sizes)

    def call(self, inputs, training=None):
        return self._forward(self._check_inputs(inputs), training)

    # ---- data checks and the likelihood -----------------------------------------------------------
    @property
    def has_labels(self):
        return self.task == "classification"

    def _check_inputs(self, x):
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        if len(self.input_spec_shape) == 3 and self.input_spec_shape[-1] == 1 and x.shape.rank == 3:
            x = x[..., tf.newaxis]
        self._check_input_shape(x.shape, "inputs")
        return x

    def _check_input_shape(self, shape, name):
        expected = (None,) + self.input_spec_shape
        got = tuple(shape)
        if len(self.input_spec_shape) == 3 and self.input_spec_shape[-1] == 1 and len(got) == 3:
            got = got + (1,)
        if len(got) != len(expected) or any(e is not None and g is not None and e != g
                                            for e, g in zip(expected[1:], got[1:])):
            raise ValueError(f"Expected `{name}` of shape {expected}. Received: {name}.shape={tuple(shape)}")

    def _check_arrays(self, x, y):
        self._check_input_shape(np.shape(x), "x")
        if y is not None and self.task == "classification":
            _labels.check_label_array(y, self.output_dim)
        elif y is not None and int(np.prod(np.shape(y)[1:])) != self.output_dim:
            raise ValueError(f"Expected `y` with {self.output_dim} target(s) per row. Received: y.shape={np.shape(y)}")

    def _check_batch(self, x, y):
        if y is None:
            raise ValueError("Expected batches (x, y) with targets y for training. Received: y=None")
        if self.task == "regression":
            y = tf.reshape(tf.cast(tf.convert_to_tensor(y), tf.float32), [-1, self.output_dim])
        else:
            y = _labels.label_rows(y, self.output_dim)  # float32 rows: one-hot for integer labels
        return self._check_inputs(x), y

    def _log_probs(self, out):
        if self.outputs_kind == "logits":
            return tf.nn.log_softmax(out)
        return tf.math.log(tf.maximum(out, 1e-37))

    def _nll(self, out, y):
        if self.task == "regression":
            mean = tf.reshape(out, [-1, self.output_dim])
            return -tf.reduce_sum(tfd.Normal(mean, tf.exp(self.noise_log_std)).log_prob(y), axis=-1)
        # y: rows of class probabilities (one-hot for integer labels, see `tfvb.models._labels`).
        return -tf.reduce_sum(tf.cast(y, tf.float32) * self._log_probs(out), axis=-1)

    def _extra_values(self, outputs, y):
        if self.task == "regression":
            mean = tf.add_n([tf.reshape(o, [-1, self.output_dim]) for o in outputs]) / len(outputs)
            return {"_mean": mean, "_prediction": mean}
        probs = tf.add_n([tf.exp(self._log_probs(o)) for o in outputs]) / len(outputs)
        return {"accuracy": _task.correct(probs, y), "_prediction": probs}

    def _update(self, values, y, sample_weight):
        if self.task == "regression":
            self.rmse_tracker.update_state(y, values["_mean"], sample_weight=sample_weight)
        return update_trackers(self.metrics, values, sample_weight)

    # ---- predictive uncertainty -------------------------------------------------------------------
    def predict_samples(self, x, samples=100, batch_size=None, seed=None):
        """The T draws stacked: class probabilities (T, N, C), or regression dict `mean`, `variance`."""
        out = self._sample_outputs(self._prediction_inputs(x, "predict_samples"), samples, batch_size, seed)
        return self._predictions(out)

    def _predictions(self, out):
        if self.task == "classification":
            return tf.exp(self._log_probs(out)).numpy()
        mean = tf.reshape(out, tf.concat([tf.shape(out)[:2], [self.output_dim]], 0)).numpy()
        variance = np.broadcast_to(np.exp(2 * self.noise_log_std.numpy()), mean.shape)
        if self.output_dim == 1:
            mean, variance = mean[..., 0], variance[..., 0]
        return {"mean": mean, "variance": variance}

    def predict_uncertainty(self, x, samples=100, batch_size=None, seed=None):
        """Monte Carlo predictive from T weight draws in one vectorized call per batch.

        Returns the names of `BNNClassifier.predict_uncertainty` (classification:
        `mean`, `entropy`, `expected_entropy`, `mutual_information`,
        `variation_ratio`, `prediction`) or `BNNRegressor.predict_uncertainty`
        (regression: `mean`, `variance`, `epistemic`, `aleatoric`, `std`).
        """
        x = self._prediction_inputs(x, "predict_uncertainty")
        n = int(x.shape[0])
        if self.task == "classification":
            summary = uncertainty.ClassificationAccumulator(n, self.output_dim)
        else:
            summary = uncertainty.RegressionAccumulator((n,) + ((self.output_dim,) if self.output_dim > 1 else ()))
        for rows, out in self._sample_blocks(x, samples, batch_size, seed):  # summarized as they come
            s = self._predictions(out)
            if self.task == "classification":
                summary.add(s, rows)
            else:
                summary.add(s["mean"], s["variance"], rows=rows)
        return summary.result()

    def golden_outputs(self, x):
        """The posterior-mean outputs (deterministic), for the zoo's golden batches."""
        return self(x).numpy()

    def get_config(self):
        config = super().get_config()
        for key in ("hidden_units", "activation"):
            config.pop(key, None)
        return {**config, "network": keras.saving.serialize_keras_object(self.network), "task": self.task,
                "outputs": self.outputs_kind}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)
