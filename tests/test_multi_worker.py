"""Every tfvb family under MultiWorkerMirroredStrategy: two worker processes on loopback (TF_CONFIG).

Each case starts `_workers/multi_worker.py` (both workers in a private
network namespace with only loopback where Linux allows it, one thread
each), fits one epoch of a tiny model of the family at a global batch of 32
on 47 examples (an even and an uneven batch), on arrays or on a
tf.data.Dataset sharded by DATA, and checks that the workers end on
identical weights, equal to one process fitting the same model from the
same initial weights: the loss is divided by the global batch, the KL by
the global N, and each replica draws its own rows of the global batch's
noise. The default run fits one case per family in one launch; the whole
matrix (every family, both input kinds) is marked slow.
"""

import multi_worker_runs as runs
import numpy as np
import pytest

FAMILIES = sorted(runs.families().FAMILIES)
KINDS = runs.families().KINDS
# One case per family, the two input kinds alternating: fitted by the same two workers in one launch.
DEFAULT = {
    "cvae": "arrays", "iwae": "dataset", "bnn_classifier_flipout": "arrays",
    "bnn_regressor_local_reparameterization": "dataset", "mc_dropout_regressor": "dataset",
    "mc_dropout_classifier": "arrays", "deep_ensemble": "dataset", "bayesianize": "arrays",
}


def _check_cases(tmp_path, cases):
    runs.launch(tmp_path, ",".join(f"{family}:{kind}" for family, kind in cases), timeout=900)
    for family, kind in cases:
        runs.check_against_one_process(tmp_path / f"{family}-{kind}", family, kind)


def test_one_case_per_family_two_workers_equal_one_process(tmp_path):
    _check_cases(tmp_path, sorted(DEFAULT.items()))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_every_family_two_workers_equal_one_process(tmp_path, kind):
    _check_cases(tmp_path, [(family, kind) for family in FAMILIES])


@pytest.mark.slow
@pytest.mark.parametrize("family,kind", [("cvae", "dataset"), ("bnn_classifier_flipout", "arrays")])
def test_a_killed_worker_resumes_to_the_uninterrupted_weights(tmp_path, family, kind):
    """SIGKILL of worker 1 mid-epoch, and of the chief inside a backup write; both restart with BackupAndRestore."""
    runs.launch(tmp_path, family, kind, script="multi_worker_resume.py", timeout=1500)
    straight = [np.load(tmp_path / "straight" / f"worker{i}.npz") for i in range(2)]
    for name in ("mid_epoch", "in_backup"):
        # Both kills land in epoch 2: the resumed workers start from the epoch-1 backup, together.
        assert [(tmp_path / name / f"worker{i}.restored").read_text() for i in range(2)] == ["1", "1"], name
        for i in range(2):
            resumed = np.load(tmp_path / name / f"worker{i}.npz")
            for key in straight[0].files:
                np.testing.assert_array_equal(resumed[key], straight[0][key], err_msg=f"{name} worker{i} {key}")
