"""A hyperparameter sweep with keras-tuner on the 2,000 MNIST digits shipped with tfvb.

    python examples/sweep.py                      # CVAE, 6 trials of 4 epochs (a few minutes on 2 cores)
    python examples/sweep.py --family iwae --trials 4

It splits the sample 1,600 / 400, binarizes dynamically for training and
once (fixed seed) for validation, runs a RandomSearch over the family's
default space (`tfvb.tuning`), then reloads the best model and reports its
validation ELBO and IWAE-500 log-likelihood estimate.

Distributed search (keras-tuner's chief/worker mode): run this same command
in every process with, in each,

    KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8000
    KERASTUNER_TUNER_ID=chief      (one process: serves the oracle, trains nothing)
    KERASTUNER_TUNER_ID=tuner0, tuner1, ...   (the workers: run the trials)

and the same --directory on a shared file system.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402

from tfvb import data, evaluate, tuning  # noqa: E402

HYPERMODELS = {
    # Small grids so a sweep fits in minutes on a laptop; the defaults of tfvb.tuning are wider.
    "cvae": lambda: tuning.CVAEHyperModel(
        space={"latent_dim": [2, 8, 16], "filters": [16, 32], "kl_warmup_epochs": [0, 2]}, seed=0),
    "iwae": lambda: tuning.IWAEHyperModel(
        eval_k=100, space={"k": [1, 5, 20], "latent_dim": [10, 20], "units": [100, 200], "num_layers": 1,
                           "kl_warmup_epochs": [0, 2]}, seed=0),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=sorted(HYPERMODELS), default="cvae")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--directory", default="sweeps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    images, _ = data.mnist_sample()
    train = data.image_dataset(images[:1600], batch_size=64, seed=args.seed)
    val_images = data.binarize_fixed(images[1600:], seed=1)
    hypermodel = HYPERMODELS[args.family]()
    tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective, max_trials=args.trials,
                                     seed=args.seed, directory=args.directory, project_name=args.family,
                                     # A distributed search shares the directory: no process may wipe it.
                                     overwrite="KERASTUNER_TUNER_ID" not in os.environ)
    start = time.time()
    tuner.search(train, validation_data=(val_images,), epochs=args.epochs, verbose=0)
    if "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "chief"):
        return None  # a worker: the chief holds the results
    return report(tuner, hypermodel, val_images, time.time() - start)


def report(tuner, hypermodel, val_images, seconds):
    trials = tuner.oracle.get_best_trials(len(tuner.oracle.trials))
    print(f"{len(trials)} trials in {seconds:.0f} s, ranked by {hypermodel.objective.name} "
          f"({hypermodel.objective.direction}):")
    for trial in trials:
        print(f"  {trial.score:9.2f}  {trial.hyperparameters.values}")
    best = tuner.get_best_models(1)[0]
    logs = best.evaluate(val_images, batch_size=200, verbose=0, return_dict=True)
    ll = evaluate.log_likelihood(best, val_images, k=500, verbose=0)
    print(f"best model, reloaded: validation ELBO {logs['elbo']:.2f} nats, "
          f"IWAE-500 log-likelihood {ll.mean:.2f} +- {ll.standard_error:.2f} nats per image")
    return {"trials": [(t.score, t.hyperparameters.values) for t in trials], "val_elbo": logs["elbo"],
            "log_likelihood": ll.mean, "log_likelihood_se": ll.standard_error}


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
