"""Catalogue cases: zoo names and files, evaluation helpers outside their domain, command-line options."""

import json
import os

import numpy as np
from _bad_inputs.common import ARTIFACT, Case, CLIError, bnn_classifier, edit_metadata, flip_byte, rehash, run_cli

from tfvb import evaluate, uncertainty, zoo
from tfvb.zoo import store

NOT_PROBABILITIES = r"Expected `probs` to hold class probabilities \(rows of non-negative numbers summing to 1"


# -- zoo artifacts --------------------------------------------------------------------------------------
def tampered_model(env):
    flip_byte(os.path.join(env.entry, store.MODEL_FILE))
    zoo.load("cvae_mnist")


def missing_golden(env):
    os.remove(os.path.join(env.entry, store.GOLDEN_FILE))
    zoo.golden_check("cvae_mnist")


def missing_metadata(env):
    os.remove(os.path.join(env.entry, store.META_FILE))
    zoo.load("cvae_mnist")


def corrupt_metadata(env):
    with open(os.path.join(env.entry, store.META_FILE), "w") as f:
        f.write("{not json")
    zoo.info("cvae_mnist")


def no_checksums(env):
    edit_metadata(env.entry, files={})
    zoo.load("cvae_mnist")


def future_version(env):
    edit_metadata(env.entry, format_version=99, versions={"tfvb": "9.0"})
    zoo.load("cvae_mnist")


def corrupt_archive_with_matching_checksum(env):
    with open(os.path.join(env.entry, store.MODEL_FILE), "wb") as f:
        f.write(b"PK\x03\x04 not really a zip archive")
    rehash(env.entry)
    zoo.load("cvae_mnist")


def truncated_archive_with_matching_checksum(env):
    path = os.path.join(env.entry, store.MODEL_FILE)
    with open(path, "rb") as f:
        head = f.read(os.path.getsize(path) // 2)
    with open(path, "wb") as f:
        f.write(head)
    rehash(env.entry)
    zoo.load("cvae_mnist")


def run_folder(env, model_bytes=None):
    """A recipe's run folder for `tfvb zoo package`, with the entry's model (or other bytes) as model.keras."""
    run = os.path.join(env.tmp, "run")
    os.makedirs(run)
    with open(os.path.join(env.entry, store.MODEL_FILE), "rb") as f:
        blob = f.read()
    with open(os.path.join(run, "model.keras"), "wb") as f:
        f.write(blob if model_bytes is None else model_bytes(blob))
    with open(os.path.join(run, "record.json"), "w") as f:
        json.dump({"golden_inputs": np.zeros((1, 28, 28, 1)).tolist(), "metrics": {}}, f)
    return run


def a_file(env):
    path = os.path.join(env.tmp, "a_file")
    open(path, "w").close()
    return path


CASES = [
    Case("unknown zoo name", "misspelled_name", lambda e: zoo.load("cvae_mnsit"), KeyError,
         r"Did you mean: cvae_mnist\b.*Available: .*cvae_mnist", r"Unknown zoo model 'cvae_mnsit'"),
    Case("unknown zoo name", "unknown_format", lambda e: zoo.load("cvae_mnist", format="onnx"), ValueError,
         r"Expected `format` to be one of \['keras', 'savedmodel'\]", r"Received: format='onnx'"),
    Case("corrupt or tampered artifact", "tampered_model_file", tampered_model, ARTIFACT,
         r"expected sha256 [0-9a-f]{64}", r"received [0-9a-f]{64}\. The file was modified or corrupted"),
    Case("corrupt or tampered artifact", "missing_file", missing_golden, ARTIFACT,
         r"Expected zoo file .*golden.npz", "Received: missing"),
    Case("corrupt or tampered artifact", "missing_metadata", missing_metadata, ARTIFACT,
         r"Expected zoo metadata at .*metadata.json", "Received: no such file"),
    Case("corrupt or tampered artifact", "corrupt_metadata_json", corrupt_metadata, ARTIFACT,
         r"Expected valid JSON in .*metadata.json", "Received: Expecting property name"),
    Case("corrupt or tampered artifact", "metadata_without_checksums", no_checksums, ARTIFACT,
         "Expected checksums for model.keras", "Received none"),
    Case("incompatible version", "zoo_format_version_99", future_version, ARTIFACT,
         r"Expected zoo format_version 1", r"Received: 99 \(written by tfvb 9.0\)"),
    # a .keras file that exists but is not an archive: Keras itself says "File not found"
    Case("corrupt .keras file", "zoo_archive_not_a_zip", corrupt_archive_with_matching_checksum, ARTIFACT,
         r"Expected a readable .keras archive \(a zip file\) at .*model.keras",
         r"Received: BadZipFile: 29 bytes that are not a zip archive"),
    Case("corrupt .keras file", "zoo_archive_cut_in_half", truncated_archive_with_matching_checksum, ARTIFACT,
         r"Expected a readable .keras archive", r"Received: BadZipFile: \d+ bytes that are not a zip archive"),
    Case("corrupt .keras file", "cli_package_of_a_truncated_model",
         lambda e: run_cli("zoo", "package", "cvae_mnist", run_folder(e, lambda b: b[:1000]), "--root", e.tmp),
         CLIError, r"tfvb: error: Expected a readable .keras archive \(a zip file\) at .*run/model.keras",
         r"Received: BadZipFile: 1000 bytes that are not a zip archive"),
    Case("corrupt .keras file", "cli_package_of_a_folder_without_a_model",
         lambda e: (os.remove(os.path.join(run_folder(e), "model.keras")),
                    run_cli("zoo", "package", "cvae_mnist", os.path.join(e.tmp, "run"), "--root", e.tmp)),
         CLIError, r"Expected a .keras archive at .*run/model.keras", r"Received: no such file"),
    # evaluation helpers outside their domain
    Case("evaluation outside its domain", "ece_of_logits",
         lambda e: evaluate.expected_calibration_error(np.random.default_rng(0).normal(size=(10, 3)),
                                                       np.arange(10) % 3),
         ValueError, NOT_PROBABILITIES, r"Received: min=-?\d.*row sums in"),
    Case("evaluation outside its domain", "ece_rows_summing_to_1.5",
         lambda e: evaluate.expected_calibration_error(np.full((10, 3), 0.5), np.arange(10) % 3),
         ValueError, NOT_PROBABILITIES, r"Received: min=0.5, row sums in \[1.5, 1.5\]"),
    Case("evaluation outside its domain", "reliability_diagram_label_3_of_3",
         lambda e: evaluate.reliability_diagram(np.full((4, 3), 1 / 3), np.arange(4)),
         ValueError, r"Expected `labels` in \[0, 2\]", r"Received labels in \[0, 3\]"),
    Case("evaluation outside its domain", "ece_float_labels",
         lambda e: evaluate.expected_calibration_error(np.full((4, 3), 1 / 3), np.full(4, 0.5)),
         ValueError, r"Expected integer `labels` of shape \(4,\)", r"Received: labels.shape=\(4,\), dtype=float64"),
    Case("evaluation outside its domain", "classification_uncertainty_of_logits",
         lambda e: uncertainty.classification_uncertainty(np.random.default_rng(0).normal(size=(5, 4, 3))),
         ValueError, r"Expected `probs_samples` to hold probabilities", r"Received: min="),
    Case("evaluation outside its domain", "regression_scores_tau_0",
         lambda e: evaluate.regression_scores(np.zeros(4), np.zeros((3, 4)), tau=0.0),
         ValueError, "Expected `tau` to be a positive finite number", "Received: tau=0.0"),
    Case("evaluation outside its domain", "gaussian_ll_zero_variance",
         lambda e: evaluate.gaussian_test_log_likelihood(np.zeros(4), np.zeros(4), np.zeros(4)),
         ValueError, r"Expected `variance` > 0", r"Received: min=0"),
    Case("evaluation outside its domain", "ood_auroc_nan_score",
         lambda e: evaluate.ood_auroc([0.1, np.nan], [0.2]),
         ValueError, r"Expected `scores_in` to be finite", r"Received 1 NaN or inf values"),
    Case("evaluation outside its domain", "log_likelihood_of_a_classifier",
         lambda e: evaluate.log_likelihood(bnn_classifier(), e.images[:2], k=2, verbose=0),
         ValueError, r"Expected `model` to be a tfvb VAE-family model", r"Received: model of type BNNClassifier"),
    # command-line options
    Case("command-line options", "cli_negative_seed", lambda e: run_cli("zoo", "train", "cvae_mnist", "--seed", -1),
         CLIError, r"argument --seed: expected a non-negative integer", r"received '-1'"),
    Case("command-line options", "cli_limit_0", lambda e: run_cli("zoo", "benchmark", "cvae_mnist", "--limit", 0),
         CLIError, r"argument --limit: expected a positive integer", r"received '0'"),
    Case("command-line options", "cli_threads_not_a_number",
         lambda e: run_cli("demo", "--threads", "two"),
         CLIError, r"argument --threads: expected a positive integer", r"received 'two'"),
    Case("command-line options", "cli_missing_data_root",
         lambda e: run_cli("zoo", "train", "cvae_mnist", "--data-root", os.path.join(e.tmp, "nowhere")),
         CLIError, r"argument --data-root: expected an existing folder", r"received '.*nowhere' \(no such folder\)"),
    Case("command-line options", "cli_root_is_a_file",
         lambda e: run_cli("zoo", "train", "cvae_mnist", "--quick", "--root", a_file(e)),
         CLIError, r"tfvb: error: Expected `--root` to be a folder", r"Received: '.*a_file', which is a file"),
    Case("command-line options", "cli_json_in_a_missing_folder",
         lambda e: run_cli("zoo", "benchmark", "cvae_mnist", "--json", os.path.join(e.tmp, "no", "out.json")),
         CLIError, r"tfvb: error: Expected `--json` in a writable folder",
         r"Received: '.*out.json' \(.* does not exist\)"),
    Case("command-line options", "cli_demo_out_is_a_file", lambda e: run_cli("demo", "--out", a_file(e)),
         CLIError, r"Expected `--out` to be a folder", r"Received: '.*a_file', which is a file"),
    Case("command-line options", "cli_list_pattern_matching_nothing", lambda e: run_cli("zoo", "list", "gan_*"),
         CLIError, r"tfvb: error: Expected a pattern matching registered models", r"Received: 'gan_\*', which matches"),
    Case("command-line options", "cli_package_run_dir_missing",
         lambda e: run_cli("zoo", "package", "cvae_mnist", os.path.join(e.tmp, "no_run")),
         CLIError, r"argument run_dir: expected an existing folder", r"received '.*no_run' \(no such folder\)"),
]
