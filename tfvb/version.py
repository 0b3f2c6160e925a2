"""The package version, importable without the package face (no TensorFlow, no Keras)."""

__version__ = "0.2.0"
