"""Run tests/_workers/multi_worker.py for one family and input kind; check the workers against one process.

Shared by the multi-worker tests: `launch` starts the launcher in its own
process group (killed on failure or timeout); `check_against_one_process`
asserts the two workers hold identical weights, equal to one process that
fitted the same model from the same initial weights at the same global
batch (noise drawn per example of the global batch, as on one device).
"""

import os
import signal
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "_workers")


def families():
    sys.path.insert(0, WORKERS)
    try:
        import families as module
    finally:
        sys.path.remove(WORKERS)
    return module


def launch(out_dir, *args, script="multi_worker.py", timeout=500):
    """Run a launcher under `_workers` in a new session; return its output, kill its group on failure."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.path.dirname(HERE)}
    launcher = subprocess.Popen([sys.executable, os.path.join(WORKERS, script), str(out_dir), *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = launcher.communicate(timeout=timeout)
    finally:
        if launcher.poll() is None:  # the launcher and both workers share its process group
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert launcher.returncode == 0, output[-6000:]
    return output


def one_process(family, kind, initial):
    """The reference: the same model and initial weights, fitted in this process on one device."""
    fam = families()
    model = fam.make(family)
    fam.set_weights(model, initial)
    fam.fit(model, family, kind)
    return fam.weights(model)


def check_against_one_process(out_dir, family, kind):
    workers = [np.load(os.path.join(out_dir, f"worker{i}.npz")) for i in range(2)]
    initial = np.load(os.path.join(out_dir, "initial.npz"))
    for key in workers[0].files:
        np.testing.assert_array_equal(workers[0][key], workers[1][key], err_msg=key)
    reference = one_process(family, kind, initial)
    update = max(np.max(np.abs(reference[k] - initial[k])) for k in reference)
    assert update > 0
    for key, value in reference.items():
        # float32 sums in another order: differences far below one SGD step.
        np.testing.assert_allclose(workers[0][key], value, rtol=0, atol=1e-3 * update + 1e-6, err_msg=key)
    return update
