"""`tfvb zoo train NAME --quick --workers 127.0.0.1:P0,127.0.0.1:P1 --index I` for I = 0, 1, side by side.

Usage: zoo_workers.py OUT_DIR NAME (start it in its own process group). The
two commands share the run folder OUT_DIR/runs (TFVB_RUNS) and write to
--root OUT_DIR/root, with one thread each, inside multi_worker.py's
loopback-only network namespace where Linux allows it. Logs: OUT_DIR/worker{i}.log.
"""

import os
import sys

import multi_worker

TIMEOUT_S = 1200


def launch(out_dir, name):
    ports = multi_worker._free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TFVB_RUNS": os.path.join(out_dir, "runs")}
    env.pop("TF_CONFIG", None)
    os.makedirs(os.path.join(out_dir, "root"), exist_ok=True)
    commands = [[sys.executable, "-m", "tfvb", "zoo", "train", name, "--quick", "--threads", "1",
                 "--root", os.path.join(out_dir, "root"), "--workers", workers, "--index", str(index)]
                for index in range(2)]
    multi_worker.run_workers(out_dir, commands, [env, env], timeout=TIMEOUT_S)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    multi_worker.isolated(__file__, launch, sys.argv[1:])
