"""keras-tuner HyperModels: a tiny RandomSearch per family, best-model reload, chief/worker search."""

import json
import os
import signal
import subprocess
import sys

import keras
import keras_tuner
import numpy as np
import pytest

from tfvb import data, tuning

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_workers")


def _images(mnist_sample):
    x = data.binarize_fixed(mnist_sample[0][:384], seed=0)
    return x[:256], x[256:]


def _regression(n=300, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ np.arange(1, d + 1) + 0.3 * rng.normal(size=n)).astype("float32")
    return (x[:200], y[:200]), (x[200:], y[200:])


def _case(family, mnist_sample):
    """(hypermodel, fit kwargs, validation data) with a search space of tiny models."""
    if family in ("cvae", "iwae"):
        train, val = _images(mnist_sample)
        if family == "cvae":
            hm = tuning.CVAEHyperModel(space={"latent_dim": [2, 4], "filters": 4, "kl_warmup_epochs": [0, 2],
                                              "learning_rate": 1e-2}, seed=1)
        else:
            hm = tuning.IWAEHyperModel(eval_k=20, space={"k": [1, 5], "latent_dim": 4, "units": 16, "num_layers": 1,
                                                           "learning_rate": 1e-2}, seed=1)
        return hm, {"x": train, "batch_size": 32}, (val,)
    if family == "bnn":
        train, val = _images(mnist_sample)
        labels = mnist_sample[1]
        hm = tuning.BNNClassifierHyperModel(10, space={"units": 16, "num_layers": 1}, seed=1)
        return hm, {"x": train, "y": labels[:256], "batch_size": 64}, (val, labels[256:384])
    (x, y), (xv, yv) = _regression()
    if family == "bnn_regressor":
        hm = tuning.BNNRegressorHyperModel(3, space={"units": 16, "num_layers": 1}, seed=1)
    else:
        hm = tuning.MCDropoutHyperModel(3, space={"units": 16, "num_layers": 1}, seed=1)
    return hm, {"x": x, "y": y, "batch_size": 32}, (xv, yv)


def _objective_value(hm, model, val):
    """The objective the tuner recorded, recomputed on the validation data."""
    if hm.objective.name == "val_log_likelihood":
        return tuning.ValidationLogLikelihood(val[0], hm.eval_k).estimate(model)
    logs = model.evaluate(*val, verbose=0, return_dict=True)
    return logs[hm.objective.name[len("val_"):]]


# A VAE sweep by default (about 15 s); every hypermodel family with -m slow.
@pytest.mark.parametrize("family", ["cvae", pytest.param("iwae", marks=pytest.mark.slow),
                                    pytest.param("bnn", marks=pytest.mark.slow),
                                    pytest.param("bnn_regressor", marks=pytest.mark.slow),
                                    pytest.param("mc_dropout", marks=pytest.mark.slow)])
def test_random_search_runs_and_reloads_the_best_model(family, mnist_sample, tmp_path):
    keras.utils.set_random_seed(0)  # fit's shuffling: one epoch at lr 1e-2 otherwise varies run to run
    hm, fit_kwargs, val = _case(family, mnist_sample)
    tuner = keras_tuner.RandomSearch(hm, objective=hm.objective, max_trials=2, seed=0, overwrite=True,
                                     directory=str(tmp_path), project_name=family)
    tuner.search(**fit_kwargs, validation_data=val, epochs=1, verbose=0)
    trials = tuner.oracle.get_best_trials(2)
    assert len(trials) == 2 and all(np.isfinite(t.score) for t in trials)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best = tuner.get_best_models(1)[0]
    fresh = hm.build(best_hp)
    config = {k: v for k, v in best.get_config().items() if k != "name"}
    assert type(best) is type(fresh) and config == {k: v for k, v in fresh.get_config().items() if k != "name"}
    # Reloaded from the trial's checkpoint, not freshly initialized.
    assert any(not np.array_equal(a, b) for a, b in zip(best.get_weights(), fresh.get_weights()))
    if family in ("cvae", "iwae"):  # one epoch at a fixed, large learning rate: far better than untrained
        assert _objective_value(hm, best, val) > _objective_value(hm, fresh, val) + 20
    # The objective recomputed on the reloaded model matches the recorded score; the
    # tolerance is the spread of repeated (Monte Carlo) evaluations (IWAE's is seeded: exact).
    values = np.array([_objective_value(hm, best, val) for _ in range(6)])
    tolerance = 5 * values.std(ddof=1) + 1e-4 * abs(trials[0].score)
    assert abs(values.mean() - trials[0].score) < tolerance, (values, trials[0].score)


def test_search_space_overrides_and_errors():
    hm = tuning.CVAEHyperModel(space={"latent_dim": 7, "learning_rate": [1e-3]})
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert model.latent_dim == 7 and hp.values["latent_dim"] == 7
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    # keras-tuner's own override: a HyperParameters entry registered before build wins.
    hp = keras_tuner.HyperParameters()
    hp.Fixed("latent_dim", 3)
    assert tuning.CVAEHyperModel().build(hp).latent_dim == 3
    with pytest.raises(ValueError, match=r"Expected hyperparameter names among .*Received: \['latnet_dim'\]"):
        tuning.CVAEHyperModel(space={"latnet_dim": [2]})
    with pytest.raises(ValueError, match="Expected a non-empty list of choices for 'k'. Received: \\[\\]"):
        tuning.IWAEHyperModel(space={"k": []}).build(keras_tuner.HyperParameters())


def test_bnn_prior_hyperparameters_are_conditional():
    hm = tuning.BNNRegressorHyperModel(2, space={"prior": "scale_mixture", "pi": 0.25, "neg_log_sigma2": 7})
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert model.prior.pi == 0.25 and model.prior.sigma2 == pytest.approx(np.exp(-7))
    assert "prior_sigma" not in hp.values  # only the active branch's hyperparameters
    hp = keras_tuner.HyperParameters()
    model = tuning.BNNRegressorHyperModel(2, space={"prior": "normal", "prior_sigma": 0.1}).build(hp)
    assert model.prior.sigma == pytest.approx(0.1) and "pi" not in hp.values


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_distributed_search_with_a_chief_and_two_workers_records_every_trial_once(tmp_path):
    """keras-tuner's chief/worker mode: the oracle is served over gRPC on 127.0.0.1 to two worker tuners."""
    port = _free_port()
    script = os.path.join(WORKERS, "tuner_process.py")
    procs, logs = {}, []
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            env = {**os.environ, "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": "127.0.0.1",
                   "KERASTUNER_ORACLE_PORT": str(port), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
            log = open(tmp_path / f"{tuner_id}.log", "w")  # closed below, after the processes
            logs.append(log)
            procs[tuner_id] = subprocess.Popen([sys.executable, script, str(tmp_path)], env=env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)
        for tuner_id, proc in procs.items():
            rc = proc.wait(timeout=600)
            assert rc == 0, (tmp_path / f"{tuner_id}.log").read_text()[-3000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()
    # Every trial is on disk once, completed, with its own configuration.
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "distributed").glob("trial_*/trial.json"))]
    ids = [r["trial_id"] for r in records]
    assert len(ids) == len(set(ids)) == 3, ids
    assert all(r["status"] == "COMPLETED" for r in records), [r["status"] for r in records]
    configurations = {json.dumps(r["hyperparameters"]["values"], sort_keys=True) for r in records}
    assert len(configurations) == 3, configurations
    # The search is complete on disk: the oracle's state and the workers' checkpoints reload here.
    sys.path.insert(0, WORKERS)
    try:
        import tuner_process
    finally:
        sys.path.remove(WORKERS)
    tuner = tuner_process.make_tuner(str(tmp_path))
    trials = tuner.oracle.get_best_trials(3)
    assert len(trials) == 3 and all(t.status == "COMPLETED" and np.isfinite(t.score) for t in trials)
    assert tuner.get_best_models(1)[0].latent_dim == trials[0].hyperparameters.values["latent_dim"]


@pytest.mark.parametrize("objective", [None, "val_loss"])
def test_a_tuner_reloaded_from_its_directory_rebuilds_and_evaluates_its_best_model(objective, tmp_path):
    # N (the weight decay's, learned from the arrays given to search) is recorded in the trials: a tuner
    # made again from the directory (another process, a new HyperModel) could not build its best model. A
    # string objective (keras-tuner takes one) is accepted too.
    (x, y), (xv, yv) = _regression()
    for search in (True, False):
        hm = tuning.MCDropoutHyperModel(3, space={"units": 16, "num_layers": 1}, seed=1,
                                        **({} if objective is None else {"objective": objective}))
        tuner = keras_tuner.RandomSearch(hm, objective=hm.objective, max_trials=2, seed=0, overwrite=search,
                                         directory=str(tmp_path), project_name="reload")
        if search:
            tuner.search(x, y, batch_size=32, validation_data=(xv, yv), epochs=1, verbose=0)
            want = tuner.get_best_models(1)[0].get_weights()
    best = tuner.get_best_models(1)[0]
    assert best.num_examples == 200 and tuner.get_best_hyperparameters(1)[0].values["num_examples"] == 200
    for a, b in zip(best.get_weights(), want):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(best.evaluate(xv, yv, verbose=0, return_dict=True)["loss"])
    iwae = tuning.IWAEHyperModel(objective="val_log_likelihood", eval_k=5, space={"k": 2, "latent_dim": 2,
                                                                                  "units": 8, "num_layers": 1})
    images = np.random.default_rng(0).integers(0, 2, (32, 28, 28, 1)).astype("float32")
    iwae.fit(keras_tuner.HyperParameters(), iwae.build(keras_tuner.HyperParameters()), images,
             validation_data=(images[:8],), epochs=1, verbose=0)  # failed: 'str' object has no attribute 'name'
