"""RMSE and test log-likelihood of the UCI benchmark against direct computations."""

import math

import numpy as np
import pytest

from tfvb.evaluate import gaussian_test_log_likelihood, mc_test_log_likelihood, regression_scores, rmse


def _direct_mixture_ll(y, f, var):
    """log((1/T) sum_t N(y; f_t, var_t)) point by point, by plain exponentiation."""
    dens = np.exp(-0.5 * (y - f) ** 2 / var) / np.sqrt(2 * np.pi * var)
    return np.log(dens.mean(axis=0))


def test_mc_ll_matches_direct_computation(rng):
    f = rng.normal(3.0, 0.5, size=(200, 30))
    y = rng.normal(3.0, 1.0, size=30)
    tau = 2.5
    direct = _direct_mixture_ll(y, f, 1.0 / tau)
    assert mc_test_log_likelihood(y, f, tau=tau, per_example=True) == pytest.approx(direct, rel=1e-10)
    assert mc_test_log_likelihood(y, f, tau=tau) == pytest.approx(direct.mean(), rel=1e-10)


def test_mc_ll_is_gals_formula(rng):
    f = rng.normal(size=(500, 40))
    y = rng.normal(size=40)
    tau, t = 0.15, f.shape[0]
    a = -0.5 * tau * (y - f) ** 2
    lse = np.log(np.sum(np.exp(a - a.max(0)), axis=0)) + a.max(0)
    gal = np.mean(lse - math.log(t) - 0.5 * math.log(2 * math.pi) + 0.5 * math.log(tau))
    assert mc_test_log_likelihood(y, f, tau=tau) == pytest.approx(gal, rel=1e-12)


def test_mc_ll_stable_far_from_the_data():
    # Every exp underflows here; logsumexp must still return the exact value.
    f = np.zeros((10, 3))
    y = np.full(3, 1e3)
    assert mc_test_log_likelihood(y, f, tau=1.0) == pytest.approx(-0.5e6 - 0.5 * math.log(2 * math.pi))


def test_var_samples_equals_tau_and_heteroscedastic_direct(rng):
    f = rng.normal(size=(50, 20))
    y = rng.normal(size=20)
    assert mc_test_log_likelihood(y, f, var_samples=np.full_like(f, 0.25)) == pytest.approx(
        mc_test_log_likelihood(y, f, tau=4.0))
    var = rng.uniform(0.1, 2.0, size=f.shape)
    assert mc_test_log_likelihood(y, f, var_samples=var) == pytest.approx(_direct_mixture_ll(y, f, var).mean())


def test_multi_output_sums_over_outputs(rng):
    f = rng.normal(size=(20, 10, 2))
    y = rng.normal(size=(10, 2))
    per_output = sum(mc_test_log_likelihood(y[:, d], f[..., d], tau=1.0, per_example=True) for d in range(2))
    # The joint mixture over two outputs is not the product of marginal mixtures: check the joint directly.
    dens = np.exp(-0.5 * ((y - f) ** 2).sum(-1)) / (2 * np.pi)
    assert mc_test_log_likelihood(y, f, tau=1.0) == pytest.approx(np.log(dens.mean(0)).mean())
    assert np.all(np.isfinite(per_output))


def test_mc_ll_converges_to_the_analytic_predictive(rng):
    # f_t ~ N(mu, s^2) and noise 1/tau: the mixture tends to N(y; mu, s^2 + 1/tau).
    t, n, mu, s, tau = 20000, 5, 1.0, 0.7, 2.0
    f = rng.normal(mu, s, size=(t, n))
    y = np.linspace(-1, 3, n)
    exact = gaussian_test_log_likelihood(y, np.full(n, mu), np.full(n, s**2 + 1 / tau), per_example=True)
    got = mc_test_log_likelihood(y, f, tau=tau, per_example=True)
    # Delta method: sd of log(mean of T densities) ~ sd(density) / (sqrt(T) * mean density).
    dens = np.exp(-0.5 * tau * (y - f) ** 2) * math.sqrt(tau / (2 * math.pi))
    se = dens.std(0) / (math.sqrt(t) * dens.mean(0))
    assert np.all(np.abs(got - exact) < 5 * se)


def test_gaussian_ll_and_rmse():
    assert gaussian_test_log_likelihood([0.0], [0.0], [1.0]) == pytest.approx(-0.5 * math.log(2 * math.pi))
    assert rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(math.sqrt(4 / 3))
    assert rmse(np.zeros(4), np.ones((4, 1))) == pytest.approx(1.0)


def test_regression_scores_keys(rng):
    f = rng.normal(size=(100, 8))
    y = rng.normal(size=8)
    s = regression_scores(y, f, tau=1.0)
    assert set(s) == {"rmse", "ll", "ll_gaussian", "n", "samples"}
    assert s["rmse"] == pytest.approx(rmse(y, f.mean(0)))
    assert (s["n"], s["samples"]) == (8, 100)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tau": 1.0, "var_samples": np.ones((3, 4))}, "exactly one"),
        ({}, "exactly one"),
        ({"tau": 0.0}, "positive"),
        ({"var_samples": -np.ones((3, 4))}, "> 0"),
    ],
)
def test_mc_ll_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mc_test_log_likelihood(np.zeros(4), np.zeros((3, 4)), **kwargs)


def test_shape_and_nan_errors():
    with pytest.raises(ValueError, match="shape"):
        mc_test_log_likelihood(np.zeros(5), np.zeros((3, 4)), tau=1.0)
    with pytest.raises(ValueError, match="finite"):
        rmse([np.nan, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        mc_test_log_likelihood(np.zeros(4), np.zeros(4), tau=1.0)
    # Variances of another shape: numpy's and TensorFlow's errors named neither shape.
    with pytest.raises(ValueError, match=r"Expected `variance` of shape \(20,\) .* Received: variance.shape=\(20, 1\)"):
        gaussian_test_log_likelihood(np.zeros(20), np.zeros(20), np.ones((20, 1)))
    with pytest.raises(ValueError, match=r"Expected `var_samples` of shape \(50, 20\) .* Received: "
                                         r"var_samples.shape=\(3, 20\)"):
        mc_test_log_likelihood(np.zeros(20), np.zeros((50, 20)), var_samples=np.ones((3, 20)))
    assert np.isfinite(mc_test_log_likelihood(np.zeros(20), np.zeros((50, 20)), var_samples=np.ones((1, 20))))


def test_mean_and_standard_error_over_splits():
    from tfvb.evaluate import mean_and_standard_error

    values = [2.0, 4.0, 6.0, 8.0]
    mean, se = mean_and_standard_error(values)
    assert mean == 5.0 and se == pytest.approx(np.std(values, ddof=1) / 2.0)
    assert mean_and_standard_error([3.5]) == (3.5, 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        mean_and_standard_error([])
    with pytest.raises(ValueError, match="finite"):
        mean_and_standard_error([1.0, float("nan")])
