"""Many MC-dropout regressors trained at once, as one batched model.

A hyper-parameter grid (dropout rate p_g, precision tau_g) on one or several
data sets gives G independent networks. Stacking their weights, W_l of shape
(G, in, out), turns G small matmuls into one batched matmul per layer, and
minimizing the sum of the G objectives

    L = sum_g [ (1/B) sum_n (y_gn - f_g(x_gn))^2 + lambda_g sum_l ||W_gl||^2 ],
    lambda_g = l_g^2 (1 - p_g) / (2 N tau_g)

with Adam (elementwise) trains each network exactly as if alone: network g
sees only its own loss's gradient. The formulas are `tfvb.dropout`'s and
`tfvb.gaussian`'s, the ones `tfvb.models.MCDropoutRegressor` trains with.
The epochs and minibatches run inside one `tf.function` loop (Keras' Adam
update, on slots `reset` can clear, so the traced loop serves every split),
and the T Monte Carlo passes are drawn in batched chunks reduced on the fly
(logsumexp of the test log-likelihood, running means), so neither Python
nor memory grows with T. `regressor(g)` exports network g as an
`MCDropoutRegressor` with the same weights and normalization.

Example:
    >>> d = tfvb.data.uci("bostonHousing", split=0)
    >>> grid = MCDropoutGrid(13, dropout_rate=[0.005, 0.05], tau=[0.1, 0.2], hidden_units=(50,))
    >>> grid = grid.fit(d.x_train[None], d.y_train[None], epochs=5)        # one data set, 2 networks
    >>> grid.mc_scores(d.x_test[None], d.y_test[None], samples=100)["ll"].shape   # (networks, variance scales)
    (2, 1)

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation. ICML 2016.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, dropout, gaussian, optimizers
from tfvb.models.mc_dropout import MCDropoutRegressor

__all__ = ["MCDropoutGrid"]

_CHUNK_ELEMENTS = 1 << 23


class MCDropoutGrid:
    """G MC-dropout MLPs (one per (p_g, tau_g)) with stacked weights.

    Args:
        input_dim: number of input features.
        dropout_rate, tau: length-G sequences, network g's dropout rate and noise precision.
        hidden_units: ReLU hidden layer widths (shared by all networks).
        lengthscale: prior lengthscale l, one for all networks or one per network.
        heteroscedastic: networks also output a log noise variance (and
            lambda_g drops tau_g, as in `MCDropoutRegressor`).
        learning_rate: Adam step size (Keras' default 1e-3, as in the protocol).
        seed: seed of the initialization, shuffling and dropout noise.
        concrete: learn each network's per-layer dropout rates (concrete
            dropout, as `MCDropoutRegressor(concrete=True)`), starting from
            `dropout_rate`; needs heteroscedastic=True.
        temperature: the relaxed masks' temperature with `concrete`.
    """

    def __init__(self, input_dim, dropout_rate, tau, hidden_units=(50,), lengthscale=1e-2,
                 heteroscedastic=False, learning_rate=1e-3, seed=0, concrete=False, temperature=0.1):
        self.input_dim = _checks.positive_int("input_dim", input_dim)
        self.concrete = bool(concrete)
        self.temperature = _checks.positive_float("temperature", temperature)
        if self.concrete and not heteroscedastic:
            raise ValueError("Expected heteroscedastic=True with concrete=True (the ELBO's scale needs a "
                             "likelihood data term). Received: heteroscedastic=False")
        self.size = len(np.ravel(dropout_rate))
        if self.size == 0:
            raise ValueError("Expected at least one network. Received: dropout_rate=[]")
        self.hidden_units = _checks.int_tuple("hidden_units", hidden_units)
        self.heteroscedastic = bool(heteroscedastic)
        self.learning_rate = _checks.positive_float("learning_rate", learning_rate)
        widths = (self.input_dim,) + self.hidden_units + (2 if self.heteroscedastic else 1,)
        self.kernels = [tf.Variable(tf.zeros((self.size, a, b)), name=f"kernel_{i}")
                        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]
        self.biases = [tf.Variable(tf.zeros((self.size, b)), name=f"bias_{i}") for i, b in enumerate(widths[1:])]
        self._logits = tf.Variable(tf.zeros((self.size, len(self.kernels))), name="dropout_logits")
        self.variables = self.kernels + self.biases + ([self._logits] if self.concrete else [])
        self._adam_m = [tf.Variable(tf.zeros_like(v)) for v in self.variables]
        self._adam_v = [tf.Variable(tf.zeros_like(v)) for v in self.variables]
        self._iterations = tf.Variable(0.0)
        # Float64: the masks round p and 1 - p to float32 each from the exact rate (`tfvb.dropout`).
        self._rate = tf.Variable(tf.zeros(self.size, tf.float64))
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._run = tf.function(self._run_epochs)
        self._chunk = tf.function(self._mc_chunk)
        self.reset(dropout_rate, tau, lengthscale, seed)

    def reset(self, dropout_rate, tau, lengthscale=1e-2, seed=0):
        """Fresh networks with these hyper-parameters: new initialization, optimizer state and noise.

        Reuses the traced training and sampling loops, which a new grid would trace again.
        """
        rates = [_checks.open_unit_interval("dropout_rate[i]", p) for p in np.ravel(dropout_rate)]
        taus = [_checks.positive_float("tau[i]", t) for t in np.ravel(tau)]
        if len(rates) != self.size or len(taus) != self.size:
            raise ValueError(
                f"Expected {self.size} dropout rates and taus. Received {len(rates)} and {len(taus)}"
            )
        self.dropout_rate, self.tau = np.array(rates), np.array(taus)
        self.lengthscale = np.broadcast_to(
            [_checks.positive_float("lengthscale", value) for value in np.ravel(lengthscale)], (self.size,)).copy()
        self.seed = seed
        # Glorot uniform (Keras' Dense default), network g from its own stream: its start does not depend on G.
        rngs = [np.random.default_rng([seed, g]) for g in range(self.size)]
        for w in self.kernels:
            limit = math.sqrt(6.0 / (w.shape[1] + w.shape[2]))
            w.assign(np.stack([r.uniform(-limit, limit, w.shape[1:]) for r in rngs]).astype("float32"))
        for v in self.biases + self._adam_m + self._adam_v:
            v.assign(tf.zeros_like(v))
        self._iterations.assign(0.0)
        self._rate.assign(self.dropout_rate)
        logits = dropout.dropout_logit(self.dropout_rate)
        self._logits.assign(np.repeat(logits[:, None], len(self.kernels), axis=1).astype("float32"))
        state = self.seed_generator.state
        state.assign(np.array([seed, 0]).astype(state.dtype))
        self.num_examples = None
        return self

    def _groups(self, groups, n_sets):
        if groups is None:
            if n_sets not in (1, self.size):
                raise ValueError(
                    f"Expected `groups` (the data set of each of the {self.size} networks) when giving "
                    f"{n_sets} data sets. Received: groups=None"
                )
            groups = np.zeros(self.size, int) if n_sets == 1 else np.arange(self.size)
        groups = np.asarray(groups)
        if groups.shape != (self.size,) or groups.min() < 0 or groups.max() >= n_sets:
            raise ValueError(f"Expected `groups` of {self.size} indices in [0, {n_sets}). Received: {groups!r}")
        return groups

    def _stacked(self, x, y, name):
        x = np.asarray(_checks.finite_array(f"x_{name}", x), dtype=np.float64)
        y = np.asarray(_checks.finite_array(f"y_{name}", y), dtype=np.float64)
        if x.ndim == 2:
            x, y = x[None], y[None]
        if x.ndim != 3 or x.shape[2] != self.input_dim or y.shape != x.shape[:2]:
            raise ValueError(
                f"Expected `x_{name}` (S, n, {self.input_dim}) and `y_{name}` (S, n). "
                f"Received: {x.shape} and {y.shape}"
            )
        return x, y

    def fit(self, x, y, epochs, batch_size=128, groups=None):
        """Train every network on its data set: x (S, n, d), y (S, n); network g uses set groups[g].

        Each set's inputs and targets are standardized with its own statistics
        (kept for prediction); N = n in the weight decay. Returns self.
        """
        x, y = self._stacked(x, y, "train")
        self.groups = self._groups(groups, len(x))
        epochs = _checks.positive_int("epochs", epochs)
        batch_size = _checks.positive_int("batch_size", batch_size)
        n = x.shape[1]
        (self.x_mean, self.x_scale) = gaussian.standardization(x, axis=1, keepdims=True)
        (self.y_mean, self.y_scale) = gaussian.standardization(y, axis=1, keepdims=True)
        xn, yn = (x - self.x_mean) / self.x_scale, (y - self.y_mean) / self.y_scale
        self.num_examples = n
        if self.concrete:  # l^2 / (2 N (1 - p_l)) per layer, the (1 - p_l) applied in the step
            decay = dropout.concrete_weight_decay(self.lengthscale, n)
        else:
            tau = np.ones(self.size) if self.heteroscedastic else self.tau
            decay = dropout.weight_decay(self.lengthscale, self.dropout_rate, n, tau)
        self._run(tf.constant(xn, tf.float32), tf.constant(yn, tf.float32), tf.constant(self.groups),
                  tf.constant(decay, tf.float32), tf.constant(1.0 / n, tf.float32), tf.constant(epochs), batch_size)
        return self

    @property
    def layer_dropout_rates(self):
        """(G, layers) dropout rates: learned with `concrete`, else each network's fixed p."""
        return dropout.rate_from_logit(self._logits.numpy())

    def _concrete_rates(self, i):
        return tf.sigmoid(self._logits[:, i])

    def _forward(self, h):
        """h (G, M, d) normalized inputs -> raw outputs (G, M, out), fresh dropout masks.

        All networks share one uniform draw u per unit and keep it when u >= p_g:
        each network alone still sees i.i.d. Bernoulli(1 - p_g) masks, the
        networks merely use common random numbers, and the random draws (most of
        the cost of a step on a CPU) no longer grow with G.
        """
        for i, (w, b) in enumerate(zip(self.kernels, self.biases)):
            u = keras.random.uniform(tf.shape(h)[1:], seed=self.seed_generator)
            if self.concrete:
                h = dropout.concrete_dropout(h, self._concrete_rates(i)[:, None, None], u[None], self.temperature)
            else:
                h = dropout.bernoulli_dropout(h, u[None], self._rate[:, None, None])
            h = tf.matmul(h, w) + b[:, None, :]
            if i < len(self.kernels) - 1:
                h = tf.nn.relu(h)
        return h

    def _step(self, xn, yn, groups, decay, inv_n, idx):
        xb = tf.gather(tf.gather(xn, idx, batch_dims=1), groups)
        yb = tf.gather(tf.gather(yn, idx, batch_dims=1), groups)
        with tf.GradientTape() as tape:
            raw = self._forward(xb)
            if self.heteroscedastic:
                data = tf.reduce_mean(gaussian.heteroscedastic_nll(yb, raw[..., 0], raw[..., 1]), axis=1)
            else:
                data = tf.reduce_mean(tf.square(yb - raw[..., 0]), axis=1)
            loss = tf.reduce_sum(data + self._regularizer(decay, inv_n))
        self._apply_gradients(tape.gradient(loss, self.variables))

    def _apply_gradients(self, grads):
        """Keras' Adam update (beta 0.9, 0.999, epsilon 1e-7), elementwise: network g trains as if alone.

        Written out rather than `keras.optimizers.Adam.apply`: the same numbers to the bit, and on
        a small grid, where the step is dispatch-bound, Keras' per-variable bookkeeping ops made a
        Boston grid search's `fit` take 1.11 times as long (median of 9 interleaved pairs, pairs
        0.89-1.45; one run, one thread, loaded cores; protein 0.99, pairs 0.70-1.06:
        benchmarks/grid_optimizer.py, benchmarks/results/grid_optimizer.json).
        """
        t = self._iterations.assign_add(1.0)
        alpha = self.learning_rate * tf.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t)
        for var, g, m, v in zip(self.variables, grads, self._adam_m, self._adam_v):
            m.assign_add((g - m) * 0.1)
            v.assign_add((tf.square(g) - v) * 0.001)
            var.assign_sub(alpha * m / (tf.sqrt(v) + 1e-7))

    def _regularizer(self, decay, inv_n):
        """(G,) weight-decay (and with `concrete`, dropout-entropy) terms of the objectives."""
        if not self.concrete:
            return decay * tf.add_n([tf.reduce_sum(tf.square(w), axis=[1, 2]) for w in self.kernels])
        return tf.add_n([dropout.concrete_kl(tf.reduce_sum(tf.square(w), axis=[1, 2]), self._concrete_rates(i),
                                             float(w.shape[1]), decay, inv_n) for i, w in enumerate(self.kernels)])

    def _run_epochs(self, xn, yn, groups, decay, inv_n, epochs, batch_size):
        # Full batches, then the remainder, as Keras' fit does.
        n_sets, n = xn.shape[0], xn.shape[1]
        full, rest = divmod(n, batch_size)
        for _ in tf.range(epochs):
            order = tf.argsort(keras.random.uniform((n_sets, n), seed=self.seed_generator), axis=1)
            for s in tf.range(full):
                self._step(xn, yn, groups, decay, inv_n, tf.slice(order, [0, s * batch_size], [n_sets, batch_size]))
            if rest:
                self._step(xn, yn, groups, decay, inv_n, order[:, full * batch_size:])

    def _mc_chunk(self, xg, yg, y_mean, y_scale, tau, scales, t):
        """t passes: logsumexp over them of log N(y; f, c var) per scale c, and sums of f, f^2."""
        g, m = tf.shape(xg)[0], tf.shape(xg)[1]
        h = tf.reshape(tf.tile(xg[:, None], [1, t, 1, 1]), (g, t * m, -1))
        raw = tf.reshape(self._forward(h), (g, t, m, -1))
        f = raw[..., 0] * y_scale[:, None, None] + y_mean[:, None, None]
        if self.heteroscedastic:
            var = tf.exp(raw[..., 1]) * tf.square(y_scale)[:, None, None]
        else:
            var = tf.ones_like(f) / tau[:, None, None]
        var = var[:, None] * scales[None, :, None, None]  # (G, K, t, m)
        logp = gaussian.log_density(yg[:, None, None], f[:, None], var)
        mean = tf.reduce_mean(f, axis=1)
        # Centred within the chunk: E[f^2] - E[f]^2 in float32 cancels catastrophically for f ~ 100.
        return (tf.reduce_logsumexp(logp, axis=2), mean, tf.reduce_sum(tf.square(f - mean[:, None]), 1),
                tf.reduce_sum(var[:, 0], 1))

    def mc_scores(self, x, y, samples=10_000, variance_scales=(1.0,)):
        """Test scores of every network from T MC passes, drawn in chunks.

        Args:
            x, y: (S, m, d) and (S, m) evaluation data in original units (network g uses set groups[g]).
            samples: T.
            variance_scales: factors c_k applied to the predictive noise variance
                (1/tau, or the predicted one); `ll` is reported for each.

        Returns:
            A dict of numpy arrays: `rmse` (G,) of the MC mean, `ll` (G, K) mean
            test log-likelihoods, `mean`, `epistemic`, `aleatoric` (G, m).
        """
        if self.num_examples is None:
            raise ValueError("Expected a fitted grid: call `fit` before `mc_scores`.")
        samples = _checks.positive_int("samples", samples)
        x, y = self._stacked(x, y, "eval")
        scales = np.asarray([_checks.positive_float("variance_scales[k]", c) for c in np.ravel(variance_scales)])
        g = self.groups
        xg = ((x[g] - self.x_mean[g]) / self.x_scale[g]).astype("float32")
        yg = y[g].astype("float32")
        m = x.shape[1]
        widest = max((self.input_dim,) + self.hidden_units)
        chunk = max(1, min(samples, _CHUNK_ELEMENTS // (self.size * m * max(widest, len(scales)))))
        args = [tf.constant(a, tf.float32) for a in (self.y_mean[g, 0], self.y_scale[g, 0], self.tau, scales)]
        lse, mean, m2, sv, count = None, 0.0, 0.0, 0.0, 0
        for start in range(0, samples, chunk):
            t = min(chunk, samples - start)
            out = [a.numpy().astype(np.float64) for a in self._chunk(tf.constant(xg), tf.constant(yg), *args, t)]
            lse = out[0] if lse is None else np.logaddexp(lse, out[0])
            # Chan et al.'s pairwise update of the running mean and sum of squared deviations.
            delta, total = out[1] - mean, count + t
            mean, m2 = mean + delta * t / total, m2 + out[2] + delta**2 * count * t / total
            sv, count = sv + out[3], total
        return {
            "rmse": np.sqrt(np.mean((yg - mean) ** 2, axis=1)),
            "ll": (lse - math.log(samples)).mean(axis=2),
            "mean": mean,
            "epistemic": m2 / samples,
            "aleatoric": sv / samples,
        }

    def regressor(self, g):
        """Network g as a built, compiled `MCDropoutRegressor` (original units)."""
        if self.num_examples is None:
            raise ValueError("Expected a fitted grid: call `fit` before `regressor`.")
        model = MCDropoutRegressor(
            hidden_units=self.hidden_units, dropout_rate=float(self.dropout_rate[g]), tau=float(self.tau[g]),
            lengthscale=float(self.lengthscale[g]), num_examples=self.num_examples,
            heteroscedastic=self.heteroscedastic, seed=self.seed, concrete=self.concrete,
            temperature=self.temperature,
        )
        model.build((None, self.input_dim))
        for layer, w, b in zip(model.hidden + [model.head], self.kernels, self.biases):
            layer.kernel.assign(w[g])
            layer.bias.assign(b[g])
        if self.concrete:
            model.dropout_logits.assign(self._logits[g])
        s = self.groups[g]
        model.x_mean.assign(self.x_mean[s, 0].astype("float32"))
        model.x_scale.assign(self.x_scale[s, 0].astype("float32"))
        model.y_mean.assign(self.y_mean[s, 0:1].astype("float32"))
        model.y_scale.assign(self.y_scale[s, 0:1].astype("float32"))
        model.adapted.assign(1.0)
        model.mark_called()
        model.compile(optimizer=optimizers.Adam(1e-3))
        # Built slots save with the model, so a reload restores the optimizer without a warning.
        model.optimizer.build(model.trainable_variables)
        return model
