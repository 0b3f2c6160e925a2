"""`fit`'s fixed cost per step and per epoch against the bare compiled step, and the data pipeline's.

The model is the VAE (`IWAE(k=1)`: Burda et al.'s 784-200-200-50 tanh MLP,
Adam), batches of 100 digits, where a step is cheap and fixed costs show
most. Workloads, timed in the same round:

- `bare`: the model's `train_step` compiled by `tf.function`, looped over
  batches made beforehand (no tf.data, no Keras loop, no callbacks), with
  `tfvb.optimizers.Adam` (one fused kernel per variable);
- `bare_keras_adam`: the same with `keras.optimizers.Adam` (the reference the
  fused update is measured against: same formula, eight element-wise ops);
- `keras_fit`: `keras.Model.fit` on the same model and the same pre-binarized
  digits (`tf.data` from tensors): Keras' loop without tfvb's `fit` additions;
- `fit`: tfvb's `fit` on the same data (its data checks and its callbacks:
  the divergence guard's per-epoch snapshot, the step counter);
- `fit_image_dataset`: tfvb's `fit` on `tfvb.data.image_dataset` of the grey
  digits (binarization drawn per batch, each epoch anew);
- `fit_one_batch`: tfvb's `fit` on a one-batch dataset: what an epoch costs
  beyond its steps;
- the two pipelines alone (one pass over each dataset, no training), shown
  per batch beside the bare step: where the pipeline's share goes.

The fit workloads time the second epoch of `fit(epochs=2)`, from the end of
the first to the end of the second (what every epoch of a long run costs).
"""

import time

import numpy as np
from _peak import CLOCKS


def _clock():
    return {"wall": time.perf_counter(), "cpu": time.process_time()}


def _epoch_timer(keras):
    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.last, self.seconds = None, None

        def on_epoch_end(self, epoch, logs=None):
            now = _clock()
            if self.last is not None:
                self.seconds = {c: now[c] - self.last[c] for c in CLOCKS}
            self.last = now

    return EpochTimer()


def _median_ratio(numerators, denominators, scale=1.0):
    return {c: float(np.median([a[c] / (scale * b[c]) for a, b in zip(numerators, denominators)])) for c in CLOCKS}


def fit_overhead(tf, args):
    import keras

    import tfvb

    images, _ = tfvb.data.mnist_sample()
    reps = -(-args.fit_images // len(images))
    grey = np.concatenate([images] * reps)[:args.fit_images]
    binary = tfvb.data.binarize_fixed(grey)
    batch = 100
    steps = -(-len(binary) // batch)

    def model(adam=tfvb.optimizers.Adam):
        m = tfvb.models.IWAE(k=1, seed=0)
        m.compile(optimizer=adam(1e-3, epsilon=1e-4))
        return m

    batches = [tf.constant(binary[i:i + batch]) for i in range(0, len(binary), batch)]

    def bare_steps(adam):
        step = tf.function(model(adam).train_step)

        def run():
            start = _clock()
            for b in batches:
                logs = step(b)
            float(logs["loss"])
            return {c: _clock()[c] - start[c] for c in CLOCKS}

        return run

    def fitted(data, keras_loop=False):
        m = model()
        fit = (lambda *a, **k: keras.Model.fit(m, *a, **k)) if keras_loop else m.fit

        def run():
            timer = _epoch_timer(keras)
            fit(data, epochs=2, verbose=0, callbacks=[timer], shuffle=False)
            return timer.seconds

        return run

    prebinarized = tf.data.Dataset.from_tensor_slices(binary).batch(batch)
    image_dataset = tfvb.data.image_dataset(grey, batch_size=batch)

    def pipeline(data):
        def run():
            start = _clock()
            for _ in data:
                pass
            return {c: (_clock()[c] - start[c]) / steps for c in CLOCKS}

        return run

    fns = {"bare": bare_steps(tfvb.optimizers.Adam), "bare_keras_adam": bare_steps(keras.optimizers.Adam),
           "keras_fit": fitted(prebinarized, keras_loop=True),
           "fit": fitted(prebinarized),
           "fit_image_dataset": fitted(image_dataset),
           "fit_one_batch": fitted(tf.data.Dataset.from_tensor_slices(binary[:batch]).batch(batch)),
           "image_dataset_alone": pipeline(image_dataset), "prebinarized_alone": pipeline(prebinarized)}
    for fn in fns.values():
        fn()

    def run(peak):
        times = {name: [] for name in fns}
        for _ in range(args.reps):
            for name, fn in fns.items():
                times[name].append(fn())
        bare_step = [{c: t[c] / steps for c in CLOCKS} for t in times["bare"]]
        epoch_cost = [{c: o[c] - b[c] for c in CLOCKS} for o, b in zip(times["fit_one_batch"], bare_step)]
        return {"fused_adam_step_over_keras_adam_step": _median_ratio(times["bare"], times["bare_keras_adam"]),
                "vae_fit_over_bare_steps": _median_ratio(times["fit"], bare_step, steps),
                "vae_keras_fit_over_bare_steps": _median_ratio(times["keras_fit"], bare_step, steps),
                "vae_fit_epoch_cost_in_steps": _median_ratio(epoch_cost, bare_step),
                "image_dataset_fit_over_prebinarized_fit": _median_ratio(times["fit_image_dataset"], times["fit"]),
                "_bare_step_ms": float(np.median([t["cpu"] for t in bare_step])) * 1e3,
                "_image_dataset_batch_ms": float(np.median([t["cpu"] for t in times["image_dataset_alone"]])) * 1e3,
                "_prebinarized_batch_ms": float(np.median([t["cpu"] for t in times["prebinarized_alone"]])) * 1e3}

    return run
