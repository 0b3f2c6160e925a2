"""Deep ensembles: n networks trained from different initialisations and data orders, averaged.

    p(y | x) = (1/n) sum_m p(y | x, theta_m)

Each member theta_m minimizes its own loss from its own random
initialisation, seeing the training data in its own random order
(Lakshminarayanan et al., 2017); the spread of the members is the
epistemic uncertainty. The members are the Monte Carlo samples of
`predict_uncertainty`, which reports the names every tfvb predictive model
reports (`mean`, `entropy`, `mutual_information`, `variation_ratio` for
classification; `mean`, `variance`, `epistemic`, `aleatoric` for
regression), so an ensemble compares with a BNN or MC dropout as is.

References:
    Lakshminarayanan, Pritzel, Blundell. Simple and Scalable Predictive
    Uncertainty Estimation using Deep Ensembles. NeurIPS 2017.
    Ovadia et al. Can You Trust Your Model's Uncertainty? Evaluating
    Predictive Uncertainty Under Dataset Shift. NeurIPS 2019.
"""

import functools
import inspect
import math

import keras
import numpy as np
import tensorflow as tf

from tfvb import _checks, _traced, gaussian, randomness, uncertainty
from tfvb.models import _base, _compile, _divergence, _inputs, _labels, _task, _train_function
from tfvb.models._distribute import LocalBatchBuild

__all__ = ["DeepEnsemble"]


def _member_outputs(member, batch):
    """One member's float32 outputs at inference."""
    return tf.cast(member(batch, training=False), tf.float32)


def _member_seed(seed, index):
    """A 32-bit seed for member `index` of the ensemble seeded `seed` (no overlap between ensembles)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


class _MemberBatches(keras.utils.PyDataset):
    """Array data as batches of n per-member minibatches: x (B, n, ...), y (B, n, ...).

    Member m visits the examples in its own order, drawn afresh each epoch
    from (seed, epoch, m), as independent training runs would.
    """

    def __init__(self, arrays, n, batch_size, seed, epoch=0):
        super().__init__()
        self.arrays = arrays
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.size = len(arrays[0])
        self._shuffle()

    def _shuffle(self):
        self.orders = np.stack([np.random.default_rng([self.seed, self.epoch, m]).permutation(self.size)
                                for m in range(self.n)], axis=1)  # (size, n)

    def __len__(self):
        return math.ceil(self.size / self.batch_size)

    def __getitem__(self, i):
        rows = self.orders[i * self.batch_size:(i + 1) * self.batch_size]  # (B, n)
        return tuple(a[rows] for a in self.arrays)

    def on_epoch_end(self):
        self.epoch += 1
        self._shuffle()

    def at_epoch(self, epoch):
        """Draw the members' orders of `epoch` (a resumed fit starts at the restored epoch, not at 0)."""
        if epoch != self.epoch:
            self.epoch = epoch
            self._shuffle()


class _MemberOrderCallback(keras.callbacks.Callback):
    """Tells the per-member batches which epoch Keras runs, once a `BackupAndRestore` has chosen it."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.at_epoch(epoch)


def _check_independent(members):
    """Refuse members that are one model, share a variable (their spread would not be an ensemble's), or
    predict outputs of different shapes."""
    owner = {}
    for i, member in enumerate(members):
        for j, other in enumerate(members[:i]):
            if member is other:
                raise ValueError(f"Expected {len(members)} distinct members (an ensemble's spread comes from their "
                                 f"independent weights). Received: members {j} and {i} are the same model")
        layer_of = {id(v): layer.name for layer in member._flatten_layers(include_self=False) for v in layer.weights}
        for v in member.weights:
            j = owner.setdefault(id(v), i)
            if j != i:
                raise ValueError(f"Expected members that share no weights (each with its own layers and "
                                 f"initialisation). Received: members {j} and {i} share the layer "
                                 f"{layer_of.get(id(v), '?')!r} (variable {v.path!r}); build new layers for every "
                                 "member")
    shapes = sorted({str(tuple(m.outputs[0].shape[1:])) if getattr(m, "outputs", None) else "unknown"
                     for m in members})
    if len(shapes) != 1:
        raise ValueError(f"Expected members with one output shape (the ensemble averages them). Received output "
                         f"shapes: {', '.join(shapes)}")


def _with_class_weight(sample_weight, class_weight, y):
    """`sample_weight` times the per-row weights `class_weight` gives the labels `y` (integers, or one-hot /
    soft rows read by their largest entry, as Keras reads them), so they follow the rows through each member's
    own shuffle; `sample_weight` as it is without a `class_weight`."""
    if class_weight is None:
        return sample_weight
    if not isinstance(class_weight, dict):
        raise ValueError(f"Expected `class_weight` to be a dict {{class index: weight}}. Received: {class_weight!r}")
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y))
    rows = np.array([float(class_weight.get(int(c), 1.0)) for c in np.round(labels).astype(np.int64)], np.float32)
    return rows if sample_weight is None else np.asarray(sample_weight, np.float32).reshape(len(y)) * rows


@keras.saving.register_keras_serializable(package="tfvb")
class DeepEnsemble(_inputs.InputRange, LocalBatchBuild, _divergence.FiniteWeightsOnly,
                   _train_function.LeanTrainFunction, keras.Model):
    """A deep ensemble of Keras networks, trained by one `fit` and averaged in prediction.

    `fit` trains every member in each step of one compiled graph: member m
    gets its own minibatch from its own shuffle of the data (array inputs;
    a `tf.data.Dataset` is shared by all members), its own loss, and its
    own optimizer state (one optimizer over all members' weights: Adam,
    SGD, RMSprop act per weight, so this is n independent runs; under
    mixed_float16 the loss scale is shared). `model(x)` returns the
    ensemble's prediction in the members' output kind (logits: log of the
    mean probabilities; probabilities: their mean; regression: the mean;
    means and variances, members trained with `tfvb.gaussian.GaussianNLL`:
    the mean and variance of the members' Gaussian mixture, in the members'
    parameterization, so the compiled loss of `model(x)` is the NLL of the
    moment-matched Gaussian).

    Args:
        members: a function `build()` or `build(i)` returning a built Keras
            model (called n times, after `keras.utils.set_random_seed` with a
            seed drawn from (seed, i), so the initialisations differ and are
            reproducible), or a list of built models.
        n: the number of members when `members` is a function.
        seed: seed of the members' initialisations and data orders.
        task: "classification", "regression" or None (from the compiled loss:
            a (sparse) categorical cross-entropy means classification).
        gaussian_nll: the `GaussianNLL` config of members that predict means
            and variances; written in a saved ensemble's config (so that a
            copy loaded without compiling predicts Gaussians), not needed when
            the ensemble is compiled with the loss.
        input_range: None, or (low, high): inputs outside it are refused at
            run time (training and prediction), e.g. (0, 1) for images
            trained on scaled pixels.

    Compile it like one of its members (`optimizer`, `loss`, `metrics`); a
    list of compiled models compiles the ensemble with the first member's
    loss, metrics and a fresh optimizer of the same configuration.
    Training logs report the members' mean `loss` and metrics; `evaluate`
    adds the ensemble's own `ensemble_nll` and `ensemble_accuracy`
    (classification), `ensemble_rmse` (regression), and the mixture's
    `ensemble_nll` (Gaussian members). Classification labels
    are integers or one-hot rows whatever the loss (see `tfvb.models._labels`:
    checked, and shaped for a (sparse) categorical cross-entropy).

    Example:
        >>> def lenet():
        ...     return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(6, 5, activation="relu"),
        ...                              keras.layers.Flatten(), keras.layers.Dense(10)])
        >>> ensemble = tfvb.models.DeepEnsemble(lenet, n=5, seed=0)
        >>> ensemble.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> images, labels = tfvb.data.mnist_sample()     # 2,000 digits bundled with tfvb
        >>> history = ensemble.fit(images[:1000], labels[:1000], epochs=1, batch_size=128, verbose=0)  # all five
        >>> u = ensemble.predict_uncertainty(images[1000:1100])   # mean, entropy, mutual_information, ...
        >>> u["mutual_information"].shape
        (100,)

    Regression with Gaussian members (the paper's recipe: each member
    predicts a mean and a variance):

        >>> def regressor():
        ...     return keras.Sequential([keras.Input((1,)), keras.layers.Dense(50, activation="relu"),
        ...                              keras.layers.Dense(2)])                  # mean, variance
        >>> x = np.linspace(-1, 1, 200, dtype="float32")[:, None]
        >>> y = np.sin(3 * x[:, 0]) + 0.1 * np.random.default_rng(0).normal(size=200).astype("float32")
        >>> gaussians = tfvb.models.DeepEnsemble(regressor, n=5, seed=0)
        >>> gaussians.compile(optimizer="adam", loss=tfvb.gaussian.GaussianNLL())
        >>> history = gaussians.fit(x, y, epochs=2, batch_size=32, verbose=0)
        >>> sorted(gaussians.predict_uncertainty(x[:5]))    # aleatoric: the members' mean variance
        ['aleatoric', 'epistemic', 'mean', 'std', 'variance']

    References:
        Lakshminarayanan, Pritzel, Blundell. Simple and Scalable Predictive
        Uncertainty Estimation using Deep Ensembles. NeurIPS 2017.
    """

    def __init__(self, members, n=5, seed=0, task=None, gaussian_nll=None, input_range=None, **kwargs):
        # Inputs reach `call` unrounded under mixed precision (so `input_range` checks the values given);
        # each member casts them to its own compute dtype.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.input_range = input_range
        # The GaussianNLL of a saved ensemble of Gaussian members (its config), so that a copy loaded without
        # compiling still predicts mixtures; set from the compiled loss when the ensemble is saved.
        self._stored_gaussian = None if gaussian_nll is None else gaussian.GaussianNLL(**dict(gaussian_nll))
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"Expected `seed` to be a non-negative integer. Received: seed={seed!r}")
        self.seed = seed
        if callable(members) and not isinstance(members, keras.Model):
            n = _checks.positive_int("n", n)
            members = [self._build_member(members, i) for i in range(n)]
        members = list(members) if isinstance(members, (list, tuple)) else None
        if not members or not all(isinstance(m, keras.Model) for m in members):
            raise ValueError("Expected `members` to be a function returning a keras.Model or a non-empty list of "
                             f"keras.Models. Received: members={members!r}")
        self.members = members
        self.n = len(members)
        shapes = {tuple(m.inputs[0].shape[1:]) if getattr(m, "inputs", None) else None for m in members}
        if len(shapes) != 1 or None in shapes or any(len(getattr(m, "inputs", [])) != 1 for m in members):
            raise ValueError("Expected built members with one input of one shape (e.g. a Sequential starting with "
                             f"keras.Input). Received input shapes: {sorted(map(str, shapes))}")
        self.member_input_shape = shapes.pop()
        _check_independent(members)
        self.task = None if task is None else _checks.one_of("task", task, set(_task.TASKS))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ensemble_trackers = {"ensemble_nll": keras.metrics.Mean(name="ensemble_nll"),
                                  "ensemble_accuracy": keras.metrics.Mean(name="ensemble_accuracy"),
                                  "ensemble_rmse": keras.metrics.RootMeanSquaredError(name="ensemble_rmse")}
        self.build((None,) + self.member_input_shape)
        if all(getattr(m, "compiled", False) and m.loss is not None for m in members):
            first = members[0]
            optimizer = first.optimizer.__class__.from_config(first.optimizer.get_config())
            self.compile(optimizer=optimizer, loss=first.loss, metrics=first.get_compile_config().get("metrics"))

    def _build_member(self, build, index):
        keras.utils.set_random_seed(_member_seed(self.seed, index))
        takes_index = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                          for p in inspect.signature(build).parameters.values())
        return build(index) if takes_index else build()

    def build(self, input_shape):
        self.built = True

    def compile(self, optimizer="rmsprop", *args, **kwargs):
        """Keras' `compile`, with `optimizer="adam"` read as `tfvb.optimizers.Adam()` as in tfvb's other models."""
        super().compile(_compile.fused_adam(optimizer), *args, **kwargs)

    def compile_from_config(self, config):
        _compile.compile_from_config(self, config)

    # ---- what the members predict: from the compiled loss ------------------------------------------
    @property
    def task_and_outputs(self):
        """("classification", "logits"|"probabilities") or ("regression", "values"|"gaussian"), from the loss."""
        loss = self._loss_in_use
        key = (id(loss), self.task)
        cached = self.__dict__.get("_task_cache")
        if cached is None or cached[0] != key:
            resolved = _task.infer(None if loss is None else keras.losses.get(loss), task=self.task,
                                   model=self.members[0])
            cached = self.__dict__["_task_cache"] = (key, resolved)
        return cached[1]

    @property
    def member_loss(self):
        if not self.compiled or self.loss is None:
            raise ValueError("Expected a DeepEnsemble compiled with the members' loss, e.g. compile(optimizer, "
                             "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)). Received: "
                             f"loss={getattr(self, 'loss', None)!r}")
        return keras.losses.get(self.loss)

    @property
    def _loss_in_use(self):
        """The loss that says what the members predict: the compiled one, else the first member's, else the
        `GaussianNLL` of a saved ensemble's config (None when there is none)."""
        loss = self.loss if self.compiled else None
        if loss is None:
            loss = getattr(self.members[0], "loss", None) or self._stored_gaussian
        return loss

    @property
    def _gaussian(self):
        """The `GaussianNLL` of Gaussian members, or None."""
        loss = self._loss_in_use
        loss = None if loss is None else keras.losses.get(loss)
        return loss if isinstance(loss, gaussian.GaussianNLL) else None

    @property
    def metrics(self):
        # The ensemble's own metrics are measured by `evaluate` (and fit's validation) only, those of its task;
        # listed then only, so the steps' logs hold exactly the metrics' names and Keras reads their
        # cross-replica results at the end (a step's own logs are one replica's under tf.distribute).
        own = [self.loss_tracker]
        if self.__dict__.get("_tfvb_evaluating"):
            own += [self.ensemble_trackers[k] for k in self._ensemble_metric_names()]
        ensemble = list(self.ensemble_trackers.values())
        # Keras' own loss tracker (also named "loss") is replaced by the members' mean loss.
        return own + [m for m in super().metrics
                      if m.name != "loss" and not any(m is o for o in own) and not any(m is e for e in ensemble)]

    def _ensemble_metric_names(self):
        task, kind = self.task_and_outputs
        if task == "classification":
            return ("ensemble_nll", "ensemble_accuracy")
        return ("ensemble_nll", "ensemble_rmse") if kind == "gaussian" else ("ensemble_rmse",)

    # ---- the members' forward passes --------------------------------------------------------------
    def _member_outputs(self, x, training=False):
        x = _checks.in_range(x, self._input_range)
        return [tf.cast(member(x, training=training), tf.float32) for member in self.members]

    def call(self, inputs, training=None):
        """The ensemble's prediction, of the members' output kind (see the class docstring)."""
        stack = tf.stack(self._member_outputs(inputs, training=training))
        if self.task_and_outputs[1] == "gaussian":
            mean, variance = self._mixture(stack)
            return tf.concat([mean, self._gaussian.raw(variance)], axis=-1)
        return _task.combine(stack, *self.task_and_outputs)

    def _mixture(self, stack):
        """Mean and variance (N, D) of the uniform mixture of the members' Gaussians, from their outputs."""
        means, variances = self._gaussian.moments(stack)
        mean = tf.reduce_mean(means, axis=0)
        # The mean variance plus the means' spread about their mean (no E[m^2] - mean^2 cancellation).
        return mean, tf.reduce_mean(variances + tf.square(means - mean), axis=0)

    def _mixture_nll(self, stack, y):
        """Per-example -log (1/n) sum_m N(y; m_m, s_m^2), summed over the targets."""
        means, variances = self._gaussian.moments(stack)
        y = tf.cast(y, means.dtype)
        y = tf.reshape(y, tf.shape(means)[1:])
        log_densities = gaussian.log_density(y[None], means, variances)  # (n, N, D)
        mixture = tf.reduce_logsumexp(log_densities, axis=0) - tf.math.log(tf.cast(self.n, means.dtype))
        return -tf.reduce_sum(mixture, axis=-1)

    @property
    def num_classes(self):
        return int(self.members[0].outputs[0].shape[-1])

    def _targets(self, y):
        """Class labels checked in the step and shaped for the members' loss; regression targets as given."""
        if y is None or self.task_and_outputs[0] != "classification":
            return y
        name = _task.loss_name(self.member_loss)
        form = {"sparse_categorical_crossentropy": "sparse", "categorical_crossentropy": "categorical"}.get(name)
        return _labels.labels_for_loss(y, self.num_classes, form)

    def _is_per_member(self, x):
        return tf.convert_to_tensor(x).shape.rank == len(self.member_input_shape) + 2

    def _loss(self, member, y, outputs, sample_weight):
        values = _task.per_example_loss(self.member_loss, y, outputs)
        loss = _base.average_loss(values, sample_weight)
        regularization = member.losses  # weight regularizers and add_loss terms of this member only
        return loss + tf.add_n(regularization) / _base.replicas_in_sync() if regularization else loss

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        per_member = self._is_per_member(x)
        if per_member and sample_weight is not None:  # `_MemberBatches`: (B, n) weights, a column per member
            x, y, _ = _base.unpack_batch((x, y))
            sample_weight = _checks.assert_non_negative_finite(sample_weight, "sample_weight")
        else:
            x, y, sample_weight = _base.unpack_batch(data)
        x = _checks.in_range(x, self._input_range)
        pick = (lambda t, m: None if t is None else t[:, m]) if per_member else (lambda t, m: t)
        with tf.GradientTape() as tape:
            losses, seen = [], []
            for m, member in enumerate(self.members):
                xm, ym, wm = pick(x, m), self._targets(pick(y, m)), pick(sample_weight, m)
                out = tf.cast(member(xm, training=True), tf.float32)
                losses.append(self._loss(member, ym, out, wm))
                seen.append((ym, out, wm))
            # Each member's weights receive the gradient of its own loss only.
            total = tf.add_n(losses)
            scaled = self.optimizer.scale_loss(total)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        # The members' mean loss: `_loss` divides by the global batch (for the gradient summed over replicas).
        self.loss_tracker.update_state(total * _base.replicas_in_sync() / self.n)
        for ym, out, wm in seen:
            self.compute_metrics(None, ym, out, wm)
        return _base.step_logs(self.get_metrics_result())

    def test_step(self, data):
        x, y, sample_weight = _base.unpack_batch(data)
        y = self._targets(y)
        outputs = self._member_outputs(x)
        for member, out in zip(self.members, outputs):
            self.loss_tracker.update_state(self._loss(member, y, out, sample_weight) * _base.replicas_in_sync())
            self.compute_metrics(None, y, out, sample_weight)
        stack = tf.stack(outputs)
        task, kind = self.task_and_outputs
        if task == "classification":
            probs = tf.reduce_mean(_task.probabilities(stack, kind), axis=0)
            self.ensemble_trackers["ensemble_nll"].update_state(_task.class_nll(probs, y), sample_weight)
            self.ensemble_trackers["ensemble_accuracy"].update_state(_task.correct(probs, y), sample_weight)
        elif kind == "gaussian":
            mean, _ = self._mixture(stack)
            self.ensemble_trackers["ensemble_rmse"].update_state(
                tf.reshape(tf.cast(y, tf.float32), tf.shape(mean)), mean, sample_weight)
            self.ensemble_trackers["ensemble_nll"].update_state(self._mixture_nll(stack, y), sample_weight)
        else:
            mean = tf.reduce_mean(stack, axis=0)
            self.ensemble_trackers["ensemble_rmse"].update_state(
                tf.reshape(tf.cast(y, tf.float32), tf.shape(mean)), mean, sample_weight)
        return _base.step_logs(self.get_metrics_result())

    # ---- fit: per-member data orders -------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` for all members at once; array inputs give each member its own data order.

        With arrays, `validation_split` holds out the last rows (as Keras
        does), `sample_weight` and `class_weight` follow their rows in every
        member's order; `shuffle=False` makes all members see the data in the
        given order.
        """
        self.member_loss  # noqa: B018  (raises before any step when there is no loss to train with)
        if "shuffle" in kwargs:  # read here to choose the members' orders: "False" must not mean True
            kwargs["shuffle"] = _checks.boolean("shuffle", kwargs["shuffle"])
        x, y, kwargs = self._user_data(x, y, kwargs, "fit")
        x, kwargs = _base.fit_arguments(self, x, kwargs)  # a diverged run stops with an error
        arrays = x is not None and hasattr(x, "shape") and not isinstance(x, tf.data.Dataset)
        if arrays and kwargs.get("shuffle", True) is not False:
            data = [np.asarray(x), np.asarray(y)]
            weights = _with_class_weight(kwargs.pop("sample_weight", None), kwargs.pop("class_weight", None), data[1])
            if weights is not None:
                data.append(np.asarray(weights))
            split = _inputs.validation_split_of(kwargs)
            kwargs.pop("validation_split", None)
            if split:
                cut = int(math.floor(len(data[0]) * (1.0 - split)))
                kwargs.setdefault("validation_data", tuple(a[cut:] for a in data))
                data = [a[:cut] for a in data]
            # The members' orders are drawn per epoch from the seed; Keras would also shuffle the batches'
            # order with Python's global `random` (not reproducible, and not restored by a resume).
            kwargs["shuffle"] = False
            batches = _MemberBatches(data, self.n, batch_size or 32, self.seed, kwargs.get("initial_epoch", 0))
            kwargs["callbacks"] = [_MemberOrderCallback(batches)] + list(kwargs["callbacks"])
            self._train_on(per_member=True)
            return super().fit(batches, epochs=epochs, **kwargs)
        self._train_on(per_member=False)
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def _train_on(self, per_member):
        """Retrace the train step when a fit batches the data differently from the previous one.

        Per-member batches (B, n, ...) and shared ones (B, ...) differ in rank: a train function traced
        on one and reused for the other is relaxed to inputs of unknown rank, which the step cannot read.
        """
        if self.__dict__.get("_tfvb_per_member") not in (None, per_member):
            self.train_function = None
        self.__dict__["_tfvb_per_member"] = per_member

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        x, y, kwargs = self._user_data(x, y, kwargs, "evaluate")
        self.__dict__["_tfvb_evaluating"] = True  # `metrics` lists the ensemble's own (see there)
        try:
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        finally:
            self.__dict__["_tfvb_evaluating"] = False

    def _user_data(self, x, y, kwargs, method):
        """(x, y, kwargs) of a fit/evaluate call, lists made arrays and everything checked (`tfvb.models._inputs`)."""
        classification = self.task_and_outputs[0] == "classification"
        x, y, weights = _inputs.user_data(x, y, kwargs.pop("sample_weight", None), method=method,
                                          labels=classification)
        if weights is not None:
            kwargs["sample_weight"] = weights
        if not classification:
            _inputs.refuse_class_weight(self, kwargs)
        _base.require_examples(x, method)
        if _inputs.num_rows(x) is not None:
            if tuple(np.shape(x)[1:]) != self.member_input_shape:
                raise ValueError(f"Expected `x` of shape {(None,) + self.member_input_shape}, the members' input. "
                                 f"Received: x.shape={np.shape(x)}")
            if y is not None and classification:
                _labels.check_label_array(y, self.num_classes)
        return x, y, _inputs.validation_data(kwargs, labels=classification)

    # ---- predictive uncertainty ------------------------------------------------------------------
    def predict_samples(self, x, samples=None, batch_size=256, seed=None):
        """The members' predictions stacked: class probabilities (n, N, C), regression means (n, N[, D]), or
        for Gaussian members a dict of numpy `mean` and `variance`, each (n, N) or (n, N, D)."""
        if samples is not None:
            _checks.positive_int("samples", samples)  # accepted for the common interface: the members are the samples
        randomness.check_seed(seed)  # likewise: the prediction is deterministic
        batch_size = _checks.positive_int("batch_size", batch_size)
        _divergence.require_finite_weights(self, "predict with")
        x = np.asarray(_inputs.user_data(x, method="predict_samples")[0], dtype=np.float32)
        if x.ndim == len(self.member_input_shape) and self.member_input_shape[-1] == 1:
            x = x[..., None]
        if len(x) == 0 or tuple(x.shape[1:]) != self.member_input_shape:
            raise ValueError(f"Expected inputs of shape {(None,) + self.member_input_shape} with at least one "
                             f"example. Received: inputs.shape={x.shape}")
        _checks.in_range(x, self._input_range)  # eager: raises here
        # One compiled function per member: on CPU, n members in one graph ran 1.7-2.5x slower than
        # n compiled calls in a single probe (no script or stored result; the graph's concurrent
        # convolutions compete for the cores).
        spec = tf.TensorSpec((None,) + self.member_input_shape, tf.float32)
        fns = [_traced.traced_once(self, f"_tfvb_member_fn_{i}", functools.partial(_member_outputs, m), spec,
                                   autograph=False)
               for i, m in enumerate(self.members)]
        batches = [tf.constant(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        stack = tf.stack([tf.concat([fn(b) for b in batches], axis=0) for fn in fns])
        task, kind = self.task_and_outputs
        if task == "classification":
            return _task.probabilities(stack, kind).numpy()
        if kind == "gaussian":
            means, variances = self._gaussian.numpy_moments(stack)
            return {"mean": means, "variance": variances}
        return stack.numpy()

    def predict_uncertainty(self, x, samples=None, batch_size=256, seed=None):
        """Gal's measures over the members (`tfvb.uncertainty`), as the Bayesian models report them.

        Args:
            x: inputs of the members' input shape.
            samples: accepted (a positive integer or None) so that code written for the Bayesian
                models runs unchanged, and not used: the n members are the samples.
            batch_size: inputs per call of each member.
            seed: accepted for the same reason; an ensemble's prediction is deterministic.

        Returns:
            classification: `mean`, `entropy`, `expected_entropy`, `mutual_information`,
            `variation_ratio`, `prediction`; regression: `mean`, `variance`, `epistemic`,
            `aleatoric` (0 when the members predict means only; with Gaussian members the mean of
            their variances, `variance` then being the mixture's), `std`.
        """
        _inputs.require_arrays(x, "predict_uncertainty")
        stack = self.predict_samples(x, samples, batch_size, seed)
        if self.task_and_outputs[0] == "classification":
            return uncertainty.classification_uncertainty(stack)
        if isinstance(stack, dict):
            return uncertainty.regression_uncertainty(stack["mean"], stack["variance"])
        if stack.ndim == 3 and stack.shape[-1] == 1:
            stack = stack[..., 0]
        return uncertainty.regression_uncertainty(stack)

    def golden_outputs(self, x):
        """The ensemble's mean prediction (probabilities or means): deterministic, for the zoo."""
        return self.predict_uncertainty(x)["mean"]

    def get_config(self):
        task = self.task
        if task is None and self.compiled and self.loss is not None:
            task = self.task_and_outputs[0]  # known from the loss: a copy predicts before it is compiled
        stored = self._gaussian
        return {**super().get_config(), "members": [keras.saving.serialize_keras_object(m) for m in self.members],
                "n": self.n, "seed": self.seed, "task": task, "input_range": self.input_range,
                "gaussian_nll": None if stored is None else {"min_variance": stored.min_variance}}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["members"] = [keras.saving.deserialize_keras_object(m) for m in config["members"]]
        return cls(**config)
