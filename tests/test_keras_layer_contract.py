"""Keras' own layer harness (`keras.src.testing.TestCase.run_layer_test`) over every tfvb layer.

Each layer is checked as Keras checks its own layers: built shapes and weights, get_config/from_config,
symbolic (KerasTensor) and eager calls of the same output shape, a training run inside a model, mixed
precision, and masks, in each of a tfvb layer's call modes: the posterior mean, one stochastic pass
(`training=True`) and T draws (`num_samples=T`). The KL is one loss in the first two modes, none in the last.
"""

import keras
import numpy as np
import pytest
from keras.src import testing

from tfvb import layers

# Keras' harness trains the layer on a generator with shuffle=True and Keras then warns about its own call.
pytestmark = pytest.mark.filterwarnings("ignore:`shuffle=True` was passed:UserWarning")

DENSE = [layers.DenseFlipout, layers.DenseReparameterization, layers.DenseLocalReparameterization]
CONV = [layers.Conv2DFlipout, layers.Conv2DReparameterization, layers.Conv2DLocalReparameterization]
TRANSPOSE = [layers.Conv2DTransposeFlipout, layers.Conv2DTransposeReparameterization]
T = 3
#: mode -> (call kwargs, the number of losses a call records, whether the output has a leading T axis).
MODES = {"posterior_mean": ({}, 1, False), "training": ({"training": True}, 1, False),
         "num_samples": ({"num_samples": T}, 0, True)}


def _case(cls):
    if cls in DENSE:
        return {"units": 4}, (2, 3), (2, 4)
    if cls in CONV:
        return {"filters": 2, "kernel_size": 3}, (2, 5, 5, 1), (2, 3, 3, 2)
    return {"filters": 2, "kernel_size": 3, "strides": 2}, (2, 3, 3, 1), (2, 7, 7, 2)


class _Harness(testing.TestCase):
    def runTest(self):  # unittest needs a test method to instantiate the case
        pass


def _run(cls, mode, full):
    kwargs, input_shape, output_shape = _case(cls)
    call_kwargs, losses, sampled = MODES[mode]
    _Harness().run_layer_test(
        cls, init_kwargs={**kwargs, "seed": 0}, input_shape=input_shape, call_kwargs=call_kwargs,
        expected_output_shape=((T,) if sampled else ()) + output_shape,
        expected_num_trainable_weights=3, expected_num_non_trainable_weights=0,
        expected_num_seed_generators=1, expected_num_losses=losses,
        supports_masking=cls in DENSE, run_training_check=full, run_mixed_precision_check=full)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("cls", DENSE + CONV + TRANSPOSE, ids=lambda c: c.__name__)
def test_keras_run_layer_test(cls, mode):
    # Shapes, weights, seed generators, losses, config round trip, symbolic == eager, masking support.
    _run(cls, mode, full=False)


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("cls", DENSE + CONV + TRANSPOSE, ids=lambda c: c.__name__)
def test_keras_run_layer_test_with_training_and_mixed_precision(cls, mode):
    _run(cls, mode, full=True)


@pytest.mark.parametrize("cls", DENSE, ids=lambda c: c.__name__)
def test_dense_layers_on_sequences_keep_masks(cls):
    # As keras.layers.Dense on (batch, time, features): the mask passes through to the output, and T draws
    # of a sequence keep its time axis (the leading axis is the batch's, not a sample axis).
    _Harness().run_layer_test(
        cls, init_kwargs={"units": 4, "seed": 0}, input_shape=(2, 5, 3), call_kwargs={"num_samples": T},
        expected_output_shape=(T, 2, 5, 4), supports_masking=True, run_training_check=False,
        run_mixed_precision_check=False)
    data = np.ones((2, 5, 3), "float32")
    data[1, 3:] = 0.0
    masked = keras.layers.Masking()(data)
    out = cls(4, seed=0)(masked)
    np.testing.assert_array_equal(keras.src.backend.get_keras_mask(out).numpy(),
                                  [[True] * 5, [True, True, True, False, False]])


@pytest.mark.parametrize("cls", DENSE + CONV + TRANSPOSE, ids=lambda c: c.__name__)
def test_a_built_layer_refuses_inputs_of_another_width_when_called(cls):
    # As Keras' Dense / Conv2D / Conv2DTranspose (their input_spec): at the call, not later inside TensorFlow.
    kwargs, input_shape, _ = _case(cls)
    layer = cls(**kwargs, seed=0)
    layer(np.ones(input_shape, "float32"))
    other = input_shape[1:-1] + (input_shape[-1] + 2,)
    for inputs in (keras.Input(other), np.ones((2,) + other, "float32")):
        with pytest.raises(ValueError, match=rf"expected axis -1 of input shape to have value {input_shape[-1]}"):
            layer(inputs)
    assert layer(np.ones(input_shape, "float32"), num_samples=T).shape[0] == T  # draws: one more axis, accepted
