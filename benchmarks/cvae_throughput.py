"""CVAE training throughput: tfvb's `model.fit` against a hand-written `tf.function` loop.

The reference is the training loop of the TensorFlow CVAE tutorial, written
here from its description: the same networks, Adam, the single-sample
(MC-KL) ELBO, one `@tf.function` step per batch, a Python loop over the
batches. tfvb runs the same architecture, estimator (kl="sample"), batch and
data through `model.fit`. Both are timed per epoch, interleaved, in one run.

    .venv/bin/python benchmarks/cvae_throughput.py --json benchmarks/results/cvae_throughput.json
"""

import argparse
import math

import keras
import tensorflow as tf
from _timing import interleaved, write_json

import tfvb
from tfvb.models.networks import conv_decoder, conv_encoder


class TutorialCVAE(keras.Model):
    def __init__(self, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder((28, 28, 1), latent_dim)
        self.decoder = conv_decoder(latent_dim, (28, 28, 1))


def log_normal_pdf(sample, mean, logvar):
    log2pi = math.log(2.0 * math.pi)
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=1)


def tutorial_step(model, optimizer, x):
    """One step of the tutorial: the single-sample ELBO, its gradient, Adam."""
    with tf.GradientTape() as tape:
        mean, logvar = tf.split(model.encoder(x), 2, axis=1)
        z = mean + tf.exp(0.5 * logvar) * tf.random.normal(tf.shape(mean))
        logits = model.decoder(z)
        cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=x)
        logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
        loss = -tf.reduce_mean(logpx_z + log_normal_pdf(z, 0.0, 0.0) - log_normal_pdf(z, mean, logvar))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def reference_loop(model, optimizer):
    """The tutorial's compiled step, to be called in a Python loop over the batches."""
    return tf.function(lambda x: tutorial_step(model, optimizer, x))


class TutorialStepModel(TutorialCVAE):
    """The tutorial's networks and step, run by Keras' own `fit` (no tfvb code): what `fit` itself costs."""

    def train_step(self, x):
        return {"loss": tutorial_step(self, self.optimizer, x)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    images, _ = tfvb.data.mnist_sample()
    x = tfvb.data.binarize_fixed(images[: args.images])
    ds = tf.data.Dataset.from_tensor_slices(x).batch(args.batch).prefetch(tf.data.AUTOTUNE)

    ref = TutorialCVAE(2)
    step = reference_loop(ref, keras.optimizers.Adam(1e-4))

    def run_reference():
        for batch in ds:
            loss = step(batch)
        float(loss)

    variants = {}
    for label, kwargs in {"fit": {}, "fit_jit": {"jit_compile": True},
                          "fit_steps_per_execution_10": {"steps_per_execution": 10}}.items():
        model = tfvb.models.CVAE(latent_dim=2, kl="sample", seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), **kwargs)
        variants[label] = (lambda m=model: m.fit(ds, epochs=1, verbose=0))

    medians, raw = interleaved({"reference_loop": run_reference, **variants}, repeats=args.repeats)
    ips = {k: args.images / v for k, v in medians.items()}
    result = {
        "benchmark": "cvae_throughput",
        "images_per_epoch": args.images, "batch": args.batch,
        "images_per_second": {k: round(v, 1) for k, v in ips.items()},
        "ratio_vs_reference": {k: round(v / ips["reference_loop"], 3) for k, v in ips.items() if k != "reference_loop"},
        "seconds_per_epoch_raw": {k: [round(t, 3) for t in ts] for k, ts in raw.items()},
    }
    print(result)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
