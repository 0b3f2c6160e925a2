"""Train one epoch of a tfvb model with MultiWorkerMirroredStrategy in two local worker processes.

Usage: multi_worker.py OUT_DIR [FAMILIES [arrays|dataset]] (default: cvae
arrays; FAMILIES is a comma-separated list of names in `families.FAMILIES`,
each optionally NAME:KIND, fitted in turn by the same two workers, each into
OUT_DIR/NAME-KIND when there are several). Start it in its own process group:
the workers share it, so killing the group ends everything. Each worker uses
one intra-op and one inter-op thread and writes OUT_DIR/worker{i}.npz (its
final weights w0, w1, ...); worker 0 also writes initial.npz and, for the
CVAE, the data (data.npy).

TensorFlow's gRPC server listens on every interface (0.0.0.0) whatever
TF_CONFIG says. Where Linux allows an unprivileged network namespace, the
launcher re-runs itself inside a private one whose only interface is
loopback, so nothing outside this machine can reach the workers.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

TIMEOUT_S = 400


def _loopback_up():
    """Bring up `lo` in a new network namespace (it starts down)."""
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH", b"lo", flags | iff_up))


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(cluster, index):
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def run_workers(out_dir, commands, envs, timeout=TIMEOUT_S):
    """Start one process per command (its log OUT_DIR/worker{i}.log), wait for all; exit 1 with the logs if
    any failed. Processes still running at the timeout are killed."""
    procs = []
    try:
        for index, (command, env) in enumerate(zip(commands, envs)):
            with open(os.path.join(out_dir, f"worker{index}.log"), "w") as log:
                procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        codes = [proc.returncode for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if any(codes):
        for index in range(len(procs)):
            with open(os.path.join(out_dir, f"worker{index}.log")) as f:
                sys.stderr.write(f"--- worker {index} (exit {codes[index]}) ---\n{f.read()[-3000:]}\n")
        sys.exit(1)


def launch(out_dir, *args):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    envs = [{**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": tf_config(cluster, index)} for index in range(2)]
    run_workers(out_dir, [[sys.executable, __file__, "--worker", out_dir, *args]] * 2, envs)


def worker(out_dir, families_arg="cvae", kind="arrays"):
    """Fit each family (comma-separated; FAMILY:KIND overrides `kind`) in turn under one strategy."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np
    import tensorflow as tf

    keras.config.disable_traceback_filtering()  # a failure shows where in Keras it happened
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import families

    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # one per process (collective keys)
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    cases = [case.split(":") if ":" in case else (case, kind) for case in families_arg.split(",")]
    for family, case_kind in cases:
        out = out_dir if len(cases) == 1 else os.path.join(out_dir, f"{family}-{case_kind}")
        os.makedirs(out, exist_ok=True)
        with strategy.scope():
            model = families.make(family)
        if index == 0:
            if family == "cvae":
                np.save(os.path.join(out, "data.npy"), families.data(family)[0])
            np.savez(os.path.join(out, "initial.npz"), **families.weights(model))
        families.fit(model, family, case_kind)
        np.savez(os.path.join(out, f"worker{index}.npz"), **families.weights(model))
        print(f"worker {index}: {family} on {case_kind} done", flush=True)


def isolated(script, run, args):
    """`run(*args)` in a private network namespace whose only interface is loopback, where Linux allows one."""
    if args[0] == "--isolated":
        _loopback_up()
        return run(*args[1:])
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        # exec: same process and process group, so the caller can kill everything
        os.execv(unshare, [unshare, "-rn", sys.executable, script, "--isolated", *args])
    return run(*args)


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
    else:
        isolated(__file__, launch, sys.argv[1:])
