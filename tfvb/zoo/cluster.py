"""Zoo recipes on several machines: `tfvb zoo train NAME --workers HOST:PORT,HOST:PORT --index I`.

Run the same command on every machine, each with its own `--index` (0 is
the chief). It writes TF_CONFIG for MultiWorkerMirroredStrategy, creates the
strategy before TensorFlow's runtime starts (collectives are configured at
start-up), and runs the recipe's own training inside the strategy's scope:
each step's global batch is split between the workers, the updates are the
ones one process would make at that batch.

Files. Every worker uses the same run folder (`TFVB_RUNS`, on a file system
the machines share; on one machine, trivially so): only the chief writes
the backups (`tfvb.callbacks.BackupAndRestore`) and every worker resumes
from them, so after a crash the same command on every machine resumes like
the one-process recipe. The chief writes the entry to `--root`; the other
workers write theirs to a temporary folder that is then discarded.
"""

import json
import os
import shutil
import tempfile

__all__ = ["parse_workers", "tf_config", "start", "train"]


def parse_workers(text):
    """"HOST:PORT,HOST:PORT" -> ["HOST:PORT", ...], checked."""
    workers = [w.strip() for w in str(text).split(",") if w.strip()]
    for w in workers:
        host, _, port = w.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"Expected `--workers` as HOST:PORT,HOST:PORT. Received: {text!r} ({w!r})")
    if len(set(workers)) != len(workers) or len(workers) < 2:
        raise ValueError(f"Expected at least two distinct workers in `--workers`. Received: {text!r}")
    return workers


def tf_config(workers, index):
    """The TF_CONFIG of worker `index` in a cluster of `workers` (worker 0 is the chief)."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(workers):
        raise ValueError(f"Expected `--index` in 0..{len(workers) - 1}. Received: index={index!r}")
    return {"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}}


def start(workers, index):
    """Write TF_CONFIG and create the MultiWorkerMirroredStrategy (before anything else starts TensorFlow)."""
    os.environ["TF_CONFIG"] = json.dumps(tf_config(workers, index))
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def train(name, strategy, index, root=None, **kwargs):
    """`driver.train` on the cluster: the chief writes the entry to `root`, the others to a discarded folder."""
    from tfvb.zoo import driver

    if index == 0:
        with strategy.scope():
            return driver.train(name, root=root, **kwargs)
    scratch = tempfile.mkdtemp(prefix=f"tfvb-worker{index}-")
    try:
        with strategy.scope():
            # The run folder is the chief's: it removes it once the entry is written.
            return driver.train(name, root=scratch, keep_run_dir=True, **kwargs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
