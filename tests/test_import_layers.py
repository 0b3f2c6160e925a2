"""tfvb's imports point down its layers, and no module imports itself back through others.

The layers, bottom-up (an import may go sideways within a layer or down, never up):

    0  _atomic _checks _counter_rng _lazy _numbers _traced randomness paths version
    1  priors objectives dropout gaussian uncertainty layers data optimizers
    2  models serving
    3  evaluate _bayesianize _monte_carlo
    4  uci_protocol calibrate
    5  tuning callbacks plots zoo
    6  demo cli __main__

Every `import tfvb...` / `from tfvb... import ...` counts, at any depth of a
module (imports inside functions run too), and so do the names a package
face exports lazily (`_EXPORTS` of a package `__init__`). The one face that
points up is `tfvb` itself (it exposes every subpackage); a package face
re-exporting a documented name from a higher layer is listed in FACE_ALIASES.
"""

import ast
import os

import pytest

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfvb")

LAYERS = (
    ("_atomic", "_checks", "_counter_rng", "_lazy", "_numbers", "_traced", "randomness", "paths", "version"),
    ("priors", "objectives", "dropout", "gaussian", "uncertainty", "layers", "data", "optimizers"),
    ("models", "serving"),
    ("evaluate", "_bayesianize", "_monte_carlo"),
    ("uci_protocol", "calibrate"),
    ("tuning", "callbacks", "plots", "zoo"),
    ("demo", "cli", "__main__"),
)
#: (face, target): documented names a package face re-exports from a higher layer.
FACE_ALIASES = {("tfvb.evaluate", "tfvb.uci_protocol.benchmark")}  # tfvb.evaluate.uci_benchmark


def _modules():
    """{module name: file} of every module of the package."""
    out = {}
    for root, _, files in os.walk(PACKAGE_DIR):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, f), os.path.dirname(PACKAGE_DIR))[:-3].split(os.sep)
                name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
                out[name] = os.path.join(root, f)
    return out


def _lazy_targets(package, tree):
    """Modules named by a face's `_EXPORTS = {...}` mapping."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            for value in ast.literal_eval(node.value).values():
                yield value if value.startswith("tfvb.") else f"{package}.{value}"


def import_graph():
    """{module: set of tfvb modules it imports}."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        edges = set(_lazy_targets(package, tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.split(".")[0] == "tfvb"}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "tfvb":
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in modules else node.module)
        graph[name] = {e for e in edges if e != name and e in modules}
    return graph


def layer_of(module):
    parts = module.split(".")
    if len(parts) == 1:
        return None  # the package face
    for i, names in enumerate(LAYERS):
        if parts[1] in names:
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_import_points_down_or_sideways():
    graph = import_graph()
    upward = []
    for module, targets in graph.items():
        for target in targets:
            low, high = layer_of(module), layer_of(target)
            if low is None or high is None or (module, target) in FACE_ALIASES:
                continue
            if high > low:
                upward.append(f"{module} (layer {low}) -> {target} (layer {high})")
    assert not upward, "\n".join(sorted(upward))


def _cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_modules_or_packages():
    graph = {m: {t for t in ts if (m, t) not in FACE_ALIASES and t != "tfvb"} for m, ts in import_graph().items()}
    assert _cycles(graph) == []

    def package(m):
        return ".".join(m.split(".")[:2])

    packages = {}
    for module, targets in graph.items():
        if module != "tfvb":
            outside = (package(t) for t in targets if package(t) != package(module))
            packages.setdefault(package(module), set()).update(outside)
    assert _cycles(packages) == []


@pytest.mark.parametrize("module, target", sorted(FACE_ALIASES))
def test_face_aliases_exist(module, target):
    assert target in import_graph()[module]


def test_the_version_does_not_need_the_package_face():
    """zoo reads the version from tfvb.version, not from the face that lazily exposes every subpackage."""
    graph = import_graph()
    assert not any("tfvb" in targets for name, targets in graph.items() if name.startswith("tfvb.zoo"))
