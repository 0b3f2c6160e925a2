"""Catalogue cases: class labels a classifier would otherwise broadcast, truncate or zero out silently."""

import numpy as np
from _bad_inputs.common import INVALID, Case, bayesianized, bnn_classifier, ensemble, image_dataset, mc_classifier

RANGE = r"Expected `y` to hold class labels in \[0, 9\] for num_classes=10"
WHOLE = r"Expected `y` to hold whole-number class labels in \[0, 9\]"
IN_GRAPH = r"Expected `y` to hold whole-number class labels in \[0, 9\] for num_classes=10"
WIDTH = r"Expected `y` of integer class labels, shape \(batch,\), or one-hot labels, shape \(batch, 10\)"


def mc_fit_dataset(e, labels):
    """An MC-dropout classifier adapted on good arrays, then fit on a dataset carrying `labels`."""
    model = mc_classifier()
    model.adapt(e.images[:8], e.labels[:8])
    return model.fit(image_dataset(e.images[:8], labels), verbose=0)


def bayesianized_fit_dataset(e, labels):
    model = bayesianized()
    model.num_examples = 8  # a dataset's size is not counted
    return model.fit(image_dataset(e.images[:8], labels), verbose=0)


def one_hot(labels, width=10, dtype="int64"):
    return np.eye(width, dtype=dtype)[np.asarray(labels) % width]


CASES = [
    Case("label outside [0, C)", "bnn_classifier_label_12", lambda e: bnn_classifier().fit(e.images[:8], np.full(8, 12),
                                                                                          verbose=0),
         ValueError, RANGE, r"Received labels in \[12, 12\]"),
    Case("label outside [0, C)", "mc_classifier_label_12",
         lambda e: mc_classifier().fit(e.images[:8], np.full(8, 12), verbose=0),
         ValueError, RANGE, r"Received labels in \[12, 12\]"),
    Case("label outside [0, C)", "mc_classifier_label_minus_1",
         lambda e: mc_classifier().fit(e.images[:8], np.r_[-1, e.labels[1:8]], verbose=0),
         ValueError, RANGE, r"Received labels in \[-1, \d\]"),
    Case("label outside [0, C)", "mc_classifier_evaluate_label_10",
         lambda e: mc_classifier().adapt(e.images[:8], e.labels[:8]).evaluate(e.images[:8], np.full(8, 10),
                                                                               verbose=0),
         ValueError, RANGE, r"Received labels in \[10, 10\]"),
    Case("label outside [0, C)", "ensemble_label_12", lambda e: ensemble().fit(e.images[:8], np.full(8, 12), verbose=0),
         ValueError, RANGE, r"Received labels in \[12, 12\]"),
    Case("label outside [0, C)", "bayesianized_label_10",
         lambda e: bayesianized().fit(e.images[:8], np.r_[10, e.labels[1:8]], verbose=0),
         ValueError, RANGE, r"Received labels in \[\d+, 10\]"),
    Case("non-integer labels", "ensemble_label_0.5",
         lambda e: ensemble().evaluate(e.images[:8], np.r_[0.5, e.labels[1:8]], verbose=0),
         ValueError, WHOLE, r"Received non-integer labels such as 0.5 \(1 of 8\)"),
    Case("non-integer labels", "bnn_classifier_label_2.7",
         lambda e: bnn_classifier().fit(e.images[:8], np.full(8, 2.7), verbose=0),
         ValueError, WHOLE, r"Received non-integer labels such as 2.7 \(8 of 8\)"),
    Case("non-integer labels", "mc_classifier_label_2.7",
         lambda e: mc_classifier().fit(e.images[:8], np.r_[2.7, e.labels[1:8]], verbose=0),
         ValueError, WHOLE, r"Received non-integer labels such as 2.7 \(1 of 8\)"),
    Case("non-integer labels", "mc_classifier_nan_label",
         lambda e: mc_classifier().fit(e.images[:8], np.r_[np.nan, e.labels[1:8]], verbose=0),
         ValueError, r"Expected `y` to be finite", r"Received 1 NaN or inf values"),
    Case("bad labels through tf.data", "bnn_classifier_label_12_in_a_dataset",
         lambda e: bnn_classifier(num_examples=8).fit(image_dataset(e.images[:8], np.full(8, 12)), verbose=0),
         INVALID, IN_GRAPH, "Received a label outside that range or with a fractional part"),
    Case("bad labels through tf.data", "bnn_classifier_label_2.7_in_a_dataset",
         lambda e: bnn_classifier(num_examples=8).fit(image_dataset(e.images[:8], np.full(8, 2.7, "float32")),
                                                      verbose=0),
         INVALID, IN_GRAPH, "Received a label outside that range or with a fractional part"),
    Case("bad labels through tf.data", "mc_classifier_label_12_in_a_dataset",
         lambda e: mc_fit_dataset(e, np.full(8, 12)),
         INVALID, IN_GRAPH, "Received a label outside that range or with a fractional part"),
    Case("bad labels through tf.data", "mc_classifier_label_minus_1_in_a_dataset",
         lambda e: mc_fit_dataset(e, np.full(8, -1)),
         INVALID, IN_GRAPH, "Received a label outside that range or with a fractional part"),
    Case("bad labels through tf.data", "ensemble_label_12_in_a_dataset",
         lambda e: ensemble().fit(image_dataset(e.images[:8], np.full(8, 12)), verbose=0),
         INVALID, IN_GRAPH, "Received a label outside that range or with a fractional part"),
    Case("bad labels through tf.data", "ensemble_soft_rows_for_a_sparse_loss_in_a_dataset",
         lambda e: ensemble().fit(image_dataset(e.images[:8], np.full((8, 10), 0.1, "float32")), verbose=0),
         INVALID, r"Expected integer labels or exactly one-hot `y` rows for a sparse cross-entropy",
         "Received a soft label row"),
    Case("bad labels through tf.data", "bayesianized_label_2.5_in_a_dataset",
         lambda e: bayesianized_fit_dataset(e, np.full(8, 2.5, "float32")),
         INVALID, IN_GRAPH, "Received a label outside that range or with a fractional part"),
    Case("bad labels through tf.data", "bnn_classifier_rows_summing_to_2_in_a_dataset",
         lambda e: bnn_classifier(num_examples=8).fit(image_dataset(e.images[:8], 2 * one_hot(e.labels[:8])),
                                                      verbose=0),
         INVALID, r"Expected one-hot `y`: rows of 10 non-negative numbers summing to 1", "Received a row that is not"),
    Case("one-hot labels of another width", "bnn_classifier_5_columns",
         lambda e: bnn_classifier().fit(e.images[:8], one_hot(e.labels[:8], 5), verbose=0),
         ValueError, WIDTH, r"Received: y.shape=\(8, 5\)"),
    Case("one-hot labels of another width", "mc_classifier_11_columns",
         lambda e: mc_classifier().fit(e.images[:8], one_hot(e.labels[:8], 11), verbose=0),
         ValueError, WIDTH, r"Received: y.shape=\(8, 11\)"),
    Case("one-hot labels of another width", "ensemble_5_columns",
         lambda e: ensemble().fit(e.images[:8], one_hot(e.labels[:8], 5), verbose=0),
         ValueError, WIDTH, r"Received: y.shape=\(8, 5\)"),
    Case("one-hot labels of another width", "bnn_classifier_3d_labels",
         lambda e: bnn_classifier().fit(e.images[:8], np.zeros((8, 10, 1)), verbose=0),
         ValueError, WIDTH, r"Received: y.shape=\(8, 10, 1\)"),
    Case("one-hot labels of another width", "bnn_classifier_5_columns_in_a_dataset",
         lambda e: bnn_classifier(num_examples=8).fit(image_dataset(e.images[:8], one_hot(e.labels[:8], 5)),
                                                      verbose=0),
         ValueError, WIDTH, r"Received: y.shape=\(None, 5\)"),
    Case("rows that are not one-hot", "bnn_classifier_rows_summing_to_2",
         lambda e: bnn_classifier().fit(e.images[:8], 2 * one_hot(e.labels[:8]), verbose=0),
         ValueError, r"Expected one-hot `y`: rows of 10 non-negative numbers summing to 1",
         r"Received: min=0, row sums in \[2, 2\]"),
    Case("rows that are not one-hot", "mc_classifier_negative_entries",
         lambda e: mc_classifier().fit(e.images[:8], one_hot(e.labels[:8]) * 2 - 1, verbose=0),
         ValueError, r"Expected one-hot `y`", r"Received: min=-1"),
]
