"""Encoder and decoder builders for the VAE family (networks apart from objectives).

Each builder returns a built `keras.Sequential` whose input shape is known,
so models that own them are built from their constructor arguments alone.
"""

import math

import keras

from tfvb import _checks


def conv_encoder(image_shape, latent_dim, filters=(32, 64), name="encoder", dtype=None):
    """The TensorFlow CVAE tutorial's encoder: 3x3 stride-2 convolutions, then Dense(2 * latent_dim).

    `dtype`: the layers' dtype policy (the owning model's, so a model made or loaded as float32 computes in
    float32 under a mixed global policy); None: the global policy.
    """
    layers = [keras.Input(shape=image_shape)]
    layers += [keras.layers.Conv2D(f, 3, strides=2, activation="relu", dtype=dtype) for f in filters]
    layers += [keras.layers.Flatten(dtype=dtype), keras.layers.Dense(2 * latent_dim, dtype=dtype)]
    return keras.Sequential(layers, name=name)


def conv_decoder(latent_dim, image_shape, filters=(32, 64), name="decoder", dtype=None):
    """The tutorial's decoder: Dense to a (H/4, W/4, filters[0]) map, transposed convolutions up to the image.

    `dtype`: the layers' dtype policy, as in `conv_encoder`.
    """
    h, w, c = image_shape
    stride_total = 2 ** len(filters)
    if h % stride_total or w % stride_total:
        raise ValueError(
            f"Expected image height and width divisible by {stride_total} for {len(filters)} "
            f"stride-2 layers. Received: image_shape={image_shape}"
        )
    base = (h // stride_total, w // stride_total, filters[0])
    layers = [
        keras.Input(shape=(latent_dim,)),
        keras.layers.Dense(math.prod(base), activation="relu", dtype=dtype),
        keras.layers.Reshape(base, dtype=dtype),
    ]
    layers += [
        keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu", dtype=dtype)
        for f in reversed(filters)
    ]
    layers += [keras.layers.Conv2DTranspose(c, 3, strides=1, padding="same", dtype=dtype)]
    return keras.Sequential(layers, name=name)


def mlp(input_shape, hidden_units, output_units, activation="tanh", output_shape=None, name=None, dtype=None):
    """Flatten, Dense(h, activation) for each h, Dense(output_units) [, Reshape(output_shape)].

    `dtype`: the layers' dtype policy, as in `conv_encoder`.
    """
    hidden_units = _checks.int_tuple("hidden_units", hidden_units, allow_empty=True)
    layers = [keras.Input(shape=tuple(input_shape))]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten(dtype=dtype))
    layers += [keras.layers.Dense(u, activation=activation, dtype=dtype) for u in hidden_units]
    layers.append(keras.layers.Dense(output_units, dtype=dtype))
    if output_shape is not None:
        layers.append(keras.layers.Reshape(tuple(output_shape), dtype=dtype))
    return keras.Sequential(layers, name=name)


# ---- the user's own networks -------------------------------------------------------------------
def _shape(t):
    return (None,) + tuple(t.shape[1:])


def _outputs_of(net, role, inputs, what):
    """`net` called on one example of `inputs`' shape (which builds it): its outputs, or a clear error."""
    if not isinstance(net, keras.Model):
        raise ValueError(f"Expected `{role}` to be a keras.Model (Sequential, Functional or subclassed). "
                         f"Received: {role} of type {type(net).__name__}")
    try:
        return net(keras.ops.zeros((1,) + tuple(inputs)))
    except Exception as error:  # the user's network: any failure on the input shape is a shape mismatch
        raise ValueError(f"Expected `{role}` to take {what} of shape {(None,) + tuple(inputs)}. Received: a "
                         f"network that fails on them ({type(error).__name__}: {error})") from error


def check_encoder(encoder, image_shape, latent_dim):
    """Check (and build) a user's encoder: images (None,) + image_shape -> q(z|x)'s mean and log-variance.

    Accepted outputs: one tensor (None, 2 * latent_dim), the mean then the
    log-variance (tfvb's own encoders), or two tensors (None, latent_dim),
    [mean, log_variance] (keras.io's VAE example).
    """
    out = _outputs_of(encoder, "encoder", image_shape, "images")
    expected = f"one tensor of shape {(None, 2 * latent_dim)} (mean and log-variance of q(z|x) concatenated, " \
               f"2 * latent_dim values) or two tensors [mean, log_variance] of shape {(None, latent_dim)}"
    if isinstance(out, (list, tuple)):
        shapes = [_shape(t) for t in out]
        if len(out) == 2 and all(s == (None, latent_dim) for s in shapes):
            return
        received = shapes
    else:
        received = _shape(out)
        if received == (None, 2 * latent_dim):
            return
    raise ValueError(f"Expected `encoder` outputs of {expected}, for latent_dim={latent_dim}. "
                     f"Received: {received}")


def check_decoder(decoder, latent_dim, image_shape):
    """Check (and build) a user's decoder: latents (None, latent_dim) -> Bernoulli logits (None,) + image_shape."""
    out = _outputs_of(decoder, "decoder", (latent_dim,), "latents")
    expected = (None,) + tuple(image_shape)
    received = [_shape(t) for t in out] if isinstance(out, (list, tuple)) else _shape(out)
    if received != expected:
        raise ValueError(f"Expected `decoder` output of shape {expected}: the images' Bernoulli logits (no "
                         f"sigmoid: tfvb applies it). Received: {received}")
