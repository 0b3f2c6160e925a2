"""Calibration of predictive models: temperature scaling, conformal intervals and conformal sets.

    temperature_scale(model, x, y)           a classifier whose draws' logits are divided by a fitted T
    conformal(model, x, y, coverage=0.9)     a regressor with intervals covering 1 - alpha of new targets
                                             (score="absolute", "normalized", or "quantile": CQR)
    conformal_sets(model, x, y, coverage=0.9)  a classifier with sets covering 1 - alpha of new labels
    interval_coverage(u, y) / set_coverage(u, y)  coverage and width / set size on held-out predictions

Each takes a trained model and a calibration split it was not trained on, and
returns a model with the same `predict_uncertainty(x, samples=, seed=)` (plus
`lower`/`upper` or the prediction set), saved and loaded as `.keras`, and
answered by `tfvb.predict_uncertainty(calibrated, x)` too. They work on every
tfvb predictive model (BNNs, MC dropout, deep ensembles, `tfvb.bayesianize`
networks), on any object with that method, and on any Keras model
`tfvb.predict_uncertainty` can sample (a Sequential or Functional model with
tfvb layers such as `tfvb.layers.DenseFlipout`, with `mc_dropout=True` for its
Dropout layers): its task comes from its compiled loss or a softmax head, else
from `task=` ("classification" or "regression"), refused when missing. The
calibration functions take the coverage 1 - alpha, not alpha.
"""

from tfvb._lazy import lazy_exports

_EXPORTS = {
    "temperature_scale": "temperature",
    "TemperatureScaled": "temperature",
    "conformal": "intervals",
    "ConformalRegressor": "intervals",
    "interval_scores": "intervals",
    "conformal_sets": "sets",
    "ConformalClassifier": "sets",
    "set_scores": "sets",
    "conformal_quantile": "quantile",
    "mixture_quantile": "quantile_bands",
    "interval_coverage": "coverage",
    "set_coverage": "coverage",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
