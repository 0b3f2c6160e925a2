"""Dataset shift for every MNIST classifier in the zoo: Ovadia et al. (2019)'s rotated-MNIST protocol.

For each trained entry (mean-field VI with Flipout and with reparameterization, MC dropout, the deep
ensemble): accuracy, NLL, Brier score, ECE (15 bins) and mean predictive entropy of the predictive mean
on the held-out digits rotated by 0, 15, ..., 180 degrees, and the AUROC / AUPR of telling Fashion-MNIST
from the upright digits by predictive entropy and by mutual information. uncertainty-baselines' LeNet-5
numbers are the anchors at 0 degrees; Ovadia et al. publish figures only, so the table is new.

Data: t10k images 0-4,999 (the shared `mnist10k` file's last 5,000) and Fashion-MNIST t10k 0-4,999
(Debian's dataset-fashion-mnist); without them, the 2,000 + 2,000 images bundled with tfvb (said in
the output).

    .venv/bin/python benchmarks/dataset_shift.py      # -> benchmarks/results/dataset_shift.{json,md,png}
    .venv/bin/python benchmarks/dataset_shift.py --limit 200 --samples 10 --angles 0 90 --out /tmp/quick  # a look

A run with other settings than the kept run's (`--limit`, `--samples`, `--angles`) needs its own `--out`:
the kept files are what `--publish` puts into the README under their data description.

On two cores, two processes (each entry's rows are independent), then one table:

    .venv/bin/python benchmarks/dataset_shift.py --names bnn_flipout_mnist bnn_reparam_mnist --out /tmp/a &
    .venv/bin/python benchmarks/dataset_shift.py --names mc_dropout_mnist ensemble_mnist --out /tmp/b
    .venv/bin/python benchmarks/dataset_shift.py --merge /tmp/a.json /tmp/b.json   # -> results/dataset_shift.*

`--publish` then puts the kept run's tables and figure into the README and the
documentation's calibration page (between their `dataset-shift` markers; the
figure is copied to docs/img/).
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from _publish import publish as publish_block  # noqa: E402

from tfvb import data, paths, zoo  # noqa: E402
from tfvb.demo.numbers import plain  # noqa: E402
from tfvb.evaluate import shift  # noqa: E402


def held_out(limit):
    """(images, labels, OOD images, description) on the zoo classifiers' evaluation images."""
    root = paths.shared_data_dir(required=False)
    folder = os.path.join(root, "mnist") if root else None
    if folder and os.path.isdir(folder):
        x, y = data.mnist_arrays("mnist10k", data_dir=folder)
        x, y, what = x[5000:], y[5000:], "t10k images 0-4,999"
    else:
        (x, y), what = data.mnist_sample(), "the 2,000 bundled t10k images 3,000-4,999"
    try:
        ood, _ = data.fashion_mnist_arrays("test")
        ood, ood_what = ood[:5000], "Fashion-MNIST t10k 0-4,999"
    except (OSError, RuntimeError, ValueError):
        (ood, _), ood_what = data.fashion_mnist_sample(), "the 2,000 bundled Fashion-MNIST t10k images"
    if limit is not None and limit < len(x):
        what = f"the first {limit:,} of {what}"
    if limit is not None and limit < len(ood):
        ood_what = f"the first {limit:,} of {ood_what}"
    return x[:limit], y[:limit], ood[:limit], f"{what}; OOD: {ood_what}"


def markdown(results, description, anchors):
    angles = next(iter(results.values()))["angles"]
    lines = [f"Rotated MNIST ({description}); predictive mean of each model's own draws; digits rotated with "
             "bilinear interpolation (Ovadia et al.'s code: a cubic spline); NLL unfloored; Brier score summed over "
             "the 10 classes, in [0, 2] (Ovadia et al.'s code reports it minus 1).", ""]
    for metric in shift.SHIFT_METRICS:
        lines += [f"**{metric}**", "", "| entry | " + " | ".join(f"{a:g}°" for a in angles) + " |",
                  "|---|" + "---|" * len(angles)]
        lines += [f"| `{n}` | " + " | ".join(plain(v) for v in t["per_angle"][metric]) + " |"
                  for n, t in results.items()]
        lines.append("")
    lines += ["**out of distribution** (Fashion-MNIST against the upright digits)", "",
              "| entry | AUROC (entropy) | AUROC (MI) | AUPR (entropy) | AUPR (MI) |", "|---|---|---|---|---|"]
    lines += [f"| `{n}` | {plain(t['ood']['auroc_entropy'])} | {plain(t['ood']['auroc_mutual_information'])} "
              f"| {plain(t['ood']['aupr_entropy'])} | {plain(t['ood']['aupr_mutual_information'])} |"
              for n, t in results.items() if t.get("ood")]
    if anchors:
        lines += ["", f"Anchors at 0° ({anchors.get('source', '')}): " + "; ".join(
            f"{k.replace('_', ' ')}: " + ", ".join(f"{m} {v}" for m, v in row.items())
            for k, row in anchors.items() if isinstance(row, dict))]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", nargs="*", default=None, help="zoo entries (default: every MNIST classifier)")
    parser.add_argument("--angles", nargs="*", type=float, default=list(shift.ANGLES))
    parser.add_argument("--samples", type=int, default=100, help="weight draws / dropout passes per prediction")
    parser.add_argument("--limit", type=int, default=None, help="use the first LIMIT images of each set")
    parser.add_argument("--out", default=None,
                        help="write OUT.json, .md and .png (default: the kept run, benchmarks/results/dataset_shift)")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="write one table from earlier runs' JSON files (same data, samples and angles)")
    parser.add_argument("--publish", action="store_true",
                        help="put the kept run (results/dataset_shift.*) into the README and the docs, and stop")
    args = parser.parse_args(argv)
    if args.publish:
        return publish()
    if args.merge:
        return merge(args.merge, args.out or KEPT)
    other = [f"--{k} {v}" for k, v, default in (("limit", args.limit, None), ("samples", args.samples, 100),
                                                 ("angles", args.angles, list(shift.ANGLES))) if v != default]
    if args.out is None and other:
        parser.error(f"expected --out for a run with other settings than the kept run's (received {', '.join(other)}): "
                     "the kept files are what --publish puts into the README")
    args.out = args.out or KEPT
    names = args.names or [n for n in zoo.list_models() if zoo.registry.get(n).family == "bnn"
                           and zoo.registry.get(n).dataset == "mnist" and zoo.is_trained(n)]
    x, y, ood, description = held_out(args.limit)
    results, anchors, start = {}, None, time.time()
    for name in names:
        model = zoo.load(name)
        results[name] = shift.rotation_shift(model, x, y, ood=ood, angles=args.angles, samples=args.samples)
        results[name]["card_data"] = zoo.info(name).get("data")
        anchors = anchors or zoo.info(name).get("anchors")
        print(f"{name}: accuracy by angle {[round(a, 3) for a in results[name]['per_angle']['accuracy']]}",
              flush=True)
    write({"data": description, "samples": args.samples, "seconds": round(time.time() - start, 1),
           "results": results, "anchors": anchors}, args.out)


def write(run, out):
    """The run's JSON, its markdown tables and its figure at `out` + .json / .md / .png."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out + ".json", "w") as f:
        json.dump(run, f, indent=1)
    with open(out + ".md", "w") as f:
        f.write(markdown(run["results"], run["data"], run.get("anchors")))
    shift.shift_figure(run["results"], path=out + ".png", title=f"Rotated MNIST ({run['data']})",
                       anchors=figure_anchors(run.get("anchors")))
    print(f"wrote {out}.json, .md and .png")


#: The anchors' rows drawn on the figure, and their labels.
FIGURE_ANCHORS = {"deterministic": "LeNet-5", "mean_field_vi": "LeNet-5 mean-field VI",
                  "ensemble_of_10": "LeNet-5 ensemble of 10"}


def figure_anchors(anchors):
    """{label: {metric: value}} of the uncertainty-baselines rows for `shift.shift_figure` (None: none)."""
    return {label: anchors[key] for key, label in FIGURE_ANCHORS.items()
            if isinstance((anchors or {}).get(key), dict)} or None


def merge(paths, out):
    """One run from several runs' JSON files; they must share the data, the samples and the angles."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    first = runs[0]
    angles = next(iter(first["results"].values()))["angles"]
    images = next(iter(first["results"].values())).get("images")
    results = {}
    for path, run in zip(paths, runs):
        got = (run["data"], run["samples"], next(iter(run["results"].values()))["angles"])
        if got != (first["data"], first["samples"], angles):
            raise SystemExit(f"Expected runs on the same data, samples and angles as {paths[0]} "
                             f"({first['data']!r}, {first['samples']}, {angles}). Received in {path}: {got}")
        for name, table in run["results"].items():
            if table.get("images") != images:
                raise SystemExit(f"Expected every entry on {images} images, as in {paths[0]}. Received in {path}: "
                                 f"{name} on {table.get('images')}")
            if name in results:
                raise SystemExit(f"Expected each entry in one of the runs. Received: {name} again in {path}")
            results[name] = table
    write({"data": first["data"], "samples": first["samples"], "seconds": sum(r["seconds"] for r in runs),
           "results": results, "anchors": next((r.get("anchors") for r in runs if r.get("anchors")), None),
           "merged_from": [os.path.basename(p) for p in paths]}, out)


KEPT = os.path.join(HERE, "results", "dataset_shift")
ROOT = os.path.dirname(HERE)
BEGIN, END = "<!-- dataset-shift:begin (benchmarks/dataset_shift.py --publish) -->", "<!-- dataset-shift:end -->"


def publish(kept=KEPT, root=ROOT):
    """The kept run's tables and figure, between the markers of README.md and docs/calibration.md."""
    import shutil

    with open(kept + ".md") as f:
        tables = f.read().strip()
    with open(kept + ".json") as f:
        run = json.load(f)
    os.makedirs(os.path.join(root, "docs", "img"), exist_ok=True)
    shutil.copyfile(kept + ".png", os.path.join(root, "docs", "img", "dataset_shift.png"))
    source = (f"{len(run['results'])} zoo classifiers, {run['samples']} draws a prediction, "
              f"`benchmarks/results/dataset_shift.json`")
    for page, image in (("README.md", "benchmarks/results/dataset_shift.png"),
                        (os.path.join("docs", "calibration.md"), "img/dataset_shift.png")):
        path = os.path.join(root, page)
        block = f"{tables}\n\n![Rotated-MNIST metrics against the angle ({source})]({image})"
        publish_block(path, {(BEGIN, END): block})
        print(f"updated {path}")


if __name__ == "__main__":
    main()
