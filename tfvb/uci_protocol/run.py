"""Running the protocol over the splits of a folder: in this process or in a pool of worker processes.

The folder is read once (`tfvb.data.UCIFolder`); each split's arrays go to
the process that runs it. A grid's step is many small ops, dispatch-bound on
a CPU: one TensorFlow thread per worker process, one process per core, does
about twice the work of one process on two cores.

Example:
    >>> folder = tfvb.data.UCIFolder("bostonHousing")
    >>> records = run_protocol(folder, Protocol.of(folder, epochs=400, samples=1000), splits=2)  # doctest: +SKIP
"""

import os

import tensorflow as tf

from tfvb import _checks
from tfvb.data import UCIFolder
from tfvb.uci_protocol.search import grid_search_split

__all__ = ["protocol_split", "iter_protocol", "iter_splits", "run_protocol", "set_cpu_threads", "split_count"]

# Grids kept across the splits a process runs, so their traced loops are reused.
_WORKER_CACHE = {}


def set_cpu_threads(intra_op, inter_op=1):
    """Set TensorFlow's thread pools; False (and nothing changed) when TensorFlow has already started.

    One inter-op thread avoids the scheduling overhead of a grid's many small ops.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
        return True
    except RuntimeError:
        return False


def _init_worker(threads):
    """Process-pool initializer: set TensorFlow's threads before it starts in the worker."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    set_cpu_threads(threads)


def protocol_split(data, protocol, cache=None, selection=None):
    """The record of `grid_search_split` on one split (a `UCIData`), with its epochs.

    `selection`: an earlier record of this split (same protocol) whose
    choices are taken instead of running the grid (`grid_search_split`).
    """
    record, _, _ = grid_search_split(data, protocol, cache=_WORKER_CACHE if cache is None else cache,
                                     selection=selection)
    record["epochs"] = protocol.epochs
    return record


def _folder(folder):
    return folder if isinstance(folder, UCIFolder) else UCIFolder(folder)


def iter_protocol(folder, protocol, splits, jobs=1, selections=None):
    """Run `protocol` on the given split indices of `folder`; yield each split's record as it finishes.

    Args:
        folder: a `UCIFolder` (or its path or name).
        protocol: a `Protocol`.
        splits: the split indices to run.
        jobs: worker processes, each running whole splits with one TensorFlow thread.
        selections: {split index: an earlier record}: those splits train only their final networks,
            with the record's choices (`grid_search_split`'s `selection`).
    """
    folder = _folder(folder)
    splits = [int(k) for k in splits]
    yield from iter_splits((folder.split(k) for k in splits), protocol, jobs, len(splits), selections)


def iter_splits(data, protocol, jobs=1, count=None, selections=None):
    """Run `protocol` on each `UCIData` of the iterable `data`; yield each record as it finishes.

    Args:
        data: the splits (e.g. `UCIFolder.split(k)`, or `tfvb.uci_protocol.gap_splits`).
        protocol: a `Protocol`.
        jobs: worker processes, each running whole splits with one TensorFlow thread.
        count: how many splits `data` holds, when it is a generator (None: counted).
        selections: {split index: an earlier record of that split}: those splits
            take the record's choices and train only their final networks.
    """
    jobs = _checks.positive_int("jobs", jobs)
    selections = selections or {}
    if count is None:
        data = list(data)
        count = len(data)
    if jobs == 1 or count <= 1:
        for split in data:
            yield protocol_split(split, protocol, selection=selections.get(split.split))
        return
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(
            max_workers=min(jobs, count), mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(1,)) as pool:
        futures = [pool.submit(protocol_split, split, protocol, None, selections.get(split.split)) for split in data]
        for future in concurrent.futures.as_completed(futures):
            yield future.result()


def split_count(folder, splits):
    """The number of splits to run: all of `folder`'s when `splits` is None, else `splits` (at most all)."""
    if splits is None:
        return folder.n_splits
    n = _checks.positive_int("splits", splits)
    if n > folder.n_splits:
        raise ValueError(f"Expected `splits` <= {folder.n_splits}, the splits of {folder.name}. Received: splits={n}")
    return n


def run_protocol(folder, protocol, splits=None, jobs=1):
    """Gal's protocol on the first `splits` splits of `folder` (default all); the records, in split order."""
    folder = _folder(folder)
    n = split_count(folder, splits)
    records = {r["split"]: r for r in iter_protocol(folder, protocol, range(n), jobs)}
    return [records[k] for k in range(n)]
