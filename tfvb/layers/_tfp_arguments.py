"""`tfp.layers` arguments on tfvb layers: accepted where they mean what a tfvb argument means, else refused.

Code ported from `tfp.layers` passes TFP's injected callables. A tfvb layer reads
them before Keras sees its keyword arguments:

    kernel_divergence_fn=lambda q, p, _: kl(q, p)        accepted: the default (the whole KL)
    kernel_divergence_fn=lambda q, p, _: kl(q, p) / N    accepted: num_examples=N
    kl_weight=1/N (DenseVariational)                     accepted: num_examples=N
    kl_use_exact=True / False (DenseVariational)         accepted: kl="analytic" / "sample"
    bias_divergence_fn                                   accepted: TFP's bias has no prior by
                                                         default, nor has tfvb's
    kernel_posterior_fn, make_posterior_fn               refused: `posterior_sigma_init`,
                                                         `kernel_initializer`
    kernel_prior_fn, make_prior_fn                       refused: `prior` (tfvb.priors)
    kernel_posterior_tensor_fn                           refused: the estimator is the class
    bias_posterior_fn, bias_prior_fn, bias_posterior_    refused: the bias is a point
        tensor_fn                                        estimate (`bias_initializer`)
    kernel_divergence_fn=None                            refused: a Bayesian layer has a KL

A divergence function is recognised by what it computes: it is called once on
two Gaussians with a known KL, and must return that KL or that KL over a
whole number N (anything else is refused, naming `num_examples` and `kl`).
"""

import numbers

import numpy as np

__all__ = ["translate", "REFUSED"]

#: TFP argument -> what to use in tfvb instead (the error names it).
REFUSED = {
    "kernel_posterior_fn": "`posterior_sigma_init` (the initial sigma of tfvb's mean-field Gaussian posterior "
                           "N(mu, softplus(rho)^2), TFP's default_mean_field_normal_fn) and `kernel_initializer` (mu)",
    "make_posterior_fn": "`posterior_sigma_init` and `kernel_initializer` (tfvb's posterior is a mean-field "
                         "Gaussian)",
    "kernel_prior_fn": "`prior=tfvb.priors.Normal(scale)` (TFP's default is Normal(1.0), tfvb's too) or "
                       "`prior=tfvb.priors.ScaleMixtureNormal(...)`",
    "make_prior_fn": "`prior=tfvb.priors.Normal(scale)` or `prior=tfvb.priors.ScaleMixtureNormal(...)`",
    "kernel_posterior_tensor_fn": "the layer class: DenseReparameterization draws W = mu + sigma eps, "
                                  "DenseFlipout and DenseLocalReparameterization their own estimators",
    "bias_posterior_fn": "`bias_initializer` (tfvb's bias is a point estimate, TFP's default)",
    "bias_prior_fn": "nothing: tfvb's bias is a point estimate without a prior (TFP's default bias_prior_fn=None)",
    "bias_posterior_tensor_fn": "nothing: tfvb's bias is a point estimate",
}
_DIVERGENCE_HINT = ("`num_examples=N` (the layer adds KL / N) or the default (the whole KL); `kl='analytic'` or "
                    "`kl='sample'` for how the KL is computed")


def _probe(fn, name):
    """N such that `fn(q, p, None)` = KL(q || p) / N (N = 1: the whole KL), or a ValueError."""
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    q = tfd.Independent(tfd.Normal(loc=np.zeros(3, np.float32), scale=np.ones(3, np.float32)), 1)
    p = tfd.Independent(tfd.Normal(loc=np.full(3, 2.0, np.float32), scale=np.ones(3, np.float32)), 1)
    want = 6.0  # 3 x (2 - 0)^2 / 2
    try:
        got = float(np.asarray(fn(q, p, None)))
    except Exception as error:  # noqa: BLE001  (what the user's function raised, reported with the advice)
        raise ValueError(f"Expected `{name}` to compute kl(q, p) or kl(q, p) / N on tfp distributions; tfvb "
                         f"uses {_DIVERGENCE_HINT}. Received a function that raised {error!r}") from None
    ratio = want / got if got > 0 else float("inf")
    n = int(round(ratio)) if np.isfinite(ratio) else 0
    if n < 1 or abs(ratio - n) > 1e-4 * max(1, n):
        raise ValueError(f"Expected `{name}` to return kl(q, p) or kl(q, p) / N for a whole number N; tfvb uses "
                         f"{_DIVERGENCE_HINT}. Received a function returning {got:.6g} for a KL of {want:g}")
    return n


def _examples_from(value, name, num_examples):
    n = None if value == 1 else value
    if num_examples is not None and n != num_examples:
        raise ValueError(f"Expected `{name}` to agree with `num_examples`. Received: {name} scaling the KL by "
                         f"1/{value} and num_examples={num_examples}")
    return n


def translate(kwargs, num_examples, kl):
    """(kwargs without TFP's arguments, num_examples, kl) for a tfvb layer built with `kwargs`."""
    kwargs = dict(kwargs)
    for name in REFUSED:
        if name in kwargs:
            value = kwargs.pop(name)
            if name in ("bias_prior_fn", "bias_posterior_tensor_fn") and value is None:
                continue  # TFP's defaults for a point-estimate bias
            raise ValueError(f"Expected no `{name}` (a tfp.layers argument): in tfvb use {REFUSED[name]}. "
                             f"Received: {name}={value!r}")
    kwargs.pop("bias_divergence_fn", None)  # without a bias prior TFP adds no bias KL; nor does tfvb
    if "kernel_divergence_fn" in kwargs:
        fn = kwargs.pop("kernel_divergence_fn")
        if fn is None:
            raise ValueError("Expected a `kernel_divergence_fn` (a tfp.layers argument) that computes a KL: a tfvb "
                             "Bayesian layer always adds its KL (use keras.layers.Dense for a layer without one). "
                             "Received: kernel_divergence_fn=None")
        num_examples = _examples_from(_probe(fn, "kernel_divergence_fn"), "kernel_divergence_fn", num_examples)
    if "kl_weight" in kwargs:
        weight = kwargs.pop("kl_weight")
        if weight is not None:
            if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 < weight <= 1 \
                    or abs(1 / weight - round(1 / weight)) > 1e-6 * (1 / weight):
                raise ValueError(f"Expected `kl_weight` (a tfp.layers argument) to be 1/N for a whole number N: "
                                 f"tfvb uses `num_examples=N`. Received: kl_weight={weight!r}")
            num_examples = _examples_from(int(round(1 / weight)), "kl_weight", num_examples)
    if "kl_use_exact" in kwargs:
        exact = kwargs.pop("kl_use_exact")
        wanted = "analytic" if exact else "sample"
        if kl not in ("auto", wanted):
            raise ValueError(f"Expected `kl_use_exact` (a tfp.layers argument) to agree with `kl`. Received: "
                             f"kl_use_exact={exact!r} and kl={kl!r}")
        kl = wanted
    return kwargs, num_examples, kl
