"""Bayesian neural networks trained by maximizing the ELBO: a classifier and a regressor.

Both minimize the minibatch negative ELBO of `tfvb.models._bnn_base` (expected
NLL per example + weighted KL / N) with Bayesian layers from `tfvb.layers`,
and report Gal's predictive uncertainty from T weight draws drawn in one
vectorized call (`predict_uncertainty`).

References:
    Blundell, Cornebise, Kavukcuoglu, Wierstra. Weight Uncertainty in Neural
    Networks. ICML 2015.
    Gal. Uncertainty in Deep Learning. PhD thesis, 2016.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvb import _checks, uncertainty
from tfvb.layers.conv import Conv2DFlipout, Conv2DLocalReparameterization, Conv2DReparameterization
from tfvb.models import _inputs, _labels
from tfvb.models._base import update_trackers
from tfvb.models._bnn_base import DENSE_LAYERS, BNNBase, blundell_kl_weights
from tfvb.models._standardized import Standardized

tfd = tfp.distributions

__all__ = ["BNNClassifier", "BNNRegressor", "blundell_kl_weights"]

#: The largest |target| a BNNRegressor trains on: its `rmse` metric, in the targets' units, sums squared errors
#: of (2|y|)^2 over 10,000 examples within float32's range.
TARGET_LIMIT = float(np.sqrt(_checks.FLOAT32_MAX / 4e4))

CONV_LAYERS = {"flipout": Conv2DFlipout, "reparameterization": Conv2DReparameterization,
               "local_reparameterization": Conv2DLocalReparameterization}


@keras.saving.register_keras_serializable(package="tfvb")
class BNNClassifier(_inputs.InputRange, BNNBase):
    """Bayesian neural network classifier: categorical likelihood, Bayesian weights.

        W ~ q(W) = N(mu, sigma^2),  p(y | x, W) = Categorical(softmax(f_W(x)))

    trained by the minibatch negative ELBO of `tfvb.models._bnn_base`. Images
    are taken as images (N, 28, 28, 1) or (N, 28, 28): the MLP flattens them,
    the LeNet-5 variant convolves them. `model(x)` returns class
    probabilities from the posterior-mean weights (what `predict` gives);
    `model(x, training=True)` one stochastic pass; `predict_uncertainty` the
    Monte Carlo predictive and Gal's uncertainty measures.

    Labels: `y` holds integer class labels 0..C-1, shape (N,) or (N, 1), or
    one-hot (or soft) rows, shape (N, C); a label outside [0, C), with a
    fractional part, or of another shape is refused (`tfvb.models._labels`).

    Args:
        num_classes: number of classes (>= 2).
        hidden_units: sizes of the hidden dense layers.
        layer: "flipout", "reparameterization" or "local_reparameterization".
        prior: a `tfvb.priors` prior for every weight (None: `Normal(1.0)`).
        num_examples: training-set size N; learned by `fit` from arrays.
        architecture: "mlp", or "lenet" (two Bayesian 5x5 convolutions with
            6 and 16 filters and 2x2 max pooling before the dense layers, of
            the same estimator as `layer`).
        image_shape: shape of one input image (default 28x28x1; formerly `input_shape`).
        activation: hidden activation.
        kl_weighting: "uniform" or "blundell" (see `tfvb.models._bnn_base`).
        kl_warmup_steps: steps of linear KL warm-up (0: none).
        train_samples: weight draws averaged per training step.
        posterior_sigma_init: initial posterior standard deviation.
        seed: integer seed of all weight draws (None: random).
        input_range: None, or (low, high): inputs outside it are refused at
            run time, e.g. (0, 1) for images trained on scaled pixels.

    Example:
        >>> images, labels = tfvb.data.mnist_sample()        # 2,000 digits bundled with tfvb
        >>> model = tfvb.models.BNNClassifier(10, hidden_units=(400, 400), layer="flipout", seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> history = model.fit(images[:500], labels[:500], epochs=1, batch_size=128, verbose=0)
        >>> model.num_examples                            # learned by fit: N = len(x)
        500
        >>> u = model.predict_uncertainty(images[1000:1100], samples=100)
        >>> u["mean"].shape, u["entropy"].shape, u["mutual_information"].shape, u["variation_ratio"].shape
        ((100, 10), (100,), (100,), (100,))

    References:
        Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
        Gal. Uncertainty in Deep Learning. PhD thesis, 2016.
    """

    def __init__(self, num_classes, hidden_units=(400, 400), layer="flipout", prior=None, num_examples=None,
                 architecture="mlp", image_shape=(28, 28, 1), activation="relu", kl_weighting="uniform",
                 kl_warmup_steps=0, train_samples=1, posterior_sigma_init=0.01, seed=None, input_range=None, **kwargs):
        image_shape = _checks.renamed(kwargs, "input_shape", "image_shape", image_shape)
        super().__init__(hidden_units=hidden_units, layer=layer, prior=prior, num_examples=num_examples,
                         activation=activation, kl_weighting=kl_weighting, kl_warmup_steps=kl_warmup_steps,
                         train_samples=train_samples, posterior_sigma_init=posterior_sigma_init, seed=seed, **kwargs)
        self.num_classes = _checks.positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"Expected `num_classes` to be at least 2. Received: num_classes={num_classes!r}")
        self.architecture = _checks.one_of("architecture", architecture, {"mlp", "lenet"})
        self.image_shape = _checks.int_tuple("image_shape", image_shape)
        self.conv_layers = []
        if architecture == "lenet":
            if len(self.image_shape) != 3:
                raise ValueError(f"Expected an `image_shape` (height, width, channels) for "
                                 f"architecture='lenet'. Received: image_shape={image_shape!r}")
            conv = CONV_LAYERS[self.layer]
            self.conv_layers = [self._bayesian(conv, 6, 5, padding="same", activation=activation),
                                self._bayesian(conv, 16, 5, activation=activation)]
            self.pool = keras.layers.MaxPooling2D(2, dtype=self.dtype_policy)
        dense = DENSE_LAYERS[self.layer]
        self.dense_layers = [self._bayesian(dense, u, activation=activation) for u in self.hidden_units]
        self.dense_layers.append(self._bayesian(dense, self.num_classes))
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.input_range = input_range
        self.build((None,) + self.image_shape)

    @property
    def metrics(self):
        return self.own_metrics([self.loss_tracker, self.nll_tracker, self.kl_tracker, self.elbo_tracker,
                                 self.accuracy_tracker])

    def build(self, input_shape):
        shape = (None,) + self.image_shape
        if tuple(input_shape[1:]) not in (self.image_shape, self.image_shape[:-1]):
            raise ValueError(f"Expected inputs of shape {shape}. Received: input_shape={tuple(input_shape)}")
        for conv in self.conv_layers:
            conv.build(shape)
            shape = self.pool.compute_output_shape(conv.compute_output_shape(shape))
        self._build_dense_layers(int(np.prod(shape[1:])))

    def _forward(self, x, training=None, num_samples=None, seed=None, batch_slice=None):
        seeds = iter(self._layer_seeds(seed))
        h = x
        lead = 1  # leading axes: (N,), then (T, N) once a layer has drawn T samples
        for conv in self.conv_layers:
            h = conv(h, training=training, num_samples=num_samples, seed=next(seeds), batch_slice=batch_slice)
            lead = 2 if num_samples is not None else 1
            inner = tf.shape(h)[lead:]
            pooled = self.pool(tf.reshape(h, tf.concat([[-1], inner], 0)))
            h = tf.reshape(pooled, tf.concat([tf.shape(h)[:lead], tf.shape(pooled)[1:]], 0))
        # A static width in the shape (not tf.ensure_shape: LiteRT has no kernel for it).
        h = tf.reshape(h, tf.concat([tf.shape(h)[:lead], [int(np.prod(self._flat_shape()))]], 0))
        return self._dense_forward(h, seeds, training=training, num_samples=num_samples, batch_slice=batch_slice)

    def _widest_activation(self):
        shape, sizes = (None,) + self.image_shape, [int(np.prod(self.image_shape))]
        for conv in self.conv_layers:
            shape = conv.compute_output_shape(shape)
            sizes.append(int(np.prod(shape[1:])))
            shape = self.pool.compute_output_shape(shape)
        return max(sizes + [layer.units for layer in self.dense_layers])

    def _flat_shape(self):
        shape = (None,) + self.image_shape
        for conv in self.conv_layers:
            shape = self.pool.compute_output_shape(conv.compute_output_shape(shape))
        return shape[1:]

    has_labels = True

    def _check_inputs(self, x):
        return _checks.in_range(_checks.image_batch(x, self.image_shape), self.input_range)

    def _check_arrays(self, x, y):
        _checks.check_image_shape(np.shape(x), self.image_shape, "x")
        if y is not None:
            _labels.check_label_array(y, self.num_classes)

    def _check_batch(self, x, y):
        if y is None:
            raise ValueError("Expected batches (x, y) with class labels y for training. Received: y=None")
        return self._check_inputs(x), _labels.label_rows(y, self.num_classes)

    def call(self, inputs, training=None, num_samples=None, seed=None):
        return tf.nn.softmax(self._forward(self._check_inputs(inputs), training, num_samples, seed))

    def _nll(self, logits, y):
        # y: rows of class probabilities (one-hot for integer labels, see `tfvb.models._labels`).
        return -tf.reduce_sum(tf.cast(y, logits.dtype) * tf.nn.log_softmax(logits), axis=-1)

    def _extra_values(self, outputs, y):
        probs = tf.add_n([tf.nn.softmax(o) for o in outputs]) / len(outputs)
        correct = tf.equal(tf.argmax(probs, -1), tf.argmax(y, -1))
        return {"accuracy": tf.cast(correct, tf.float32), "_prediction": probs}

    def predict_uncertainty(self, x, samples=100, batch_size=None, seed=None):
        """Monte Carlo predictive of T weight draws, in one vectorized call per batch.

        Args:
            x: images (N, H, W, C) or (N, H, W).
            samples: T, the number of weight draws.
            batch_size: inputs per vectorized call (memory grows like T x batch); None keeps
                the largest activation of a call near 2^25 floats.
            seed: int for reproducible draws (None: the model's generator).

        Returns:
            dict of numpy arrays (see `tfvb.uncertainty.classification_uncertainty`):
            `mean` (N, C), `entropy`, `expected_entropy`, `mutual_information`,
            `variation_ratio`, `prediction` (N,). The draws are summarized as they
            come, so memory stays bounded for any T.
        """
        x = self._prediction_inputs(x, "predict_uncertainty")
        summary = uncertainty.ClassificationAccumulator(int(x.shape[0]), self.num_classes)
        for rows, logits in self._sample_blocks(x, samples, batch_size, seed):
            summary.add(tf.nn.softmax(logits).numpy(), rows)
        return summary.result()

    def predict_samples(self, x, samples=100, batch_size=None, seed=None):
        """The T stacked class probabilities, numpy (T, N, C), as `predict_uncertainty` draws them
        (T x N x C floats: for large T prefer `predict_uncertainty`)."""
        logits = self._sample_outputs(self._prediction_inputs(x, "predict_samples"), samples, batch_size, seed)
        return tf.nn.softmax(logits).numpy()

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "architecture": self.architecture,
                "image_shape": self.image_shape, "input_range": self.input_range}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if "input_shape" in config:  # files saved before the argument was named `image_shape`
            config["image_shape"] = config.pop("input_shape")
        return super().from_config(config, custom_objects)


@keras.saving.register_keras_serializable(package="tfvb")
class BNNRegressor(Standardized, BNNBase):
    """Bayesian neural network regressor with a Gaussian likelihood, on standardized inputs and targets.

        W ~ q(W),  p(y' | x', W) = N(m_W(x'), s^2)         noise="homoscedastic" (s learned)
                   p(y' | x', W) = N(m_W(x'), s_W(x')^2)    noise="heteroscedastic"

    With s_W(x') = softplus(.) + 1e-3 from a second output head, and
    x' = (x - m_x) / s_x, y' = (y - m_y) / s_y standardized with the training
    statistics (as `MCDropoutRegressor` does): `adapt(x, y)` learns them, `fit`
    calls it on arrays the first time (a `tf.data.Dataset` needs `adapt`
    first), and they are saved with the model. Everything the model returns
    is in the targets' units: `model(x)` / `predict` (the mean from the
    posterior-mean weights), `predict_uncertainty` (the predictive variance
    split into epistemic, the spread of the means over weight draws, and
    aleatoric, the mean noise variance) and `predict_samples`.

    Metrics: `loss` is the objective minimized, the negative ELBO per example
    of the standardized targets (nll' + w KL / N); `nll`, `elbo` and `rmse`
    are in the targets' units (nll = nll' + sum_d log s_y,d, see
    `tfvb.models._standardized`), `kl` = KL / N.

    Args:
        hidden_units: sizes of the hidden dense layers (Gal's UCI protocol: (50,)).
        layer: "flipout", "reparameterization" or "local_reparameterization".
        prior: a `tfvb.priors` prior (None: `Normal(1.0)`).
        num_examples: training-set size N; learned by `fit` from arrays.
        noise: "homoscedastic" or "heteroscedastic".
        input_dim: number of features (None: from the first data seen).
        output_dim: number of targets D.
        activation, kl_weighting, kl_warmup_steps, train_samples,
            posterior_sigma_init, seed: as in `BNNClassifier`.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(200, 13)).astype("float32")
        >>> y = x[:, 0] - 2 * x[:, 1] + 0.1 * np.random.default_rng(1).normal(size=200).astype("float32")
        >>> model = tfvb.models.BNNRegressor(hidden_units=(50,), input_dim=13, seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-2))
        >>> history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)   # learns the standardization
        >>> bool(np.allclose(model.y_mean.numpy(), y.mean(), atol=1e-6))
        True
        >>> u = model.predict_uncertainty(x[:10], samples=100)
        >>> sorted(u)
        ['aleatoric', 'epistemic', 'mean', 'std', 'variance']

    References:
        Blundell et al. Weight Uncertainty in Neural Networks. ICML 2015.
        Kendall, Gal. What Uncertainties Do We Need in Bayesian Deep Learning
        for Computer Vision? NeurIPS 2017.
    """

    def __init__(self, hidden_units=(50,), layer="flipout", prior=None, num_examples=None, noise="homoscedastic",
                 input_dim=None, output_dim=1, activation="relu", kl_weighting="uniform", kl_warmup_steps=0,
                 train_samples=1, posterior_sigma_init=0.01, seed=None, **kwargs):
        super().__init__(hidden_units=hidden_units, layer=layer, prior=prior, num_examples=num_examples,
                         activation=activation, kl_weighting=kl_weighting, kl_warmup_steps=kl_warmup_steps,
                         train_samples=train_samples, posterior_sigma_init=posterior_sigma_init, seed=seed, **kwargs)
        self.noise = _checks.one_of("noise", noise, {"homoscedastic", "heteroscedastic"})
        self.input_dim = None if input_dim is None else _checks.positive_int("input_dim", input_dim)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        dense = DENSE_LAYERS[self.layer]
        self.dense_layers = [self._bayesian(dense, u, activation=activation) for u in self.hidden_units]
        heads = 2 if self.noise == "heteroscedastic" else 1
        self.dense_layers.append(self._bayesian(dense, heads * self.output_dim))
        self.noise_log_std = None
        if self.noise == "homoscedastic":
            self.noise_log_std = self.add_weight(shape=(self.output_dim,), initializer="zeros", name="noise_log_std",
                                                 autocast=False)  # the likelihood stays in float32
        self.rmse_tracker = keras.metrics.RootMeanSquaredError(name="rmse")
        if self.input_dim is not None:
            self.build((None, self.input_dim))

    @property
    def metrics(self):
        return self.own_metrics([self.loss_tracker, self.nll_tracker, self.kl_tracker, self.elbo_tracker,
                                 self.rmse_tracker])

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"Expected inputs of shape (batch, features). Received: input_shape={tuple(input_shape)}")
        if self.input_dim is not None and input_shape[-1] != self.input_dim:
            raise ValueError(f"Expected inputs with input_dim={self.input_dim} features. "
                             f"Received: input_shape={tuple(input_shape)}")
        self.input_dim = int(input_shape[-1])
        self._build_dense_layers(self.input_dim)
        self.build_standardization()

    def _before_fit(self, x, y, counted):
        self.adapt_before_fit(x, y, counted)

    def _forward(self, x, training=None, num_samples=None, seed=None, batch_slice=None):
        """The network's raw outputs on inputs x in their units (standardized here)."""
        seeds = iter(self._layer_seeds(seed))
        h = self.standardize_inputs(x)
        return self._dense_forward(h, seeds, training=training, num_samples=num_samples, batch_slice=batch_slice)

    def _standard_mean_std(self, out):
        """Mean and noise scale of the standardized targets from raw outputs."""
        d = self.output_dim
        if self.noise == "heteroscedastic":
            return out[..., :d], tf.nn.softplus(out[..., d:]) + 1e-3
        return out, tf.exp(self.noise_log_std) * tf.ones_like(out)

    def _mean_std(self, out):
        """Mean and noise scale in the targets' units from raw outputs."""
        return self.target_units(*self._standard_mean_std(out))

    def _check_inputs(self, x):
        x = tf.cast(tf.convert_to_tensor(x), tf.float32)
        self._check_input_shape(x.shape, "inputs")
        return x

    def _check_input_shape(self, shape, name):
        if len(shape) != 2 or (self.input_dim is not None and shape[-1] != self.input_dim):
            raise ValueError(f"Expected `{name}` of shape (batch, {self.input_dim or 'features'}). "
                             f"Received: {name}.shape={tuple(shape)}")

    def _check_arrays(self, x, y):
        self._check_input_shape(np.shape(x), "x")
        if y is not None and not (np.ndim(y) == 1 or (np.ndim(y) == 2 and np.shape(y)[1] == self.output_dim)):
            raise ValueError(f"Expected `y` of shape (N,) or (N, {self.output_dim}). Received: y.shape={np.shape(y)}")
        largest = float(np.max(np.abs(y))) if y is not None and np.size(y) else 0.0
        if largest > TARGET_LIMIT:
            raise ValueError(f"Expected targets with |y| <= {TARGET_LIMIT:.2g}, whose squared errors (the `rmse` "
                             f"metric, in the targets' units) stay finite in float32. Received: max |y| = "
                             f"{largest:.4g}; rescale y (e.g. to other units) and scale the predictions back")

    def _unbuilt_hint(self):
        return " (call `fit`, or pass `input_dim` to the constructor)"

    def _check_batch(self, x, y):
        if y is None:
            raise ValueError("Expected batches (x, y) with targets y for training. Received: y=None")
        y = tf.cast(tf.convert_to_tensor(y), tf.float32)
        if y.shape.rank == 1:
            y = y[:, tf.newaxis]
        if y.shape.rank != 2 or y.shape[-1] != self.output_dim:
            raise ValueError(f"Expected targets of shape (batch,) or (batch, {self.output_dim}). "
                             f"Received: y.shape={tuple(y.shape)}")
        return self._check_inputs(x), y

    def call(self, inputs, training=None, num_samples=None, seed=None):
        return self._mean_std(self._forward(self._check_inputs(inputs), training, num_samples, seed))[0]

    def _nll(self, out, y):
        # The data term of the objective, on the standardized targets.
        mean, std = self._standard_mean_std(out)
        return -tf.reduce_sum(tfd.Normal(mean, std).log_prob(self.standardize_targets(y)), axis=-1)

    def _nll_offset(self):
        return self.log_jacobian()

    def _extra_values(self, outputs, y):
        mean = tf.add_n([self._mean_std(o)[0] for o in outputs]) / len(outputs)
        return {"_mean": mean, "_prediction": mean}

    def _update(self, values, y, sample_weight):
        self.rmse_tracker.update_state(y, values["_mean"], sample_weight=sample_weight)
        return update_trackers(self.metrics, values, sample_weight)

    def predict_uncertainty(self, x, samples=100, batch_size=None, seed=None):
        """Predictive mean and variance from T weight draws, in one vectorized call per batch.

        Args:
            x: inputs (N, input_dim).
            samples: T, the number of weight draws.
            batch_size: inputs per vectorized call (None: sized to bound the memory).
            seed: int for reproducible draws (None: the model's generator).

        Returns:
            dict of numpy arrays of shape (N,) (or (N, D) for D > 1): `mean`,
            `variance` (total), `epistemic`, `aleatoric`, `std`
            (see `tfvb.uncertainty.regression_uncertainty`). The draws are
            summarized as they come, so memory stays bounded for any T.
        """
        x = self._prediction_inputs(x, "predict_uncertainty")
        shape = (int(x.shape[0]),) + ((self.output_dim,) if self.output_dim > 1 else ())
        summary = uncertainty.RegressionAccumulator(shape)
        for rows, out in self._sample_blocks(x, samples, batch_size, seed):
            summary.add(*self._mean_variance(out), rows=rows)
        return summary.result()

    def _mean_variance(self, out):
        mean, std = self._mean_std(out)
        mean, variance = mean.numpy(), np.square(std.numpy())
        if self.output_dim == 1:
            mean, variance = mean[..., 0], variance[..., 0]
        return mean, variance

    def predict_samples(self, x, samples=100, batch_size=None, seed=None):
        """T stacked predictions: dict of numpy `mean` and noise `variance`, (T, N) or (T, N, D).

        Feed them to `tfvb.evaluate.regression_scores(y, s["mean"], var_samples=s["variance"])`
        for the UCI benchmark's RMSE and test log-likelihood.
        """
        x = self._prediction_inputs(x, "predict_samples")
        mean, variance = self._mean_variance(self._sample_outputs(x, samples, batch_size, seed))
        return {"mean": mean, "variance": variance}

    def get_config(self):
        return {**super().get_config(), "noise": self.noise, "input_dim": self.input_dim,
                "output_dim": self.output_dim}
