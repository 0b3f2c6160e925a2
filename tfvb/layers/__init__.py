"""Bayesian layers for Keras 3 (weights with a Gaussian posterior and a KL to their prior)."""

from tfvb._lazy import lazy_exports

_EXPORTS = {
    "DenseReparameterization": "dense",
    "DenseFlipout": "dense",
    "DenseLocalReparameterization": "dense",
    "Conv2DReparameterization": "conv",
    "Conv2DFlipout": "conv",
    "Conv2DLocalReparameterization": "conv",
    "Convolution2DReparameterization": "conv",
    "Convolution2DFlipout": "conv",
    "Conv2DTransposeReparameterization": "conv_transpose",
    "Conv2DTransposeFlipout": "conv_transpose",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
