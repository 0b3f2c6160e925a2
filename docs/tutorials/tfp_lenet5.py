"""Tutorial: TensorFlow Probability's Bayesian LeNet-5 (bayesian_neural_network.py) ported to tfvb.

Run it as `python tfp_lenet5.py` (about five minutes on 2 CPU cores). docs/tutorials/tfp_lenet5.md shows the
TFP original beside each part; docs/migrating_from_tfp.md has the whole mapping.
"""

# --8<-- [start:data]
import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfvb

tfd = tfp.distributions
keras.utils.set_random_seed(0)
images, labels = tfvb.data.mnist_sample()          # 2,000 held-out MNIST digits bundled with tfvb
x_train, y_train = images[:1500], keras.utils.to_categorical(labels[:1500], 10)
x_test, y_test = images[1500:], labels[1500:]
NUM_TRAIN_EXAMPLES = len(x_train)
print(x_train.shape, y_train.shape, x_test.shape)
# --8<-- [end:data]

# --8<-- [start:model]
# TFP's own argument, unchanged: tfvb reads it as num_examples=NUM_TRAIN_EXAMPLES (the layer adds KL / N).
kl_divergence_function = (lambda q, p, _: tfd.kl_divergence(q, p) /  # noqa: E731  (as TFP writes it)
                          tf.cast(NUM_TRAIN_EXAMPLES, dtype=tf.float32))

model = keras.models.Sequential([
    keras.Input((28, 28, 1)),
    tfvb.layers.Convolution2DFlipout(6, kernel_size=5, padding="SAME", kernel_divergence_fn=kl_divergence_function,
                                     activation=tf.nn.relu),
    keras.layers.MaxPooling2D(pool_size=[2, 2], strides=[2, 2], padding="same"),  # Keras 3: lower case
    tfvb.layers.Convolution2DFlipout(16, kernel_size=5, padding="SAME", kernel_divergence_fn=kl_divergence_function,
                                     activation=tf.nn.relu),
    keras.layers.MaxPooling2D(pool_size=[2, 2], strides=[2, 2], padding="same"),  # Keras 3: lower case
    tfvb.layers.Convolution2DFlipout(120, kernel_size=5, padding="SAME", kernel_divergence_fn=kl_divergence_function,
                                     activation=tf.nn.relu),
    keras.layers.Flatten(),
    tfvb.layers.DenseFlipout(84, kernel_divergence_fn=kl_divergence_function, activation=tf.nn.relu),
    tfvb.layers.DenseFlipout(10, kernel_divergence_fn=kl_divergence_function, activation=tf.nn.softmax),
])
model.compile(keras.optimizers.Adam(learning_rate=0.001), loss="categorical_crossentropy", metrics=["accuracy"])
print([layer.num_examples for layer in model.layers if isinstance(layer, tfvb.layers.DenseFlipout)])
# --8<-- [end:model]

# --8<-- [start:train]
history = model.fit(x_train, y_train, batch_size=128, epochs=15, verbose=0)
# loss = cross-entropy + sum of the layers' KL / N, in fit and in evaluate alike.
print(f"fit: loss {history.history['loss'][-1]:.3f}, accuracy {history.history['accuracy'][-1]:.3f}")
loss, accuracy = model.evaluate(x_train, y_train, verbose=0)
print(f"evaluate on the training digits: loss {loss:.3f}, accuracy {accuracy:.3f}")
# --8<-- [end:train]

# --8<-- [start:monte_carlo]
# TFP: probs = tf.stack([model.predict(heldout_seq, verbose=1) for _ in range(FLAGS.num_monte_carlo)], axis=0)
probs = tfvb.predict_samples(model, x_test, samples=50, seed=0)       # (50, 500, 10), one vectorized call
mean_probs = probs.mean(axis=0)
heldout_log_prob = np.mean(np.log(mean_probs[np.arange(len(y_test)), y_test]))
print(f"heldout: accuracy {np.mean(mean_probs.argmax(-1) == y_test):.3f}, mean log-prob {heldout_log_prob:.3f}")
u = tfvb.predict_uncertainty(model, x_test, samples=50, seed=0)        # Gal's measures, same draws
print(f"spread of the draws: std of p(true class) {probs[:, np.arange(len(y_test)), y_test].std(0).mean():.4f}")
print(f"mutual information: mean {u['mutual_information'].mean():.4f}, max {u['mutual_information'].max():.4f}")
# --8<-- [end:monte_carlo]

# --8<-- [start:tfp_loop]
# TFP's loop, unchanged: tfvb layers use their posterior means in predict, so the draws agree exactly, and
# tfvb says so (once per model) instead of reporting zero uncertainty in silence.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    looped = np.stack([model.predict(x_test, verbose=0) for _ in range(3)])
print(f"std over the loop's predictions: {looped.std(axis=0).max():.1f}")
print(str(caught[0].message)[:150], "...")
# --8<-- [end:tfp_loop]
