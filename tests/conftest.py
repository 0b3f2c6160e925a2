import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get("TFVB_SHARED_DATA", os.path.join(os.path.dirname(REPO), "shared", "data"))


@pytest.fixture(scope="session")
def mnist_sample():
    from tfvb.data import mnist_sample

    return mnist_sample()


@pytest.fixture(scope="session")
def binary_images(mnist_sample):
    from tfvb.data import binarize_fixed

    return binarize_fixed(mnist_sample[0], seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
