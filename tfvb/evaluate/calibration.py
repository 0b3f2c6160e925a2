"""Calibration and out-of-distribution scores for probabilistic classifiers.

Expected calibration error over B equal-width confidence bins (Guo et al., 2017):

    ECE = sum_b (n_b / N) |acc(b) - conf(b)|

with conf the top-class probability and acc the fraction correct in bin b.
OOD detection by an uncertainty score s (entropy, mutual information, ...):
AUROC = P(s(x_out) > s(x_in)) + P(tie) / 2, the Mann-Whitney statistic.

Example:
    >>> model = tfvb.zoo.load("bnn_flipout_mnist")             # a pretrained Bayesian LeNet-5
    >>> digits, labels = tfvb.data.mnist_sample()              # held-out digits, bundled with tfvb
    >>> clothes, _ = tfvb.data.fashion_mnist_sample()          # out of distribution
    >>> u_in = model.predict_uncertainty(digits[:500], samples=20, seed=0)
    >>> ece = expected_calibration_error(u_in["mean"], labels[:500])
    >>> u_out = model.predict_uncertainty(clothes[:500], samples=20, seed=0)
    >>> auroc = ood_auroc(u_in["entropy"], u_out["entropy"])   # P(entropy of clothes > of digits)
    >>> bool(ece < 0.05 and auroc > 0.8)
    True

References:
    Guo, Pleiss, Sun, Weinberger. On Calibration of Modern Neural Networks. ICML 2017.
    Naeini, Cooper, Hauskrecht. Obtaining Well Calibrated Probabilities Using
    Bayesian Binning. AAAI 2015.
"""

import numpy as np

from tfvb import _checks

__all__ = ["calibration_bins", "expected_calibration_error", "brier_score", "true_class_probabilities",
           "reliability_diagram", "ood_auroc", "ood_aupr"]


#: How far a row of `probs` may sum from 1 (float32 softmax outputs are within ~1e-6).
ROW_SUM_TOLERANCE = 1e-3


def _probs_labels(probs, labels):
    """(probs, integer labels), checked: rows of probabilities, labels in range (one-hot rows accepted).

    The rows come back renormalized in float64 (they are within `ROW_SUM_TOLERANCE` of 1 or refused), so
    that every score of the same predictions sees the same probabilities, however they were rounded.
    """
    probs = _checks.finite_array("probs", np.asarray(probs, dtype=np.float64))
    labels = np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"Expected `probs` of shape (N, C) with N >= 1, C >= 2. Received: probs.shape={probs.shape}")
    sums = probs.sum(axis=1)
    if probs.min() < 0 or np.max(np.abs(sums - 1.0)) > ROW_SUM_TOLERANCE:
        raise ValueError(
            "Expected `probs` to hold class probabilities (rows of non-negative numbers summing to 1; apply a "
            f"softmax to logits). Received: min={probs.min():.4g}, row sums in [{sums.min():.4g}, {sums.max():.4g}]"
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape == probs.shape and labels.dtype.kind in "biuf" and np.all((labels == 0) | (labels == 1)) \
            and np.all(labels.sum(axis=1) == 1):
        labels = labels.argmax(axis=1)  # one-hot rows
    if labels.shape != probs.shape[:1] or labels.dtype.kind not in "iu":
        raise ValueError(
            f"Expected integer `labels` of shape ({probs.shape[0]},) (or one-hot rows of shape {probs.shape}). "
            f"Received: labels.shape={labels.shape}, dtype={labels.dtype}"
        )
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(
            f"Expected `labels` in [0, {probs.shape[1] - 1}]. Received labels in [{labels.min()}, {labels.max()}]"
        )
    return probs / sums[:, None], labels


def true_class_probabilities(probs, labels):
    """Each example's predicted probability of its own label: the likelihoods an NLL averages.

    `probs` and `labels` are checked and renormalized in float64 as `brier_score` and
    `expected_calibration_error` check them. Only a probability of exactly 0 (a float32 softmax
    underflowing) is floored, to float64's smallest normal number, so that one confidently wrong
    prediction costs about 708 nats instead of making the NLL infinite; no other value is clipped, so
    NLLs of confident models are not biased (an epsilon floor such as 1e-7 caps each term at 16 nats).

    Args:
        probs: predicted class probabilities, shape (N, C): rows of non-negative numbers summing to 1.
        labels: integer class labels, shape (N,), or one-hot rows (N, C).

    Returns:
        float64 array of shape (N,) in (0, 1]; `-np.log(...).mean()` is the NLL.
    """
    probs, labels = _probs_labels(probs, labels)
    picked = probs[np.arange(len(labels)), labels]
    return np.where(picked > 0, picked, np.finfo(np.float64).tiny)


def calibration_bins(probs, labels, num_bins=15):
    """Per-bin counts, mean confidence and accuracy over equal-width confidence bins.

    Returns:
        dict of arrays of length `num_bins`: `edges` (num_bins + 1),
        `count`, `confidence` and `accuracy` (NaN in empty bins).
    """
    probs, labels = _probs_labels(probs, labels)
    num_bins = _checks.positive_int("num_bins", num_bins)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # Right-closed bins (lo, hi]; confidence is >= 1/C > 0, so bin 0 is never cut off.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, num_bins - 1)
    count = np.bincount(index, minlength=num_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(index, weights=confidence, minlength=num_bins) / count
        acc = np.bincount(index, weights=correct, minlength=num_bins) / count
    return {"edges": edges, "count": count, "confidence": conf, "accuracy": acc}


def expected_calibration_error(probs, labels, num_bins=15):
    """ECE = sum_b (n_b / N) |acc(b) - conf(b)| over `num_bins` equal-width bins.

    Args:
        probs: predicted class probabilities, shape (N, C): rows of
            non-negative numbers summing to 1 (logits are refused).
        labels: integer class labels, shape (N,), or one-hot rows (N, C).
        num_bins: number of confidence bins (15 as in Guo et al.).

    Returns:
        The ECE as a float in [0, 1].
    """
    bins = calibration_bins(probs, labels, num_bins)
    filled = bins["count"] > 0
    weights = bins["count"][filled] / bins["count"].sum()
    return float(np.sum(weights * np.abs(bins["accuracy"][filled] - bins["confidence"][filled])))


def brier_score(probs, labels):
    """Brier score: the mean over examples of sum_c (p_c - 1[y = c])^2 (Brier, 1950), in [0, 2].

    Args:
        probs, labels: as in `expected_calibration_error`.

    Returns:
        The Brier score as a float (0 for certain, correct predictions; 1 - 1/C for uniform ones).
    """
    probs, labels = _probs_labels(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def reliability_diagram(probs, labels, num_bins=15, path=None, title=None):
    """Reliability diagram: accuracy against confidence per bin, with the ECE in the legend.

    Each non-empty bin is labelled with its number of examples, so a reader
    sees which bars rest on a handful of points. Uses matplotlib's object API
    (no pyplot state, no display needed).

    Args:
        probs, labels, num_bins: as in `expected_calibration_error`.
        path: if given, the figure is also written there (PNG by extension).
        title: optional axes title.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    bins = calibration_bins(probs, labels, num_bins)
    ece = expected_calibration_error(probs, labels, num_bins)
    edges = bins["edges"]
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    acc = np.nan_to_num(bins["accuracy"])
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(centers, acc, width=width, edgecolor="black", color="tab:blue", label=f"accuracy (ECE {ece:.4f})")
    gap = np.where(bins["count"] > 0, np.nan_to_num(bins["confidence"]) - acc, 0.0)
    ax.bar(centers, gap, bottom=acc, width=width, edgecolor="tab:red", color="tab:red", alpha=0.3, label="gap")
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    for x, a, n in zip(centers, acc, bins["count"]):
        if n:
            ax.text(x, 0.015, str(int(n)), ha="center", va="bottom", fontsize=6, rotation=90,
                    color="white" if a > 0.1 else "black")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy (bar labels: examples per bin)")
    if title:
        ax.set_title(f"{title} (n={int(np.sum(bins['count']))})", fontsize=10)
    ax.legend(loc="upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _average_ranks(values):
    """Ranks 1..n, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for lo, hi in zip(starts, ends):
        ranks[order[lo:hi]] = (lo + 1 + hi) / 2.0
    return ranks


def _score_pair(scores_in, scores_out):
    """(in, out) scores as 1-D float64 arrays, checked: one score per input, finite and non-empty."""
    s_in, s_out = _scores_of("scores_in", "N_in", scores_in), _scores_of("scores_out", "N_out", scores_out)
    if s_in.size == 0 or s_out.size == 0:
        raise ValueError(
            f"Expected non-empty score arrays. Received: scores_in.size={s_in.size}, scores_out.size={s_out.size}"
        )
    return s_in, s_out


def _scores_of(name, n, scores):
    # Not flattened: (N, C) class probabilities passed for one score per input would rank N * C numbers.
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.ndim != 1:
        raise ValueError(f"Expected `{name}` of shape ({n},), one score per input (e.g. the predictive entropy). "
                         f"Received: {name}.shape={scores.shape}")
    return _checks.finite_array(name, scores)


def ood_auroc(scores_in, scores_out):
    """AUROC of telling out-of-distribution inputs by a higher uncertainty score.

    AUROC = P(s_out > s_in) + P(s_out = s_in) / 2 over all in/out pairs, from
    ranks (Mann-Whitney U), so ties count one half. 0.5 is chance, 1.0 a
    perfect separation.

    Args:
        scores_in: scores of in-distribution inputs, shape (N_in,) or (N_in, 1).
        scores_out: scores of out-of-distribution inputs, shape (N_out,) or (N_out, 1).

    Returns:
        The AUROC as a float.
    """
    s_in, s_out = _score_pair(scores_in, scores_out)
    ranks = _average_ranks(np.concatenate([s_in, s_out]))
    u = ranks[s_in.size:].sum() - s_out.size * (s_out.size + 1) / 2.0
    return float(u / (s_in.size * s_out.size))


def ood_aupr(scores_in, scores_out):
    """Area under the precision-recall curve of finding out-of-distribution inputs by a higher score.

    Average precision, AP = sum_n (R_n - R_{n-1}) P_n over the distinct
    score thresholds from the highest down (inputs with equal scores enter
    together), with the out-of-distribution inputs as the positive class.
    Chance is the share of out-of-distribution inputs; 1.0 a perfect
    separation.

    Args:
        scores_in: scores of in-distribution inputs, shape (N_in,) or (N_in, 1).
        scores_out: scores of out-of-distribution inputs (the positives), shape (N_out,) or (N_out, 1).

    Returns:
        The AUPR as a float.
    """
    s_in, s_out = _score_pair(scores_in, scores_out)
    scores = np.concatenate([s_in, s_out])
    positive = np.r_[np.zeros(s_in.size), np.ones(s_out.size)]
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last = np.r_[scores[1:] != scores[:-1], True]  # the last input of each group of equal scores
    true_pos = np.cumsum(positive)[last]
    taken = np.flatnonzero(last) + 1.0
    recall = true_pos / s_out.size
    precision = true_pos / taken
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
