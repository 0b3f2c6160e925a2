"""`fit`'s lean train function (`tfvb.models._train_function`): the same steps as Keras' own, and Keras' own
wherever the lean one does not apply (unknown epoch size, steps_per_execution, distribution, run_eagerly)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import data
from tfvb.models import IWAE, BNNClassifier, BNNRegressor, _train_function


@pytest.fixture
def keras_calls(monkeypatch):
    """Counts the steps that went through Keras' own train function."""
    calls = []
    real = keras.Model.make_train_function

    def counted(self, force=False):
        real(self, force)
        keras_function = self.train_function

        def function(iterator):
            calls.append(1)
            return keras_function(iterator)

        self.train_function = function
        return function

    monkeypatch.setattr(keras.Model, "make_train_function", counted)
    return calls


def _iwae():
    keras.utils.set_random_seed(0)
    model = IWAE(k=2, latent_dim=2, hidden_units=(8,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def _fit(images, **kwargs):
    model = _iwae()
    model.fit(data.image_dataset(images, batch_size=64, seed=3), epochs=2, verbose=0, **kwargs)
    return model


def test_the_lean_steps_train_exactly_as_keras_steps(mnist_sample, keras_calls, monkeypatch):
    images = mnist_sample[0][:200]
    lean = _fit(images)
    assert keras_calls == []  # an image_dataset's steps are known: the lean function ran them
    monkeypatch.setattr(_train_function.LeanTrainFunction, "make_train_function",
                        lambda self, force=False: keras.Model.make_train_function(self, force))
    plain = _fit(images)
    assert len(keras_calls) == 8  # 2 epochs of 4 batches through Keras' function
    for u, v in zip(lean.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_keras_function_runs_where_the_lean_one_does_not_apply(mnist_sample, keras_calls):
    images = (mnist_sample[0][:128] > 0.5).astype("float32")
    model = _iwae()
    model.fit(images, batch_size=64, epochs=1, verbose=0)  # arrays: known steps, lean
    assert keras_calls == []
    unknown = tf.data.Dataset.from_tensor_slices(images).filter(lambda x: True).batch(64)
    with pytest.warns(UserWarning, match="ran out of data"):  # Keras' own end-of-data path, as without tfvb
        model.fit(unknown, epochs=1, verbose=0)
    assert len(keras_calls) == 3  # 2 batches and the call that finds the end
    bnn = BNNClassifier(10, hidden_units=(8,), seed=0)
    bnn.compile(optimizer="adam", steps_per_execution=2)
    bnn.fit(mnist_sample[0][:128], mnist_sample[1][:128], batch_size=32, epochs=1, verbose=0)
    assert len(keras_calls) == 5  # 4 batches in 2 executions of 2 steps
    eager = _iwae()
    eager.compile(optimizer="adam", run_eagerly=True)
    eager.fit(images, batch_size=64, epochs=1, verbose=0)
    assert len(keras_calls) == 7


def test_several_steps_per_execution_make_the_same_updates_as_one(rng):
    """Keras' `steps_per_execution` only groups the steps into fewer calls: the weights after `fit` (a last group
    shorter than the others included) are those of one step per call, weight noise and data order too."""
    x = rng.normal(size=(100, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], "float32") + 0.1 * rng.normal(size=100)).astype("float32")
    weights = []
    for steps in (1, 3):
        keras.utils.set_random_seed(0)
        model = BNNRegressor(hidden_units=(8,), layer="flipout", input_dim=3, seed=0)
        model.compile(optimizer="adam", steps_per_execution=steps)
        model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=True)  # 4 steps an epoch: groups of 3 and 1
        weights.append(model.get_weights())
    for u, v in zip(*weights):
        np.testing.assert_array_equal(u, v)


def test_the_lean_function_follows_each_new_iterator(mnist_sample):
    """A model fitted again on other data (another iterator, another element shape) traces for it."""
    model = _iwae()
    model.fit(data.image_dataset(mnist_sample[0][:128], batch_size=64), epochs=1, verbose=0)
    flat = (mnist_sample[0][128:256].reshape(128, 28, 28, 1) > 0.5).astype("float32")
    history = model.fit(flat, batch_size=32, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))


def test_a_model_under_a_distribution_strategy_keeps_keras_function(mnist_sample, keras_calls):
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = _iwae()
    model.fit(data.image_dataset(mnist_sample[0][:128], batch_size=64), epochs=1, verbose=0)
    assert len(keras_calls) == 2
