"""Tutorial: hyper-parameter search with keras-tuner over tfvb's HyperModels.

Run it as `python tuning.py` (one to two minutes on 2 CPU cores); it writes the tuner's folder in the
current folder. docs/tutorials/tuning.md explains it part by part.
"""

# --8<-- [start:space]
import keras
import keras_tuner

import tfvb

print(tfvb.tuning.CVAEHyperModel.default_space())
print(tfvb.tuning.IWAEHyperModel.default_space())
# --8<-- [end:space]

# --8<-- [start:search]
keras.utils.set_random_seed(0)
images, _ = tfvb.data.mnist_sample()
train = tfvb.data.image_dataset(images[:1500], batch_size=100, seed=0)
validation = (tfvb.data.binarize_fixed(images[1500:], seed=0),)

hypermodel = tfvb.tuning.CVAEHyperModel(space={"latent_dim": [2, 16], "filters": [16, 32], "kl_warmup_epochs": 0,
                                               "learning_rate": 1e-3},
                                        seed=0)
print("objective:", hypermodel.objective.name, hypermodel.objective.direction)
tuner = keras_tuner.GridSearch(hypermodel, objective=hypermodel.objective, directory="sweeps",
                               project_name="cvae", overwrite=True)
tuner.search(train, validation_data=validation, epochs=3, verbose=0)
for trial in tuner.oracle.get_best_trials(num_trials=4):
    print(trial.hyperparameters.values, f"val_elbo {trial.score:.1f}")
# --8<-- [end:search]

# --8<-- [start:best]
best = tuner.get_best_models(1)[0]          # rebuilt and reloaded with the best trial's weights
print(type(best).__name__, best.latent_dim)
print(tuner.get_best_hyperparameters(1)[0].values)
# --8<-- [end:best]

# --8<-- [start:iwae]
iwae_hypermodel = tfvb.tuning.IWAEHyperModel(space={"k": [1, 10], "units": 100, "num_layers": 1,
                                                    "latent_dim": 20, "learning_rate": 1e-3, "kl_warmup_epochs": 0},
                                             eval_k=100, seed=0)
print("objective:", iwae_hypermodel.objective.name, iwae_hypermodel.objective.direction)
iwae_tuner = keras_tuner.GridSearch(iwae_hypermodel, objective=iwae_hypermodel.objective, directory="sweeps",
                                    project_name="iwae", overwrite=True)
iwae_tuner.search(train, validation_data=(validation[0][:200],), epochs=5, verbose=0)
for trial in iwae_tuner.oracle.get_best_trials(num_trials=2):
    print(trial.hyperparameters.values, f"held-out IWAE-100 {trial.score:.1f} nats")
# --8<-- [end:iwae]
