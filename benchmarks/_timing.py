"""Timing helpers shared by the benchmarks: interleaved repetitions, medians, JSON output."""

import json
import os
import platform
import statistics
import time


def interleaved(candidates, repeats=3, warmup=1):
    """Time each zero-argument callable `repeats` times, alternating between them; medians in seconds."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}, times


def write_json(path, result):
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    result = {**result, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()}}
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {path}")


def runtime(tf, **versions):
    """Versions, devices and CPU count of the run, for a benchmark's JSON report."""
    return {
        "versions": {"tensorflow": tf.__version__, **versions, "python": platform.python_version()},
        "device": [d.device_type for d in tf.config.list_logical_devices()],
        "cpu_count": os.cpu_count(),
    }


def process_settings():
    """What the command line does not show: the CPUs the process may run on, its niceness, the thread
    variables of its environment and the load average when the run ended."""
    return {
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "niceness": os.nice(0) if hasattr(os, "nice") else None,
        "environment": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                                       "TF_NUM_INTEROP_THREADS")},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
