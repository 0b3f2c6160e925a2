"""Dataset shift: how a classifier's accuracy, calibration and uncertainty change as its inputs move away
from the training distribution.

Ovadia et al. (2019)'s rotated-MNIST protocol: the held-out digits rotated
by 0, 15, ..., 180 degrees (bilinear interpolation, where Ovadia et al.'s code
uses a cubic spline); at each angle the accuracy, NLL (the mean of -log p of the
true class, unfloored: a probability of exactly 0 counts as float64's smallest
positive number, 708 nats), Brier score (the sum over classes of the squared
error, in [0, 2]; Ovadia et al.'s code reports it minus 1) and ECE (15 bins)
of the predictive mean, and the mean predictive entropy (a model that knows
it is lost grows more uncertain as its accuracy falls). Out of
distribution, a separate data set (Fashion-MNIST for MNIST models) is told
apart from the unrotated digits by predictive entropy and by mutual
information (AUROC and AUPR, the out-of-distribution inputs positive).

References:
    Ovadia et al. Can You Trust Your Model's Uncertainty? Evaluating
    Predictive Uncertainty Under Dataset Shift. NeurIPS 2019.
"""

import math

import numpy as np

from tfvb import _checks
from tfvb.evaluate.calibration import (
    _probs_labels,
    brier_score,
    expected_calibration_error,
    ood_aupr,
    ood_auroc,
    true_class_probabilities,
)

__all__ = ["ANGLES", "rotate", "rotation_shift", "shift_figure", "SHIFT_METRICS"]

ANGLES = tuple(range(0, 181, 15))
#: The per-angle metrics, in the order the figure draws them.
SHIFT_METRICS = ("accuracy", "nll", "brier", "ece", "mean_entropy")


def rotate(images, degrees):
    """Images (N, H, W, C) rotated counter-clockwise by `degrees` about their centre (bilinear, zero fill).

    The pixels must lie in [0, 1]: 0-255 images are refused, not clipped.
    """
    import keras

    images = _grey("images", images)
    if not _checks.finite_real(degrees):
        raise ValueError(f"Expected `degrees` to be a finite number. Received: degrees={degrees!r}")
    if images.ndim != 4:
        raise ValueError(f"Expected images of shape (N, H, W, C). Received: shape={images.shape}")
    if degrees % 360 == 0:
        return images.copy()
    theta = math.radians(degrees)
    cy, cx = (images.shape[1] - 1) / 2.0, (images.shape[2] - 1) / 2.0
    cos, sin = math.cos(theta), math.sin(theta)
    # The transform maps each output pixel (x, y) to the input pixel it is read from: the inverse rotation.
    a0, a1, b0, b1 = cos, -sin, sin, cos
    transform = [a0, a1, cx - a0 * cx - a1 * cy, b0, b1, cy - b0 * cx - b1 * cy, 0.0, 0.0]
    out = keras.ops.image.affine_transform(images, np.tile(np.float32(transform), (len(images), 1)),
                                           interpolation="bilinear", fill_mode="constant")
    # Bilinear weights sum to 1, so only rounding leaves [0, 1]: the clip removes that overshoot, nothing more.
    return np.clip(keras.ops.convert_to_numpy(out), 0.0, 1.0)


def _grey(name, images):
    # Refused, not clipped: 0-255 pixels clipped to [0, 1] become silhouettes that the model's own range check
    # never sees, and the table is silently wrong.
    images = _checks.finite_array(name, np.asarray(images, np.float32))
    if images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"Expected `{name}` in [0, 1] (scale pixels by 1/255). "
                         f"Received: min={images.min():g}, max={images.max():g}")
    return images


def _angles(angles):
    """`angles` as a list of floats: one number is that angle alone; a string is refused ("90" is not [9, 0])."""
    if isinstance(angles, np.ndarray):
        angles = angles.tolist()
    if _checks.finite_real(angles):
        values = [angles]
    elif isinstance(angles, (str, bytes, dict)) or not hasattr(angles, "__iter__"):
        values = None
    else:
        values = list(angles)
    if values is None or not all(_checks.finite_real(a) for a in values):
        raise ValueError("Expected `angles` to be one number or a list of finite numbers (degrees). "
                         f"Received: angles={angles!r}")
    if not values:
        raise ValueError("Expected at least one angle. Received: angles=[]")
    return [float(a) for a in values]


def _scores(mean, labels):
    # Checked as ECE and Brier check them (logits, labels out of range: refused) and renormalized in float64.
    probs, labels = _probs_labels(mean, labels)
    picked = true_class_probabilities(probs, labels)
    return {"accuracy": float(np.mean(probs.argmax(1) == labels)), "nll": float(-np.mean(np.log(picked))),
            "brier": brier_score(probs, labels), "ece": expected_calibration_error(probs, labels, num_bins=15)}


def rotation_shift(model, images, labels, ood=None, angles=ANGLES, samples=100, seed=0):
    """The rotated-digits table of one model.

    Args:
        model: anything with `predict_uncertainty(x, samples=, seed=)` returning `mean`
            (class probabilities), `entropy` and `mutual_information` (every tfvb classifier).
        images, labels: held-out images (N, H, W, C) in [0, 1] and integer labels (N,).
        ood: out-of-distribution images in [0, 1] (None: no OOD scores).
        angles: rotations in degrees, a list of numbers; one number evaluates that angle alone.
        samples, seed: passed to `predict_uncertainty`.

    Returns:
        {"angles": [...], "per_angle": {metric: [value per angle]}, "ood": {...} or None}.
    """
    # Everything is checked before the first prediction: a table over 13 angles takes minutes.
    angles = _angles(angles)
    images = _grey("images", images)
    if ood is not None:
        ood = _grey("ood", ood)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"Expected integer labels of shape (N,). Received: labels.shape={labels.shape}, "
                         f"dtype={labels.dtype}")
    if len(labels) != len(images):
        raise ValueError(f"Expected one label per image. Received: {len(images)} images, {len(labels)} labels")
    per_angle = {m: [] for m in SHIFT_METRICS}
    unrotated = None
    for angle in angles:
        u = model.predict_uncertainty(rotate(images, angle), samples=samples, seed=seed)
        if angle % 360 == 0:
            unrotated = u
        scores = _scores(u["mean"], labels)
        scores["mean_entropy"] = float(np.mean(u["entropy"]))
        for m in SHIFT_METRICS:
            per_angle[m].append(scores[m])
    out = None
    if ood is not None:
        unrotated = unrotated or model.predict_uncertainty(images, samples=samples, seed=seed)
        far = model.predict_uncertainty(ood, samples=samples, seed=seed)
        out = {f"{curve}_{score}": fn(unrotated[score], far[score])
               for score in ("entropy", "mutual_information")
               for curve, fn in (("auroc", ood_auroc), ("aupr", ood_aupr))}
        out["images"] = int(len(far["entropy"]))
    return {"angles": angles, "per_angle": per_angle, "ood": out, "images": int(len(labels)), "samples": samples}


def shift_figure(results, path=None, title="Rotated MNIST", anchors=None):
    """One panel per metric against the rotation angle, a line per model. `results`: {model name: table}.

    `anchors`: published numbers on the unrotated digits, {label: {metric: value}}, drawn as black markers
    at 0 degrees on the panels of the metrics they give. Uses matplotlib's object API (no pyplot state).
    Returns the Figure; writes it to `path` when given.
    """
    from matplotlib.figure import Figure

    names = {"accuracy": "accuracy", "nll": "NLL", "brier": "Brier score", "ece": "ECE (15 bins)",
             "mean_entropy": "mean predictive entropy (nats)"}
    fig = Figure(figsize=(3.2 * len(SHIFT_METRICS) + 2.6, 3.2), layout="constrained")
    axes = fig.subplots(1, len(SHIFT_METRICS))
    for ax, metric in zip(axes, SHIFT_METRICS):
        for model, table in results.items():
            ax.plot(table["angles"], table["per_angle"][metric], marker="o", markersize=3, label=model)
        for (label, values), marker in zip((anchors or {}).items(), "*^sDv"):
            if _checks.finite_real(values.get(metric)):
                ax.plot([0], [values[metric]], linestyle="none", marker=marker, color="black", markersize=7,
                        label=f"{label} (published, 0°)")
        ax.set_xlabel("rotation (degrees)")
        ax.set_title(names[metric], fontsize=10)
        ax.set_xticks(range(0, 181, 45))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8)  # beside the panels, hiding no point
    fig.suptitle(title)
    if path:
        fig.savefig(path, dpi=110)
    return fig
