"""Steps per second: one worker with two threads vs two MultiWorkerMirroredStrategy workers with one thread each.

    python benchmarks/multi_worker_throughput.py [--steps 40] [--batch 64] [--out FILE.json]

For the CVAE and the IWAE (k=50, one stochastic layer) at the same global
batch: (a) one process, 2 intra-op and 2 inter-op threads; (b) two worker
processes on 127.0.0.1 (TF_CONFIG; a private network namespace with only
loopback where Linux allows one), 1 thread each, each computing half of the
batch. Steps are timed after a warm-up (tracing excluded). The
communication cost per step is the time of one all-reduce of a float32
vector the size of the model's weights between the two workers (the
gradient all-reduce a step does), timed alone.

The numbers depend on what else runs on the machine: read the load average
printed with them, and compare (a) and (b) measured back to back.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

MODELS = ("cvae", "iwae_k50")
WARMUP = 5


def _model(name):
    import tfvb

    if name == "cvae":
        return tfvb.models.CVAE(latent_dim=2, seed=0)
    return tfvb.models.IWAE(k=50, seed=0)


def measure(name, steps, batch, strategy):
    """(steps per second, seconds per all-reduce of the weights) in this process."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tfvb import data

    images = data.binarize_fixed(data.mnist_sample()[0][: batch * 4], seed=0)
    x = np.concatenate([images] * (-(-(steps + WARMUP) * batch // len(images))))[: (steps + WARMUP) * batch]
    with strategy.scope():
        model = _model(name)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            times.append(time.perf_counter())

    model.fit(x, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    rate = (len(times) - WARMUP) / (times[-1] - times[WARMUP - 1])
    size = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    comm = None
    if strategy.num_replicas_in_sync > 1:
        vector = tf.ones([size])

        @tf.function
        def all_reduce():
            return strategy.run(lambda: tf.distribute.get_replica_context().all_reduce("SUM", vector))

        for _ in range(3):
            all_reduce()
        start, reps = time.perf_counter(), 20
        for _ in range(reps):
            out = all_reduce()
        strategy.experimental_local_results(out)[0].numpy()
        comm = (time.perf_counter() - start) / reps
    return {"steps_per_s": rate, "allreduce_s": comm, "weights": size}


def _threads(n):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)
    return tf


def worker(args):
    tf = _threads(1)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    result = measure(args.model, args.steps, args.batch, strategy)
    if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:
        print("RESULT " + json.dumps(result), flush=True)


def one_process(args):
    tf = _threads(2)
    print("RESULT " + json.dumps(measure(args.model, args.steps, args.batch, tf.distribute.get_strategy())))


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run(argv, timeout, env=None):
    """Run a child in its own session; kill its process group on timeout or failure. Its RESULT line."""
    proc = subprocess.Popen([sys.executable, __file__, *argv], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{argv} failed:\n{out[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def two_workers(args):
    """Both workers of one measurement (inside the private namespace when there is one)."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            procs.append(subprocess.Popen([sys.executable, __file__, "--worker", "--model", args.model,
                                           "--steps", str(args.steps), "--batch", str(args.batch)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        out = procs[0].communicate(timeout=1200)[0]
        procs[1].wait(timeout=60)
        print(out[-4000:] if procs[0].returncode else "\n".join(
            line for line in out.splitlines() if line.startswith("RESULT ")), flush=True)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64, help="the global batch")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", default=None)
    parser.add_argument("--model", default="cvae", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--two", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        return worker(args)
    if args.one:
        return one_process(args)
    if args.two:
        return two_workers(args)
    unshare = shutil.which("unshare")
    isolated = unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0
    rows = []
    for name in args.models.split(","):
        common = ["--model", name, "--steps", str(args.steps), "--batch", str(args.batch)]
        one = _run(["--one", *common], timeout=1200)
        if isolated:  # the loopback-only namespace: `lo` must be brought up inside it first
            two = _run_isolated(unshare, common)
        else:
            two = _run(["--two", *common], timeout=1500)
        rows.append({"model": name, "global_batch": args.batch, "weights": one["weights"],
                     "one_worker_2_threads_steps_per_s": round(one["steps_per_s"], 2),
                     "two_workers_1_thread_steps_per_s": round(two["steps_per_s"], 2),
                     "allreduce_ms_per_step": round(1000 * two["allreduce_s"], 2)})
        print(json.dumps(rows[-1]), flush=True)
    result = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "steps": args.steps, "rows": rows,
              "command": "python benchmarks/multi_worker_throughput.py " + " ".join(sys.argv[1:])}
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


def _run_isolated(unshare, common):
    script = ("import sys, runpy; sys.path.insert(0, {here!r}); import multi_worker_throughput as m; "
              "m._loopback_up(); sys.argv = ['x', '--two'] + sys.argv[1:]; m.main()").format(
                  here=os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([unshare, "-rn", sys.executable, "-c", script, *common], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=1500)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"two workers failed:\n{out[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _loopback_up():
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, request))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))


if __name__ == "__main__":
    main()
