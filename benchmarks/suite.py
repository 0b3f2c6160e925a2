"""The benchmarks `run_all.py` runs: each measures ratios, in pairs, within one round.

A benchmark is a function `setup(tf, args) -> round_fn`; it builds and warms
up its models once, and `round_fn(peak)` times its workloads (each call
paired with a call of the matmul peak `peak`, or with its reference) and
returns {ratio name: value}. Every ratio is a median over the pairs of one
round; `run_all.py` repeats rounds and reports min / median / max.

FLOPs are 2 per multiply-add. The importance-sampled evaluation counts the
multiply-adds of the networks that run once per latent sample (the
decoder; with two stochastic layers also the second encoder and decoder);
training counts 3x the forward multiply-adds (forward and backward) of k
such passes and one encoder pass per image.
"""

import math

import numpy as np
from _peak import fraction_of_peak, paired, paired_ratio, peak_gflops
from fit_overhead import fit_overhead


def dense_macs(net):
    """Multiply-adds of one example through the Dense layers of `net` (a keras model)."""
    return sum(math.prod(w.shape) for layer in net.layers for w in [getattr(layer, "kernel", None)]
               if w is not None and len(w.shape) == 2)


def per_sample_macs(model):
    """Multiply-adds that run once per latent sample in an IWAE's log weights."""
    macs = dense_macs(model.decoder)
    if getattr(model, "stochastic_layers", 1) == 2:
        macs += dense_macs(model.encoder_2) + dense_macs(model.decoder_2)
    return macs


def conv_decoder_macs(decoder):
    """Multiply-adds of one example through a Dense + Conv2DTranspose decoder (output-side count)."""
    macs = 0
    for layer in decoder.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        if len(kernel.shape) == 2:
            macs += math.prod(kernel.shape)
        else:  # Conv2DTranspose: each output pixel x kernel taps x in channels
            h, w, c = layer.output.shape[1:]
            kh, kw, _, cin = kernel.shape
            macs += h * w * c * kh * kw * cin // (layer.strides[0] * layer.strides[1])
    return macs


def _images(n):
    import tfvb

    images, labels = tfvb.data.mnist_sample()
    return tfvb.data.binarize_fixed(images[:n]), images[:n], labels[:n]


def iwae_training(tf, args):
    """IWAE(k=50).fit on 1,000 digits at batch 100, as a fraction of the matmul peak."""
    import keras

    import tfvb

    x, _, _ = _images(1000)
    data = tf.data.Dataset.from_tensor_slices(x).batch(100)
    model = tfvb.models.IWAE(k=50, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    steps = math.ceil(len(x) / 100)
    flops = 3 * 2 * (len(x) * model.k * per_sample_macs(model) + len(x) * dense_macs(model.encoder))

    def epoch():
        model.fit(data, epochs=1, verbose=0)

    epoch()

    def run(peak):
        times = paired({"work": epoch, "peak": peak}, args.reps)
        return {"iwae_k50_train_of_peak": fraction_of_peak(flops, times["work"], times["peak"]),
                "_seconds_per_step": float(np.median([t["wall"] for t in times["work"]])) / steps,
                "_peak_gflops": peak_gflops(times["peak"])}

    return run


def _log_likelihood(tf, args, model, images, k, key):
    import tfvb

    x, _, _ = _images(images)
    flops = 2 * images * k * per_sample_macs(model)

    def evaluate():
        tfvb.evaluate.log_likelihood(model, x, k=k, verbose=0, seed=0)

    evaluate()

    def run(peak):
        times = paired({"work": evaluate, "peak": peak}, args.reps)
        return {key: fraction_of_peak(flops, times["work"], times["peak"]), "_peak_gflops": peak_gflops(times["peak"])}

    return run


def iwae5000_mlp(tf, args):
    """IWAE-5000 log-likelihood of the one-layer MLP IWAE (784-200-200-50), fraction of peak, with its ceiling.

    Beside the whole evaluation, on the same number of latent samples: the
    decoder's three products alone (no bias, activation or likelihood: what
    the counted multiply-adds cost at best), and log p(x|z) as the model
    computes it (the decoder with its activations and the Bernoulli
    log-likelihood of 784 pixels per sample). The gap between the two is
    the elementwise work a sample needs beyond its products.
    """
    import tfvb

    model = tfvb.models.IWAE(k=50, seed=0)
    evaluation = _log_likelihood(tf, args, model, args.ll_images, 5000, "iwae5000_mlp_of_peak")
    x, _, _ = _images(args.ll_images)
    x = tf.constant(x)
    rows = 5000 * args.ll_images
    flops = 2 * rows * per_sample_macs(model)
    z = tf.random.stateless_normal((5000, args.ll_images, model.latent_dim), seed=[7, 8])
    kernels = [layer.kernel for layer in model.decoder.layers if getattr(layer, "kernel", None) is not None]

    @tf.function
    def products(z):
        h = tf.reshape(z, [rows, model.latent_dim])
        for kernel in kernels:
            h = tf.matmul(h, kernel)
        return tf.reduce_sum(h[:, 0])

    likelihood = tf.function(lambda x, z: tf.reduce_sum(model.log_px_given_z(x, z)))
    fns = {"products": lambda: float(products(z)), "likelihood": lambda: float(likelihood(x, z))}
    for fn in fns.values():
        fn()

    def run(peak):
        result = evaluation(peak)
        times = paired({**fns, "peak": peak}, args.reps)
        return {**result,
                "iwae5000_mlp_products_alone_of_peak": fraction_of_peak(flops, times["products"], times["peak"]),
                "iwae5000_mlp_log_px_given_z_of_peak": fraction_of_peak(flops, times["likelihood"], times["peak"])}

    return run


def iwae5000_mlp2(tf, args):
    """IWAE-5000 log-likelihood of the two-layer MLP IWAE, fraction of peak."""
    import tfvb

    model = tfvb.models.IWAE(k=50, stochastic_layers=2, seed=0)
    return _log_likelihood(tf, args, model, args.ll_images, 5000, "iwae5000_mlp2_of_peak")


def iwae5000_conv(tf, args):
    """IWAE-5000 of the convolutional VAE (16-D latent) against its decoder alone on the same samples."""
    import tfvb

    model = tfvb.models.CVAE(latent_dim=16, seed=0)
    x, _, _ = _images(1)
    k = 5000
    z = tf.random.stateless_normal((k, model.latent_dim), seed=[5, 6])
    decode = tf.function(lambda z: tf.reduce_sum(model.decoder(z)))
    flops = 2 * k * conv_decoder_macs(model.decoder)

    def decoder_alone():  # the same k decoder passes in one call, nothing else
        decode(z).numpy()

    def evaluate():
        tfvb.evaluate.log_likelihood(model, x, k=k, verbose=0, seed=0)

    decoder_alone(), evaluate()

    def run(peak):
        times = paired({"work": evaluate, "decoder": decoder_alone, "peak": peak}, args.reps)
        return {"iwae5000_conv_of_decoder_alone": paired_ratio(times["decoder"], times["work"]),
                "conv_decoder_alone_of_peak": fraction_of_peak(flops, times["decoder"], times["peak"]),
                "_peak_gflops": peak_gflops(times["peak"])}

    return run


def cvae_fit(tf, args):
    """CVAE.fit against the TensorFlow tutorial's hand-written loop; the cost of checks and metrics.

    The ceiling row runs the tutorial's own step through Keras' `fit` (no tfvb
    code at all): what Keras' fit machinery costs against a bare loop.
    """
    import keras
    from cvae_throughput import TutorialCVAE, TutorialStepModel, reference_loop

    import tfvb

    x, _, _ = _images(args.cvae_images)
    data = tf.data.Dataset.from_tensor_slices(x).batch(100).prefetch(tf.data.AUTOTUNE)
    step = reference_loop(TutorialCVAE(2), keras.optimizers.Adam(1e-4))

    class Bare(tfvb.models.CVAE):
        """The same model without input checks and with one metric (the loss) instead of four."""

        metric_names = ("loss",)

        def check_inputs(self, x):
            return tf.convert_to_tensor(x)

    def tutorial():
        for batch in data:
            loss = step(batch)
        float(loss)

    fits = {}
    for name, cls in {"fit": tfvb.models.CVAE, "bare": Bare}.items():
        model = cls(latent_dim=2, kl="sample", seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        fits[name] = lambda m=model: m.fit(data, epochs=1, verbose=0)
    keras_fit = TutorialStepModel(2)
    keras_fit.build((None, 28, 28, 1))
    keras_fit.compile(optimizer=keras.optimizers.Adam(1e-4))
    fits["keras_fit"] = lambda: keras.Model.fit(keras_fit, data, epochs=1, verbose=0)
    fns = {"tutorial": tutorial, **fits}
    for fn in fns.values():
        fn()

    def run(peak):
        times = paired(fns, args.reps)
        cost = paired_ratio(times["fit"], times["bare"])
        return {"cvae_fit_over_tutorial": paired_ratio(times["tutorial"], times["fit"]),
                "cvae_checks_and_metrics_cost": {clock: v - 1.0 for clock, v in cost.items()},
                "keras_fit_of_tutorial_step_over_tutorial": paired_ratio(times["tutorial"], times["keras_fit"])}

    return run


def flipout_mlp(tf, args):
    """Flipout MLP (784-400-400-10) train steps: against tfp.layers in tf_keras, a Dense MLP, and one shared draw.

    The shared perturbation is the same MLP with `DenseReparameterization`
    (one kernel draw for the batch): Wen et al. put Flipout at about twice
    its cost. Against the deterministic Dense MLP, every Bayesian layer also
    pays for its kernel-sized work per step (a kernel draw, softplus, the KL
    and their gradients), which at batch 128 outweighs the products.
    """
    import keras
    from bnn_layers import dataset, reference_model, tfvb_model

    _, x, y = _images(2000)
    data = dataset(x, y, 128)
    steps = args.flipout_steps
    dense = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(400, activation="relu"), keras.layers.Dense(400, activation="relu"),
                              keras.layers.Dense(10)])
    dense.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    models = {"tfvb": tfvb_model("flipout", (400, 400), len(x)),
              "tfp": reference_model("flipout", (400, 400), len(x)), "dense": dense,
              "shared": tfvb_model("reparameterization", (400, 400), len(x))}
    fns = {name: (lambda m=m: m.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)) for name, m in models.items()}
    for fn in fns.values():
        fn()

    def run(peak):
        times = paired(fns, args.reps)
        return {"flipout_mlp_over_tfp_layers": paired_ratio(times["tfp"], times["tfvb"]),
                "flipout_cost_over_dense": paired_ratio(times["tfvb"], times["dense"]),
                "flipout_cost_over_shared_perturbation": paired_ratio(times["tfvb"], times["shared"])}

    return run


def predict_uncertainty(tf, args):
    """T = 100 predictive samples in one vectorized call against a loop of T calls (Flipout MLP, 1,000 images).

    Two references, timed in the same pairs: `predict_vectorized_over_loop` (the ratio with the goal) is
    the time of a Python loop of T *eager* calls `model(x, training=True)` over the vectorized call's;
    `predict_vectorized_over_compiled_loop` that of a loop of T calls of the same pass compiled once by
    `tf.function`, the reference of `sample_cost.py` (an eager call costs more than a compiled one, so
    the first ratio is the larger).
    """
    from tfvb.models import BNNClassifier
    from tfvb.uncertainty import classification_uncertainty

    model = BNNClassifier(10, hidden_units=(400, 400), layer="flipout", num_examples=8000, seed=0,
                          posterior_sigma_init=0.05)
    _, x, _ = _images(1000)
    samples = 100
    x_tensor = tf.constant(x)
    step = tf.function(lambda inputs: model(inputs, training=True))

    def vectorized():
        model.predict_uncertainty(x, samples=samples, batch_size=len(x))

    def loop():
        classification_uncertainty(np.stack([model(x, training=True).numpy() for _ in range(samples)]))

    def compiled_loop():
        classification_uncertainty(np.stack([step(x_tensor).numpy() for _ in range(samples)]))

    vectorized(), loop(), compiled_loop()

    def run(peak):
        times = paired({"vectorized": vectorized, "loop": loop, "compiled_loop": compiled_loop}, args.reps)
        return {"predict_vectorized_over_loop": paired_ratio(times["loop"], times["vectorized"]),
                "predict_vectorized_over_compiled_loop": paired_ratio(times["compiled_loop"], times["vectorized"])}

    return run


#: name -> (setup, {ratio: goal}); a goal is (">=", value), ("<=", value) or None (reported).
BENCHMARKS = {
    "iwae_training": (iwae_training, {"iwae_k50_train_of_peak": (">=", 0.60)}),
    "iwae5000_mlp": (iwae5000_mlp, {"iwae5000_mlp_of_peak": (">=", 0.60), "iwae5000_mlp_products_alone_of_peak": None,
                                    "iwae5000_mlp_log_px_given_z_of_peak": None}),
    "iwae5000_mlp2": (iwae5000_mlp2, {"iwae5000_mlp2_of_peak": (">=", 0.60)}),
    "iwae5000_conv": (iwae5000_conv, {"iwae5000_conv_of_decoder_alone": None, "conv_decoder_alone_of_peak": None}),
    "cvae_fit": (cvae_fit, {"cvae_fit_over_tutorial": (">=", 1.0), "cvae_checks_and_metrics_cost": None,
                            "keras_fit_of_tutorial_step_over_tutorial": None}),
    "flipout_mlp": (flipout_mlp, {"flipout_mlp_over_tfp_layers": (">=", 1.0), "flipout_cost_over_dense": None,
                                  "flipout_cost_over_shared_perturbation": None}),
    "predict_uncertainty": (predict_uncertainty, {"predict_vectorized_over_loop": (">=", 3.0),
                                                  "predict_vectorized_over_compiled_loop": None}),
    "fit_overhead": (fit_overhead, {"fused_adam_step_over_keras_adam_step": ("<=", 0.9),
                                    "vae_fit_over_bare_steps": None, "vae_keras_fit_over_bare_steps": None,
                                    "vae_fit_epoch_cost_in_steps": None,
                                    "image_dataset_fit_over_prebinarized_fit": ("<=", 1.10)}),
}
