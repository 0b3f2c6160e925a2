"""The in-between-uncertainty table: standard vs gap-split test LL and RMSE, from `benchmarks/uci_gap.py`'s records.

One row per data set x method: the standard splits' test log-likelihood (mean
+- standard error over the n splits run), the gap splits' (over the n
features), the difference gap - standard (its standard error from the two
independent ones), the gap splits' median LL and worst feature (a mean over
features can be dominated by one feature where a method collapses), the same
for RMSE, and the Gaussian 90 % interval coverage on both. Below the table,
per data set, the over-confidence question (Foong et al. 2019: mean-field VI
is over-confident between clusters): does the Flipout BNN's LL fall further
below its standard-split LL than MC dropout's and the ensemble's do? Asked as
a paired difference of differences,

    [mean_f (LL_flipout - LL_other)(gap f)] - [mean_k (LL_flipout - LL_other)(split k)],

over the gap features and standard splits both methods ran, with the standard
error of the two means combined; "yes" when it is below -2 standard errors,
"no" above +2, else "not resolved". (A mean over gap features can be
dominated by one feature where a method collapses; the count of features on
which Flipout is below the other method is given beside it. The standard
error treats the gap features as independent, which they are not quite: every
gap split is a different third of the same rows.)

    .venv/bin/python benchmarks/uci_gap_report.py benchmarks/results/uci_gap.json \\
        --out benchmarks/results/uci_gap.md
    .venv/bin/python benchmarks/uci_gap_report.py a.json b.json     # records of several runs, printed
    .venv/bin/python benchmarks/uci_gap_report.py benchmarks/results/uci_gap.json \\
        --out benchmarks/results/uci_gap.md --publish    # and into README.md and docs/calibration.md
"""

import argparse
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (HERE, os.path.dirname(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
ROOT = os.path.dirname(HERE)
BEGIN, END = "<!-- uci-gap:begin (benchmarks/uci_gap_report.py --publish) -->", "<!-- uci-gap:end -->"
METHOD_NAMES = {"mc_dropout": "MC dropout", "flipout": "Flipout BNN", "ensemble": "deep ensemble"}
DATASET_ORDER = ("bostonHousing", "kin8nm", "naval-propulsion-plant", "power-plant", "protein-tertiary-structure",
                 "wine-quality-red")


def mean_se(values):
    """(mean, standard error, n) (`tfvb.evaluate.mean_and_standard_error`); the error is None for n < 2."""
    from tfvb.evaluate import mean_and_standard_error

    values = list(values)
    if not values:
        return None, None, 0
    mean, se = mean_and_standard_error(values)
    return mean, se if len(values) > 1 else None, len(values)


def difference(a, b):
    """(a - b, its standard error from the two independent ones) of two (mean, se, n); None when either is empty."""
    if a[0] is None or b[0] is None:
        return None, None
    se = math.sqrt(a[1] ** 2 + b[1] ** 2) if a[1] is not None and b[1] is not None else None
    return a[0] - b[0], se


def _decimals(mean, se):
    scale = se if se else abs(mean)
    return min(6, max(2, 1 - math.floor(math.log10(scale)))) if scale and math.isfinite(scale) else 2


def fmt(mean, se, n=None):
    if mean is None:
        return "—"
    d = _decimals(mean, se)
    text = f"{mean:.{d}f}" + (f" ± {se:.{d}f}" if se is not None else "")
    return text + (f" ({n})" if n is not None else "")


def _order(names, preferred):
    return [n for n in preferred if n in names] + sorted(n for n in names if n not in preferred)


def _coverage(r):
    return r.get("coverage", {}).get("90", {}).get("gaussian", {}).get("coverage")


def rows(records):
    """One dict per (data set, method) present: the table's numbers as (mean, se, n) or (difference, se)."""
    out = []
    for name in _order({r["dataset"] for r in records}, DATASET_ORDER):
        for method in _order({r["method"] for r in records if r["dataset"] == name}, list(METHOD_NAMES)):
            mine = [r for r in records if (r["dataset"], r["method"]) == (name, method)]
            row = {"dataset": name, "method": method,
                   "mixed_settings": len({repr(sorted(r.get("settings", {}).items())) for r in mine}) > 1}
            for kind in ("standard", "gap"):
                these = [r for r in mine if r["kind"] == kind]
                row[kind] = {"ll": mean_se([r["ll"] for r in these]), "rmse": mean_se([r["rmse"] for r in these]),
                             "coverage": mean_se([c for c in map(_coverage, these) if c is not None]),
                             "ll_median": statistics.median([r["ll"] for r in these]) if these else None,
                             "ll_worst": min(((r["ll"], r["split"]) for r in these), default=None)}
            row["ll_difference"] = difference(row["gap"]["ll"], row["standard"]["ll"])
            row["rmse_difference"] = difference(row["gap"]["rmse"], row["standard"]["rmse"])
            out.append(row)
    return out


def paired_drop(records, name, method, other):
    """Flipout-style difference of differences of `method` against `other` on data set `name` (module docstring).

    Returns (value, se, gap features, standard splits, features where `method` is below `other`) or None.
    """
    def by_split(m, kind):
        return {r["split"]: r["ll"] for r in records if (r["dataset"], r["method"], r["kind"]) == (name, m, kind)}

    parts = []
    below = None
    for kind in ("gap", "standard"):
        a, b = by_split(method, kind), by_split(other, kind)
        shared = sorted(set(a) & set(b))
        if not shared:
            return None
        parts.append(mean_se([a[k] - b[k] for k in shared]))
        if kind == "gap":
            below = sum(a[k] < b[k] for k in shared)
    value, se = difference(*parts)
    return value, se, parts[0][2], parts[1][2], below


def verdict(value, se):
    """("yes" | "no" | "not resolved", why): is `value` below -2 standard errors (yes) or above +2 (no)?"""
    if se is None:
        return "not resolved", " (fewer than 2 splits or features)"
    if value < -2 * se:
        return "yes", ""
    return ("no", "") if value > 2 * se else ("not resolved", " (within 2 standard errors)")


def overconfidence(records, method="flipout", others=("mc_dropout", "ensemble")):
    """The lines answering the over-confidence question, one per data set, and a summary line."""
    lines, answered, yes_both = [], [], []
    by_name = {}
    for row in rows(records):
        by_name.setdefault(row["dataset"], {})[row["method"]] = row
    for name, methods in by_name.items():
        if method not in methods or not any(o in methods for o in others):
            continue
        drops = "; ".join(f"{METHOD_NAMES.get(m, m)} {fmt(*methods[m]['ll_difference'])}"
                          for m in [method, *others] if m in methods)
        parts, verdicts = [], []
        for other in (o for o in others if o in methods):
            p = paired_drop(records, name, method, other)
            if p is None:
                continue
            value, se, n_gap, n_std, below = p
            word, why = verdict(value, se)
            verdicts.append(word)
            parts.append(f"against {METHOD_NAMES.get(other, other)} {fmt(value, se)} ({n_gap} gap features, "
                         f"{n_std} standard split{'s' * (n_std != 1)}; below it on {below}/{n_gap} features): "
                         f"**{word}**{why}")
        answered.append(name)
        if verdicts and all(v == "yes" for v in verdicts) and len(verdicts) == len(others):
            yes_both.append(name)
        question = (f"Does the {METHOD_NAMES[method]}'s LL fall further below (paired difference of differences)? "
                    + "; ".join(parts) + "." if parts else
                    "Too few records yet to ask whether it falls further below (both methods on a gap feature and "
                    "a standard split).")
        lines.append(f"- **{name}**: gap − standard test LL: {drops}. {question}")
    if answered:
        theirs = " and the ".join(f"{METHOD_NAMES[o]}'s" for o in others)
        lines.append(f"\nOver-confidence between clusters: the {METHOD_NAMES[method]}'s gap LL falls further below "
                     f"its standard-split LL than {theirs} "
                     f"do (both by more than 2 standard errors) on {len(yes_both)} of {len(answered)} data sets"
                     + (f": {', '.join(yes_both)}." if yes_both else ".")
                     + " (A standard error over gap features treats them as independent; each gap split holds out "
                     "a different third of the same rows, so the per-feature counts are the sturdier evidence.)")
    return lines


def cost(records):
    """The cost section: median wall seconds per split by data set, method and split kind, from the records.

    A Flipout record trained with several steps per call into TensorFlow (`steps_per_execution`, the
    same numbers, faster) is counted apart from one trained a step per call; a record taken from a kept
    protocol run (`reused_from`) shows that run's time, marked "kept".
    """
    groups = {}
    for r in records:
        if not isinstance(r.get("seconds"), (int, float)):
            continue
        label = METHOD_NAMES.get(r["method"], r["method"])
        if r["method"] == "flipout":
            steps = r.get("steps_per_execution", 1)
            label += f", {steps} step{'s' if steps > 1 else ''} per call"
        kind = r["kind"] + (" (kept)" if r.get("reused_from") else "")
        groups.setdefault((r["dataset"], label), {}).setdefault(kind, []).append(r["seconds"])
    if not groups:
        return []
    lines = ["## Cost", "",
             "Wall seconds per split (median over the records, with their number), as each record's `seconds` "
             "measured them: one process with one thread, on a 2-core machine whose other core was training "
             "something else; all records of the data set and method in the last column, in hours.", "",
             "| data set | method | standard split | gap split | total (h) |", "|---|---|---|---|---|"]
    names = _order({n for n, _ in groups}, DATASET_ORDER)
    for name in names:
        for (n, label), kinds in sorted(groups.items()):
            if n != name:
                continue
            cells = []
            for kind in ("standard", "gap"):
                parts = [f"{statistics.median(v):,.0f}{' kept' if k.endswith('(kept)') else ''} ({len(v)})"
                         for k, v in sorted(kinds.items()) if k.split(" ")[0] == kind]
                cells.append("; ".join(parts) or "—")
            total = sum(sum(v) for v in kinds.values()) / 3600
            lines.append(f"| {name} | {label} | {cells[0]} | {cells[1]} | {total:.2f} |")
    return lines


def markdown(records, sources=()):
    """The report: the table, the over-confidence lines, and notes on ties and mixed settings."""
    table = rows(records)
    lines = ["# In-between uncertainty on UCI: standard vs gap splits", "",
             "Foong et al. (2019)'s gap splits (the middle third of the rows sorted by one input feature held out; "
             "one per feature) against the first standard splits, from `benchmarks/uci_gap.py`"
             + (f" ({', '.join(os.path.basename(s) for s in sources)})" if sources else "")
             + ". Test log-likelihood (nats, higher is better) and RMSE in the original units: mean ± standard "
             "error (n splits or features); gap − standard with the two standard errors combined; the gap "
             "splits' median LL and their worst feature's (a mean over features can be dominated by one "
             "feature where a method collapses); 90 % coverage of the Gaussian predictive interval "
             "(nominal 0.90).", "",
             "| data set | method | standard LL | gap LL | gap − standard LL | gap LL median (worst: feature) "
             "| standard RMSE | gap RMSE | gap − standard RMSE | 90 % coverage (standard / gap) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        s, g = r["standard"], r["gap"]
        cov = f"{fmt(s['coverage'][0], None)} / {fmt(g['coverage'][0], None)}"
        flag = " †" if r["mixed_settings"] else ""
        d = _decimals(g["ll"][0], g["ll"][1]) if g["ll"][0] is not None else 2
        median = "—" if g["ll_median"] is None else (
            f"{g['ll_median']:.{d}f} ({g['ll_worst'][0]:.{d}f}: {g['ll_worst'][1]})")
        lines.append(f"| {r['dataset']} | {METHOD_NAMES.get(r['method'], r['method'])}{flag} | {fmt(*s['ll'])} "
                     f"| {fmt(*g['ll'])} | {fmt(*r['ll_difference'])} | {median} | {fmt(*s['rmse'])} "
                     f"| {fmt(*g['rmse'])} "
                     f"| {fmt(*r['rmse_difference'])} | {cov} |")
    if any(r["mixed_settings"] for r in table):
        lines += ["", "† records made with different settings (e.g. epochs) are averaged together in this row."]
    lines += ["", "## Is the mean-field Flipout BNN over-confident between clusters?", ""]
    lines += overconfidence(records) or ["(needs the Flipout BNN and MC dropout or the ensemble on one data set)"]
    tied = {}
    for r in records:
        if r["kind"] == "gap" and r.get("train_rows_in_gap"):
            tied.setdefault(r["dataset"], set()).add(r["split"])
    if tied:
        lines += ["", "Gap features whose held-out value range also holds training rows (ties straddle the cuts: "
                  "discrete or repeated values), counted in the means above: "
                  + "; ".join(f"{n}: {sorted(v)}" for n, v in sorted(tied.items())) + "."]
    kept = {}
    for r in records:
        if r.get("reused_from"):
            kept.setdefault((r["dataset"], r["method"], r["reused_from"]), []).append(r["split"])
    if kept:
        lines += ["", "Standard splits taken from the kept protocol run with the same settings (the same networks, "
                  "seeds and data; `benchmarks/uci.py`), not trained a second time: "
                  + "; ".join(f"{n} {METHOD_NAMES.get(m, m)} splits {sorted(v)} from {f}"
                              for (n, m, f), v in sorted(kept.items())) + "."]
    spent = cost(records)
    lines += ["", *spent] if spent else []
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("json", nargs="+", help="record files written by benchmarks/uci_gap.py")
    parser.add_argument("--out", default=None, help="write the markdown here (e.g. benchmarks/results/uci_gap.md)")
    parser.add_argument("--publish", action="store_true",
                        help="also put the table between the uci-gap markers of README.md and docs/calibration.md")
    args = parser.parse_args(argv)
    from tfvb import _atomic

    records = {}
    for path in args.json:
        try:
            data = _atomic.read_json(path)
        except (OSError, ValueError) as e:
            raise SystemExit(f"Expected a record file of benchmarks/uci_gap.py at {path}. Received: {e}") from e
        for r in data.get("records", []) if isinstance(data, dict) else []:
            records[r["dataset"], r["method"], r["kind"], r["split"]] = r  # a later file's record wins
    if not records:
        raise SystemExit(f"Expected records in {', '.join(args.json)}. Received: none")
    text = markdown(list(records.values()), args.json)
    print(text)
    if args.out:
        _atomic.write_text(args.out, text)
    if args.publish:
        publish(text)
    return text


def publish(text, root=ROOT):
    """The report without its title and its cost section, its section headings in bold, between the pages'
    uci-gap markers."""
    from _publish import publish as publish_block

    lines = text.strip().split("\n## Cost")[0].splitlines()[1:]  # no title (the pages have theirs), no cost
    block = "\n".join(f"**{line[3:]}**" if line.startswith("## ") else line for line in lines).strip()
    for page in ("README.md", os.path.join("docs", "calibration.md")):
        path = os.path.join(root, page)
        publish_block(path, {(BEGIN, END): block})
        print(f"updated {path}")


if __name__ == "__main__":
    main()
