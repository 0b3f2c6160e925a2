"""The documentation: zoo pages from any card, the tutorials' parts, the math, and (slow) the built site
opened in headless Chromium, and every tutorial run as written.

The slow tests need the docs extra (`pip install -e .[docs]`; `make test-slow` installs it) and
Chromium (`scripts/system-deps.sh browser`, which the browser test runs itself when Chromium is
missing).
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from tfvb import zoo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(REPO, "docs", "_gen")
TUTORIALS = os.path.join(REPO, "docs", "tutorials")
sys.path.insert(0, GEN)

import run_tutorials  # noqa: E402
import zoo_cards  # noqa: E402
from _browser import browser, chromium  # noqa: E402

TRAINED = [n for n in zoo.list_models() if zoo.is_trained(n)]


# -- zoo pages: what the card has, and nothing it lacks -------------------------------------------
def test_anchors_pair_with_the_entry_numbers_of_the_same_kind():
    vae = {"family": "vae", "metrics": {"log_likelihood_k": 5000, "iwae_5000_nll": 97.4, "iwae_5000_se": 0.7,
                                        "log_likelihood_images": 2000},
           "anchors": {"source": "Burda", "vae_1_layer_nll": 86.76, "pythae_vae_nll": 89.78,
                       "pythae_source": "pythae", "note": "n"}}
    assert zoo_cards.published(vae["anchors"]) == [("vae 1 layer", "nll", 86.76, None, "Burda"),
                                                    ("pythae vae", "nll", 89.78, None, "pythae")]
    assert zoo_cards.ours(vae, "nll") == (97.4, 0.7, "IWAE-5000 on 2,000 held-out images")

    classifier = {"family": "bnn", "metrics": {"accuracy": 0.975, "nll": 0.07},
                  "anchors": {"deterministic": {"nll": 0.037, "accuracy": 0.991}, "source": "ub"}}
    assert ("deterministic", "accuracy", 0.991, None, "ub") in zoo_cards.published(classifier["anchors"])
    assert zoo_cards.ours(classifier, "accuracy") == (0.975, None, "")

    regression = {"family": "regression", "epoch_multiplier": 100,
                  "metrics": {"test_rmse": 2.6, "protocol_table": {"faithful_100x_epochs": {
                      "splits_run": 20, "rmse": [2.92, 0.2], "ll": [-2.43, 0.06]}}},
                  "anchors": {"gal_updated": {"rmse": [2.9, 0.18], "ll": [-2.4, 0.04]}}}
    assert zoo_cards.published(regression["anchors"]) == [("gal updated", "rmse", 2.9, 0.18, ""),
                                                           ("gal updated", "ll", -2.4, 0.04, "")]
    assert zoo_cards.ours(regression, "ll")[:2] == (-2.43, 0.06)

    flat = {"family": "regression", "metrics": {"rmse": 2.77, "rmse_se": 0.27, "splits": 5},
            "anchors": {"rmse": 2.9, "rmse_se": 0.18, "source": "Gal"}}
    assert zoo_cards.published(flat["anchors"]) == [("published", "rmse", 2.9, 0.18, "Gal")]
    assert zoo_cards.ours(flat, "rmse") == (2.77, 0.27, "mean over 5 splits")


def test_standard_errors_are_found_under_either_naming():
    m = {"elbo": -103.1, "elbo_se": 0.7, "iwae_5000_nll": 97.4, "iwae_5000_log_likelihood": -97.4,
         "iwae_5000_se": 0.66, "active_units": 13}
    assert dict((k, se) for k, _, se in zoo_cards.scalar_metrics({"metrics": m})) == {
        "elbo": 0.7, "iwae_5000_nll": 0.66, "iwae_5000_log_likelihood": 0.66, "active_units": None}


@pytest.mark.parametrize("name", TRAINED)
def test_every_trained_entry_gets_a_page_from_its_card(name):
    import zoo_pages

    info = zoo.info(name)
    page = zoo_pages.page(name, info, [("a caption", f"/somewhere/{name}_2_samples.png")])
    assert page.startswith(f"# {name}\n") and "## Numbers beside the published anchors" in page
    assert f"tfvb.models.{info['class']}(" in page and f"]({name}/{name}_2_samples.png)" in page
    for _, kind, value, _, _ in zoo_cards.published(info.get("anchors")):
        if kind:  # every published number stands in the table, beside this entry's own
            assert zoo_pages.cell(value) in page
    assert "**this entry**" in page or "no published anchor" in page


@pytest.mark.parametrize("card", [{}, {"metrics": {"elbo": None}, "anchors": {"note": "only a note"}},
                                  {"training": {"history": {}}, "recipe": {"machine": {}}, "anchors": {"x": [1]}}])
def test_a_sparse_or_changed_card_still_gives_a_page(card):
    import zoo_pages

    page = zoo_pages.page("vae_mnist", {"name": "vae_mnist", **card}, [])
    assert page.startswith("# vae_mnist") and "no published anchor" in page


def test_a_resumed_run_s_page_gives_its_training_time_not_the_last_process_s():
    import zoo_pages

    # iwae_mnist_dreg's card: 10 h of epochs over five sessions; the process that finished it ran 235 s.
    card = {"recipe": {"wall_time_s": 235.1, "machine": {"cpus": 2}, "threads": {"intra_op": 1}},
            "training": {"train_wall_time_s": 35851.5}, "metrics": {"eval_wall_time_s": 229.7}}
    line = zoo_pages.budget({"name": "iwae_mnist_dreg", **card})
    assert line.startswith("- Wall time: training 10.0 h (") and "evaluation 4 min" in line
    assert line.endswith("on 2 CPUs, 1 TensorFlow thread.") and "235" not in line
    assert line in zoo_pages.page("iwae_mnist_dreg", {"name": "iwae_mnist_dreg", **card}, [])
    # A card without the training clock (the UCI protocol runs) keeps the process's wall time.
    assert zoo_pages.budget({"recipe": {"wall_time_s": 1225.4}}) == "- Wall time: 20 min."


def test_a_classifier_page_shows_its_numbers_before_and_after_temperature_scaling():
    import zoo_pages

    card = {"metrics": {"accuracy": 0.9836, "nll": 0.0474, "ece": 0.0113, "temperature_scaled": {
        "temperature": 0.557, "calibration_rows": 10000, "accuracy": 0.9838, "nll": 0.0431, "ece": 0.0071}}}
    page = zoo_pages.page("bnn_flipout_mnist", {"name": "bnn_flipout_mnist", **card}, [])
    assert "T = 0.557" in page and "10,000 early-stopping digits" in page
    assert "| as trained | 0.9836 | 0.0474 | 0.0113 |" in page
    assert "| temperature-scaled | 0.9838 | 0.0431 | 0.0071 |" in page
    assert zoo_pages.temperature_table({"metrics": {"nll": 0.1}}) == []


def test_each_learning_curve_picture_is_shown_from_its_own_file():
    import zoo_pages

    pictures = [("Learning curve", "/c/1_learning_curve.png"),
                ("NLL and accuracy", "/c/1_learning_curve_nll_accuracy.png")]
    page = zoo_pages.page("bnn_flipout_mnist", {"name": "bnn_flipout_mnist"}, pictures)
    assert "![Learning curve](bnn_flipout_mnist/1_learning_curve.png)" in page
    assert "![NLL and accuracy](bnn_flipout_mnist/1_learning_curve_nll_accuracy.png)" in page


# -- tutorials: parts in order, outputs as a page shows them ------------------------------------
def test_tutorial_parts_keep_their_order_and_lines():
    source = "a = 1\n# --8<-- [start:one]\nb = 2\n# --8<-- [end:one]\nc = 3\n"
    assert run_tutorials.parts(source) == [(None, 0, "a = 1\n"), ("one", 2, "b = 2\n"), (None, 4, "c = 3\n")]
    with pytest.raises(ValueError, match="open and close in order"):
        run_tutorials.parts("# --8<-- [start:a]\n# --8<-- [start:b]\n")
    assert run_tutorials.printed("\x1b[1m 3/5\x1b[0m \u2501\u2501\nresult 4\r\rdone\n") == "done"


def test_every_tutorial_page_shows_its_script_and_existing_outputs():
    """Each page includes only parts its script defines and outputs/pictures that were generated."""
    for name in run_tutorials.names():
        with open(os.path.join(TUTORIALS, f"{name}.md")) as f:
            page = f.read()
        with open(os.path.join(TUTORIALS, f"{name}.py")) as f:
            defined = {part for part, _, _ in run_tutorials.parts(f.read()) if part}
        shown = set(re.findall(rf'--8<-- "docs/tutorials/{name}\.py:([\w-]+)"', page))
        assert shown and shown <= defined, (name, shown - defined)
        for path in _outputs_named(page, name):
            assert os.path.exists(os.path.join(TUTORIALS, "out", name, path)), (name, path)


def _outputs_named(page, name):
    return set(re.findall(rf'--8<-- "docs/tutorials/out/{name}/([^"]+)"', page)) | \
        set(re.findall(rf"\]\(out/{name}/([^)]+)\)", page))


# -- math: LaTeX to MathML at build time ---------------------------------------------------------
def test_math_becomes_mathml_and_bad_latex_fails_the_build():
    pytest.importorskip("latex2mathml", reason="the docs extra (pip install -e .[docs]) is not installed")
    import mathml

    html = mathml.render('<p><span class="arithmatex">\\(a &lt; b\\)</span></p>'
                         '<div class="arithmatex">\\[\\mathcal{L}_K = \\log \\frac{1}{K}\\sum_k w_k\\]</div>')
    assert html.count("<math") == 2 and 'display="block"' in html and "arithmatex" not in html
    assert "&#x0003C;" in html or "&lt;" in html  # "<" stays escaped
    with pytest.raises(mathml.MathError, match="Expected LaTeX that"):
        mathml.render('<span class="arithmatex">\\(\\left( x\\)</span>')
    with pytest.raises(mathml.MathError, match=r"Received: \\foo"):  # it would show as raw text
        mathml.render('<span class="arithmatex">\\(\\foo x\\)</span>')


def test_grouped_args_are_documented_one_name_each():
    pytest.importorskip("griffe", reason="the docs extra (pip install -e .[docs]) is not installed")
    from griffe_house_style import expand

    text = ("Summary.\n\nArgs:\n    k: samples.\n    a, b,\n        c: shared\n        text.\n\n"
            "Returns:\n    x, y: not an argument.\n")
    assert expand(text) == ("Summary.\n\nArgs:\n    k: samples.\n    a: shared\n        text.\n    b: shared\n"
                            "        text.\n    c: shared\n        text.\n\nReturns:\n    x, y: not an argument.")


# -- slow: the site as a person sees it; the tutorials as written ---------------------------------
@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    if shutil.which("properdocs", path=os.path.dirname(sys.executable)) is None:
        pytest.fail("Expected the docs extra in this environment (pip install -e .[docs], or `make test-slow`). "
                    "Received: no properdocs next to " + sys.executable)
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "properdocs"), "build", "-f", "mkdocs.yml",
                           "--strict", "-d", str(site)], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return site


@pytest.fixture(scope="module")
def served(built_site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # loopback only
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_built_site_renders_in_a_realbrowser(built_site, served, tmp_path):
    from matplotlib import image

    exe = chromium()
    pages = {"/": ("tfvb", "Where to start"), "/api/models/": ("tfvb.models", "tfvb.models.CVAE"),
             "/math/": ("Estimators and bounds", "<math"), "/zoo/vae_mnist/": ("vae_mnist", "this entry")}
    for path, (title, content) in pages.items():
        dom = browser(exe, tmp_path / "profile", "--dump-dom", served + path)
        page_title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
        assert title in page_title and "404" not in page_title, (path, page_title)
        assert content in dom and "<h1" in dom, path
    assert "<math" in browser(exe, tmp_path / "profile", "--dump-dom", served + "/tutorials/vae_iwae/")

    shot = tmp_path / "index.png"
    browser(exe, tmp_path / "profile", "--hide-scrollbars", "--window-size=1280,900",
             f"--screenshot={shot}", served + "/")
    pixels = image.imread(str(shot))
    assert pixels.shape[:2] == (900, 1280)
    # A rendered page, not an error page: a coloured header bar (one colour, not grey) over a light body
    # with text in it (dark pixels).
    header = pixels[5:40, 300:900, :3].reshape(-1, 3)
    assert header.std(axis=0).max() < 0.02 and header.mean(axis=0).std() > 0.05, header.mean(axis=0)
    body = pixels[100:, 250:1000, :3].mean(axis=-1)
    assert (body < 0.3).mean() > 0.002 and np.median(body) > 0.9
    evidence = os.path.join(REPO, ".cache", "docs", "screenshots")
    os.makedirs(evidence, exist_ok=True)
    shutil.copy(shot, os.path.join(evidence, "index.png"))


@pytest.mark.slow
@pytest.mark.parametrize("name", run_tutorials.names())
def test_tutorial_runs_as_written_and_draws_what_its_page_shows(name, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, os.path.join(GEN, "run_tutorials.py"), name, "--out", str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    with open(os.path.join(TUTORIALS, f"{name}.md")) as f:
        needed = _outputs_named(f.read(), name)
    made = set(os.listdir(tmp_path / name))
    assert needed <= made, needed - made
    # The committed outputs come from the script as it is: the same parts and pictures.
    assert made == set(os.listdir(os.path.join(TUTORIALS, "out", name)))
