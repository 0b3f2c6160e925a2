"""The rotated-MNIST dataset-shift protocol: rotations, per-angle metrics, OOD scores, the figure."""

import numpy as np
import pytest

from tfvb import evaluate
from tfvb.evaluate import shift


def test_quarter_turns_are_exact_and_rotations_keep_the_range(mnist_sample):
    x = mnist_sample[0][:3]
    np.testing.assert_array_equal(shift.rotate(x, 0), x)
    np.testing.assert_allclose(shift.rotate(x, 90)[..., 0], np.rot90(x[..., 0], k=1, axes=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(shift.rotate(x, 180)[..., 0], np.rot90(x[..., 0], k=2, axes=(1, 2)), atol=1e-6)
    r = shift.rotate(x, 45)
    assert r.shape == x.shape and r.min() >= 0 and r.max() <= 1
    # Ink is kept up to bilinear smoothing and the corners cut off: the digits sit in the centre.
    assert abs(r.sum() - x.sum()) / x.sum() < 0.05
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        shift.rotate(x[:, :, :, 0], 15)


class _Oracle:
    """Knows the label of the upright digits (by index) and is uniform on everything else."""

    def __init__(self, images, labels):
        self.keys = {img.tobytes(): int(y) for img, y in zip(images, labels)}

    def predict_uncertainty(self, x, samples=None, seed=None):
        probs = np.full((len(x), 10), 0.1)
        for i, img in enumerate(np.asarray(x, np.float32)):
            if img.tobytes() in self.keys:
                probs[i] = 0.01 / 9
                probs[i, self.keys[img.tobytes()]] = 0.99
        entropy = -(probs * np.log(probs)).sum(1)
        return {"mean": probs, "entropy": entropy, "mutual_information": entropy / 2}


def test_per_angle_metrics_and_ood_scores_of_a_known_model(mnist_sample):
    x, y = mnist_sample[0][:40], mnist_sample[1][:40]
    ood = np.zeros((10, 28, 28, 1), np.float32) + 0.5
    table = shift.rotation_shift(_Oracle(x, y), x, y, ood=ood, angles=(0, 90), samples=1)
    upright, turned = (dict(zip(table["per_angle"], v)) for v in zip(*table["per_angle"].values()))
    assert upright["accuracy"] == 1.0 and np.isclose(upright["nll"], -np.log(0.99))
    assert np.isclose(upright["ece"], 0.01)  # every prediction 0.99 confident and right
    assert np.isclose(turned["nll"], np.log(10)) and np.isclose(turned["brier"], 0.9)
    assert turned["mean_entropy"] > upright["mean_entropy"]
    assert table["ood"]["auroc_entropy"] == 1.0 and table["ood"]["aupr_mutual_information"] == 1.0
    with pytest.raises(ValueError, match="one label per image"):
        shift.rotation_shift(_Oracle(x, y), x, y[:-1])
    # Logits as `mean` were clipped and renormalized into made-up probabilities; labels out of range failed
    # with numpy's IndexError.

    class Logits(_Oracle):
        def predict_uncertainty(self, x, samples=None, seed=None):
            u = super().predict_uncertainty(x)
            return {**u, "mean": np.log(u["mean"]) + 3.0}

    with pytest.raises(ValueError, match="Expected `probs` to hold class probabilities .*apply a softmax to logits"):
        shift.rotation_shift(Logits(x, y), x, y, angles=(0,), samples=1)
    with pytest.raises(ValueError, match=r"Expected `labels` in \[0, 9\]. Received labels in \[0, 12\]"):
        shift.rotation_shift(_Oracle(x, y), x, np.where(np.arange(40) == 3, 12, y), angles=(0,), samples=1)
    with pytest.raises(ValueError, match=r"Expected integer labels of shape \(N,\). Received: labels.shape=\(40, 1\)"):
        shift.rotation_shift(_Oracle(x, y), x, y[:, None].astype(float), angles=(0,), samples=1)


def test_the_figure_has_a_panel_per_metric(tmp_path, mnist_sample):
    x, y = mnist_sample[0][:20], mnist_sample[1][:20]
    table = shift.rotation_shift(_Oracle(x, y), x, y, angles=(0, 45, 90))
    fig = evaluate.shift_figure({"oracle": table}, path=str(tmp_path / "shift.png"))
    assert len(fig.axes) == len(shift.SHIFT_METRICS)
    assert (tmp_path / "shift.png").stat().st_size > 10_000
    # Published numbers at 0 degrees: a black marker on each panel of a metric they give, none elsewhere.
    fig = evaluate.shift_figure({"oracle": table}, anchors={"VI": {"accuracy": 0.985, "nll": 0.048}})
    marked = {ax.get_title(): [tuple(line.get_xydata()[0]) for line in ax.get_lines()
                               if line.get_label() == "VI (published, 0°)"] for ax in fig.axes}
    assert marked["accuracy"] == [(0.0, 0.985)] and marked["NLL"] == [(0.0, 0.048)] and marked["ECE (15 bins)"] == []


def test_the_nll_is_not_floored_above_an_exact_zero():
    """A 1e-12 floor read a confident mistake at p = 1e-19 as 27.6 nats instead of 43.7 (the deep ensemble on digits
    turned upside down: 0.33 nats off the mean NLL); only an exact 0 is floored, at float64's smallest number."""
    labels = np.array([0, 0])
    probs = np.zeros((2, 10))
    probs[0, 0], probs[0, 1] = 1e-19, 1.0 - 1e-19
    probs[1, 0] = 1.0
    assert np.isclose(shift._scores(probs, labels)["nll"], 19 * np.log(10) / 2)
    probs[0, 0], probs[0, 1] = 0.0, 1.0  # a float32 softmax underflowed: -log of the smallest float64, 708.4 nats
    assert np.isclose(shift._scores(probs, labels)["nll"], -np.log(np.finfo(np.float64).tiny) / 2)
