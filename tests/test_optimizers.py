"""`tfvb.optimizers.Adam`: Keras' Adam, the same numbers, one fused kernel per variable.

The reference is `keras.optimizers.Adam` itself, run on the same model, data
and seed: weights and optimizer state must agree to float32 rounding after
several epochs, with and without the options Keras applies around the update
(schedules, weight decay, clipping, EMA). One step from zero moments is also
checked against Adam's closed form.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvb
from tfvb import optimizers
from tfvb.models import IWAE, BNNClassifier, DeepEnsemble, MCDropoutRegressor


def _regression(n=64, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))).astype("float32")


def _trained(adam, epochs=4, model=None, **kwargs):
    keras.utils.set_random_seed(0)
    model = model or keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="tanh"),
                                       keras.layers.Dense(1)])
    model.compile(optimizer=adam(**kwargs), loss="mse")
    x, y = _regression()
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, shuffle=False)
    return model


def _max_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(p) - np.asarray(q)))) for p, q in zip(a, b))


OPTIONS = {
    "defaults": {},
    "schedule": {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.01, 3, 0.5)},
    "weight_decay_and_clipnorm": {"learning_rate": 0.05, "weight_decay": 0.01, "clipnorm": 0.5},
    "global_clipnorm_and_epsilon": {"learning_rate": 0.02, "global_clipnorm": 0.1, "epsilon": 1e-4},
    "ema": {"use_ema": True, "ema_momentum": 0.9},
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_training_follows_keras_adam(options):
    ours, theirs = _trained(optimizers.Adam, **options), _trained(keras.optimizers.Adam, **options)
    assert _max_difference(ours.get_weights(), theirs.get_weights()) < 1e-5
    assert [v.shape for v in ours.optimizer.variables] == [v.shape for v in theirs.optimizer.variables]
    state = lambda m: [v.numpy() for v in m.optimizer.variables]  # noqa: E731
    assert _max_difference(state(ours), state(theirs)) < 1e-5
    assert int(ours.optimizer.iterations) == int(theirs.optimizer.iterations) == 16


def test_one_step_is_adams_closed_form():
    # From zero moments, m = (1 - b1) g and v = (1 - b2) g^2, so the first step is
    # w1 = w0 - lr sqrt(1 - b2) g / (sqrt(1 - b2) |g| + eps).
    lr, b2, eps = 0.1, 0.999, 1e-3
    w0 = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    g = np.array([[0.3, -1e-4], [0.0, 2.0]], np.float32)
    w = keras.Variable(w0)
    adam = optimizers.Adam(lr, beta_2=b2, epsilon=eps)
    adam.apply([tf.constant(g)], [w])
    expected = w0 - lr * np.sqrt(1 - b2) * g / (np.sqrt(1 - b2) * np.abs(g) + eps)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_what_the_kernel_does_not_cover_runs_keras_update_unchanged():
    # amsgrad: Keras' own update, to the bit.
    ours, theirs = _trained(optimizers.Adam, amsgrad=True), _trained(keras.optimizers.Adam, amsgrad=True)
    assert _max_difference(ours.get_weights(), theirs.get_weights()) == 0.0

    # Sparse gradients (an Embedding's IndexedSlices): Keras' update for that variable.
    def embedding_model():
        return keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 4),
                                 keras.layers.Flatten(), keras.layers.Dense(1)])

    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 10, size=(32, 3)).astype("int32"), rng.normal(size=(32, 1)).astype("float32")
    trained = []
    for adam in (optimizers.Adam, keras.optimizers.Adam):
        keras.utils.set_random_seed(0)
        model = embedding_model()
        model.compile(optimizer=adam(0.01), loss="mse")
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
        trained.append(model.get_weights())
    assert _max_difference(*trained) < 1e-5


def test_saved_models_load_with_the_fused_optimizer_and_train_on_identically(tmp_path):
    model = _trained(optimizers.Adam, learning_rate=0.01, epsilon=1e-4)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is optimizers.Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    x, y = _regression(seed=2)
    for m in (model, loaded):
        m.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    assert _max_difference(model.get_weights(), loaded.get_weights()) < 1e-6


def test_optimizer_state_is_interchangeable_with_keras_adam():
    # A run backed up with Keras' Adam resumes with this one (and back): same variables, same order.
    ours, theirs = _trained(optimizers.Adam, epochs=1), _trained(keras.optimizers.Adam, epochs=1)
    layout = lambda m: [(v.path.rsplit("/", 1)[-1].rsplit("_", 1)[-1], tuple(v.shape))  # noqa: E731
                        for v in m.optimizer.variables]
    assert layout(ours) == layout(theirs)
    assert len(layout(ours)) == 2 + 2 * len(ours.trainable_variables)  # iterations, learning rate, m and v


@pytest.mark.parametrize("make", [lambda: IWAE(k=1, seed=0),
                                  lambda: BNNClassifier(3, hidden_units=(4,), num_examples=10, seed=0),
                                  lambda: MCDropoutRegressor(hidden_units=(4,), seed=0),
                                  lambda: DeepEnsemble(lambda: keras.Sequential([keras.Input((3,)),
                                                                                 keras.layers.Dense(1)]), n=2)],
                         ids=["iwae", "bnn", "mc_dropout", "deep_ensemble"])
def test_tfvb_models_take_adam_by_name_as_the_fused_optimizer(make):
    model = make()
    loss = {"loss": "mse"} if isinstance(model, DeepEnsemble) else {}  # an ensemble compiles like its members
    model.compile(optimizer="adam", **loss)
    assert type(model.optimizer) is optimizers.Adam
    assert model.optimizer.get_config() == keras.optimizers.Adam().get_config() | {"name": model.optimizer.name}
    model = make()
    model.compile(optimizer=keras.optimizers.Adam(), **loss)  # an instance is the user's choice: kept
    assert type(model.optimizer) is keras.optimizers.Adam


def test_tfvb_model_trains_as_with_keras_adam(binary_images):
    x = binary_images[:64]
    weights = []
    for adam in (optimizers.Adam, keras.optimizers.Adam):
        keras.utils.set_random_seed(0)
        model = IWAE(k=2, seed=0)
        model.compile(optimizer=adam(1e-3, epsilon=1e-4))
        model.fit(x, epochs=2, batch_size=32, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    assert _max_difference(*weights) < 1e-5


def test_mixed_precision_loss_scaling_wraps_the_fused_optimizer():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        ours = _trained(optimizers.Adam, learning_rate=0.01)
        theirs = _trained(keras.optimizers.Adam, learning_rate=0.01)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert isinstance(ours.optimizer, keras.optimizers.LossScaleOptimizer)
    assert type(ours.optimizer.inner_optimizer) is optimizers.Adam
    assert all(np.isfinite(w).all() for w in ours.get_weights())
    assert _max_difference(ours.get_weights(), theirs.get_weights()) < 1e-3  # float16 forward passes


def test_registered_under_the_tfvb_package():
    assert keras.saving.get_registered_name(optimizers.Adam) == "tfvb>Adam"
    assert tfvb.optimizers.Adam is optimizers.Adam
