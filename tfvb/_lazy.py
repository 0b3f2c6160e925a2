"""Lazy attribute export for package `__init__` files (one name -> its module)."""

import importlib


def lazy_exports(package, mapping):
    """Return a module `__getattr__` that imports `package.<module>` on first use of a name."""

    def __getattr__(name):
        if name not in mapping:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{mapping[name]}")
        return getattr(module, name)

    return __getattr__
