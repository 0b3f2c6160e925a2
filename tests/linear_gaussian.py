"""A linear-Gaussian latent model whose log p(x) and posterior are known in closed form.

    z ~ N(0, I_d),   x | z ~ N(W z + b, s^2 I_D)   =>   x ~ N(b, W W^T + s^2 I_D)

The proposal q(z|x) is a deliberately imperfect diagonal Gaussian (the exact
posterior's mean shifted and its variances inflated), so the bounds are loose
and their biases measurable.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class LinearGaussian:
    def __init__(self, d=2, D=3, noise=0.7, shift=0.5, inflate=1.6, seed=0):
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(D, d))
        self.b = rng.normal(size=D)
        self.s2 = noise**2
        self.x = rng.normal(size=D) * 1.5 + self.b
        cov = self.W @ self.W.T + self.s2 * np.eye(D)
        diff = self.x - self.b
        self.log_px = float(
            -0.5 * (D * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + diff @ np.linalg.solve(cov, diff))
        )
        post_cov = np.linalg.inv(np.eye(d) + self.W.T @ self.W / self.s2)
        post_mean = post_cov @ self.W.T @ diff / self.s2
        self.q_mean = post_mean + shift
        self.q_logvar = np.log(np.diag(post_cov) * inflate)

    def log_w(self, z, q_mean=None, q_logvar=None):
        """log p(x|z) + log p(z) - log q(z|x) for z (..., d), float64 tensors."""
        from tfvb import objectives

        q_mean = self.q_mean if q_mean is None else q_mean
        q_logvar = self.q_logvar if q_logvar is None else q_logvar
        mean_x = tf.linalg.matvec(tf.constant(self.W), z) + self.b
        log_px_z = tf.reduce_sum(tfd.Normal(mean_x, np.sqrt(self.s2)).log_prob(self.x), -1)
        return log_px_z + objectives.standard_normal_log_prob(z) - objectives.gaussian_log_prob(z, q_mean, q_logvar)

    def sample_log_w(self, shape, seed=0):
        eps = tf.random.stateless_normal(tuple(shape) + (len(self.q_mean),), seed=[seed, 1], dtype=tf.float64)
        z = self.q_mean + np.exp(0.5 * self.q_logvar) * eps
        return self.log_w(z)
