"""Faults: interrupted training resumes exactly (BackupAndRestore), and numerical extremes stay finite."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import callbacks, evaluate
from tfvb.models import CVAE, IWAE

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_workers")


# -- BackupAndRestore with every model -------------------------------------------------------------
def _regression(n=96, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, (x @ np.arange(1, d + 1) + 0.3 * rng.normal(size=n)).astype("float32")


def _bnn():
    from tfvb.models import BNNRegressor

    # Blundell's KL weights keep a step counter: custom state that must survive a restart.
    return BNNRegressor(hidden_units=(8,), input_dim=3, kl_weighting="blundell", seed=1)


def _mc_dropout():
    from tfvb.models import MCDropoutRegressor

    return MCDropoutRegressor(hidden_units=(8,), dropout_rate=0.1, seed=1)


FAMILIES = {
    "cvae": (lambda: CVAE(latent_dim=2, filters=(4, 8), seed=1), "images"),
    "iwae": (lambda: IWAE(k=3, latent_dim=2, hidden_units=(8,), seed=1), "images"),
    "bnn": (_bnn, "regression"),
    "mc_dropout": (_mc_dropout, "regression"),
}


class Interrupt(keras.callbacks.Callback):
    """Raise in the middle of an epoch, as a crash would stop the run there."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise RuntimeError("interrupted")


def _seed_states(model):
    return [g.state.numpy() for g in _all_seed_generators(model)]


def _all_seed_generators(model):
    found = list(model._seed_generators)
    for layer in model._flatten_layers(include_self=False):
        found += list(layer._seed_generators)
    return found


@pytest.mark.parametrize("name", [
    "cvae", "iwae", "bnn", "mc_dropout"])
def test_backup_and_restore_resumes_exactly(name, binary_images, tmp_path):
    factory, kind = FAMILIES[name]
    x, y = (binary_images[:96], None) if kind == "images" else _regression()
    extra = [callbacks.KLWarmup(epochs=2)] if kind == "images" else []

    def run(backup_dir, *more):
        # A fresh model per run, as after a restart (and Keras' train function is unusable after an
        # exception inside fit); the same initial weights for every run.
        model = factory()
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        if name == "mc_dropout":
            model.adapt(x, y)
        model.set_weights(initial)
        history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0,
                            callbacks=[keras.callbacks.BackupAndRestore(str(backup_dir))] + extra + list(more))
        return model, history

    template = factory()
    if name == "mc_dropout":
        template.adapt(x, y)
    initial = template.get_weights()
    straight, straight_history = run(tmp_path / "straight")
    with pytest.raises(RuntimeError, match="interrupted"):
        run(tmp_path / "resumable", Interrupt(epoch=1, batch=1))
    with open(tmp_path / "resumable" / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == 1  # the backup of the end of epoch 0
    resumed, resumed_history = run(tmp_path / "resumable")
    assert resumed_history.epoch == [1, 2]
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7, err_msg=a.path)
    for a, b in zip(_seed_states(straight), _seed_states(resumed)):
        np.testing.assert_array_equal(a, b)
    # The last epoch's metrics too: the same batches, noise and state.
    for key, values in straight_history.history.items():
        np.testing.assert_allclose(resumed_history.history[key][-1], values[-1], rtol=1e-5, err_msg=key)


def test_seed_state_round_trips_and_files_without_it_still_load(tmp_path, monkeypatch):
    from tfvb.models._vae_base import LatentVariableModel

    model = CVAE(latent_dim=2, filters=(4, 8), seed=1)
    model.seed_generator.state.assign([1, 41])
    model.beta.assign(0.25)
    model.save(tmp_path / "new.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "new.keras").seed_generator.state.numpy(), [1, 41])
    # A file written before seed states were saved (plain Keras) loads; its generator starts from `seed`.
    monkeypatch.setattr(LatentVariableModel, "save_own_variables", keras.Model.save_own_variables)
    model.save(tmp_path / "old.keras")
    monkeypatch.undo()
    old = keras.saving.load_model(tmp_path / "old.keras")
    assert float(old.beta) == 0.25
    np.testing.assert_array_equal(old.seed_generator.state.numpy(), [1, 0])


def _wait_for(path, proc, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise AssertionError(f"the training process exited early ({proc.returncode}): {proc.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {os.path.basename(path)} after {timeout} s")
        time.sleep(0.2)


def _run_worker(args, timeout):
    proc = subprocess.Popen([sys.executable, os.path.join(WORKERS, "resumable_training.py"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, start_new_session=True)
    return proc


@pytest.mark.slow
def test_a_killed_training_process_resumes_where_an_uninterrupted_run_ends(tmp_path):
    backup, first, second = tmp_path / "backup", tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    proc = _run_worker([str(backup), str(first), "--hang-at", "2", "1"], timeout=300)
    try:
        _wait_for(first / "hanging", proc, timeout=300)
        os.killpg(proc.pid, signal.SIGKILL)  # no cleanup, no final save: as a lost machine
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
    with open(backup / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == 2
    proc = _run_worker([str(backup), str(second)], timeout=300)
    try:
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output[-3000:]
    with np.load(second / "final.npz") as f:
        resumed = dict(f)
    assert int(resumed["epochs_run"]) == 2  # epochs 2 and 3: it resumed, it did not start over
    assert not backup.exists()  # deleted once training completed

    # The same run, uninterrupted, here.
    sys.path.insert(0, WORKERS)
    try:
        import resumable_training as recipe
    finally:
        sys.path.remove(WORKERS)
    model = recipe.make_model()
    with np.load(first / "initial.npz") as initial:
        model.set_weights([initial[f"w{i}"] for i in range(len(initial.files))])
    history = model.fit(recipe.training_data(), batch_size=recipe.BATCH, epochs=recipe.EPOCHS, shuffle=False,
                        verbose=0, callbacks=[callbacks.KLWarmup(epochs=2)])
    np.testing.assert_array_equal(resumed["seed_state"], model.seed_generator.state.numpy())
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(resumed[f"w{i}"], w, rtol=1e-5, atol=1e-6)
    for key, values in history.history.items():
        np.testing.assert_allclose(resumed[f"log_{key}"], values[-1], rtol=1e-5, err_msg=key)


# -- NaN, inf and the models' own guards -----------------------------------------------------------
def test_terminate_on_nan_stops_training_at_the_first_bad_batch(binary_images):
    model = CVAE(latent_dim=2, filters=(4, 8), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    # The last (linear) layer: a NaN before a ReLU can come out as 0 with oneDNN's kernels.
    kernel = model.decoder.layers[-1].kernel
    kernel.assign(tf.fill(kernel.shape, float("nan")))
    seen = []
    history = model.fit(binary_images[:128], batch_size=32, epochs=3, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN(),
                                   keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))])
    assert model.stop_training and seen == [0]
    assert len(history.epoch) == 1


def _finite_step(model, x):
    """One train step: loss, metrics and every updated weight finite."""
    logs = model.train_on_batch(x, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert all(np.all(np.isfinite(v.numpy())) for v in model.trainable_variables)
    return logs


@pytest.mark.parametrize("gradient", ["iwae", "dreg"])
def test_iwae_with_5000_samples_in_float32_is_finite(gradient, binary_images):
    model = IWAE(k=5000, latent_dim=4, hidden_units=(8,), gradient=gradient, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-4))
    x = binary_images[:2]
    logs = _finite_step(model, x)
    assert logs["iwae_bound"] >= logs["elbo"]
    assert np.isfinite(evaluate.log_likelihood(model, x, k=5000, verbose=0).mean)


def test_extreme_decoder_logits_give_finite_losses(binary_images):
    model = CVAE(latent_dim=2, filters=(4, 8), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    out = model.decoder.layers[-1].bias
    x = binary_images[:8]
    for bias in (1e4, -1e4):
        out.assign(tf.fill(out.shape, bias))
        logs = _finite_step(model, x)
        # -log p(x|z) ~ |logit| for every pixel on the wrong side: huge, but finite.
        mismatched = (x < 0.5).sum(axis=(1, 2, 3)) if bias > 0 else (x > 0.5).sum(axis=(1, 2, 3))
        assert logs["reconstruction"] == pytest.approx(1e4 * mismatched.mean(), rel=0.01)


@pytest.mark.parametrize("name, logvar", [("cvae", -1e4), ("iwae", -1e4), ("iwae", 1e4)])
def test_collapsed_or_exploding_posterior_scale_is_clipped(name, logvar, binary_images):
    model = CVAE(latent_dim=2, filters=(4, 8), seed=1) if name == "cvae" else IWAE(k=5, latent_dim=2,
                                                                                    hidden_units=(8,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    head = model.encoder.layers[-1]
    head.kernel.assign(tf.zeros_like(head.kernel))
    head.bias.assign(tf.concat([tf.zeros(model.latent_dim), tf.fill([model.latent_dim], logvar)], 0))
    _finite_step(model, binary_images[:8])
    _, clipped = model.encode(binary_images[:2])
    assert np.all(clipped.numpy() == (-30.0 if logvar < 0 else 20.0))


def test_bnn_with_a_collapsed_posterior_sigma_is_finite():
    from tfvb.models import BNNRegressor

    x, y = _regression(32)
    model = BNNRegressor(hidden_units=(8,), input_dim=3, posterior_sigma_init=1e-30, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.fit(x, y, batch_size=32, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs


def test_a_step_too_large_for_memory_says_what_fits(binary_images, monkeypatch):
    from tfvb.models import _vae_base

    monkeypatch.setattr(_vae_base, "available_memory", lambda: 1 << 30)  # a machine with 1 GiB free
    x = binary_images[:2]
    model = IWAE(k=100_000, latent_dim=2, hidden_units=(4,), seed=0)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"Expected a step of IWAE that fits in memory \(1.0 GB available\). "
                                         r"Received: k=100000 samples x 2 images x 784 values, about 3.5 GB; "
                                         r"k=100000 does not fit even one image per batch; k=57065 does"):
        model.fit(x, batch_size=2, epochs=1, verbose=0)
    model = IWAE(k=30_000, latent_dim=2, hidden_units=(4,), seed=0)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"at most 1 images per batch fit at k=30000"):
        model.evaluate(x, batch_size=2, verbose=0)
    assert np.all(np.isfinite(model.evaluate(x[:1], batch_size=1, verbose=0)))  # one image per step fits
