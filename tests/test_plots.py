"""tfvb.plots' learning curves: axis limits that show the converged end, a classifier's NLL and accuracy."""

import numpy as np
import pytest

from tfvb import plots


def _png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("curve", [
    np.r_[200.0, 120.0, np.linspace(95.0, 86.0, 300)],     # a VAE's nats per image
    np.r_[5.0, 2.5, np.geomspace(1.5, 0.21, 200)],         # a Bayesian classifier's negative ELBO per example
])
def test_curve_limits_show_the_converged_end_and_cut_the_first_epochs(curve):
    low, high = plots._limits(curve)
    assert low < curve.min() and high > np.percentile(curve, 90)
    assert curve[0] > high  # the first epoch's loss does not squash the rest
    assert (high - low) < 2 * (np.percentile(curve, 90) - curve.min())
    assert plots._limits([np.nan]) == (0.0, 1.0) and plots._limits([3.0, 3.0]) == pytest.approx((2.97, 3.09))


def test_learning_curve_of_a_classifier_and_its_nll_and_accuracy(tmp_path):
    epochs = 40
    bnn = {"loss": np.geomspace(5, 0.2, epochs), "val_loss": np.geomspace(5, 0.21, epochs),
           "val_nll": np.r_[0.12, np.full(epochs - 1, 0.06)], "val_kl": np.geomspace(4.8, 0.15, epochs),
           "val_accuracy": np.r_[0.96, np.full(epochs - 1, 0.984)], "learning_rate": np.full(epochs, 1e-3)}
    assert _png(plots.learning_curve(bnn, tmp_path / "loss.png", ylabel="loss (nats per example)"))
    assert _png(plots.classifier_curves(bnn, tmp_path / "bnn.png", title="bnn"))
    ensemble = {"val_loss": np.linspace(0.1, 0.05, epochs), "val_ensemble_nll": np.linspace(0.09, 0.03, epochs),
                "val_ensemble_accuracy": np.linspace(0.97, 0.993, epochs), "val_accuracy": np.linspace(0.96, 0.99, 40)}
    assert _png(plots.classifier_curves(ensemble, tmp_path / "ensemble.png"))
    with pytest.raises(ValueError, match=r"val_nll.*Received the keys: \['loss', 'val_loss'\]"):
        plots.classifier_curves({"loss": [1.0], "val_loss": [1.0]}, tmp_path / "none.png")
