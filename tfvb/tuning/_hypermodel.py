"""What every tfvb HyperModel shares: a search space with overrides, its objective, compile."""

import numbers

import keras_tuner

from tfvb import optimizers

LOG_LR = {"min_value": 1e-4, "max_value": 3e-3, "sampling": "log"}


def _declare(hp, name, spec):
    """Register `name` in `hp` from a space entry: list -> Choice, dict -> Float/Int, value -> Fixed."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError(f"Expected a non-empty list of choices for {name!r}. Received: {spec!r}")
        return hp.Choice(name, list(spec))
    if isinstance(spec, dict):
        bounds = (spec.get("min_value"), spec.get("max_value"))
        if all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in bounds):
            return hp.Int(name, **spec)
        return hp.Float(name, **spec)
    return hp.Fixed(name, spec)


class HyperModel(keras_tuner.HyperModel):
    """Base class: `default_space()` with the `space` overrides, the `objective`, compile.

    Subclasses define `default_space()`, `build(hp)` and, when they need
    callbacks or bookkeeping around training, `fit(hp, model, ...)`.
    """

    objective = None
    num_examples = None  # N, for the families whose models need it

    def __init__(self, space=None, objective=None, seed=None, name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        defaults = self.default_space()
        unknown = sorted(set(space or {}) - set(defaults))
        if unknown:
            raise ValueError(f"Expected hyperparameter names among {sorted(defaults)}. Received: {unknown}")
        self.space = {**defaults, **(space or {})}
        if objective is not None:
            self.objective = objective
        self.seed = seed

    @classmethod
    def default_space(cls):
        raise NotImplementedError

    def value(self, hp, name):
        return _declare(hp, name, self.space[name])

    def hidden_units(self, hp):
        return (self.value(hp, "units"),) * self.value(hp, "num_layers")

    def learn_num_examples(self, args, kwargs, hp=None):
        """Remember N from the first arrays given to `search`, and record it in the trial's `hp`.

        The tuner reloads a trial's model by building it anew and loading its
        weights: N, which `fit` learns from arrays, must come from the
        HyperModel for the reloaded model to evaluate; recorded in the trial
        (a fixed `num_examples`), it is there for a tuner reloaded from its
        directory in another process too (`num_examples_of`).
        """
        x = kwargs.get("x", args[0] if args else None)
        if self.num_examples is None and hasattr(x, "shape") and len(x.shape):
            self.num_examples = int(int(x.shape[0]) * (1.0 - (kwargs.get("validation_split") or 0.0)))
        if hp is not None and self.num_examples is not None and "num_examples" not in hp.values:
            hp.Fixed("num_examples", int(self.num_examples))

    def num_examples_of(self, hp):
        """N for a model built from `hp`: the HyperModel's, else the one recorded in the trial."""
        return self.num_examples if self.num_examples is not None else hp.values.get("num_examples")

    def compile(self, hp, model, **adam):
        model.compile(optimizer=optimizers.Adam(self.value(hp, "learning_rate"), **adam))
        # Built now, so a reloaded best model gets its optimizer state too and can go on training.
        model.optimizer.build(model.trainable_variables)
        return model
