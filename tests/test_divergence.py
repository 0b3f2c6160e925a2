"""A diverged run stops at its first non-finite loss, gives back its last finite state, and saves nothing else."""

import os

import keras
import numpy as np
import pytest

from tfvb import callbacks
from tfvb.models import BNNRegressor, MCDropoutRegressor


def _data(n=64):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, (x.sum(axis=1) * 1e3).astype("float32")


class BlowUpAt(keras.callbacks.Callback):
    """Record the state at the start of epoch `epoch`, then set a learning rate that overflows the loss."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.snapshot = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.snapshot = [v.numpy().copy() for v in self.model.weights]
            self.iterations = int(self.model.optimizer.iterations)
            self.model.optimizer.learning_rate.assign(1e6)


def _regressor():
    model = BNNRegressor(hidden_units=(4,), input_dim=3, seed=1)
    model.compile(optimizer=keras.optimizers.SGD(1e-6))
    return model


def test_fit_raises_at_the_first_non_finite_loss_and_restores_the_start_of_that_epoch(tmp_path):
    x, y = _data()
    model, blow_up = _regressor(), BlowUpAt(epoch=2)
    batches = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None: batches.append(batch))
    with pytest.raises(callbacks.TrainingDivergedError, match=r"diverged at epoch 3, batch \d+\. Expected a finite "
                                                              r"loss\. Received: loss=(inf|nan)") as info:
        model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[blow_up, count])
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, RuntimeError)
    assert "start of epoch 3 were restored" in str(info.value)
    assert len(batches) < 5 * 4  # it stopped; it did not run the remaining epochs
    for variable, value in zip(model.weights, blow_up.snapshot):
        np.testing.assert_array_equal(variable.numpy(), value, err_msg=variable.path)
    assert int(model.optimizer.iterations) == blow_up.iterations
    model.save(tmp_path / "restored.keras")  # the restored model is finite, so it saves


def test_raise_error_false_stops_with_a_warning_and_restores():
    x, y = _data()
    model, blow_up = _regressor(), BlowUpAt(epoch=1)
    guard = callbacks.TerminateOnNonFinite(raise_error=False)
    with pytest.warns(RuntimeWarning, match="diverged at epoch 2"):
        history = model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[blow_up, guard])
    assert len(history.epoch) == 2 and guard.diverged_at[0] == 1
    for variable, value in zip(model.weights, blow_up.snapshot):
        np.testing.assert_array_equal(variable.numpy(), value, err_msg=variable.path)


def test_keras_terminate_on_nan_keeps_its_own_behaviour():
    """A user who asked for Keras' TerminateOnNaN gets it: no error, no restore, and NaN weights refused later."""
    x, y = _data()
    model = _regressor()
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[BlowUpAt(epoch=0), keras.callbacks.TerminateOnNaN()])
    assert model.stop_training
    with pytest.raises(ValueError, match="Expected finite weights to predict with BNNRegressor"):
        model.predict_uncertainty(x[:2], samples=2)


def test_a_backup_keeps_the_last_good_epoch_and_a_rerun_resumes_from_it(tmp_path):
    x, y = _data()
    model = MCDropoutRegressor(hidden_units=(4,), seed=1)
    model.compile(optimizer=keras.optimizers.SGD(1e-6))
    backup = str(tmp_path / "backup")
    with pytest.raises(callbacks.TrainingDivergedError):
        model.fit(x, y, batch_size=16, epochs=4, verbose=0,
                  callbacks=[BlowUpAt(epoch=2), callbacks.BackupAndRestore(backup)])
    assert os.path.isdir(backup)  # not deleted: training did not complete
    rerun = MCDropoutRegressor(hidden_units=(4,), seed=1)
    rerun.compile(optimizer=keras.optimizers.SGD(1e-6))
    history = rerun.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)])
    assert history.epoch == [2, 3]  # resumed after the two good epochs
    assert np.isfinite(history.history["loss"]).all()


def _poisoned(model):
    """`model` with NaN in its first float variable (as a diverged run leaves it)."""
    variable = next(v for v in model.weights if "float" in str(v.dtype))
    variable.assign(np.full(variable.shape, np.nan, "float32"))
    return model


def _models():
    from tfvb.models import CVAE, IWAE, BNNClassifier, DeepEnsemble

    images = np.zeros((2, 28, 28, 1), "float32")
    regressor = _regressor()
    regressor(_data(2)[0])  # built
    ensemble = DeepEnsemble(lambda: keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), n=2)
    ensemble.compile(loss="mse")
    return [(CVAE(latent_dim=2, filters=(4, 8), seed=0), images), (IWAE(k=2, latent_dim=2, hidden_units=(4,)), images),
            (BNNClassifier(3, hidden_units=(4,), image_shape=(3,), seed=0), _data(2)[0]), (regressor, _data(2)[0]),
            (ensemble, _data(2)[0])]


@pytest.mark.parametrize("index", range(5))
def test_an_eager_call_or_encode_on_nan_weights_is_refused(index):
    model, x = _models()[index]
    model(x)  # finite weights: fine
    _poisoned(model)
    with pytest.raises(ValueError, match=f"Expected finite weights to call {type(model).__name__}. Received: NaN"):
        model(x)
    if hasattr(model, "encode"):
        with pytest.raises(ValueError, match="Expected finite weights to encode with"):
            model.encode(x)
        with pytest.raises(ValueError, match="Expected finite weights to decode with"):
            model.decode(np.zeros((2, 2), "float32"))
