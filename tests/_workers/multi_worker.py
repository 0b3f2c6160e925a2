"""Train one epoch of a CVAE with MultiWorkerMirroredStrategy in two local worker processes.

Usage: multi_worker.py OUT_DIR (start it in its own process group: the
workers share it, so killing the group ends everything). Each worker writes OUT_DIR/worker{i}.npz
(its final weights w0, w1, ...); worker 0 also writes initial.npz and the
data (data.npy).

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


def launch(out_dir):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            log = open(os.path.join(out_dir, f"worker{index}.log"), "w")
            procs.append(subprocess.Popen([sys.executable, __file__, "--worker", out_dir], env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + TIMEOUT_S
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        codes = [proc.returncode for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if any(codes):
        for index in range(2):
            with open(os.path.join(out_dir, f"worker{index}.log")) as f:
                sys.stderr.write(f"--- worker {index} (exit {codes[index]}) ---\n{f.read()[-3000:]}\n")
        sys.exit(1)


def worker(out_dir):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np
    import tensorflow as tf

    from tfvb import data
    from tfvb.models import CVAE

    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    x = data.binarize_fixed(data.mnist_sample()[0][:96], seed=0)
    with strategy.scope():
        model = CVAE(latent_dim=2, filters=(4, 8), seed=1)
        model.compile(optimizer=keras.optimizers.SGD(1e-4))
    if index == 0:
        np.save(os.path.join(out_dir, "data.npy"), x)
        np.savez(os.path.join(out_dir, "initial.npz"),
                 **{f"w{i}": v.numpy() for i, v in enumerate(model.trainable_variables)})
    model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0)
    np.savez(os.path.join(out_dir, f"worker{index}.npz"),
             **{f"w{i}": v.numpy() for i, v in enumerate(model.trainable_variables)})


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        worker(sys.argv[2])
    elif sys.argv[1] == "--isolated":
        _loopback_up()
        launch(sys.argv[2])
    else:
        unshare = shutil.which("unshare")
        isolated = unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0
        if isolated:  # exec: same process and process group, so the caller can kill everything
            os.execv(unshare, [unshare, "-rn", sys.executable, __file__, "--isolated", sys.argv[1]])
        launch(sys.argv[1])
