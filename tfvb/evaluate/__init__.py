"""Evaluation: likelihood estimates, active units, calibration, regression scores.

`uci_benchmark` is the documented entry point of Gal's UCI protocol, whose
code lives in its own package (`tfvb.uci_protocol`).
"""

from tfvb._lazy import lazy_exports

_EXPORTS = {
    "Estimate": "likelihood",
    "log_likelihood": "likelihood",
    "log_likelihood_estimates": "likelihood",
    "log_importance_weights": "likelihood",
    "active_units": "likelihood",
    "expected_calibration_error": "calibration",
    "brier_score": "calibration",
    "true_class_probabilities": "calibration",
    "reliability_diagram": "calibration",
    "ood_auroc": "calibration",
    "ood_aupr": "calibration",
    "rotation_shift": "shift",
    "shift_figure": "shift",
    "rmse": "regression",
    "gaussian_test_log_likelihood": "regression",
    "mc_test_log_likelihood": "regression",
    "regression_scores": "regression",
    "mean_and_standard_error": "regression",
    "uci_benchmark": "tfvb.uci_protocol.benchmark",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
