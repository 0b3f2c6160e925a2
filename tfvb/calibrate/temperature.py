"""Temperature scaling: one scalar T > 0 that softens (T > 1) or sharpens (T < 1) a classifier.

For a single network with logits z(x), Guo et al. (2017) predict softmax(z(x) / T)
with T minimizing the NLL on a held-out calibration split. A Bayesian model
predicts S draws p_s(c | x) (weight draws, dropout passes, ensemble members);
each draw's logits l_s = log p_s (its logits up to a per-row constant, which
the softmax ignores) are divided by T before the softmax and the average:

    p_T(c | x) = (1/S) sum_s softmax(l_s(x) / T)_c

    T_hat = argmin_T  -(1/n) sum_i log p_T(y_i | x_i)      over the calibration split

so the draws keep their spread and every measure of `predict_uncertainty`
(entropy, mutual information, variation ratio) is computed from the tempered
draws. T = 1 is the model itself. A model without `predict_samples` (only
`predict_uncertainty`) is tempered on the log of its mean predictive, S = 1;
a plain Keras model with tfvb layers, on its draws by `tfvb.predict_samples`.
The NLL is minimized over log T on a grid in `bounds`, then refined by a
golden-section search (the NLL of one draw is convex in 1/T).

Temperature scaling changes confidences, not the argmax of a single network
(of an average of draws, rarely). It needs its own calibration split: the
data the model was trained on make it look over-confident less than it is.

Example:
    >>> images, labels = tfvb.data.mnist_sample()                  # 2,000 digits bundled with tfvb
    >>> model = tfvb.models.MCDropoutClassifier(10, hidden_units=(64,), dropout_rate=0.1, seed=0)
    >>> model.compile(keras.optimizers.Adam(1e-3))
    >>> history = model.fit(images[:1000], labels[:1000], epochs=2, verbose=0)
    >>> scaled = tfvb.calibrate.temperature_scale(model, images[1000:1500], labels[1000:1500], samples=20)
    >>> bool(scaled.temperature > 0)
    True
    >>> scaled.predict_uncertainty(images[1500:1510])["mean"].shape    # its own samples and seed by default
    (10, 10)

References:
    Guo, Pleiss, Sun, Weinberger. On Calibration of Modern Neural Networks. ICML 2017.
    Ovadia et al. Can You Trust Your Model's Uncertainty? Evaluating Predictive
    Uncertainty Under Dataset Shift. NeurIPS 2019 (temperature scaling of ensembles and BNNs).
"""

import warnings

import numpy as np

from tfvb import _checks, uncertainty
from tfvb.calibrate import _predictive, _wrapper
from tfvb.models import _inputs

__all__ = ["temperature_scale", "TemperatureScaled", "tempered_probabilities", "temperature_nll"]

#: Draws x inputs x classes per call of the base model: bounds the memory of the stacked draws (float64).
ELEMENTS_PER_CALL = 2**24
#: The fewest inputs per call, whatever S and C.
ROWS_PER_CALL = 512
#: Grid points per factor e over `bounds` before the golden-section refinement.
_GRID_PER_E = 8
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def _log_softmax(z):
    top = z.argmax(axis=-1)[..., None]
    z = z - np.take_along_axis(z, top, axis=-1)
    others = np.exp(z)
    np.put_along_axis(others, top, 0.0, axis=-1)
    # log1p keeps the tiny probabilities of the other classes that a confident row's log(1 + s) rounds away.
    return z - np.log1p(others.sum(axis=-1, keepdims=True))


def tempered_probabilities(log_probs, temperature):
    """(1/S) sum_s softmax(l_s / T): log_probs (S, N, C) -> probabilities (N, C)."""
    return np.exp(_log_softmax(np.asarray(log_probs, np.float64) / temperature)).mean(axis=0)


def temperature_nll(log_probs, labels, temperature):
    """-(1/n) sum_i log (1/S) sum_s softmax(l_s(x_i) / T)_{y_i}, in nats per example."""
    log_probs = np.asarray(log_probs, np.float64)
    picked = np.take_along_axis(_log_softmax(log_probs / temperature), labels[None, :, None], axis=-1)[..., 0]
    top = picked.max(axis=0)
    log_mean = top + np.log(np.exp(picked - top).mean(axis=0))  # log-mean-exp over the S draws
    return float(-log_mean.mean())


def _fit_temperature(log_probs, labels, bounds):
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    grid = np.linspace(lo, hi, max(3, int(np.ceil((hi - lo) * _GRID_PER_E)) + 1))
    values = [temperature_nll(log_probs, labels, np.exp(g)) for g in grid]
    best = int(np.argmin(values))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = temperature_nll(log_probs, labels, np.exp(c)), temperature_nll(log_probs, labels, np.exp(d))
    while b - a > 1e-7:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = temperature_nll(log_probs, labels, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = temperature_nll(log_probs, labels, np.exp(d))
    log_t = (a + b) / 2
    if min(log_t - lo, hi - log_t) < 1e-3:
        why = ("a calibration split the model classifies perfectly drives T to 0" if log_t - lo < 1e-3 else
               "predictions no better than uniform on the calibration split drive T to infinity")
        warnings.warn(f"temperature_scale: the NLL is smallest at the edge of bounds={tuple(bounds)} "
                      f"(T={np.exp(log_t):.4g}); {why}.", stacklevel=3)
    return float(np.exp(log_t))


def _is_probabilities(out):
    if isinstance(out, dict) or np.ndim(out) != 3:
        return False
    try:
        return _predictive.task_of({"mean": np.asarray(out, np.float64).mean(axis=0)}) == "classification"
    except ValueError:
        return False


def _bounds(bounds):
    """`bounds` as (T_min, T_max), floats with 0 < T_min < T_max, both finite; ValueError otherwise."""
    try:
        lo, hi = bounds
    except (TypeError, ValueError):  # not a pair: a number, or another number of values
        lo = hi = None
    if not all(_checks.finite_real(t) for t in (lo, hi)) or not 0 < lo < hi:
        raise ValueError(f"Expected `bounds` = (T_min, T_max) with 0 < T_min < T_max. Received: bounds={bounds!r}")
    return float(lo), float(hi)


def draw_log_probs(model, x, samples=None, seed=None, function="temperature_scale", **kwargs):
    """log p_s(c | x), (S, N, C) float64: the model's draws (`predict_samples`), else its mean predictive."""
    method = getattr(model, "predict_samples", None)
    if callable(method):
        out = _predictive.call(method, x, samples, seed, **kwargs)
        if _is_probabilities(out):
            return np.log(np.maximum(np.asarray(out, np.float64), 1e-300))
    u = _predictive.require_task(_predictive.predict(model, x, samples, seed, **kwargs), "classification", function)
    return np.log(np.maximum(np.asarray(u["mean"], np.float64), 1e-300))[None]


def temperature_scale(model, x, y, samples=None, seed=0, bounds=(0.01, 100.0), task=None, mc_dropout=False,
                      **kwargs):
    """Fit T on a calibration split; return the model with its draws' logits divided by T.

    Args:
        model: a classifier with `predict_uncertainty` (and, for per-draw
            scaling, `predict_samples`): any tfvb classifier or DeepEnsemble; or a
            keras.Model with tfvb layers, drawn by `tfvb.predict_samples`.
        x: calibration inputs (held out from training).
        y: their labels, integers (N,) or one-hot rows (N, C).
        samples: S, the draws per prediction (None: the model's default);
            kept as the default of the returned model's predictions.
        seed: the draws' seed, kept likewise (None: fresh draws on each call).
        bounds: (T_min, T_max), the interval searched.
        task: "classification" for a keras.Model with tfvb layers that is neither compiled with a
            (sparse) categorical cross-entropy nor ends in a softmax (its outputs are then read as logits);
            None otherwise.
        mc_dropout: for such a keras.Model, whether its Dropout layers drop in every draw; kept.
        **kwargs: passed to the model's prediction methods (e.g. `batch_size`).

    Returns:
        A `TemperatureScaled` model: `temperature`, `predict_uncertainty`,
        `predict_samples`, `predict`; saved and loaded as `.keras` when `model` is a Keras model.

    Raises:
        ValueError: for a regressor, mismatched or non-finite `x` and `y`,
            labels outside [0, C), or bounds that are not 0 < T_min < T_max.
    """
    lo, hi = _bounds(bounds)
    # The model, `samples` and `seed` are checked before the Monte Carlo prediction, which may take minutes.
    scaled = TemperatureScaled(model, temperature=1.0, samples=samples, seed=seed, task=task, mc_dropout=mc_dropout)
    x, y = _predictive.calibration_inputs(x, y, minimum=1)
    log_probs = draw_log_probs(scaled.source, x, samples, seed, **kwargs)
    labels = _predictive.class_labels(y, log_probs.shape[-1])
    scaled.temperature = _fit_temperature(log_probs, labels, (lo, hi))
    return scaled


@_wrapper.register
class TemperatureScaled(_wrapper.CalibratedModel):
    """A classifier whose draws' logits are divided by a temperature T (see the module docstring).

    Args:
        base: the classifier (a tfvb model, any object with `predict_uncertainty`, or a keras.Model with
            tfvb layers).
        temperature: T > 0.
        samples, seed, task, mc_dropout: as in `CalibratedModel` (`samples`, `seed`: the defaults of its
            predictions, None: the base model's own).
    """

    TASK = "classification"
    FUNCTION = "temperature_scale"

    def __init__(self, base, temperature, samples=None, seed=None, task=None, mc_dropout=False, **kwargs):
        super().__init__(base, samples=samples, seed=seed, task=task, mc_dropout=mc_dropout, **kwargs)
        self.temperature = _checks.positive_float("temperature", temperature)

    def predict_samples(self, x, samples=None, seed=None, **kwargs):
        """The tempered draws softmax(l_s / T), numpy (S, N, C)."""
        samples, seed = self._defaults(samples, seed)
        return np.exp(_log_softmax(draw_log_probs(self.source, x, samples, seed, **kwargs) / self.temperature))

    def predict_uncertainty(self, x, samples=None, seed=None, **kwargs):
        """Gal's measures (`tfvb.uncertainty.classification_uncertainty`) of the tempered draws.

        The inputs go to the base model in one call while its S x N x C draws hold at most
        `ELEMENTS_PER_CALL` (2^24) numbers (16,777 inputs at S = 100 and ten classes), so the
        predictions are the base model's on the same call, the very function T was fitted on. More
        inputs go in calls of that many rows (at least `ROWS_PER_CALL`), each with the same seed:
        a model that draws weights (a BNN) then uses the same draws for every row, as in one call,
        while per-input noise (MC dropout, Flipout) repeats from call to call, each row's predictive
        unchanged. A base without `predict_samples` gives `mean`, `entropy` and `prediction` only.
        """
        samples, seed = self._defaults(samples, seed)
        _inputs.require_arrays(x, f"{type(self).__name__}.predict_uncertainty")
        if not callable(getattr(self.source, "predict_samples", None)):
            mean = tempered_probabilities(draw_log_probs(self.source, x, samples, seed, **kwargs), self.temperature)
            return {"mean": mean, "entropy": uncertainty.entropy(mean), "prediction": mean.argmax(-1)}
        x = np.asarray(x)
        n = len(x)
        per_call = max(n, 1)
        if n > ROWS_PER_CALL:  # S and C from one row, then as many rows as fit
            probe = self.predict_samples(x[:1], samples, seed, **kwargs)
            per_call = max(ROWS_PER_CALL, ELEMENTS_PER_CALL // max(1, probe.shape[0] * probe.shape[-1]))
        summary = None
        for start in range(0, n, per_call):
            rows = slice(start, min(n, start + per_call))
            probs = self.predict_samples(x[rows], samples, seed, **kwargs)
            if summary is None:
                summary = uncertainty.ClassificationAccumulator(n, probs.shape[-1])
            summary.add(probs, rows)
        if summary is None:
            raise ValueError(f"Expected at least one input. Received: x.shape={np.shape(x)}")
        return summary.result()

    def _served_calibration(self):
        return f"the temperature (each draw's log-probabilities divided by {self.temperature!r}, renormalized)"

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
