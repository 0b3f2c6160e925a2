"""`tfvb zoo train NAME --quick --workers 127.0.0.1:P0,127.0.0.1:P1 --index I` for I = 0, 1, side by side.

Usage: zoo_workers.py OUT_DIR NAME (start it in its own process group). The
two commands share the run folder OUT_DIR/runs (TFVB_RUNS) and write to
--root OUT_DIR/root, with one thread each, inside multi_worker.py's
loopback-only network namespace where Linux allows it. Logs: OUT_DIR/worker{i}.log.
"""

import os
import subprocess
import sys
import time

import multi_worker

TIMEOUT_S = 1200


def launch(out_dir, name):
    ports = multi_worker._free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TFVB_RUNS": os.path.join(out_dir, "runs")}
    env.pop("TF_CONFIG", None)
    os.makedirs(os.path.join(out_dir, "root"), exist_ok=True)
    procs = []
    try:
        for index in range(2):
            log = open(os.path.join(out_dir, f"worker{index}.log"), "w")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "tfvb", "zoo", "train", name, "--quick", "--threads", "1",
                 "--root", os.path.join(out_dir, "root"), "--workers", workers, "--index", str(index)],
                env=env, stdout=log, stderr=subprocess.STDOUT))
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


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    multi_worker.isolated(__file__, launch, sys.argv[1:])
