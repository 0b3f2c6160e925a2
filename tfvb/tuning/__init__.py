"""keras-tuner HyperModels for tfvb's model families.

Each HyperModel builds a compiled model from a trial's hyperparameters and
names the objective its trials are ranked by, a metric the model's own
`test_step` reports on the validation data:

    CVAEHyperModel              val_elbo (max)
    IWAEHyperModel              val_log_likelihood (max): IWAE-`eval_k` on the validation images
    BNNClassifierHyperModel     val_elbo (max)
    BNNRegressorHyperModel      val_elbo (max)
    MCDropoutHyperModel         val_nll (min), in the targets' units

IWAE is ranked by a log-likelihood estimate with a fixed number of samples
because `k` is one of its hyperparameters: its own bound L_k rises with k
and its ELBO falls with it, so either would pick an extreme of the grid.

The search space of each family is `default_space()`: a dict from a
hyperparameter name to a list (a choice), a dict of `hp.Float` / `hp.Int`
keyword arguments (a range), or a plain value (fixed). Override entries with
`space={...}`, or use keras-tuner's own mechanism (a `HyperParameters` with
the same names passed to the tuner).

Example:
    >>> import keras_tuner
    >>> hypermodel = tfvb.tuning.CVAEHyperModel(space={"latent_dim": [2, 16]})
    >>> tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective,
    ...                                  max_trials=10, directory="sweeps", project_name="cvae")
    >>> tuner.search(train_ds, validation_data=val_ds, epochs=20)  # doctest: +SKIP
    >>> best = tuner.get_best_models(1)[0]  # doctest: +SKIP

Distributed search (keras-tuner's chief/worker mode) needs nothing from
tfvb: set KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and
KERASTUNER_ORACLE_PORT in every process and run the same script (see
`examples/sweep.py`). Data-parallel trials: pass
`distribution_strategy=tf.distribute.MirroredStrategy()` to the tuner.
"""

from tfvb.tuning.bnn import BNNClassifierHyperModel, BNNRegressorHyperModel
from tfvb.tuning.mc_dropout import MCDropoutHyperModel
from tfvb.tuning.vae import CVAEHyperModel, IWAEHyperModel, ValidationLogLikelihood

__all__ = [
    "CVAEHyperModel",
    "IWAEHyperModel",
    "BNNClassifierHyperModel",
    "BNNRegressorHyperModel",
    "MCDropoutHyperModel",
    "ValidationLogLikelihood",
]
