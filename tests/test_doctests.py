"""Every `>>>` example in tfvb's docstrings runs, and prints what it says it prints.

One test per module. The examples see the module's own names plus `tfvb`, `keras`, `np`, `tf` and
`math`; each example that needs data makes it or takes it from the data bundled with tfvb, so it can
be pasted into a session as it is. An example that trains for minutes or needs data outside the
package is marked `# doctest: +SKIP` on the lines that do (it is still shown in the documentation).
Examples run in a temporary folder: those that write files leave nothing in the checkout.
"""

import doctest
import math
import os
import pkgutil

import numpy as np
import pytest

import tfvb

# Not modules of the library: the package's command-line entry point runs the CLI when imported.
NOT_LIBRARY = {"tfvb.__main__"}


def library_modules():
    names = ["tfvb"]
    for info in pkgutil.walk_packages(tfvb.__path__, prefix="tfvb."):
        if info.name not in NOT_LIBRARY and ".saved_models" not in info.name and ".sample" not in info.name:
            names.append(info.name)
    return sorted(names)


def modules_with_examples():
    out = []
    root = os.path.dirname(os.path.dirname(tfvb.__file__))
    for name in library_modules():
        path = os.path.join(root, *name.split("."))
        path = os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"
        with open(path, encoding="utf-8") as f:
            if ">>>" in f.read():
                out.append(name)
    return out


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    import importlib

    import keras
    import tensorflow as tf

    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
    extraglobs = {"tfvb": tfvb, "keras": keras, "np": np, "tf": tf, "math": math}
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    tests = [t for t in finder.find(module, name, extraglobs=extraglobs) if t.examples]
    assert tests, f"Expected docstring examples in {name}. Received: none found"
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_every_module_is_found():
    names = library_modules()
    assert {"tfvb.models.vae", "tfvb.layers.dense", "tfvb.objectives", "tfvb.zoo"} <= set(names)
    assert "tfvb.priors" in modules_with_examples()
