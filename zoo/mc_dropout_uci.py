"""Zoo recipe: MC-dropout regressors on the UCI benchmark, entries `mc_dropout_uci_<dataset>`.

`train(dataset)` runs Gal's updated protocol on the standard split 0 of the
folder (grid search over the shipped dropout rates and tau values on an 80/20
split of the training rows, all grid points trained together), retrains the
chosen pair on the whole training split and returns it as an
`MCDropoutRegressor` that predicts in the targets' original units. Its test
scores are measured again on the returned model; the record carries the whole
protocol's table from `benchmarks/results/uci_<dataset>*.json` when they exist.
The protocol and its defaults are `tfvb.uci_protocol`'s.

    model, record = train("bostonHousing")            # or train("boston")
    model.predict_uncertainty(x, samples=10_000, seed=0)["mean"]

References:
    Gal, Ghahramani. Dropout as a Bayesian Approximation. ICML 2016.
    Hernández-Lobato, Adams. Probabilistic Backpropagation. ICML 2015 (the splits).
"""

import json
import os
import time

import numpy as np

from tfvb import paths

#: Zoo entry name -> UCI folder name.
ENTRIES = {
    "mc_dropout_uci_boston": "bostonHousing",
    "mc_dropout_uci_kin8nm": "kin8nm",
    "mc_dropout_uci_naval": "naval-propulsion-plant",
    "mc_dropout_uci_power": "power-plant",
    "mc_dropout_uci_protein": "protein-tertiary-structure",
    "mc_dropout_uci_wine": "wine-quality-red",
}
def _folder(dataset, data_root):
    name = ENTRIES.get(dataset, ENTRIES.get(f"mc_dropout_uci_{dataset}", dataset))
    root = data_root or paths.shared_data_dir()
    return name, os.path.join(root, "uci", name)


def _protocol_table(name):
    from tfvb.uci_protocol.results import RESULT_FILES, result_file

    tables = {}
    where = paths.benchmark_results_dir()
    for variant, multiplier, _ in RESULT_FILES:
        path = os.path.join(where, result_file(name, variant, multiplier)) if where else None
        if path and os.path.exists(path):
            with open(path) as f:
                s = json.load(f)
            tables[f"{variant}_{multiplier}x_epochs"] = {
                k: s[k] for k in ("splits_run", "rmse", "ll", "tuned", "seconds") if k in s}
    return tables


def _protocol_selection(name, epoch_multiplier, seed, samples, validation_samples, data):
    """(split 0's record, its file) of the protocol run with these settings in benchmarks/results, or (None, None)."""
    from tfvb.uci_protocol.results import RESULT_FILES, read_previous, result_file
    from tfvb.uci_protocol.settings import Protocol

    where = paths.benchmark_results_dir()
    if where is None or ("faithful", int(epoch_multiplier)) not in [(v, m) for v, m, _ in RESULT_FILES]:
        return None, None  # no run at this multiplier is kept: run the grid search here
    path = os.path.join(where, result_file(name, "faithful", int(epoch_multiplier)))
    wanted = Protocol.of(data, samples=samples, validation_samples=validation_samples,
                         epoch_multiplier=epoch_multiplier, seed=seed)
    try:
        records, _ = read_previous(path, wanted)
    except ValueError:  # another run's settings (or not a summary): run the grid search here
        return None, None
    split0 = [r for r in records if r.get("split") == 0]
    return (split0[0], os.path.relpath(path, paths.checkout_root())) if split0 else (None, None)


def train(dataset, seed=0, quick=False, data_root=None, epoch_multiplier=None, reuse_selection=True):
    """Train the zoo entry for `dataset` (folder name, entry name or short name) on split 0.

    `epoch_multiplier` x the folder's n_epochs epochs (default the protocol's,
    100: the setting of Gal's published table, his repository's
    `*_100_xepochs_*` runs; 10 is the protocol as written). With
    `reuse_selection`, when the faithful run kept at this multiplier
    (`benchmarks/results/uci_<dataset>_100x.json` at 100 x, see
    `tfvb.uci_protocol.RESULT_FILES`) holds split 0 of a protocol
    run with the same settings, its grid-search choice is taken and only the
    final networks are trained (the same networks and seeds as in that run);
    otherwise the grid search runs here. `quick=True` shrinks the epochs, the
    grid (2 points) and the MC samples to finish in well under a minute: a
    smoke test, not the entry.
    """
    import keras

    from tfvb.data import uci
    from tfvb.evaluate import regression_scores
    from tfvb.uci_protocol import MC_DROPOUT_ANCHORS, Protocol, grid_search_split, settings

    name, folder = _folder(dataset, data_root)
    data = uci(folder, split=0)
    epoch_multiplier = settings.EPOCH_MULTIPLIER if epoch_multiplier is None else epoch_multiplier
    grid, epochs = {}, None
    samples, validation_samples = settings.SAMPLES, settings.VALIDATION_SAMPLES
    if quick:
        epochs = 2 if len(data.x_train) > 5000 else 10
        grid = {"dropout_rates": data.dropout_rates[1:3], "taus": data.tau_values[:1]}
        samples, validation_samples = 200, 50
    protocol = Protocol.of(data, samples=samples, validation_samples=validation_samples,
                           epoch_multiplier=epoch_multiplier, epochs=epochs, seed=seed, **grid)
    selection, source = None, None
    if reuse_selection and not quick:
        selection, source = _protocol_selection(name, epoch_multiplier, seed, samples, validation_samples, data)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    split_record, final, index = grid_search_split(data, protocol, selection=selection)
    train_seconds = time.perf_counter() - start
    model = final.regressor(index)
    s = model.predict_samples(data.x_test, samples=samples, seed=seed)
    scores = regression_scores(data.y_test, s["mean"], tau=model.tau)
    coverage = _split0_coverage(s, data.y_test, seed)
    record = {
        "constructor": {k: v for k, v in model.get_config().items()
                        if k in ("hidden_units", "dropout_rate", "tau", "lengthscale", "num_examples",
                                 "heteroscedastic", "output_dim", "seed")},
        "data": (
            f"UCI {name} (shared/data/uci, the benchmark's standard split 0): trained on its "
            f"{len(data.x_train)} training rows, scored on its {len(data.x_test)} test rows. Dropout rate "
            f"and tau chosen by validation log-likelihood on an 80/20 split of the training rows over "
            f"p in {list(grid.get('dropout_rates', data.dropout_rates))} x tau in "
            f"{list(grid.get('taus', data.tau_values))}; inputs and target standardized with the "
            f"training rows' statistics, stored in the model (it predicts in original units)."
        ),
        "epochs": protocol.epochs,
        "epoch_multiplier": protocol.epoch_multiplier,
        "batch_size": 128,
        "seed": seed,
        "selection": (
            f"grid-search choice of split 0 taken from {source} (the protocol run, same settings and seed); "
            f"only the final networks were trained here" if source else "grid search run by this recipe"),
        "train_seconds": train_seconds,
        "metrics": {
            "test_rmse": scores["rmse"],
            "test_ll": scores["ll"],
            "test_ll_gaussian": scores["ll_gaussian"],
            "mc_samples": samples,
            "protocol_split0": {k: split_record[k] for k in ("rmse", "ll", "validation_ll", "tuned")},
            "protocol_split0_in_the_protocol_run": (
                {k: selection[k] for k in ("rmse", "ll")} if selection else None),
            "protocol_table": _protocol_table(name),
            "coverage_split0": coverage,
            "coverage_protocol": _protocol_coverage(name),
        },
        "anchors": {"gal_updated": MC_DROPOUT_ANCHORS.get(name),
                    "note": "mean and standard error over all splits; split 0 alone varies more"},
        "golden_inputs": np.asarray(data.x_test[:8], dtype=np.float32),
        "notes": (
            "MC dropout (Gal & Ghahramani 2016), Gal's updated UCI protocol: 1 hidden layer of "
            f"{data.n_hidden} ReLU units, dropout before every dense layer and kept on at prediction, "
            "weight decay l^2 (1-p)/(2 N tau) with l = 1e-2, Adam 1e-3, batch 128. The 12 grid networks "
            f"trained together as one batched model (tfvb.uci_protocol.MCDropoutGrid); validation LL from "
            f"{validation_samples} MC passes, test scores from {samples}. Predictions are stochastic: "
            "compare golden outputs with `model.predict_uncertainty(x, samples=1000, seed=0)`, which is "
            "deterministic, not with `model.predict`." + (" QUICK smoke run, not the entry." if quick else "")
        ),
    }
    return model, record


def _split0_coverage(draws, y, seed):
    """Interval coverage on split 0's test rows (`tfvb.uci_protocol.split_coverage`) from the MC draws."""
    from tfvb.uci_protocol import split_coverage
    from tfvb.uncertainty import regression_uncertainty

    u = regression_uncertainty(draws["mean"], draws["variance"])
    return split_coverage(u["mean"], u["variance"], y, seed=seed)


def _protocol_coverage(name):
    """The coverage summary over the protocol's splits, from the kept 100 x run when it reports one."""
    from tfvb.uci_protocol.results import result_file

    where = paths.benchmark_results_dir()
    path = os.path.join(where, result_file(name, "faithful", 100)) if where else None
    if not (path and os.path.exists(path)):
        return None
    with open(path) as f:
        return json.load(f).get("coverage")


def evaluate_stored(model, data_root=None, dataset="bostonHousing", seed=0, card=None):
    """Split 0's test scores and interval coverage of a stored entry, measured again: (metrics, data, None).

    For `tfvb zoo evaluate`: the card keeps its training record and gets
    these numbers (`coverage_split0`: Gaussian and conformal 90 % / 95 %
    intervals on split 0's test rows; `coverage_protocol`: the same over the
    protocol's splits when its kept run reports them).
    """
    from tfvb.data import uci
    from tfvb.evaluate import regression_scores
    from tfvb.uci_protocol import settings

    name, folder = _folder(dataset, data_root)
    data = uci(folder, split=0)
    s = model.predict_samples(data.x_test, samples=settings.SAMPLES, seed=seed)
    scores = regression_scores(data.y_test, s["mean"], tau=model.tau)
    metrics = {**((card or {}).get("metrics") or {}), "test_rmse": scores["rmse"], "test_ll": scores["ll"],
               "test_ll_gaussian": scores["ll_gaussian"], "mc_samples": settings.SAMPLES,
               "coverage_split0": _split0_coverage(s, data.y_test, seed),
               "coverage_protocol": _protocol_coverage(name)}
    description = (card or {}).get("data") or (
        f"UCI {name} (shared/data/uci, the benchmark's standard split 0): trained on its "
        f"{len(data.x_train)} training rows, scored on its {len(data.x_test)} test rows")
    return metrics, description, None


def protocol(dataset="bostonHousing", data_root=None, splits=None, jobs=1, epoch_multiplier=None, json_path=None,
             resume=False, seed=0, log=None):
    """Gal's whole UCI protocol on the entry's data set (`tfvb.uci_protocol.uci_benchmark`): its summary.

    The settings are the protocol's defaults, the ones this recipe trains
    with (T = 10,000 test passes, 1,000 on the validation rows, 100 x
    n_epochs epochs unless `epoch_multiplier` says otherwise), so the
    protocol's split 0 repeats the entry's own grid search.
    """
    from tfvb.uci_protocol import settings, uci_benchmark

    _, folder = _folder(dataset, data_root)
    epoch_multiplier = settings.EPOCH_MULTIPLIER if epoch_multiplier is None else epoch_multiplier
    return uci_benchmark(folder, splits=splits, jobs=jobs, json_path=json_path, resume=resume,
                         epoch_multiplier=epoch_multiplier, seed=seed, log=log)


def benchmark(model, limit=None, data_root=None, dataset="bostonHousing"):
    """Re-measure split 0's test RMSE and log-likelihood (original units) with the stored model."""
    from tfvb.data import uci
    from tfvb.evaluate import regression_scores

    _, folder = _folder(dataset, data_root)
    d = uci(folder, split=0)
    x, y = d.x_test[:limit], d.y_test[:limit]
    s = model.predict_samples(x, samples=1000, seed=0)
    scores = regression_scores(y, s["mean"], var_samples=s["variance"])
    return {"test_rmse": float(scores["rmse"]), "test_ll": float(scores["ll"])}
