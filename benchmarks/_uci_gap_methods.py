"""The three regressors of the gap-split table (`benchmarks/uci_gap.py`), each scoring one UCI split.

A method is built once per data set, `METHODS[name](folder, options)`; its
`settings` (a JSON dict) are stored with every record it produces, and
`score(data)` trains on one `tfvb.data.UCIData` (a standard split or a gap
split) and returns the test log-likelihood `ll` and `rmse` in the original
units, the 90 % / 95 % interval coverage (`tfvb.uci_protocol.split_coverage`)
and anything else worth keeping. Split k (or gap feature k) is seeded by
seed + k for the two fixed recipes, and by Gal's seed + 1000 k for MC dropout.

    mc_dropout   Gal's protocol as `tfvb.uci_protocol` runs it (`protocol_split`): the grid search over
                 the folder's dropout rates and taus on the first 80 % of the training rows, the chosen
                 pair retrained on all of them, T MC passes on the test rows.
    flipout      `zoo/bnn_flipout_uci.py`'s `fit_split`, imported (`tfvb.zoo.driver.recipe`): the zoo
                 recipe's Flipout BNN regressor, 10 x n_epochs epochs, 100 weight draws.
    ensemble     Lakshminarayanan et al. (2017)'s deep ensemble, below.

The deep ensemble: 5 networks of one hidden layer of the folder's n_hidden ReLU
units, each predicting a Gaussian mean m and variance s^2 = softplus(v) + 1e-6
(the paper's positivity and minimum variance), trained on the Gaussian NLL
-log N(y; m, s^2) of inputs and target standardized on the training split, no
adversarial training, batch 100, 40 epochs (the paper's "40 epochs", x
`--ensemble-epoch-multiplier`), Adam; each member from its own initialisation
and its own data order (`tfvb.models.DeepEnsemble` with `tfvb.gaussian.GaussianNLL`). The predictive is the
uniform mixture (1/5) sum_m N(y; m_m, s_m^2): `ll` is its test log-likelihood
(`tfvb.evaluate.regression_scores`), `ll_gaussian` that of the moment-matched
Gaussian the paper scores. Learning rate: the paper gives Adam at a fixed
0.1; with Keras' Adam at 0.1 some members diverge (Boston splits 0-2, 40
epochs: ensemble RMSE 101, 277 and 15), at 0.01 none do (RMSE 2.39, 2.63,
2.18; moment-matched Gaussian LL -2.36, -2.40, -2.23, the paper's measure, next
to its Boston 3.28 +- 1.00 / -2.41 +- 0.25; mixture LL -2.32, -2.36, -2.22), so
0.01 is the default.

References:
    Lakshminarayanan, Pritzel, Blundell. Simple and Scalable Predictive Uncertainty
    Estimation using Deep Ensembles. NeurIPS 2017.
    Gal, Ghahramani. Dropout as a Bayesian Approximation. ICML 2016.
"""

import os
import time

import numpy as np

__all__ = ["METHODS", "MCDropout", "Flipout", "Ensemble"]

#: The zoo entry whose recipe (zoo/bnn_flipout_uci.py) the flipout method runs.
FLIPOUT_ENTRY = "bnn_flipout_uci_boston"
#: The recipe trains for this x n_epochs epochs (its `train`).
FLIPOUT_EPOCH_MULTIPLIER = 10


def _coverage(mean_samples, var_samples, y, seed):
    from tfvb.uci_protocol import split_coverage
    from tfvb.uncertainty import regression_uncertainty

    u = regression_uncertainty(mean_samples, var_samples)
    return split_coverage(u["mean"], u["variance"], y, seed=seed)


class MCDropout:
    """MC dropout with Gal's grid search (`tfvb.uci_protocol`), the Protocol of `benchmarks/uci.py`."""

    def __init__(self, folder, options):
        from tfvb.uci_protocol import Protocol

        self.protocol = Protocol.of(folder, samples=options.samples, validation_samples=options.validation_samples,
                                    epoch_multiplier=options.epoch_multiplier, epochs=options.epochs,
                                    seed=options.seed)
        self.settings = self.protocol.as_dict()
        self.name = folder.name
        self.kept_runs = getattr(options, "kept_runs", None)

    #: What `score` returns, all of which a kept protocol record must hold to stand for it.
    SCORED = ("ll", "rmse", "coverage", "epochs", "dropout_rate", "tau", "tuned")

    def kept(self, kind, k):
        """Standard split k as the protocol run kept in `kept_runs` measured it, or None.

        `benchmarks/uci.py` keeps every split of Gal's protocol at 10 x and
        100 x epochs in `uci_<name><suffix>.json` (`tfvb.uci_protocol.RESULT_FILES`).
        A record there made with this `Protocol` (grid, epochs, passes, seed)
        comes from the same networks, seeds and data as `score` on that split
        (Boston's five standard splits: equal to the last bit), so it is taken
        instead of training the grid again. Splits whose coverage was added to
        an older run (`--add-coverage`) carry the coverage of the final
        networks trained again from the recorded choice (`coverage_from`:
        the same seeds, floating-point order only). Gap splits are always
        trained here.
        """
        from tfvb.uci_protocol.results import read_previous, result_file

        if kind != "standard" or not self.kept_runs or self.protocol.epoch_multiplier is None:
            return None
        try:
            path = os.path.join(self.kept_runs, result_file(self.name, self.protocol.variant,
                                                            self.protocol.epoch_multiplier))
            records, _ = read_previous(path, self.protocol)
        except ValueError:  # no file kept at this multiplier, or one written with other settings
            return None
        for r in records:
            if r.get("split") == k and all(key in r for key in self.SCORED):
                return {**{key: r[key] for key in self.SCORED}, "seconds": float(r.get("seconds", 0.0)),
                        "reused_from": os.path.basename(path)}
        return None

    def score(self, data):
        from tfvb.uci_protocol import protocol_split

        r = protocol_split(data, self.protocol)
        return {"ll": r["ll"], "rmse": r["rmse"], "coverage": r["coverage"], "epochs": r["epochs"],
                "dropout_rate": r["dropout_rate"], "tau": r["tau"], "tuned": r["tuned"]}


class Flipout:
    """The zoo recipe's Flipout BNN regressor (`zoo/bnn_flipout_uci.py`), trained and scored by its `fit_split`."""

    def __init__(self, folder, options):
        from tfvb.zoo import driver

        self.recipe = driver.recipe(FLIPOUT_ENTRY)
        self.seed = options.seed
        self.epochs = options.epochs or FLIPOUT_EPOCH_MULTIPLIER * folder.n_epochs
        self.settings = {"recipe": "zoo/bnn_flipout_uci.py", "epochs": self.epochs,
                         "batch_size": self.recipe.BATCH_SIZE, "learning_rate": self.recipe.LEARNING_RATE,
                         "samples": self.recipe.SAMPLES, "seed": self.seed}

    def score(self, data):
        _, scores, _, _ = self.recipe.fit_split(data, self.seed + data.split, self.epochs)
        # Not a setting (the numbers are those of one step per execution); it tells the report's cost table apart.
        return {"ll": scores["ll"], "rmse": scores["rmse"], "ll_gaussian": scores["ll_gaussian"],
                "coverage": scores["coverage"], "epochs": self.epochs,
                "steps_per_execution": getattr(self.recipe, "STEPS_PER_EXECUTION", 1)}


class Ensemble:
    """Lakshminarayanan et al.'s deep ensemble of Gaussian regressors (the module docstring)."""

    MEMBERS = 5
    EPOCHS = 40
    BATCH_SIZE = 100
    LEARNING_RATE = 0.01
    MIN_VARIANCE = 1e-6

    def __init__(self, folder, options):
        self.seed = options.seed
        self.hidden = folder.n_hidden
        self.epochs = options.epochs or self.EPOCHS * options.ensemble_epoch_multiplier
        self.learning_rate = options.ensemble_learning_rate
        self.settings = {"members": self.MEMBERS, "hidden_units": self.hidden, "epochs": self.epochs,
                         "batch_size": self.BATCH_SIZE, "learning_rate": self.learning_rate,
                         "min_variance": self.MIN_VARIANCE, "seed": self.seed}

    def score(self, data):
        import keras

        from tfvb import gaussian, optimizers
        from tfvb.evaluate import regression_scores
        from tfvb.gaussian import GaussianNLL
        from tfvb.models import DeepEnsemble

        seed = self.seed + data.split
        mx, sx = gaussian.standardization(data.x_train)
        my, sy = gaussian.standardization(data.y_train)
        dim, hidden = data.x_train.shape[1], self.hidden

        def member():
            return keras.Sequential([keras.Input((dim,)), keras.layers.Dense(hidden, activation="relu"),
                                     keras.layers.Dense(2)])

        ensemble = DeepEnsemble(member, n=self.MEMBERS, seed=seed)
        ensemble.compile(optimizer=optimizers.Adam(self.learning_rate), loss=GaussianNLL(self.MIN_VARIANCE))
        ensemble.fit(((data.x_train - mx) / sx).astype("float32"), ((data.y_train - my) / sy).astype("float32"),
                     batch_size=self.BATCH_SIZE, epochs=self.epochs, verbose=0)
        out = ensemble.predict_samples(((data.x_test - mx) / sx).astype("float32"))  # the members' Gaussians
        means = out["mean"].astype(np.float64) * sy + my
        variances = out["variance"].astype(np.float64) * sy**2
        scores = regression_scores(data.y_test, means, var_samples=variances)
        return {"ll": scores["ll"], "rmse": scores["rmse"], "ll_gaussian": scores["ll_gaussian"],
                "coverage": _coverage(means, variances, data.y_test, seed), "epochs": self.epochs}


#: name -> method class; the table's rows in this order.
METHODS = {"mc_dropout": MCDropout, "flipout": Flipout, "ensemble": Ensemble}


def timed_score(method, data):
    """`method.score(data)` with the wall seconds it took."""
    start = time.perf_counter()
    out = method.score(data)
    out["seconds"] = time.perf_counter() - start
    return out
