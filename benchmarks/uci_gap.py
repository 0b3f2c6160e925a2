"""In-between uncertainty on UCI: standard vs Foong et al.'s gap splits, for MC dropout, Flipout and a deep ensemble.

For each data set and method (`_uci_gap_methods.py`: Gal's MC-dropout protocol
as `tfvb.uci_protocol` runs it, the zoo recipe's Flipout BNN, Lakshminarayanan
et al.'s deep ensemble of 5 Gaussian networks), the first `--standard-splits`
standard splits and the gap split of every input feature that has a gap
(`--features`: some; `tfvb.uci_protocol.gap_split`: the middle third of the
rows sorted by that feature held out, ties in a seeded random order; a
feature whose middle third is one value, e.g. naval's two constant columns
or Boston's CHAS and ZN, has no gap and is left out) are trained and scored: test log-likelihood and RMSE
in the original units, 90 % / 95 % interval coverage. `uci_gap_report.py`
turns the records into the table (standard vs gap LL and RMSE per data set
and method, and whether the mean-field Flipout BNN's LL falls further below
in the gaps than MC dropout's and the ensemble's).

    .venv/bin/python benchmarks/uci_gap.py /work/shared/data/uci --datasets bostonHousing kin8nm \\
        --methods mc_dropout flipout ensemble --json benchmarks/results/uci_gap.json --resume --threads 1
    .venv/bin/python benchmarks/uci_gap.py --json benchmarks/results/uci_gap.json --resume \\
        --report benchmarks/results/uci_gap.md          # all six data sets, then the table
    .venv/bin/python benchmarks/uci_gap.py --smoke      # Boston, 2 epochs, 1 split, 2 features: ~35 s

Interruptions: every finished (data set, method, split kind, split) record, with the command that
made it, is merged into --json at once (atomically, under a lock on its folder, so two
processes running different --datasets may share one file); `--resume` skips
the records already there with the same settings (and refuses a file whose
records were made with other settings). A killed run loses the record in
progress only. Without --resume the selected records are computed again and
replace the old ones; the file's other records are kept. Work order: per data
set, standard split 0, gap feature 0, standard split 1, gap feature 1, ...,
each by every method, so an interrupted run leaves a balanced table.

Settings: MC dropout uses `benchmarks/uci.py`'s defaults (`tfvb.uci_protocol.settings`: 100 x n_epochs,
T = 10,000 test passes, 1,000 validation passes; `--epoch-multiplier`, `--samples`, `--validation-samples`);
Flipout the recipe's own (10 x n_epochs, batch 32, Adam 1e-3, 100 draws); the ensemble 40 epochs x
`--ensemble-epoch-multiplier`, batch 100, Adam `--ensemble-learning-rate` 0.01. `--epochs` overrides all
three (smoke runs). Split k (gap feature k) is seeded from `--seed` + k (MC dropout: + 1000 k).
MC dropout's standard splits are what `benchmarks/uci.py` computes for them with the same settings:
where its run is kept (`--kept-runs`, default the checkout's benchmarks/results, e.g.
uci_kin8nm_100x.json) the split's record is taken from it (`reused_from` in the record) instead of
training the grid a second time (`_uci_gap_methods.MCDropout.kept`); `--kept-runs none` trains them.

Cost, measured (each record's `seconds`; per data set, method and split kind in the cost section of
benchmarks/results/uci_gap.md): one process, one thread, the other core busy, all 261 records of the six data
sets took 6.0 core-hours as run (Boston 0.36, kin8nm 0.41, naval 1.66, power-plant 0.63, protein 2.48, wine
0.43), MC dropout's standard splits taken from the kept protocol runs (5.0 h of theirs, not repeated); the
estimate made before any run said ~25 h. Protein's MC-dropout gap splits are the longest (753 s each); the
Flipout recipe trains 64 steps per call into TensorFlow (`zoo/bnn_flipout_uci.STEPS_PER_EXECUTION`, the same
numbers), 2.4-2.7x faster than the records marked "1 step per call" (Boston, naval, wine, most of power-plant).
Two processes on the two cores (different --datasets, or --methods / --features, the same --json) halve it.
"""

import argparse
import contextlib
import fcntl
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (HERE, os.path.dirname(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

STANDARD_SPLITS = 5
SMOKE = {"datasets": ["bostonHousing"], "standard_splits": 1, "features": [0, 2], "epochs": 2, "samples": 100,
         "validation_samples": 50}


def record_key(r):
    return r["dataset"], r["method"], r["kind"], int(r["split"])


class RecordFile:
    """The run's JSON file: {"records": [...]}, each record merged in as soon as it is finished.

    A write reads the file, replaces or adds the record and renames a complete
    new file over it (`tfvb._atomic`), holding an exclusive lock on the folder
    so that processes sharing the file do not lose each other's records.
    """

    def __init__(self, path):
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)

    def records(self):
        from tfvb import _atomic

        if not os.path.exists(self.path):
            return []
        data = _atomic.read_json(self.path)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ValueError(f"Expected a JSON object with a `records` list in {self.path} (written by "
                             f"benchmarks/uci_gap.py). Received: {type(data).__name__}; write to another file")
        return data["records"]

    @contextlib.contextmanager
    def _locked(self):
        fd = os.open(os.path.dirname(self.path), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def add(self, record, command):
        from tfvb import _atomic

        with self._locked():
            records = {record_key(r): r for r in self.records()}
            records[record_key(record)] = {**record, "command": command}  # the process that computed it
            _atomic.write_json(self.path, {
                "what": "benchmarks/uci_gap.py: per-split test scores on standard and gap splits "
                        "(benchmarks/uci_gap_report.py makes the table); each record's `command` made it",
                "records": sorted(records.values(), key=record_key),
            }, indent=1)


def _fail(message):
    raise SystemExit(message)


def parse(argv):
    from _uci_gap_methods import METHODS, Ensemble

    from tfvb.uci_protocol import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default=None,
                        help="a folder of UCI data sets in the benchmark layout (default: uci/ of the shared data)")
    parser.add_argument("--datasets", nargs="+", default=None, help="data set folders under root (default: all)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--standard-splits", type=int, default=None,
                        help=f"evaluate the first N standard splits (default {STANDARD_SPLITS})")
    parser.add_argument("--features", type=int, nargs="+", default=None,
                        help="gap splits of these input features, by position 0..D-1 (default: every feature "
                             "with a gap, `tfvb.uci_protocol.gap_features`)")
    parser.add_argument("--epoch-multiplier", type=int, default=settings.EPOCH_MULTIPLIER,
                        help="MC dropout's epochs = this x n_epochs (as benchmarks/uci.py)")
    parser.add_argument("--samples", type=int, default=None,
                        help=f"MC dropout's passes on the test rows (default {settings.SAMPLES})")
    parser.add_argument("--validation-samples", type=int, default=None,
                        help=f"MC dropout's passes on the validation rows (default {settings.VALIDATION_SAMPLES})")
    parser.add_argument("--ensemble-epoch-multiplier", type=int, default=1,
                        help="the ensemble trains 40 x this epochs")
    parser.add_argument("--ensemble-learning-rate", type=float, default=None, help="Adam's step size (0.01)")
    parser.add_argument("--epochs", type=int, default=None, help="override every method's epochs (smoke runs)")
    parser.add_argument("--kept-runs", default=None,
                        help="where benchmarks/uci.py's protocol runs are kept; MC dropout takes a standard split "
                             "from the run with its settings there instead of training it again (default: "
                             "benchmarks/results of the checkout; 'none': always train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra-op threads (inter-op: 1)")
    parser.add_argument("--json", default=None, help="the records' file (required, except with --smoke)")
    parser.add_argument("--resume", action="store_true",
                        help="skip the records already in --json, also those another process sharing it "
                             "adds while this one runs")
    parser.add_argument("--report", default=None, help="write the markdown table of --json here at the end")
    parser.add_argument("--smoke", action="store_true",
                        help="Boston (unless --datasets), 1 standard split, features 0 and 2, 2 epochs, "
                             "100 MC passes: the whole pipeline in about half a minute")
    args = parser.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.json is None:
            args.json = os.path.join(tempfile.mkdtemp(prefix="uci_gap_smoke_"), "uci_gap.json")
    if args.json is None:
        parser.error("--json is required (the records' file a long run writes and resumes from)")
    args.standard_splits = STANDARD_SPLITS if args.standard_splits is None else args.standard_splits
    if args.kept_runs is None:
        from tfvb import paths

        args.kept_runs = paths.benchmark_results_dir()
    elif args.kept_runs.lower() == "none":
        args.kept_runs = None
    defaults = {"samples": settings.SAMPLES, "validation_samples": settings.VALIDATION_SAMPLES,
                "ensemble_learning_rate": Ensemble.LEARNING_RATE}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.standard_splits < 0 or (args.epochs is not None and args.epochs < 1):
        parser.error("--standard-splits must be >= 0 and --epochs >= 1")
    return args


def folders(args):
    """{name: UCIFolder} of the requested data sets, every name and feature checked before any training."""
    from tfvb.data import UCIFolder, default_uci_root, list_uci
    from tfvb.uci_protocol import gap_features

    root = args.root or default_uci_root()
    try:
        valid = list_uci(root)
    except FileNotFoundError as e:
        _fail(str(e))
    names = args.datasets or valid
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        _fail(f"Expected data sets among the folders of {root}: {', '.join(valid) or 'none'}. "
              f"Received: {', '.join(unknown) or 'none'}")
    out = {}
    for name in names:
        folder = UCIFolder(os.path.join(root, name))
        d = len(folder.feature_indices)
        bad = [f for f in args.features or () if not 0 <= f < d]
        if bad:
            _fail(f"Expected --features in [0, {d - 1}] (the input features of {name}). Received: {bad}")
        with_gap = gap_features(folder)
        no_gap = [f for f in args.features or () if f not in with_gap]
        if no_gap:
            _fail(f"Expected --features with a gap in {name} (its middle third not a single value): {with_gap}. "
                  f"Received: {no_gap}")
        if args.standard_splits > folder.n_splits:
            _fail(f"Expected --standard-splits <= {folder.n_splits}, the splits of {name}. "
                  f"Received: {args.standard_splits}")
        out[name] = folder
    return out


def work(folder, args):
    """(kind, k) in the run's order: standard 0, gap 0, standard 1, gap 1, ..."""
    from tfvb.uci_protocol import gap_features

    features = list(args.features) if args.features is not None else gap_features(folder)
    standard = list(range(args.standard_splits))
    order = []
    for i in range(max(len(standard), len(features))):
        order += [("standard", standard[i])] if i < len(standard) else []
        order += [("gap", features[i])] if i < len(features) else []
    return order


def split_of(folder, kind, k):
    """The `UCIData` of a standard split or a gap split, and what to record about the split itself."""
    from tfvb.uci_protocol import gap_split

    if kind == "standard":
        data = folder.split(k)
        return data, {"train_rows": len(data.x_train), "test_rows": len(data.x_test)}
    data = gap_split(folder, k)
    lo, hi = data.x_test[:, k].min(), data.x_test[:, k].max()
    inside = int(((data.x_train[:, k] >= lo) & (data.x_train[:, k] <= hi)).sum())
    return data, {"train_rows": len(data.x_train), "test_rows": len(data.x_test),
                  "gap_feature": int(folder.feature_indices[k]), "gap": [float(lo), float(hi)],
                  "train_rows_in_gap": inside}


def check_resumable(done, name, method, settings):
    """Refuse to resume from records of (name, method) made with other settings."""
    for r in done.values():
        if (r["dataset"], r["method"]) == (name, method) and r.get("settings") != settings:
            old = r.get("settings") or {}
            changed = ", ".join(f"{k}={old.get(k)!r} (this run: {v!r})" for k, v in settings.items()
                                if old.get(k) != v)
            _fail(f"Cannot resume {name} {method} from the records in the file: they were made with other "
                  f"settings: {changed or old}. Write to another --json or do not --resume.")


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse(argv)
    from _uci_gap_methods import METHODS, timed_score

    from tfvb.uci_protocol import set_cpu_threads

    set_cpu_threads(args.threads)  # no-op when TensorFlow already started (e.g. under pytest)
    command = " ".join([os.path.basename(sys.executable), *(sys.argv if argv is None else ["uci_gap.py", *argv])])
    store = RecordFile(args.json)
    try:
        done = {record_key(r): r for r in store.records()} if args.resume else {}
    except ValueError as e:
        _fail(str(e))
    data_sets = folders(args)
    methods = {}
    for name, folder in data_sets.items():
        for m in args.methods:
            try:
                methods[name, m] = METHODS[m](folder, args)
            except ValueError as e:  # e.g. a non-positive epoch multiplier or number of passes
                _fail(str(e))
            if args.resume:
                check_resumable(done, name, m, methods[name, m].settings)
    jobs = [(name, kind, k, m) for name, folder in data_sets.items() for kind, k in work(folder, args)
            for m in args.methods]
    todo = [j for j in jobs if (j[0], j[3], j[1], j[2]) not in done]
    print(f"{len(jobs)} records, {len(jobs) - len(todo)} already in {args.json}, {len(todo)} to compute",
          flush=True)
    start, split_cache = time.perf_counter(), {}
    for i, (name, kind, k, m) in enumerate(todo):
        if args.resume and (name, m, kind, k) in {record_key(r) for r in store.records()}:
            print(f"[{i + 1}/{len(todo)}] {name} {m} {kind} {k}: made meanwhile by another process, skipped",
                  flush=True)
            continue
        if (name, kind, k) not in split_cache:
            split_cache.clear()
            split_cache[name, kind, k] = split_of(data_sets[name], kind, k)
        data, about = split_cache[name, kind, k]
        method = methods[name, m]
        kept = method.kept(kind, k) if hasattr(method, "kept") else None
        record = {"dataset": name, "method": m, "kind": kind, "split": k, **about,
                  **(kept or timed_score(method, data)), "settings": method.settings}
        store.add(record, command)
        cov = record["coverage"]["90"]["gaussian"]["coverage"]
        print(f"[{i + 1}/{len(todo)}] {name} {m} {kind} {k}: ll {record['ll']:.4f} rmse {record['rmse']:.4g} "
              f"90% coverage {cov:.3f} ({record['seconds']:.1f} s"
              f"{', kept in ' + record['reused_from'] if 'reused_from' in record else ''}; "
              f"{time.perf_counter() - start:.0f} s so far)",
              flush=True)
    import uci_gap_report

    table = uci_gap_report.markdown(store.records(), [args.json])
    print(table)
    if args.report:
        from tfvb import _atomic

        _atomic.write_text(args.report, table)
        print(f"wrote {args.report}")
    return store.records()


if __name__ == "__main__":
    main()
