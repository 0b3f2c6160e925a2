"""What the models accept instead of refusing: one-hot labels, Python lists, sample weights (honoured).

Each input a user may reasonably give is checked to mean what it says:
one-hot labels train exactly as the integer labels they encode (also with
batch_size == num_classes, where they used to broadcast), nested lists as
the array they spell, and a VAE's sample weights weigh its ELBO.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import evaluate
from tfvb.models import CVAE, IWAE, BNNClassifier, BNNRegressor, MCDropoutClassifier

_INITIAL = {}


def _weights_after_fit(make, x, y, **kwargs):
    """Weights after one epoch from the same initial weights for every call with the same `make`."""
    model = make()
    if not model.built:  # MC dropout learns its input size (and N) from the data
        model.adapt(x, y)
    _INITIAL.setdefault(make, model.get_weights())
    model.set_weights(_INITIAL[make])
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, y, epochs=1, shuffle=False, verbose=0, **kwargs)
    return [w.numpy() for w in model.weights]


def _bayesianized():
    import tfvb

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(10)])
    net.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return tfvb.bayesianize(net, seed=3)


@pytest.mark.parametrize("make", [
    lambda: BNNClassifier(10, hidden_units=(8,), seed=3),
    lambda: MCDropoutClassifier(10, hidden_units=(8,), seed=3),
    _bayesianized,
], ids=["bnn", "mc_dropout", "bayesianized"])
@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_one_hot_labels_train_exactly_as_the_integer_labels(make, dtype, binary_images, mnist_sample):
    x, labels = binary_images[:40], mnist_sample[1][:40].astype("int64")
    one_hot = np.eye(10, dtype=dtype)[labels]
    # batch_size == num_classes: integer one-hot rows used to broadcast into a (10, 10) loss there.
    a = _weights_after_fit(make, x, labels, batch_size=10)
    b = _weights_after_fit(make, x, one_hot, batch_size=10)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_an_ensemble_takes_integer_or_one_hot_labels_whatever_its_loss(loss, binary_images, mnist_sample):
    from tfvb.models import DeepEnsemble

    x, labels = binary_images[:40], mnist_sample[1][:40].astype("int64")

    def run(y):
        def member():
            return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])

        model = DeepEnsemble(member, n=2, seed=0)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.get({"class_name": loss, "config": {
            "from_logits": True}}))
        model.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0)
        return [w.numpy() for w in model.weights]

    for u, v in zip(run(labels), run(np.eye(10, dtype="int32")[labels])):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def test_one_hot_labels_through_a_dataset_match_integer_labels(binary_images, mnist_sample):
    x, labels = binary_images[:20], mnist_sample[1][:20].astype("int64")

    initial = BNNClassifier(10, hidden_units=(8,), seed=3).get_weights()

    def run(y):
        model = BNNClassifier(10, hidden_units=(8,), num_examples=20, seed=3)
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        return model.evaluate(tf.data.Dataset.from_tensor_slices((x, y)).batch(10), return_dict=True, verbose=0)

    a, b = run(labels), run(np.eye(10, dtype="int32")[labels])
    assert a["nll"] == pytest.approx(b["nll"], rel=1e-6) and a["accuracy"] == b["accuracy"]


def test_python_lists_are_read_as_the_array_they_spell():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = x.sum(axis=1).astype("float32")

    def make():
        return BNNRegressor(hidden_units=(4,), input_dim=3, seed=2)

    a = _weights_after_fit(make, x, y, batch_size=8)
    b = _weights_after_fit(make, x.tolist(), y.tolist(), batch_size=8)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def _per_example(model, x):
    """The model's per-example terms on x with the noise its next step will draw (state put back)."""
    state = model.seed_generator.state.numpy()
    terms = {k: v.numpy() for k, v in model.per_example_terms(model.check_inputs(x), training=False).items()}
    model.seed_generator.state.assign(state)
    return terms


@pytest.mark.parametrize("make", [lambda: CVAE(latent_dim=2, filters=(4, 8), seed=1),
                                  lambda: IWAE(k=3, latent_dim=2, hidden_units=(8,), seed=1)], ids=["cvae", "iwae"])
def test_vae_evaluate_reports_the_weighted_mean_elbo(make, binary_images):
    x = binary_images[:16]
    w = np.random.default_rng(0).integers(0, 4, size=16).astype("float32")
    w[0] = 5.0
    model = make()
    model.compile(optimizer="adam")
    # A decoder that says "ink" everywhere: examples then differ by hundreds of nats (their blank pixels).
    bias = [layer for layer in model.decoder.layers if getattr(layer, "bias", None) is not None][-1].bias
    bias.assign(tf.fill(bias.shape, 3.0))
    terms = _per_example(model, x)
    logs = model.evaluate(x, sample_weight=w, batch_size=16, return_dict=True, verbose=0)
    for name, values in terms.items():
        if name in logs:
            assert logs[name] == pytest.approx(np.sum(w * values) / np.sum(w), rel=1e-5), name
    assert abs(logs["loss"] - terms["loss"].mean()) > 1.0  # the weights changed the answer


def test_vae_fit_steps_on_the_weighted_elbo(binary_images):
    """One SGD step of `fit(x, sample_weight=w)` is -lr * grad of sum_n w_n loss_n / B."""
    x = binary_images[:8]
    w = np.array([1, 0, 2, 0, 1, 3, 0, 1], "float32")
    lr = 0.01
    model = CVAE(latent_dim=2, filters=(4, 8), seed=1)
    model.compile(optimizer=keras.optimizers.SGD(lr))
    before = [v.numpy() for v in model.trainable_variables]
    state = model.seed_generator.state.numpy()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(w * model.per_example_terms(model.check_inputs(x), training=True)["loss"]) / len(x)
    grads = tape.gradient(loss, model.trainable_variables)
    model.seed_generator.state.assign(state)
    model.fit(x, sample_weight=w, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for v, b, g in zip(model.trainable_variables, before, grads):
        np.testing.assert_allclose(v.numpy(), b - lr * g.numpy(), rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_calibration_accepts_one_hot_labels():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50)
    labels = rng.integers(0, 4, size=50)
    assert evaluate.expected_calibration_error(probs, np.eye(4, dtype=int)[labels]) == \
        evaluate.expected_calibration_error(probs, labels)
