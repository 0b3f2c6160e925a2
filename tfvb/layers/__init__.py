"""Bayesian layers for Keras 3 (weights with a Gaussian posterior and a KL to their prior)."""

from tfvb._lazy import lazy_exports

_EXPORTS = {
    "DenseReparameterization": "dense",
    "DenseFlipout": "dense",
    "DenseLocalReparameterization": "dense",
    "Conv2DReparameterization": "conv",
    "Conv2DFlipout": "conv",
    "Conv2DLocalReparameterization": "conv",
    "Conv2DTransposeReparameterization": "conv_transpose",
    "Conv2DTransposeFlipout": "conv_transpose",
}
__all__ = sorted(_EXPORTS)
_layer_getattr = lazy_exports(__name__, _EXPORTS)


def __getattr__(name):
    # The layers' base imports tfvb.models._base (seed state), whose package imports the layers:
    # initialise the models package first, so `tfvb.layers.DenseFlipout` works in a fresh process.
    # (Drop this once the seed state lives in a module below the layers.)
    if name in _EXPORTS:
        import tfvb.models  # noqa: F401
    return _layer_getattr(name)
