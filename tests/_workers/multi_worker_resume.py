"""Kill a MultiWorkerMirroredStrategy run, restart both workers with BackupAndRestore, compare with a straight run.

Usage: multi_worker_resume.py OUT_DIR FAMILY KIND (start it in its own
process group, like multi_worker.py, whose loopback-only network namespace
it uses too). Three runs of 3 epochs (2 steps each) of `families.fit`, each
by two fresh worker processes sharing one backup folder:

    OUT_DIR/straight/  never interrupted
    OUT_DIR/mid_epoch/ worker 1 SIGKILLs itself in the second step of epoch 2
    OUT_DIR/in_backup/ the chief SIGKILLs itself while writing the epoch-2 backup

After a kill the launcher SIGKILLs the surviving worker (it waits in a
collective for the dead one) and starts both again without a kill: they
resume from the backups. Each run folder gets worker{i}.npz (final
weights) and worker{i}.restored (the epoch each worker resumed from).
"""

import json
import os
import signal
import subprocess
import sys
import time

import multi_worker

TIMEOUT_S = 300
EPOCHS = 3


def _phase(run_dir, family, kind, kill=None):
    """Start two workers; with `kill`, wait for the killed one and SIGKILL the other. Return the exit codes."""
    ports = multi_worker._free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_CONFIG": multi_worker.tf_config(cluster, index)}
            log = open(os.path.join(run_dir, f"worker{index}-{kill or 'run'}.log"), "w")
            procs.append(subprocess.Popen([sys.executable, __file__, "--worker", run_dir, family, kind, kill or ""],
                                          env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            time.sleep(0.2)
        if kill:  # a cluster manager's move: the survivor is stuck in a collective with the dead worker
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        return [proc.returncode for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def launch(out_dir, family, kind):
    failures = []
    for name, kill in (("straight", None), ("mid_epoch", "mid_epoch"), ("in_backup", "in_backup")):
        run_dir = os.path.join(out_dir, name)
        os.makedirs(run_dir, exist_ok=True)
        if kill:
            codes = _phase(run_dir, family, kind, kill)
            if -signal.SIGKILL not in codes or 0 in codes:
                failures.append(f"{name}: the kill did not happen as planned (exit codes {codes})")
        codes = _phase(run_dir, family, kind)
        if any(codes):
            failures.append(f"{name}: exit codes {codes}")
    if failures:
        for root, _, files in os.walk(out_dir):
            for f in sorted(files):
                if f.endswith(".log"):
                    with open(os.path.join(root, f)) as log:
                        sys.stderr.write(f"--- {root}/{f} ---\n{log.read()[-2500:]}\n")
        sys.exit("\n".join(failures))


def worker(run_dir, family, kind, kill):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import families
    import keras
    import numpy as np
    import tensorflow as tf

    from tfvb import callbacks
    from tfvb.callbacks import backup_and_restore

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    class Kill(keras.callbacks.Callback):
        """SIGKILL this process: worker 1 in a step of epoch 2, or the chief inside its epoch-2 backup."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if kill == "mid_epoch" and index == 1 and self.epoch == 1 and batch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

        def on_epoch_end(self, epoch, logs=None):
            if kill == "in_backup" and index == 0 and epoch == 1:
                fsync = backup_and_restore._fsync_file

                def fsync_then_die(path):  # the weights file is written, state.json and LATEST are not
                    fsync(path)
                    os.kill(os.getpid(), signal.SIGKILL)

                backup_and_restore._fsync_file = fsync_then_die

    keras.utils.set_random_seed(0)  # the same initial weights in every run (the chief's are broadcast)
    with strategy.scope():
        model = families.make(family)
    backup = callbacks.BackupAndRestore(os.path.join(run_dir, "backup"), delete_on_end=False)
    families.fit(model, family, kind, epochs=EPOCHS, callbacks=[Kill(), backup])
    with open(os.path.join(run_dir, f"worker{index}.restored"), "w") as f:
        f.write(str(backup.restored_epoch))
    np.savez(os.path.join(run_dir, f"worker{index}.npz"), **families.weights(model))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if sys.argv[1] == "--worker":
        worker(*sys.argv[2:5], sys.argv[5] if len(sys.argv) > 5 else "")
    else:
        multi_worker.isolated(__file__, launch, sys.argv[1:])
