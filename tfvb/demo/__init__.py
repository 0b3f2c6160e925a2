"""`tfvb demo`: the pretrained zoo models on the data bundled with tfvb; pictures and a report.

No training and no network: every model is loaded from the zoo (checksums
verified, golden batches checked), and the only data used ships with the
package (2,000 held-out MNIST digits, 2,000 Fashion-MNIST test images). The
report is written twice: `report.md` beside its PNGs, and a self-contained
`report.html`.
"""

import os
import time

from tfvb import paths, zoo
from tfvb.demo.predictive_section import classifier_section, regression_section
from tfvb.demo.report import Report
from tfvb.demo.vae_section import section as vae_section


def run_demo(out, names=None):
    """Write the report and its pictures into `out`; returns the path of report.md."""
    start = time.time()
    names = list(names) if names else zoo.list_models()
    for name in names:
        zoo.registry.get(name)  # unknown names fail before any work (no folder made), with close matches
    out = _output_folder(out)
    for old in ("report.md", "report.html"):  # a run stopped halfway must not leave a report beside new pictures
        if os.path.exists(os.path.join(out, old)):
            os.remove(os.path.join(out, old))
    missing = [n for n in names if not zoo.is_trained(n)]
    loaded = []
    for name in names:
        if name in missing:
            continue
        model = zoo.load(name)
        zoo.golden_check(name, model)
        loaded.append((name, zoo.info(name), model))
    if not loaded:
        raise RuntimeError(f"Expected trained zoo models in {paths.display(zoo.saved_models_dir())}. "
                           "Received none: run `tfvb zoo train NAME` in a checkout first")
    report = Report("tfvb demo: pretrained zoo models")
    report.paragraph(f"{len(loaded)} zoo models loaded from `{paths.display(zoo.saved_models_dir())}` "
                     "(every file sha256-verified, golden batches re-checked); pictures and re-measured numbers "
                     "use only the data bundled with tfvb.")
    if missing:
        report.paragraph("Not shown (registered but not trained in this zoo): " + ", ".join(f"`{n}`" for n in missing))
    for dataset in ("mnist", "fashion_mnist"):
        group = [e for e in loaded if e[1]["family"] == "vae" and e[1]["dataset"] == dataset]
        if group:
            vae_section(report, group, out)
    classifiers = [e for e in loaded if e[1]["family"] == "bnn"]
    if classifiers:
        classifier_section(report, classifiers, out)
    regressors = [e for e in loaded if e[1]["family"] == "regression"]
    if regressors:
        regression_section(report, regressors)
    report.paragraph(f"Written by `tfvb demo` in {time.time() - start:.0f} s.")
    return report.write(out)


def _output_folder(out):
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"Expected `--out` to be a folder. Received: {out!r}, which is a file")
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".tfvb-write-check")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"Expected a writable folder for `--out`. Received: {out!r} ({e.strerror})") from e
    return out
