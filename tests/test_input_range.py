"""`input_range=(low, high)`: the image classifiers (BNN, MC dropout, deep ensemble) refuse inputs outside the
range they were trained on, in every path (call, predictions, fit), and keep it through save and load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvb.models import BNNClassifier, DeepEnsemble, MCDropoutClassifier

EXPECTED = r"Expected `inputs` in \[0, 1\], the range the model was trained on"


def _dense():
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])


MAKERS = {
    "bnn": lambda r: BNNClassifier(10, hidden_units=(8,), num_examples=64, seed=0, input_range=r),
    "mc_dropout": lambda r: MCDropoutClassifier(10, hidden_units=(8,), num_examples=64, seed=0, input_range=r),
    "ensemble": lambda r: DeepEnsemble(_dense, n=2, seed=0, task="classification", input_range=r),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_inputs_outside_the_range_are_refused_everywhere_and_the_range_is_saved(name, tmp_path, mnist_sample):
    images, labels = mnist_sample
    x, y = images[:64], labels[:64]
    model = MAKERS[name]((0, 1))
    if name == "ensemble":
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    else:
        model.compile(optimizer="adam")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert model.predict_uncertainty(x, samples=2)["mean"].shape == (64, 10)
    for step in (lambda: model(x * 255.0), lambda: model.predict_uncertainty(x * 255.0, samples=2),
                 lambda: model.predict_samples(x * 255.0, samples=2),
                 lambda: model.fit(x * 255.0, y, batch_size=32, epochs=1, verbose=0),
                 lambda: model.evaluate(x - 0.5, y, batch_size=32, verbose=0)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=EXPECTED):
            step()
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.input_range == (0.0, 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=EXPECTED):
        loaded.predict_uncertainty(x * 255.0, samples=2)
    np.testing.assert_allclose(loaded.predict_uncertainty(x, samples=2, seed=1)["mean"],
                               model.predict_uncertainty(x, samples=2, seed=1)["mean"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"Expected `input_range` to be None or a pair \(low, high\) with low < high. "
                                         r"Received: input_range=\(1, 0\)"):
        MAKERS[name]((1, 0))
    free = MAKERS[name](None)
    if name == "mc_dropout":
        free.adapt(x, y)  # builds it (it learns its input size from the data)
    assert free.predict_uncertainty(x * 255.0, samples=2)["mean"].shape == (64, 10)  # no range: taken
