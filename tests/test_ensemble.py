"""DeepEnsemble: seeded members, one fit equals n separate trainings, uncertainty, saving, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb import uncertainty
from tfvb.models import DeepEnsemble
from tfvb.models.ensemble import _MemberBatches

LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _net():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1)


def _ensemble(n=3, seed=0, **compile_kw):
    model = DeepEnsemble(_net, n=n, seed=seed)
    model.compile(**{"optimizer": keras.optimizers.Adam(1e-2), "loss": LOGITS, **compile_kw})
    return model


def test_members_are_seeded_differently_and_reproducibly():
    a, b, c = DeepEnsemble(_net, n=3, seed=0), DeepEnsemble(_net, n=3, seed=0), DeepEnsemble(_net, n=3, seed=1)
    kernels = lambda e: [m.layers[0].kernel.numpy() for m in e.members]  # noqa: E731
    for ka, kb in zip(kernels(a), kernels(b)):
        np.testing.assert_array_equal(ka, kb)
    assert not np.allclose(kernels(a)[0], kernels(a)[1])
    assert not np.allclose(kernels(a)[0], kernels(c)[0])


def test_one_fit_equals_each_member_trained_alone():
    # Shared batches (shuffle=False): every member's weights after the joint fit are those of the same
    # member trained by itself with its own Adam on the same batches: the joint step is n independent runs.
    x, y = _data()
    ensemble = _ensemble()
    alone = []
    for member in ensemble.members:
        copy = keras.models.clone_model(member)
        copy.set_weights(member.get_weights())
        copy.compile(optimizer=keras.optimizers.Adam(1e-2), loss=LOGITS)
        alone.append(copy)
    ensemble.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for copy, member in zip(alone, ensemble.members):
        copy.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        for a, b in zip(copy.get_weights(), member.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_each_member_sees_its_own_order_of_every_example_each_epoch():
    x, y = _data(10)
    batches = _MemberBatches([x, y], n=3, batch_size=4, seed=0)
    first = batches.orders.copy()
    assert len(batches) == 3
    for m in range(3):
        assert sorted(first[:, m]) == list(range(10))
    assert not np.array_equal(first[:, 0], first[:, 1])
    xb, yb = batches[0]
    assert xb.shape == (4, 3, 6) and yb.shape == (4, 3)
    np.testing.assert_array_equal(xb[:, 2], x[first[:4, 2]])
    batches.on_epoch_end()
    assert not np.array_equal(first, batches.orders)  # a new order next epoch
    # And a shuffled fit trains: loss falls, every member moves.
    ensemble = _ensemble()
    before = [m.get_weights()[0].copy() for m in ensemble.members]
    history = ensemble.fit(*_data(96), batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not np.allclose(b, m.get_weights()[0]) for b, m in zip(before, ensemble.members))


@pytest.mark.parametrize("one_hot", [False, True])
def test_class_weight_follows_each_members_shuffle_as_sample_weight_does(one_hot):
    # Keras' class_weight is a weight per row from its label: the same fit as those weights given per row.
    x, y = _data(60)
    labels = np.eye(3, dtype="float32")[y] if one_hot else y
    loss = keras.losses.CategoricalCrossentropy(from_logits=True) if one_hot else LOGITS
    class_weight = {0: 1.0, 1: 5.0, 2: 0.5}
    rows = np.array([class_weight[c] for c in y], "float32")
    base = np.linspace(0.5, 1.5, 60).astype("float32")
    fits = []
    for kwargs in ({"class_weight": class_weight, "sample_weight": base}, {"sample_weight": base * rows}):
        ensemble = _ensemble(loss=loss)
        ensemble.fit(x, labels, batch_size=16, epochs=2, verbose=0, validation_split=0.25, **kwargs)
        fits.append([w for m in ensemble.members for w in m.get_weights()])
    for a, b in zip(*fits):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    unweighted = _ensemble(loss=loss)
    unweighted.fit(x, labels, batch_size=16, epochs=2, verbose=0, validation_split=0.25)
    assert not np.allclose(unweighted.members[0].get_weights()[0], fits[1][0])  # the weights count
    # validation_data overrides validation_split (as in Keras): every row trains, so the weights differ.
    ensemble = _ensemble(loss=loss)
    ensemble.fit(x, labels, batch_size=16, epochs=2, verbose=0, validation_split=0.25,
                 validation_data=(x[:8], labels[:8]), sample_weight=base * rows)
    assert not np.allclose(ensemble.members[0].get_weights()[0], fits[1][0])


def test_predict_uncertainty_is_gals_measures_over_the_members():
    x, y = _data()
    ensemble = _ensemble()
    ensemble.fit(x, y, batch_size=16, epochs=2, verbose=0)
    probs = np.stack([tf.nn.softmax(m(x)).numpy() for m in ensemble.members])
    want = uncertainty.classification_uncertainty(probs)
    got = ensemble.predict_uncertainty(x)
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)
    # model(x) is the ensemble's prediction in the members' kind: log of the mean probabilities.
    np.testing.assert_allclose(np.exp(ensemble.predict(x, verbose=0)), want["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ensemble.predict_uncertainty(x, samples=3, seed=0)["mean"], got["mean"])
    # evaluate: the members' mean loss and the ensemble's NLL and accuracy on the same rows.
    out = ensemble.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    nll = -np.log(want["mean"][np.arange(len(y)), y]).mean()
    assert out["ensemble_nll"] == pytest.approx(nll, rel=1e-5)
    assert out["ensemble_accuracy"] == pytest.approx(np.mean(want["prediction"] == y))
    member_losses = [float(LOGITS(y, m(x))) for m in ensemble.members]
    assert out["loss"] == pytest.approx(np.mean(member_losses), rel=1e-5)


def test_identical_members_have_no_epistemic_uncertainty():
    net = _net()
    clones = [keras.models.clone_model(net) for _ in range(3)]
    for c in clones:
        c.set_weights(net.get_weights())
    ensemble = DeepEnsemble(clones, task="classification")
    u = ensemble.predict_uncertainty(_data()[0])
    np.testing.assert_allclose(u["mutual_information"], 0.0, atol=1e-6)
    np.testing.assert_array_equal(u["variation_ratio"], 0.0)


def test_regression_ensemble_reports_the_spread_of_the_members():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2)).astype("float32")
    y = (x @ np.array([1.0, -2.0])).astype("float32")

    def build():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        return model

    ensemble = DeepEnsemble([build() for _ in range(4)])  # compiled members: the ensemble compiles itself
    assert ensemble.task_and_outputs == ("regression", "values") and ensemble.compiled
    ensemble.fit(x, y, batch_size=8, epochs=3, verbose=0)
    means = np.stack([m(x).numpy()[:, 0] for m in ensemble.members])
    u = ensemble.predict_uncertainty(x)
    np.testing.assert_allclose(u["mean"], means.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(u["epistemic"], means.var(0), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(u["aleatoric"], 0.0)
    out = ensemble.evaluate(x, y, batch_size=40, verbose=0, return_dict=True)
    assert out["ensemble_rmse"] == pytest.approx(np.sqrt(np.mean((means.mean(0) - y) ** 2)), rel=1e-5)


def test_keras_round_trip(tmp_path):
    x, y = _data()
    ensemble = _ensemble(metrics=["accuracy"])
    ensemble.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is DeepEnsemble and loaded.n == 3 and loaded.task_and_outputs == ("classification", "logits")
    np.testing.assert_array_equal(ensemble.predict(x, verbose=0), loaded.predict(x, verbose=0))
    for k, v in ensemble.predict_uncertainty(x).items():
        np.testing.assert_array_equal(v, loaded.predict_uncertainty(x)[k])
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)  # fine-tunable after loading (optimizer restored)


_NET = _net()
_SHARED, _SHARED_2 = keras.layers.Dense(3, name="shared"), keras.layers.Dense(3, name="shared_2")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: DeepEnsemble(_net, n=0), "Expected `n` to be a positive integer. Received: n=0"),
        (lambda: DeepEnsemble([]), "Expected `members` to be a function returning a keras.Model"),
        (lambda: DeepEnsemble([_net(), keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])]),
         "Expected built members with one input of one shape"),
        (lambda: DeepEnsemble(lambda: keras.Sequential([keras.Input((6,)), _SHARED]), n=5),
         "Expected members that share no weights (each with its own layers and initialisation). Received: members "
         "0 and 1 share the layer 'shared'"),
        (lambda: DeepEnsemble([_NET, _NET]), "Expected 2 distinct members (an ensemble's spread comes from their "
         "independent weights). Received: members 0 and 1 are the same model"),
        (lambda: DeepEnsemble([keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), _SHARED_2]),
                               keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), _SHARED_2])]),
         "Received: members 0 and 1 share the layer 'shared_2'"),
        (lambda: DeepEnsemble([keras.Sequential([keras.Input((6,)), keras.layers.Dense(10)]),
                               keras.Sequential([keras.Input((6,)), keras.layers.Dense(5)])]),
         "Expected members with one output shape (the ensemble averages them). Received output shapes: (10,), (5,)"),
        (lambda: DeepEnsemble(_net, seed="a"), "Expected `seed` to be a non-negative integer. Received: seed='a'"),
        (lambda: DeepEnsemble(_net, task="ranking"), "Expected `task` to be one of"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_bad_use():
    x, y = _data(8)
    uncompiled = DeepEnsemble(_net, n=2)
    with pytest.raises(ValueError, match="Expected a DeepEnsemble compiled with the members' loss"):
        uncompiled.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="Expected `task`.*Received: task=None and no loss"):
        uncompiled.predict_uncertainty(x)
    ensemble = _ensemble(n=2)
    np.testing.assert_array_equal(ensemble.predict_uncertainty(x, samples=100)["mean"],
                                  ensemble.predict_uncertainty(x)["mean"])  # the members are the samples
    with pytest.raises(ValueError, match="Expected `samples` to be a positive integer. Received: samples=0"):
        ensemble.predict_uncertainty(x, samples=0)
    with pytest.raises(ValueError, match=r"Expected inputs of shape \(None, 6\)"):
        ensemble.predict_uncertainty(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match="binary"):
        _ensemble(n=2, loss="binary_crossentropy").predict_uncertainty(x)
