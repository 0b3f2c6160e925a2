"""One process of a distributed keras-tuner search (chief or worker, from KERASTUNER_TUNER_ID).

Usage: tuner_process.py DIRECTORY. The chief serves the oracle on
KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT and returns when the search is
over; a worker runs trials until the oracle says stop.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_tuner  # noqa: E402

from tfvb import data, tuning  # noqa: E402

#: Three trials (latent size and learning rate drawn), each run once, by one of the two workers.
SPACE = {"latent_dim": [2, 3, 4], "filters": 4, "kl_warmup_epochs": 0}
MAX_TRIALS = 3


def make_tuner(directory):
    hypermodel = tuning.CVAEHyperModel(space=SPACE, seed=1)
    return keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective, max_trials=MAX_TRIALS, seed=0,
                                    directory=directory, project_name="distributed")


def main(directory):
    images = data.binarize_fixed(data.mnist_sample()[0][:192], seed=0)
    tuner = make_tuner(directory)
    tuner.search(images[:128], batch_size=64, validation_data=(images[128:],), epochs=1, verbose=0)


if __name__ == "__main__":
    main(sys.argv[1])
