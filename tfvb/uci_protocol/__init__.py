"""Gal's updated UCI protocol for MC dropout, in one package.

    settings    the protocol and every default (`Protocol`, `EPOCH_MULTIPLIER` = 100, ...)
    grid        `MCDropoutGrid`: many MC-dropout networks trained at once as one batched model
    search      `grid_search_split`: the grid search, retraining and test scores of one split
    run         `run_protocol` / `iter_protocol`: the splits of a folder, in worker processes
    gap         Foong et al.'s gap splits (the middle third of one feature held out) and their run
    results     the JSON summary: contents, atomic writes, resuming, the kept runs' file names
    benchmark   `uci_benchmark(folder, ...)`: the resumable run (also `tfvb.evaluate.uci_benchmark`)
    anchors     Gal's published table

Example:
    >>> from tfvb.uci_protocol import uci_benchmark
    >>> s = uci_benchmark("bostonHousing", splits=2, jobs=2, json_path="boston.json")  # doctest: +SKIP
"""

from tfvb._lazy import lazy_exports

_EXPORTS = {
    "Protocol": "settings",
    "VARIANTS": "settings",
    "EPOCH_MULTIPLIER": "settings",
    "MCDropoutGrid": "grid",
    "grid_search_split": "search",
    "split_coverage": "search",
    "coverage_summary": "results",
    "protocol_split": "run",
    "iter_protocol": "run",
    "run_protocol": "run",
    "iter_splits": "run",
    "gap_features": "gap",
    "gap_rows": "gap",
    "has_gap": "gap",
    "gap_split": "gap",
    "gap_splits": "gap",
    "run_gap_protocol": "gap",
    "set_cpu_threads": "run",
    "RESULT_FILES": "results",
    "result_file": "results",
    "read_previous": "results",
    "uci_benchmark": "benchmark",
    "MC_DROPOUT_ANCHORS": "anchors",
    "MC_DROPOUT_ANCHORS_EPOCH_MULTIPLIER": "anchors",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
