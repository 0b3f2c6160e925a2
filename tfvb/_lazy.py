"""Lazy attribute export for package `__init__` files (one name -> its module)."""

import importlib


def lazy_exports(package, mapping):
    """Return a module `__getattr__` that imports `package.<module>` on first use of a name.

    A module given as an absolute name ("tfvb.x.y") is imported as is: a face
    can re-export a documented name whose code lives in another package.
    """

    def __getattr__(name):
        if name not in mapping:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        where = mapping[name]
        module = importlib.import_module(where if where.startswith("tfvb.") else f"{package}.{where}")
        return getattr(module, name)

    return __getattr__
