"""Two `run_all.py` summaries side by side (e.g. main before a change, the branch after): a Markdown table.

    .venv/bin/python benchmarks/compare.py BEFORE.json AFTER.json [--clock wall|cpu]
"""

import argparse
import json


def row(entry, clock):
    if entry is None:
        return "–"
    s = entry[clock]
    return f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args(argv)
    before, after = (json.load(open(p)) for p in (args.before, args.after))
    lines = [
        "| ratio (min / median / max over rounds) | before, wall | after, wall | before, CPU | after, CPU | goal |",
        "|---|---|---|---|---|---|",
    ]
    for name in list(dict.fromkeys([*before["ratios"], *after["ratios"]])):
        b, a = before["ratios"].get(name), after["ratios"].get(name)
        goal = (a or b)["goal"] or ""
        lines.append(f"| `{name}` | {row(b, 'wall')} | {row(a, 'wall')} | {row(b, 'cpu')} | {row(a, 'cpu')} | {goal} |")
    for label, report in (("before", before), ("after", after)):
        p = report["peak_gflops"]
        lines.append(
            f"\n{label}: {report.get('label') or ''}, {report['rounds']} rounds, matmul peak "
            f"{p['min']:.0f} / {p['median']:.0f} / {p['max']:.0f} GFLOP/s"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
