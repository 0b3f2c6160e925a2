"""The UCI MC-dropout table: our runs next to Gal's published numbers and his per-split files.

Reads the JSON summaries `benchmarks/uci.py` wrote to benchmarks/results/:

    uci_<dataset>.json            faithful protocol, 10 x n_epochs (the protocol's text)
    uci_<dataset>_100x.json       faithful protocol, 100 x n_epochs (the setting of Gal's table)
    uci_<dataset>_improved.json   heteroscedastic variant (10 x); _heteroscedastic_100x at 100 x
    uci_<dataset>_concrete.json   concrete-dropout variant (10 x); _concrete_100x at 100 x
    uci_reference_<dataset>.json  the speed ratio (`benchmarks/uci_reference.py --vectorized`)

and prints (and with --out writes) a markdown table of RMSE and test LL,
mean +- standard error over the splits run, with Gal's table
(`tfvb.uci_protocol.MC_DROPOUT_ANCHORS`), whether each of our numbers lies within
the table's standard error of it, the `tuned` variant (noise variance chosen on the
validation rows), and the paired difference to Gal's own per-split results
(benchmarks/reference/gal_dropout_uci_per_split.json) on the splits both ran.

    python benchmarks/uci_report.py --out benchmarks/results/uci_table.md
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = ("bostonHousing", "wine-quality-red", "kin8nm", "power-plant", "naval-propulsion-plant",
            "protein-tertiary-structure")




def paired(ours, reference):
    """Mean +- SE of ours - reference over the splits both have; None when fewer than 2."""
    diffs = [a - b for a, b in zip(ours, reference)]
    from tfvb.evaluate import mean_and_standard_error

    return (mean_and_standard_error(diffs), len(diffs)) if len(diffs) > 1 else None


def _fmt(mean_se_pair, digits):
    mean, se = mean_se_pair
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def _digits(dataset):
    return {"naval-propulsion-plant": 4, "kin8nm": 4, "wine-quality-red": 3}.get(dataset, 2)


def within(value, anchor):
    """Whether our mean lies within the published standard error of the published mean (at its rounding)."""
    if anchor is None:
        return None
    mean, se = anchor
    return abs(round(value, 2) - mean) <= se + 1e-9


def verdict(value, anchor, higher_is_better):
    """'yes' within the published SE, else 'better' or 'worse' than the published mean; '—' without one."""
    inside = within(value, anchor)
    if inside is None:
        return "—"
    if inside:
        return "yes"
    return "better" if (value > anchor[0]) == higher_is_better else "worse"


def rows(results_dir, reference):
    sys.path.insert(0, os.path.dirname(HERE))
    from tfvb.uci_protocol import MC_DROPOUT_ANCHORS, RESULT_FILES, result_file

    out = []
    for name in DATASETS:
        anchor = MC_DROPOUT_ANCHORS.get(name, {})
        for variant, multiplier, _ in RESULT_FILES:
            label = f"{multiplier}x" if variant == "faithful" else f"{variant} {multiplier}x"
            path = os.path.join(results_dir, result_file(name, variant, multiplier))
            if not os.path.exists(path):
                continue
            with open(path) as f:
                s = json.load(f)
            per = s["per_split"]
            row = {
                "dataset": name, "run": label, "splits": len(per), "seconds": s["seconds"],
                "rmse": s["rmse"], "ll": s["ll"], "tuned_rmse": s["tuned"]["rmse"], "tuned_ll": s["tuned"]["ll"],
                "anchor": anchor, "rmse_within": verdict(s["rmse"][0], anchor.get("rmse"), higher_is_better=False),
                "ll_within": verdict(s["ll"][0], anchor.get("ll"), higher_is_better=True),
            }
            ref = reference.get(name, {}).get(str(multiplier)) if variant == "faithful" else None
            if ref:
                for key in ("rmse", "ll"):
                    if key in ref:
                        row[f"paired_{key}"] = paired([r[key] for r in per], ref[key][: len(per)])
            out.append(row)
    return out


def markdown(table):
    lines = [
        "| data | run | splits | RMSE | LL | Gal's table RMSE / LL | within SE (RMSE, LL) | tuned-noise LL "
        "| ours − Gal's own files, same splits (RMSE; LL) | seconds (sum over splits) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        d = _digits(r["dataset"])
        a = r["anchor"]
        gal = (f"{a['rmse'][0]:.2f} ± {a['rmse'][1]:.2f} / {a['ll'][0]:.2f} ± {a['ll'][1]:.2f}"
               if a else "—")
        pair = []
        for key in ("rmse", "ll"):
            p = r.get(f"paired_{key}")
            pair.append(f"{_fmt(p[0], d)} (n={p[1]})" if p else "—")
        lines.append(
            f"| {r['dataset']} | {r['run']} | {r['splits']} | {_fmt(r['rmse'], d)} | {_fmt(r['ll'], d)} | {gal} "
            f"| {r['rmse_within']}, {r['ll_within']} | {_fmt(r['tuned_ll'], d)} | {'; '.join(pair)} "
            f"| {r['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def speed(results_dir):
    """Markdown lines of the speed ratios in uci_reference_<dataset>.json, where measured."""
    lines = []
    for name in DATASETS:
        path = os.path.join(results_dir, f"uci_reference_{name}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            r = json.load(f)
        if "speedup" not in r:
            continue
        where = r.get("vectorized_measured", "vectorized time from an earlier benchmarks/uci.py run")
        lines.append(f"| {name} | {r.get('epochs', '10 x n_epochs')} | {r['vectorized_seconds_per_split']:.0f} "
                     f"| {r['estimated_seconds_per_split']:.0f} ({r['mode']}) | {r['speedup']:.0f}x | {where} |")
    if not lines:
        return ""
    return ("\nSpeed: the protocol on one split, vectorized grid vs one configuration at a time with a Python "
            "loop of T predictions (`benchmarks/uci_reference.py`):\n\n"
            "| data | epochs | vectorized s/split | reference s/split | ratio | measured |\n|---|---|---|---|---|---|\n"
            + "\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=os.path.join(HERE, "results"), help="folder of uci_*.json")
    parser.add_argument("--reference", default=os.path.join(HERE, "reference", "gal_dropout_uci_per_split.json"))
    parser.add_argument("--out", default=None, help="also write the markdown table here")
    args = parser.parse_args(argv)
    with open(args.reference) as f:
        reference = json.load(f)["runs"]
    text = markdown(rows(args.results, reference)) + speed(args.results)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return text


if __name__ == "__main__":
    main()
