"""Many MC-dropout regressors trained at once, as one batched model.

A hyper-parameter grid (dropout rate p_g, precision tau_g) on one or several
data sets gives G independent networks. Stacking their weights, W_l of shape
(G, in, out), turns G small matmuls into one batched matmul per layer, and
minimizing the sum of the G objectives

    L = sum_g [ (1/B) sum_n (y_gn - f_g(x_gn))^2 + lambda_g sum_l ||W_gl||^2 ],
    lambda_g = l^2 (1 - p_g) / (2 N tau_g)

with Adam (elementwise) trains each network exactly as if alone: network g
sees only its own loss's gradient. The epochs and minibatches run inside one
`tf.function` loop (Keras' Adam update on slots `reset` can clear, so the
traced loop serves every split), and the T Monte Carlo passes are drawn in batched chunks
reduced on the fly (logsumexp of the test log-likelihood, running means), so
neither Python nor memory grows with T. `regressor(g)` exports network g as an
`MCDropoutRegressor` with the same weights and normalization.

Example:
    >>> grid = MCDropoutGrid(13, dropout_rates=[0.005, 0.05], taus=[0.1, 0.2], hidden_units=(50,))
    >>> grid.fit(x_train[None], y_train[None], epochs=400)       # one data set, 2 networks
    >>> grid.mc_scores(x_test[None], y_test[None], samples=10_000)["ll"]    # (2,)

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation. ICML 2016.
"""

import itertools
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks
from tfvb.models.mc_dropout import concrete_dropout, concrete_kl

__all__ = ["MCDropoutGrid", "grid_search_split", "protocol_split", "run_protocol"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_CHUNK_ELEMENTS = 1 << 23


def _standardize(a, axis):
    mean, std = a.mean(axis=axis, keepdims=True), a.std(axis=axis, keepdims=True)
    # A constant column has a rounding-noise std (~1e-16 |mean|): dividing by it would turn the noise into
    # a +-1 feature that float32 inputs at prediction do not reproduce. Leave such columns unscaled.
    return mean, np.where(std > 1e-8 * np.abs(mean), std, 1.0)


class MCDropoutGrid:
    """G MC-dropout MLPs (one per (p_g, tau_g)) with stacked weights.

    Args:
        input_dim: number of input features.
        dropout_rates, taus: length-G sequences, one pair per network.
        hidden_units: ReLU hidden layer widths (shared by all networks).
        lengthscale: prior lengthscale l, one for all networks or one per network.
        heteroscedastic: networks also output a log noise variance (and
            lambda_g drops tau_g, as in `MCDropoutRegressor`).
        learning_rate: Adam step size (Keras' default 1e-3, as in the protocol).
        seed: seed of the initialization, shuffling and dropout noise.
        concrete: learn each network's per-layer dropout rates (concrete
            dropout, as `MCDropoutRegressor(concrete=True)`), starting from
            `dropout_rates`; needs heteroscedastic=True.
        temperature: the relaxed masks' temperature with `concrete`.
    """

    def __init__(self, input_dim, dropout_rates, taus, hidden_units=(50,), lengthscale=1e-2,
                 heteroscedastic=False, learning_rate=1e-3, seed=0, concrete=False, temperature=0.1):
        self.input_dim = _checks.positive_int("input_dim", input_dim)
        self.concrete = bool(concrete)
        self.temperature = _checks.positive_float("temperature", temperature)
        if self.concrete and not heteroscedastic:
            raise ValueError("Expected heteroscedastic=True with concrete=True (the ELBO's scale needs a "
                             "likelihood data term). Received: heteroscedastic=False")
        self.size = len(np.ravel(dropout_rates))
        if self.size == 0:
            raise ValueError("Expected at least one network. Received: dropout_rates=[]")
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
        self._rate = tf.Variable(tf.zeros(self.size))
        self._keep = tf.Variable(tf.ones(self.size))
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._run = tf.function(self._run_epochs)
        self._chunk = tf.function(self._mc_chunk)
        self.reset(dropout_rates, taus, lengthscale, seed)

    def reset(self, dropout_rates, taus, lengthscale=1e-2, seed=0):
        """Fresh networks with these hyper-parameters: new initialization, optimizer state and noise.

        Reuses the traced training and sampling loops, which a new grid would trace again.
        """
        rates = [_checks.open_unit_interval("dropout_rates[i]", p) for p in np.ravel(dropout_rates)]
        taus = [_checks.positive_float("taus[i]", t) for t in np.ravel(taus)]
        if len(rates) != self.size or len(taus) != self.size:
            raise ValueError(
                f"Expected {self.size} dropout rates and taus. Received {len(rates)} and {len(taus)}"
            )
        self.dropout_rates, self.taus = np.array(rates), np.array(taus)
        self.lengthscales = np.broadcast_to(
            [_checks.positive_float("lengthscale", l) for l in np.ravel(lengthscale)], (self.size,)).copy()
        self.seed = seed
        # Glorot uniform (Keras' Dense default), network g from its own stream: its start does not depend on G.
        rngs = [np.random.default_rng([seed, g]) for g in range(self.size)]
        for w in self.kernels:
            limit = math.sqrt(6.0 / (w.shape[1] + w.shape[2]))
            w.assign(np.stack([r.uniform(-limit, limit, w.shape[1:]) for r in rngs]).astype("float32"))
        for v in self.biases + self._adam_m + self._adam_v:
            v.assign(tf.zeros_like(v))
        self._iterations.assign(0.0)
        self._rate.assign(self.dropout_rates.astype("float32"))
        self._keep.assign((1.0 - self.dropout_rates).astype("float32"))
        logits = np.log(self.dropout_rates) - np.log1p(-self.dropout_rates)
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
        (self.x_mean, self.x_scale), (self.y_mean, self.y_scale) = _standardize(x, 1), _standardize(y, 1)
        xn, yn = (x - self.x_mean) / self.x_scale, (y - self.y_mean) / self.y_scale
        self.num_examples = n
        tau = np.ones(self.size) if self.heteroscedastic else self.taus
        if self.concrete:  # l^2 / (2 N (1 - p_l)) per layer, the (1 - p_l) applied in the step
            decay = self.lengthscales**2 / (2.0 * n)
        else:
            decay = self.lengthscales**2 * (1 - self.dropout_rates) / (2.0 * n * tau)
        self._run(tf.constant(xn, tf.float32), tf.constant(yn, tf.float32), tf.constant(self.groups),
                  tf.constant(decay, tf.float32), tf.constant(1.0 / n, tf.float32), tf.constant(epochs), batch_size)
        return self

    @property
    def learned_dropout_rates(self):
        """(G, layers) dropout rates: learned with `concrete`, else each network's fixed p."""
        return 1.0 / (1.0 + np.exp(-self._logits.numpy().astype(np.float64)))

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
                h = concrete_dropout(h, self._concrete_rates(i)[:, None, None], u[None], self.temperature)
            else:
                h = h * (tf.cast(u[None] >= self._rate[:, None, None], h.dtype) / self._keep[:, None, None])
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
                logvar = raw[..., 1]
                data = tf.reduce_mean(0.5 * tf.square(yb - raw[..., 0]) * tf.exp(-logvar) + 0.5 * logvar, axis=1)
            else:
                data = tf.reduce_mean(tf.square(yb - raw[..., 0]), axis=1)
            loss = tf.reduce_sum(data + self._regularizer(decay, inv_n))
        self._adam(tape.gradient(loss, self.variables))

    def _regularizer(self, decay, inv_n):
        """(G,) weight-decay (and with `concrete`, dropout-entropy) terms of the objectives."""
        if not self.concrete:
            return decay * tf.add_n([tf.reduce_sum(tf.square(w), axis=[1, 2]) for w in self.kernels])
        return tf.add_n([concrete_kl(tf.reduce_sum(tf.square(w), axis=[1, 2]), self._concrete_rates(i),
                                     float(w.shape[1]), decay, inv_n) for i, w in enumerate(self.kernels)])

    def _adam(self, grads):
        # Keras' Adam update (beta 0.9, 0.999, epsilon 1e-7), on slots that `reset` can zero in place.
        t = self._iterations.assign_add(1.0)
        alpha = self.learning_rate * tf.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t)
        for var, g, m, v in zip(self.variables, grads, self._adam_m, self._adam_v):
            m.assign_add((g - m) * 0.1)
            v.assign_add((tf.square(g) - v) * 0.001)
            var.assign_sub(alpha * m / (tf.sqrt(v) + 1e-7))

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
        logp = -0.5 * tf.square(yg[:, None, None] - f[:, None]) / var - 0.5 * tf.math.log(var) - _HALF_LOG_2PI
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
        args = [tf.constant(a, tf.float32) for a in (self.y_mean[g, 0], self.y_scale[g, 0], self.taus, scales)]
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
        from tfvb.models.mc_dropout import MCDropoutRegressor

        if self.num_examples is None:
            raise ValueError("Expected a fitted grid: call `fit` before `regressor`.")
        model = MCDropoutRegressor(
            hidden_units=self.hidden_units, dropout_rate=float(self.dropout_rates[g]), tau=float(self.taus[g]),
            lengthscale=float(self.lengthscales[g]), num_examples=self.num_examples,
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
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        # Built slots save with the model, so a reload restores the optimizer without a warning.
        model.optimizer.build(model.trainable_variables)
        return model


#: Starting dropout rate of concrete dropout (the paper's code initializes p at 0.1).
CONCRETE_INITIAL_RATE = 0.1

#: Factors c on the predictive noise variance tried on the validation rows by the tuned variant.
VARIANCE_SCALES = tuple(float(c) for c in 2.0 ** np.linspace(-2, 2, 17))


def grid_search_split(data, heteroscedastic=False, samples=10_000, validation_samples=1000, epochs=None,
                      batch_size=128, dropout_rates=None, taus=None, lengthscales=(1e-2,),
                      variance_scales=VARIANCE_SCALES, seed=0, cache=None, selection=None, concrete=False):
    """Gal's updated UCI protocol on one split, every grid point trained at once.

    The first 80% of the training rows train one network per (p, tau) of the
    grid (per (p, l) when heteroscedastic); the best validation
    log-likelihood picks the pair, retrained on all training rows and scored
    on the test rows with T = `samples` passes. The tuned variant also picks a
    factor c on the noise variance (a continuous tau for homoscedastic
    networks) on the same validation rows.

    Args:
        data: a `tfvb.data.UCIData` split.
        epochs: default 10 x data.n_epochs, as in the updated protocol.
        dropout_rates, taus: default the folder's grid.
        lengthscales: prior lengthscales (the heteroscedastic grid's second axis).
        cache: a dict kept across calls (splits) to reuse grids and their traced loops.
        concrete: learn the dropout rates (concrete dropout; needs
            heteroscedastic): the grid is then over the prior lengthscales, and
            `dropout_rates` (default CONCRETE_INITIAL_RATE) are starting points.
        selection: a record this function returned for the same split and
            settings: its chosen pair, tuned pair and noise factor are taken
            instead of running the grid, and only the final networks are
            trained (the same networks, seeds and data as in that run, so the
            test scores repeat up to floating-point summation order).

    Returns:
        (record, final, index): a dict of the choices and scores, the fitted
        final `MCDropoutGrid`, and the index in it of the faithful choice.
    """
    start = time.perf_counter()
    if dropout_rates is None:
        dropout_rates = (CONCRETE_INITIAL_RATE,) if concrete else data.dropout_rates
    rates = tuple(dropout_rates)
    taus = data.tau_values if taus is None else tuple(taus)
    second = lengthscales if heteroscedastic else taus
    pairs = list(itertools.product(rates, second))
    p = np.array([a for a, _ in pairs])
    tau = np.ones(len(pairs)) if heteroscedastic else np.array([b for _, b in pairs])
    ls = np.array([b for _, b in pairs]) if heteroscedastic else np.full(len(pairs), lengthscales[0])
    epochs = 10 * data.n_epochs if epochs is None else epochs
    scales = np.asarray(variance_scales, dtype=np.float64)
    if not np.any(scales == 1.0):
        scales = np.append(scales, 1.0)
    unit = int(np.flatnonzero(scales == 1.0)[0])

    def make(idx, s):
        key = (len(idx), data.x_train.shape[1], data.n_hidden, heteroscedastic, concrete)
        if cache is not None and key in cache:
            return cache[key].reset(p[idx], tau[idx], ls[idx], s)
        grid = MCDropoutGrid(data.x_train.shape[1], p[idx], tau[idx], hidden_units=(data.n_hidden,),
                             lengthscale=ls[idx], heteroscedastic=heteroscedastic, seed=s, concrete=concrete)
        if cache is not None:
            cache[key] = grid
        return grid

    if selection is None:
        n_fit = int(0.8 * len(data.x_train))
        everything = np.arange(len(pairs))
        grid = make(everything, seed).fit(data.x_train[:n_fit], data.y_train[:n_fit], epochs, batch_size)
        val = grid.mc_scores(data.x_train[n_fit:], data.y_train[n_fit:], samples=validation_samples,
                             variance_scales=scales)["ll"]
        best = int(np.argmax(val[:, unit]))
        tuned, tuned_k = np.unravel_index(int(np.argmax(val)), val.shape)
        validation_ll = val[:, unit].round(5).tolist()
    else:
        best, tuned, scale = _selected(selection, pairs, heteroscedastic)
        scales = np.append(scales, scale)
        tuned_k = len(scales) - 1
        validation_ll = selection.get("validation_ll")
    chosen = sorted({best, int(tuned)})
    final = make(np.array(chosen), seed + 1).fit(data.x_train, data.y_train, epochs, batch_size)
    test = final.mc_scores(data.x_test, data.y_test, samples=samples, variance_scales=[1.0, scales[tuned_k]])
    i, j = chosen.index(best), chosen.index(int(tuned))

    def describe(g):
        return {"dropout_rate": float(p[g]), "tau": None if heteroscedastic else float(tau[g]),
                "lengthscale": float(ls[g])}

    record = {
        "split": data.split,
        **describe(best),
        "validation_ll": validation_ll,
        "rmse": float(test["rmse"][i]),
        "ll": float(test["ll"][i, 0]),
        "tuned": {**describe(int(tuned)), "variance_scale": float(scales[tuned_k]),
                  "rmse": float(test["rmse"][j]), "ll": float(test["ll"][j, 1])},
        "seconds": time.perf_counter() - start,
    }
    if concrete:
        record["learned_dropout_rates"] = final.learned_dropout_rates[i].round(6).tolist()
    return record, final, i


def _selected(record, pairs, heteroscedastic):
    """(best index, tuned index, noise factor) of a `grid_search_split` record in this grid's pairs."""
    key = "lengthscale" if heteroscedastic else "tau"

    def index(r, what):
        pair = (r.get("dropout_rate"), r.get(key))
        for i, (a, b) in enumerate(pairs):
            if pair[0] is not None and pair[1] is not None and math.isclose(a, pair[0]) and math.isclose(b, pair[1]):
                return i
        raise ValueError(
            f"Expected the {what} (dropout_rate, {key}) of `selection` to be a point of the grid "
            f"{[tuple(float(v) for v in q) for q in pairs]}. Received: {pair}"
        )

    tuned = record.get("tuned") or {}
    scale = _checks.positive_float("selection['tuned']['variance_scale']", tuned.get("variance_scale", float("nan")))
    return index(record, "chosen pair"), index(tuned, "tuned pair"), scale


_WORKER_CACHE = {}


def set_cpu_threads(intra_op, inter_op=1):
    """Set TensorFlow's thread pools; False (and nothing changed) when TensorFlow has already started.

    The grid's steps are many small ops: one inter-op thread avoids scheduling
    overhead, and one process per core beats one process on all cores.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
        return True
    except RuntimeError:
        return False


def _init_worker(threads):
    """Process-pool initializer: set TensorFlow's threads before it starts in the worker."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    set_cpu_threads(threads)


def protocol_split(folder, split, heteroscedastic=False, samples=10_000, validation_samples=1000, epochs=None,
                   dropout_rates=None, taus=None, lengthscales=(1e-2,), seed=0, cache=None, concrete=False):
    """`grid_search_split` on split `split` of a UCI folder, seeded by (seed, split); returns its record.

    The seed of split k is `seed + 1000 k`, so a split's result does not depend
    on which other splits run, in which order or in which process.
    """
    from tfvb.data import uci

    data = uci(folder, split=split)
    record, _, _ = grid_search_split(
        data, heteroscedastic=heteroscedastic, samples=samples, validation_samples=validation_samples,
        epochs=epochs, dropout_rates=dropout_rates, taus=taus, lengthscales=lengthscales,
        seed=seed + 1000 * split, cache=_WORKER_CACHE if cache is None else cache, concrete=concrete,
    )
    record["epochs"] = 10 * data.n_epochs if epochs is None else int(epochs)
    return record


def run_protocol(folder, splits=None, jobs=1, done=(), on_split=None, log=None, **kwargs):
    """Gal's updated UCI protocol on the first `splits` splits of `folder`; returns the per-split records.

    Args:
        folder: a UCI folder in the benchmark layout (`tfvb.data.uci`).
        splits: how many splits, from split 0 (default: all of the folder's).
        jobs: worker processes; each runs whole splits with one TensorFlow
            thread (the step of a small grid is dispatch-bound, so two
            one-thread processes do about twice the work of one two-thread
            process on two cores).
        done: records of splits already run (e.g. read back from an interrupted
            run's output); those splits are not run again.
        on_split: called with the records so far (in split order) after every
            split, e.g. to save them, so an interruption loses at most the
            splits in progress.
        log: called with a line of text per finished split.
        **kwargs: `protocol_split`'s options (heteroscedastic, concrete, samples,
            validation_samples, epochs, dropout_rates, taus, lengthscales, seed).

    Returns:
        The records of splits 0..splits-1, in order.
    """
    from tfvb.data import uci

    first = uci(folder, split=0)
    n = first.n_splits if splits is None else min(_checks.positive_int("splits", splits), first.n_splits)
    jobs = _checks.positive_int("jobs", jobs)
    records = {int(r["split"]): r for r in done if int(r["split"]) < n}
    todo = [k for k in range(n) if k not in records]

    def finished(record):
        records[record["split"]] = record
        if log is not None:
            tuned = record["tuned"]
            log(f"{first.name} split {record['split']} ({len(records)}/{n}): rmse {record['rmse']:.4f} "
                f"ll {record['ll']:.4f} (tuned ll {tuned['ll']:.4f}) p={record['dropout_rate']} "
                f"tau={record['tau']} {record['seconds']:.1f}s")
        if on_split is not None:
            on_split([records[k] for k in sorted(records)])

    if jobs == 1 or len(todo) <= 1:
        for k in todo:
            finished(protocol_split(folder, k, **kwargs))
    else:
        import concurrent.futures
        import multiprocessing

        with concurrent.futures.ProcessPoolExecutor(
                max_workers=min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(1,)) as pool:
            futures = [pool.submit(protocol_split, folder, k, **kwargs) for k in todo]
            for future in concurrent.futures.as_completed(futures):
                finished(future.result())
    return [records[k] for k in range(n)]
