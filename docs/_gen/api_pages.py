"""Writes the API reference (api/*.md) from the package itself, at build time (mkdocs-gen-files).

One page per public submodule of `tfvb` (the names `tfvb.__getattr__` serves), listing every
public name: the module's `__all__`, or, for a module without one, the functions and classes
defined in it or its submodules. Each name is documented where it is defined (mkdocstrings reads
the source with griffe) under the name users type (`tfvb.layers.DenseFlipout`), so a class that
moves between files, or a new export, needs no edit here. A public name that is not a module
(e.g. a function served by `tfvb.__getattr__`) goes on the top-level page.
"""

import inspect
import re
import sys

import mkdocs_gen_files

import tfvb

# Documented elsewhere: the command line has its own page (docs/_gen/cli_page.py), which also shows
# `tfvb.demo.run_demo`; the demo's report sections are its internals.
ELSEWHERE = {"cli", "demo"}


def first_line(obj):
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def defining_path(obj, public=None, package=None):
    """`package.module.Qualname` where `obj` is defined (a callable module: the function inside it).

    A constant (a number, a dict) has no `__module__`: it is found as the assignment `public = ...`
    in the package or one of its imported submodules.
    """
    if inspect.ismodule(obj):
        inner = getattr(obj, obj.__name__.rsplit(".", 1)[-1], None)
        if inner is None or inspect.ismodule(inner):
            return obj.__name__
        obj = inner
    if hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
        return f"{obj.__module__}.{obj.__qualname__}"
    assignment = re.compile(rf"^{re.escape(public)}\s*(:[^=]*)?=", re.M)
    for name in sorted(n for n in sys.modules if n == package or n.startswith(package + ".")):
        source = inspect.getsource(sys.modules[name]) if getattr(sys.modules[name], "__file__", None) else ""
        if getattr(sys.modules[name], public, None) is obj and assignment.search(source):
            return f"{name}.{public}"
    raise ValueError(f"Expected to find where {package}.{public} is assigned. Received: no module assigns it")


def public_names(module):
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    prefix = module.__name__
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and (obj.__module__ == prefix or obj.__module__.startswith(prefix + "."))]


def entry(public, obj, level=2, package=None):
    return (f"::: {defining_path(obj, public.rsplit('.', 1)[-1], package)}\n"
            f"    options:\n"
            f"      heading: \"{public}\"\n"
            f"      toc_label: \"{public.rsplit('.', 1)[-1]}\"\n"
            f"      heading_level: {level}\n")


def defining_module(obj, public, package):
    return defining_path(obj, public, package).rsplit(".", 1)[0]


def module_page(name, module):
    """The package's docstring, then each defining module's docstring with the public names it defines."""
    lines = [f"# tfvb.{name}\n", f"::: tfvb.{name}\n    options:\n      show_root_heading: false\n"
             "      show_root_toc_entry: false\n      members: false\n"]
    groups = {}
    for public in public_names(module):
        obj = getattr(module, public)
        groups.setdefault(defining_module(obj, public, module.__name__), []).append((public, obj))
    # The package's own names first, then each submodule's in the order `__all__` (or the source) has them.
    for where, names in sorted(groups.items(), key=lambda item: item[0] != module.__name__):
        level = 2
        if where != module.__name__ and len(groups) > 1:
            # The module's own docstring holds what its names share (e.g. the estimators of tfvb.layers.dense).
            lines.append(f"## `{where}`\n")
            lines.append(
                f"::: {where}\n    options:\n      show_root_heading: false\n"
                "      show_root_toc_entry: false\n      members: false\n"
            )
            level = 3
        for public, obj in names:
            lines.append(entry(f"tfvb.{name}.{public}", obj, level, module.__name__))
    return "\n".join(lines)


def top_level_page(functions):
    lines = [
        "# tfvb\n",
        "::: tfvb\n    options:\n      show_root_heading: false\n      show_root_toc_entry: false\n"
        "      members: false\n",
        f"`tfvb.__version__` is `{tfvb.__version__!r}`. "
        f"`tfvb.SERIALIZATION_PACKAGE` (`{tfvb.SERIALIZATION_PACKAGE!r}`) is the package name every tfvb class "
        "is registered under with Keras; it is stored in every saved `.keras` file.\n",
    ]
    for public, obj in functions:
        lines.append(entry(f"tfvb.{public}", obj, package="tfvb"))
    return "\n".join(lines)


def main():
    modules, functions = [], []
    # The names `tfvb.__getattr__` serves: submodules, and functions such as `tfvb.bayesianize`.
    for name in sorted(set(tfvb._SUBMODULES) | set(getattr(tfvb, "_FUNCTIONS", ()))):
        if name in ELSEWHERE:
            continue
        obj = getattr(tfvb, name)
        if inspect.ismodule(obj):
            modules.append((name, obj))
        else:
            functions.append((name, obj))

    index = [
        "# API reference\n",
        "Generated from the docstrings at build time: every public name of every public module. "
        "Names are shown as you type them (`tfvb.layers.DenseFlipout`); the source file is where they "
        "are defined.\n",
        "| module | what |",
        "|---|---|",
        f"| [`tfvb`](tfvb.md) | {first_line(tfvb)} |",
    ]
    summary = ["* [Overview](index.md)", "* [tfvb](tfvb.md)"]
    with mkdocs_gen_files.open("api/tfvb.md", "w") as f:
        f.write(top_level_page(functions))
    for name, module in modules:
        with mkdocs_gen_files.open(f"api/{name}.md", "w") as f:
            f.write(module_page(name, module))
        index.append(f"| [`tfvb.{name}`]({name}.md) | {first_line(module)} |")
        summary.append(f"* [tfvb.{name}]({name}.md)")
    index.append("\nThe command line (`tfvb zoo ...`, `tfvb demo`) is described in [Command line](../cli.md).\n")
    with mkdocs_gen_files.open("api/index.md", "w") as f:
        f.write("\n".join(index) + "\n")
    with mkdocs_gen_files.open("api/SUMMARY.md", "w") as f:
        f.write("\n".join(summary) + "\n")


main()
