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
gradient descent on the ELBO, with relaxed Bernoulli masks of temperature t
(0.1) and the KL term of `tfvb.dropout`. Its data term must be a likelihood,
so it applies to the heteroscedastic regressor and the classifier.

The formulas live in `tfvb.dropout` and `tfvb.gaussian` (shared with the UCI
protocol's batched grid); the network, normalization, passes and steps in
`tfvb.models._mc_dropout_base`.
"""

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, gaussian, uncertainty
from tfvb.models import _inputs, _labels
from tfvb.models._mc_dropout_base import MCDropoutBase

__all__ = ["MCDropoutRegressor", "MCDropoutClassifier"]


@keras.saving.register_keras_serializable(package="tfvb")
class MCDropoutRegressor(MCDropoutBase):
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
            `model.layer_dropout_rates` reads them.
        temperature: the relaxed masks' temperature with `concrete`.

    Metrics: `loss` (objective), `rmse` and `nll` (one stochastic pass, original units).

    Example:
        >>> x = np.random.default_rng(0).uniform(-3, 3, size=(256, 1)).astype("float32")
        >>> y = np.sin(2 * x[:, 0]) + 0.1 * np.random.default_rng(1).normal(size=256).astype("float32")
        >>> model = tfvb.models.MCDropoutRegressor(hidden_units=(50,), dropout_rate=0.05, tau=100.0, seed=0)
        >>> model.compile(keras.optimizers.Adam(1e-2))
        >>> history = model.fit(x, y, batch_size=64, epochs=5, verbose=0)   # learns the normalization
        >>> u = model.predict_uncertainty(np.array([[0.0], [6.0]], "float32"), samples=1000, seed=0)
        >>> u["mean"].shape, u["variance"].shape, u["epistemic"].shape, u["aleatoric"].shape
        ((2,), (2,), (2,), (2,))
    """

    metric_names = ("loss", "rmse", "nll")
    sample_names = ("mean", "variance")

    def __init__(self, hidden_units=(50,), dropout_rate=0.05, tau=1.0, lengthscale=1e-2, num_examples=None,
                 heteroscedastic=False, output_dim=1, seed=None, concrete=False, temperature=0.1, **kwargs):
        output_dim = _checks.positive_int("output_dim", output_dim)
        heteroscedastic = _checks.boolean("heteroscedastic", heteroscedastic)
        super().__init__(output_units=output_dim * (2 if heteroscedastic else 1), hidden_units=hidden_units,
                         dropout_rate=dropout_rate, lengthscale=lengthscale, num_examples=num_examples, seed=seed,
                         concrete=concrete, temperature=temperature, **kwargs)
        self.tau = _checks.positive_float("tau", tau)
        self.heteroscedastic = heteroscedastic
        self.output_dim = output_dim
        if self.concrete and not self.heteroscedastic:
            raise ValueError(
                "Expected heteroscedastic=True with concrete=True: concrete dropout learns p from the ELBO, "
                "and the homoscedastic objective (Gal's protocol: tau in the targets' units, targets "
                "standardized) is not on its scale. Received: concrete=True, heteroscedastic=False"
            )

    def noise_precision(self):
        return 1.0 if self.heteroscedastic else self.tau

    def build_targets(self):
        d = self.output_dim
        self.y_mean = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="y_mean", autocast=False)
        self.y_scale = self.add_weight(shape=(d,), initializer="ones", trainable=False, name="y_scale", autocast=False)

    def check_targets(self, y, n):
        y = super().check_targets(y, n).reshape(n, -1)
        if y.shape[1] != self.output_dim:
            raise ValueError(f"Expected `y` with {self.output_dim} target(s) per row. Received: y.shape={y.shape}")
        return y

    def adapt_targets(self, y):
        mean, scale = gaussian.standardization(y)
        self.y_mean.assign(mean.astype("float32"))
        self.y_scale.assign(scale.astype("float32"))

    def prepare_targets(self, y):
        y = tf.cast(tf.convert_to_tensor(y), tf.float32)
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
            data_term = tf.reduce_sum(gaussian.heteroscedastic_nll(z, mean, logvar), -1)
        pred, var = self.outputs_from_raw(raw)
        nll = -tf.reduce_sum(gaussian.log_density(y, pred, var), axis=-1)
        return data_term, {"rmse": tf.reduce_mean(tf.square(y - pred), axis=-1), "nll": nll}

    def predict_uncertainty(self, x, samples=1000, seed=None):
        """Predictive mean and variance from T dropout passes, in the targets' units.

        Returns a dict of numpy arrays, (N,) for one target else (N, D):
        `mean` (1/T sum f_t), `variance` = `epistemic` (sample variance of the
        f_t) + `aleatoric` (1/tau, or the mean predicted noise variance), `std`.
        """
        x = self._prediction_inputs(x, "predict_uncertainty")
        shape = (int(x.shape[0]),) + ((self.output_dim,) if self.output_dim > 1 else ())
        summary = uncertainty.RegressionAccumulator(shape)
        for chunk in self._pass_chunks(x, samples, seed):  # summarized as they come: memory bounded for any T
            s = self._squeezed(chunk)
            summary.add(s["mean"], s["variance"])
        return summary.result()

    def predict_samples(self, x, samples=1000, seed=None):
        """T stacked predictions: dict of numpy `mean` and noise `variance`, (T, N) or (T, N, D).

        Pass t uses the seed pair (seed, t) for an int `seed` (see `call`);
        `seed=None` draws fresh passes. Feed them to
        `tfvb.evaluate.regression_scores(y, s["mean"], var_samples=s["variance"])`.
        """
        return self._squeezed(self._passes(x, samples, seed))

    def _squeezed(self, s):
        return {k: v[..., 0] if self.output_dim == 1 else v for k, v in s.items()}

    def get_config(self):
        return {**super().get_config(), "tau": self.tau, "heteroscedastic": self.heteroscedastic,
                "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="tfvb")
class MCDropoutClassifier(_inputs.InputRange, MCDropoutBase):
    """MC-dropout classifier (softmax head): an MLP on flattened images, or LeNet-5.

    The train step minimizes the per-example negative ELBO of Gal (2016):
    cross-entropy + lambda sum ||W||^2 with lambda = l^2 (1 - p) / (2 N).
    Inputs are used as given (scale them, e.g. pixels to [0, 1]).
    `predict_uncertainty` reports Gal's three measures: variation ratio,
    predictive entropy and mutual information.

    Args:
        num_classes: number of classes. `y` holds integer labels 0..C-1, shape (N,), or one-hot (or
            soft) rows, shape (N, C); anything else is refused (see `tfvb.models._labels`).
        hidden_units, dropout_rate, lengthscale, num_examples, seed, concrete, temperature: as in
            `MCDropoutRegressor`.
        architecture: "mlp" (dropout before every dense layer, the input included) or "lenet":
            LeNet-5 (conv 6@5x5 same, 2x2 max pool, conv 16@5x5, 2x2 max pool, then the dense
            `hidden_units`, e.g. (120, 84), and the output layer) with dropout before every weight
            layer but the first, as Gal & Ghahramani's Bayesian CNN; the kernels of the convolutions
            are decayed like the dense ones. Not with `concrete`.
        image_shape: the images' (height, width, channels): "lenet" takes them. Inputs may come as
            images of this shape ((N, H, W) for one channel), as flat rows (N, H * W * C), or in the shape
            the model was fitted on; other shapes with as many values are refused, not reshaped.
        input_range: None, or (low, high): inputs outside it are refused at run time (training and
            prediction), e.g. (0, 1) for images trained on scaled pixels.

    Metrics: `loss`, `accuracy`, `nll` (one stochastic pass).

    Example:
        >>> images, labels = tfvb.data.mnist_sample()        # pixels in [0, 1]
        >>> model = tfvb.models.MCDropoutClassifier(10, hidden_units=(512, 512), dropout_rate=0.5, seed=0)
        >>> model.compile(keras.optimizers.Adam(1e-3))
        >>> history = model.fit(images[:1000], labels[:1000], batch_size=128, epochs=2, verbose=0)
        >>> model.predict_uncertainty(images[1000:1100], samples=100)["mutual_information"].shape
        (100,)
    """

    metric_names = ("loss", "accuracy", "nll")
    sample_names = ("probs", "unused")
    normalizes_inputs = False

    def __init__(self, num_classes, hidden_units=(50,), dropout_rate=0.05, lengthscale=1e-2, num_examples=None,
                 seed=None, concrete=False, temperature=0.1, architecture="mlp", image_shape=(28, 28, 1),
                 input_range=None, **kwargs):
        num_classes = _checks.positive_int("num_classes", num_classes)
        self.input_range = input_range
        if num_classes < 2:
            raise ValueError(f"Expected `num_classes` >= 2. Received: num_classes={num_classes!r}")
        super().__init__(output_units=num_classes, hidden_units=hidden_units, dropout_rate=dropout_rate,
                         lengthscale=lengthscale, num_examples=num_examples, seed=seed, concrete=concrete,
                         temperature=temperature, architecture=architecture, image_shape=image_shape, **kwargs)
        self.num_classes = num_classes

    def _flat_inputs(self, x):
        return _checks.in_range(super()._flat_inputs(x), self._input_range)

    def outputs_from_raw(self, raw):
        return tf.nn.softmax(raw, axis=-1), None

    has_labels = True

    def check_targets(self, y, n):
        y = _labels.check_label_array(_inputs.as_array("y", y), self.num_classes)
        if len(y) != n:
            raise ValueError(f"Expected `y` with {n} rows to match `x`. Received: y.shape={np.shape(y)}")
        return y

    def prepare_targets(self, y):
        return _labels.label_rows(y, self.num_classes)  # float32 rows, as the likelihood takes them

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
        x = self._prediction_inputs(x, "predict_uncertainty")
        summary = uncertainty.ClassificationAccumulator(int(x.shape[0]), self.num_classes)
        for chunk in self._pass_chunks(x, samples, seed):  # summarized as they come: memory bounded for any T
            summary.add(chunk["probs"])
        return summary.result()

    def predict_samples(self, x, samples=100, seed=None):
        """The T stacked class probabilities, numpy (T, N, C), as `predict_uncertainty` draws them."""
        return self._passes(x, samples, seed)["probs"]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "architecture": self.architecture,
                "image_shape": list(self.image_shape), "input_range": self.input_range}
