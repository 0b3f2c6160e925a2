"""Data loaders: MNIST / Fashion-MNIST (TFDS or local IDX), binarization, UCI benchmark folders."""

from tfvb._lazy import lazy_exports

_EXPORTS = {
    "read_idx": "idx",
    "write_idx": "idx",
    "load_idx_split": "idx",
    "binarize_fixed": "images",
    "binarize_dynamic": "images",
    "mnist": "images",
    "fashion_mnist": "images",
    "mnist_arrays": "images",
    "fashion_mnist_arrays": "images",
    "mnist_sample": "images",
    "fashion_mnist_sample": "images",
    "image_dataset": "images",
    "image_dataset_epoch": "images",
    "EpochCounter": "images",
    "uci": "uci_folder",
    "UCIData": "uci_folder",
    "UCIFolder": "uci_folder",
    "list_uci": "uci_folder",
    "default_uci_root": "uci_folder",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
