"""Every speed benchmark in one process: one table of ratios, the matmul peak measured in the same run.

Each round runs every benchmark of `suite.py` once; each benchmark times its
workload in pairs with the matmul peak (or with its reference) and reports
the median ratio of its pairs. Rounds repeat the whole suite, so a ratio is
given as min / median / max over the rounds, next to its goal. Each ratio
is measured on two clocks (see `_peak.py`): wall time, what the goals are
judged on, and process CPU time, the steadier one when other processes
load the machine.

    .venv/bin/python benchmarks/run_all.py          # writes benchmarks/results/summary.json and summary.md
    .venv/bin/python benchmarks/run_all.py --rounds 3 --only iwae_training iwae5000_mlp

`make bench` runs the first line.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _peak import CLOCKS, PEAK_SIZE, matmul_peak  # noqa: E402
from _timing import process_settings, runtime  # noqa: E402
from suite import BENCHMARKS  # noqa: E402


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="times the whole suite runs (>= 3 for min/median/max)")
    parser.add_argument("--reps", type=int, default=3, help="timed pairs per benchmark and round")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run these benchmarks only")
    parser.add_argument("--ll-images", type=int, default=8, help="images of the MLP IWAE-5000 evaluations")
    parser.add_argument("--cvae-images", type=int, default=1000, help="images per CVAE epoch")
    parser.add_argument("--flipout-steps", type=int, default=30, help="train steps per Flipout epoch")
    parser.add_argument("--fit-images", type=int, default=6000,
                        help="images per VAE epoch of fit_overhead (the 2,000 bundled digits, repeated)")
    parser.add_argument("--json", default=os.path.join(HERE, "results", "summary.json"))
    parser.add_argument("--label", default=None, help="what this run measures (e.g. a commit)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow intra- and inter-op threads (default: TensorFlow's, all cores); 1 makes "
                             "wall-clock pairs steady on a loaded machine")
    return parser.parse_args(argv)


def _goal_text(goal):
    return "" if goal is None else f"{goal[0]} {goal[1]:g}"


def _meets(goal, values):
    if goal is None:
        return None
    return all(v >= goal[1] if goal[0] == ">=" else v <= goal[1] for v in values)


def summarize(rounds, names):
    """{ratio: {clock: {min, median, max, rounds}, goal, meets_goal_every_round (wall clock)}}."""
    summary = {}
    for bench in names:
        for ratio, goal in BENCHMARKS[bench][1].items():
            entry = {"benchmark": bench, "goal": _goal_text(goal) or None}
            for clock in CLOCKS:
                values = [r[bench][ratio][clock] for r in rounds]
                entry[clock] = {"min": min(values), "median": statistics.median(values), "max": max(values),
                                "rounds": [round(v, 4) for v in values]}
            entry["meets_goal_every_round"] = _meets(goal, entry["wall"]["rounds"])
            summary[ratio] = entry
    return summary


def print_table(summary, peaks):
    print(f"\nmatmul peak ({PEAK_SIZE}x{PEAK_SIZE}, float32, wall clock), GFLOP/s over the rounds: "
          f"min {min(peaks):.0f} / median {statistics.median(peaks):.0f} / max {max(peaks):.0f}")
    header = f"{'ratio (min / median / max over rounds)':38} {'wall clock':>23}   {'process CPU time':>23}  goal"
    print(header)
    print("-" * len(header))
    for name, s in summary.items():
        mark = {True: " ok", False: " MISSED", None: ""}[s["meets_goal_every_round"]]
        cells = "   ".join(f"{s[c]['min']:7.3f}{s[c]['median']:8.3f}{s[c]['max']:8.3f}" for c in CLOCKS)
        print(f"{name:38} {cells}  {s['goal'] or ''}{mark}")


def markdown(report):
    """The summary as a Markdown table (what the README's performance section shows)."""
    peak = report["peak_gflops"]
    threads = report.get("threads", "default")
    first = (f"Matmul peak in the same run: {peak['median']:.0f} GFLOP/s (median; min {peak['min']:.0f}, "
             f"max {peak['max']:.0f}; threads: {threads})." if peak else
             f"No ratio of this run is taken against the matmul peak (threads: {threads}).")
    lines = [f"{first} {report['rounds']} rounds, {report['reps_per_round']} pairs each; "
             "min / median / max over the rounds.", "",
             "| ratio | wall clock | process CPU time | goal |", "|---|---|---|---|"]
    for name, s in report["ratios"].items():
        cells = [" / ".join(f"{s[c][k]:.2f}" for k in ("min", "median", "max")) for c in CLOCKS]
        lines.append(f"| `{name}` | {cells[0]} | {cells[1]} | {s['goal'] or ''} |")
    lines += ["", f"Command: `{report['command']}`; label: {report.get('label') or 'none'}; process: "
                  f"{json.dumps(report.get('process'))}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse(argv)
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    names = args.only or list(BENCHMARKS)
    start = time.time()
    peak = matmul_peak(tf)
    runs = {}
    for name in names:
        print(f"setting up {name} ...", flush=True)
        runs[name] = BENCHMARKS[name][0](tf, args)
    rounds, peaks = [], []
    for i in range(args.rounds):
        result = {}
        for name in names:
            values = runs[name](peak)
            if "_peak_gflops" in values:
                peaks.append(values["_peak_gflops"])
            result[name] = values
            shown = ", ".join(f"{k.lstrip('_')} " + (" / ".join(f"{v[c]:.3f}" for c in CLOCKS) if isinstance(v, dict)
                                                      else f"{v:.3f}") for k, v in values.items())
            print(f"round {i + 1}/{args.rounds} {name}: {shown}", flush=True)
        rounds.append(result)
    summary = summarize(rounds, names)
    print_table(summary, peaks or [float("nan")])
    report = {
        "label": args.label,
        "command": "benchmarks/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rounds": args.rounds, "reps_per_round": args.reps, "threads": args.threads or "default",
        "process": process_settings(),
        "peak_gflops": {"min": min(peaks), "median": statistics.median(peaks), "max": max(peaks)} if peaks else None,
        "ratios": summary,
        "raw": rounds,
        "seconds": round(time.time() - start, 1),
        **runtime(tf),
    }
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=float)
        with open(os.path.splitext(args.json)[0] + ".md", "w") as f:
            f.write(markdown(report))
        print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
