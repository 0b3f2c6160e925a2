"""The zoo as a user meets it: a wheel built from this checkout, installed into an isolated folder, used
from a directory outside the checkout with no shared data, no recipes and no zoo override."""

import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _copy_sources(dest):
    """The files a wheel is built from (a copy, so no build/ or egg-info is left in the checkout)."""
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, name), dest)
    shutil.copytree(os.path.join(REPO, "tfvb"), os.path.join(dest, "tfvb"),
                    ignore=shutil.ignore_patterns("__pycache__", ".*"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("installed")
    src, dist, site, home = (root / d for d in ("src", "dist", "site", "home"))
    for d in (src, dist, home):
        d.mkdir()
    _copy_sources(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], check=True)
    wheels = list(dist.glob("tfvb-*.whl"))
    assert len(wheels) == 1
    subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(site), str(wheels[0])], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFVB_")}
    env.update(PYTHONPATH=str(site), HOME=str(home), TF_CPP_MIN_LOG_LEVEL="3")
    work = root / "elsewhere"
    work.mkdir()

    def run(*args, code=None):
        argv = [sys.executable] + (["-c", code] if code else ["-m", "tfvb", *args])
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def fails(*args):
        done = subprocess.run([sys.executable, "-m", "tfvb", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode != 0, done.stdout[-3000:]
        return done.stderr

    run.site, run.work, run.wheel, run.home, run.fails = site, work, wheels[0], home, fails
    return run


def test_the_installed_package_is_imported_not_the_checkout(installed):
    out = json.loads(installed(code="import json, tfvb, tfvb.paths as p; print(json.dumps("
                                    "[tfvb.__file__, p.checkout_root(), p.saved_models_dir()]))"))
    assert out[0].startswith(str(installed.site)) and out[1] is None
    assert out[2].startswith(str(installed.site))


def test_every_entry_loads_from_the_installed_wheel_in_both_formats(installed):
    code = """
import json, sys, tensorflow as tf
from tfvb import zoo
names = zoo.list_models()
trained = [n for n in names if zoo.is_trained(n)]
out = {}
for name in trained:
    info = zoo.info(name)
    model = zoo.load(name)
    served = zoo.load(name, format="savedmodel")
    out[name] = {"class": type(model).__name__, "card_class": info["class"],
                 "golden": zoo.golden_check(name, model), "signatures": sorted(served.signatures)}
untrained = {}
for name in sorted(set(names) - set(trained)):
    try:
        zoo.load(name)
    except zoo.ArtifactError as e:
        untrained[name] = str(e)
print(json.dumps({"names": names, "trained": trained, "entries": out, "untrained": untrained,
                  "tfds": "tensorflow_datasets" in sys.modules}))
"""
    result = json.loads(installed(code=code).strip().splitlines()[-1])
    for name, e in result["entries"].items():
        assert e["class"] == e["card_class"] and e["golden"] <= 1e-4, name
        assert "serving_default" in e["signatures"] or "serve" in e["signatures"], name
    assert not result["tfds"]  # nothing reached for TensorFlow Datasets (the network)
    # Every trained entry ships with the wheel; an entry whose recipe has not run yet says so when loaded.
    assert result["trained"] and set(result["trained"]) | set(result["untrained"]) == set(result["names"])
    for name, message in result["untrained"].items():
        assert f"{name!r} is not trained in this release" in message and f"tfvb zoo train {name}" in message


def test_cli_and_demo_from_the_installed_wheel(installed, tmp_path):
    listing = installed("zoo", "list")
    for name in ["cvae_mnist", "cvae_fashion_mnist", "bnn_flipout_mnist", "mc_dropout_uci_boston", "iwae_mnist"]:
        assert any(line.split()[:1] == [name] and line.split()[3] == "trained" for line in listing.splitlines())
    assert "published anchors" in installed("zoo", "info", "iwae_mnist")
    out = tmp_path / "demo"
    models = ["cvae_mnist", "cvae_fashion_mnist", "bnn_flipout_mnist", "mc_dropout_uci_boston"]
    installed("demo", "--out", str(out), "--models", *models)
    report = (out / "report.md").read_text()
    for name in models:
        assert f"`{name}`" in report
    assert (out / "report.html").is_file() and (out / "cvae_mnist_manifold.png").is_file()
    assert str(installed.site) not in report and REPO not in report  # no machine paths in the report


def test_commands_refused_from_the_installed_wheel_leave_nothing_behind(installed, tmp_path):
    # No recipes in a wheel: training is refused before its lock file is made; an unknown model name before
    # the demo's folder is.
    assert "Expected the recipe of 'vae_mnist'" in installed.fails("zoo", "train", "vae_mnist", "--quick")
    assert not list(installed.home.rglob("*.lock"))
    assert "unknown" in installed.fails("demo", "--out", str(tmp_path / "demo"), "--models", "cvae_mnsit").lower()
    assert not (tmp_path / "demo").exists()
