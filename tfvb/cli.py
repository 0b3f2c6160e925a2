"""The `tfvb` command line: `tfvb zoo list|info|train|benchmark|package`, `tfvb demo`, `tfvb --version`.

TensorFlow is imported only by the commands that need it (not by `--help`,
`--version`, `zoo list` or `zoo info`), and its start-up chatter on a CPU-only
machine (CUDA probes, oneDNN notices) is kept off the terminal; set
`TFVB_VERBOSE=1` to see it.
"""

import argparse
import contextlib
import json
import os
import sys

from tfvb.version import __version__


def _zoo_list(args):
    from tfvb import zoo

    names = zoo.list_models(args.pattern)
    if not names:
        raise ValueError(f"Expected a pattern matching registered models. Received: {args.pattern!r}, which "
                         f"matches none of {', '.join(zoo.list_models())}")
    for name in names:
        entry = zoo.registry.get(name)
        state = "trained" if zoo.is_trained(name) else "not trained"
        print(f"{name:24s} {entry.family:11s} {entry.dataset:27s} {state:12s} {entry.summary}")
    return 0


def _zoo_info(args):
    from tfvb import zoo
    from tfvb.zoo.card import text_card

    info = zoo.info(args.name)
    print(json.dumps(info, indent=2) if args.json else text_card(info))
    return 0


@contextlib.contextmanager
def _native_stderr_silenced():
    """Point file descriptor 2 at /dev/null (TensorFlow's C++ start-up logs bypass Python's sys.stderr)."""
    if os.environ.get("TFVB_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _start_tensorflow(threads=None, start=None):
    """Import TensorFlow and start its runtime quietly, with `threads` intra/inter-op threads if given.

    `start`: called before the runtime starts (a distribution strategy's set-up); its result is returned.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced():
        import tensorflow as tf

        if threads is not None:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        started = start() if start is not None else None
        tf.config.list_logical_devices()
        import keras  # noqa: F401
        import tensorflow_probability  # noqa: F401
    return started


def _int_at_least(low, what):
    """An argparse type: an integer >= `low`, refused with "expected {what} integer"."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected {what} integer, received {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive")
_non_negative_int = _int_at_least(0, "a non-negative")


def _existing_folder(text):
    if not os.path.isdir(text):
        found = "a file" if os.path.exists(text) else "no such folder"
        raise argparse.ArgumentTypeError(f"expected an existing folder, received {text!r} ({found})")
    return text


def _writable_folder(option, path):
    """Refuse, before any work, an output folder that is a file or cannot be created or written."""
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"Expected `{option}` to be a folder. Received: {path!r}, which is a file")
    existing = path
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.access(existing or ".", os.W_OK | os.X_OK):
        raise ValueError(f"Expected a writable folder for `{option}`. Received: {path!r} "
                         f"({existing or '.'} is not writable)")


def _writable_file(option, path):
    """Refuse, before any work, an output file that is a folder or whose folder is missing or read-only."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"Expected `{option}` to be a file. Received: {path!r}, which is a folder")
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        state = "does not exist" if not os.path.isdir(folder) else "is not writable"
        raise ValueError(f"Expected `{option}` in a writable folder. Received: {path!r} ({folder} {state})")


def _zoo_train(args):
    from tfvb import zoo
    from tfvb.zoo import driver

    zoo.registry.get(args.name)
    _writable_folder("--root", args.root)
    if args.index and not args.workers:
        raise ValueError(f"Expected `--workers` with `--index`. Received: --index {args.index} without --workers")
    if args.workers:
        from tfvb.zoo import cluster

        workers = cluster.parse_workers(args.workers)
        cluster.tf_config(workers, args.index)  # checks --index before anything starts
        strategy = _start_tensorflow(args.threads, start=lambda: cluster.start(workers, args.index))
        meta = cluster.train(args.name, strategy, args.index, seed=args.seed, quick=args.quick, root=args.root,
                             data_root=args.data_root)
        if args.index:
            print(f"worker {args.index}: done (the chief wrote the entry)")
            return 0
    else:
        _start_tensorflow(args.threads)
        meta = driver.train(args.name, seed=args.seed, quick=args.quick, root=args.root, data_root=args.data_root)
    print(json.dumps(meta["metrics"], indent=2))
    print(f"wrote {os.path.join(args.root or zoo.saved_models_dir(), args.name)} "
          f"in {meta['recipe']['wall_time_s']} s")
    return 0


def _zoo_evaluate(args):
    from tfvb import zoo
    from tfvb.zoo import driver

    zoo.registry.get(args.name)
    _writable_folder("--root", args.root)
    _start_tensorflow(args.threads)
    meta = driver.evaluate_again(args.name, root=args.root, data_root=args.data_root)
    print(json.dumps({k: v for k, v in meta["metrics"].items() if k != "per_image"}, indent=2))
    print(f"wrote {os.path.join(args.root or zoo.saved_models_dir(), args.name)} "
          f"in {meta['evaluated_again']['wall_time_s']} s")
    return 0


def _zoo_repackage(args):
    from tfvb import zoo
    from tfvb.zoo import driver

    zoo.registry.get(args.name)
    _writable_folder("--root", args.root)
    _start_tensorflow(None)
    driver.repackage(args.name, root=args.root)
    print(f"wrote {os.path.join(args.root or zoo.saved_models_dir(), args.name)} (same weights and card; serving "
          "export and checksums written anew)")
    return 0


def _fmt_pair(pair):
    return "—" if not pair else " ± ".join("—" if v is None else f"{v:.4g}" for v in pair)


def _zoo_protocol(args):
    from tfvb.zoo import driver

    if args.limit is not None:
        raise ValueError("Expected --limit without --protocol (it re-evaluates the stored model on N examples; "
                         "--splits N runs the protocol on its first N splits). Received: --protocol --limit "
                         f"{args.limit}")
    _writable_file("--json", args.json)
    _start_tensorflow()
    s = driver.benchmark_protocol(args.name, data_root=args.data_root, splits=args.splits, jobs=args.jobs,
                               epoch_multiplier=args.epoch_multiplier, json_path=args.json, resume=args.resume,
                               log=lambda line: print(line, flush=True))
    card = (s.get("card") or {}).get(f"faithful_{args.epoch_multiplier}x_epochs") or {}
    anchor = s.get("anchor") or {}
    print(f"{s['dataset']}: {s['splits_run']} splits, {s['protocol']['epochs']} epochs, "
          f"{s['wall_seconds_this_run']:.0f} s")
    print(f"{'':10s} {'this run':>22s} {'card':>22s} {'Gal (published)':>22s}")
    for key in ("rmse", "ll"):
        print(f"{key:10s} {_fmt_pair(s[key]):>22s} {_fmt_pair(card.get(key)):>22s} "
              f"{_fmt_pair(anchor.get(key)):>22s}")
    print(f"{'tuned ll':10s} {_fmt_pair(s['tuned']['ll']):>22s} "
          f"{_fmt_pair((card.get('tuned') or {}).get('ll')):>22s}")
    return 0


def _zoo_benchmark(args):
    from tfvb.zoo import driver

    if args.protocol:
        return _zoo_protocol(args)
    if args.resume or args.splits is not None or args.jobs != 1 or args.epoch_multiplier != 100:
        raise ValueError("Expected --protocol with --splits, --jobs, --epoch-multiplier or --resume. "
                         "Received: those options without --protocol")
    _writable_file("--json", args.json)
    _start_tensorflow()
    result = driver.benchmark(args.name, limit=args.limit, data_root=args.data_root)
    print(f"golden batch: max |difference| = {result['golden_max_abs_diff']:.3g}")
    print(f"{'metric':32s} {'card':>12s} {'measured':>12s}  verdict")
    for k, v in result["metrics"].items():
        print(f"{k:32s} {_cell(v['stored']):>12s} {_cell(v['measured']):>12s}  {v.get('verdict', '')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return 0


def _cell(value):
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _zoo_package(args):
    from tfvb import zoo
    from tfvb.zoo import driver

    zoo.registry.get(args.name)
    _writable_folder("--root", args.root)
    _start_tensorflow()
    meta = driver.package(args.name, args.run_dir, root=args.root)
    print(f"wrote {os.path.join(args.root or zoo.saved_models_dir(), args.name)} ({len(meta['files'])} files)")
    return 0


def _demo(args):
    _start_tensorflow(args.threads)
    from tfvb.demo import run_demo

    report = run_demo(args.out, names=args.models)
    print(f"wrote {report}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="tfvb", description="tfvb: a Keras 3 model zoo for variational Bayes")
    parser.add_argument("--version", action="version", version=f"tfvb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    zoo = sub.add_parser("zoo", help="the model zoo").add_subparsers(dest="zoo_command", required=True)

    p = zoo.add_parser("list", help="list the registered models")
    p.add_argument("pattern", nargs="?", default=None, help='glob, e.g. "cvae_*"')
    p.set_defaults(func=_zoo_list)

    p = zoo.add_parser("info", help="a model's card")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="the raw metadata")
    p.set_defaults(func=_zoo_info)

    p = zoo.add_parser("train", help="run a model's recipe and write its artifacts")
    p.add_argument("name")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--quick", action="store_true", help="a tiny run, to check the recipe works")
    p.add_argument("--root", default=None, help="where to write (default: the zoo folder tfvb reads)")
    p.add_argument("--data-root", type=_existing_folder, default=None,
                   help="folder holding mnist/ and uci/ (default: ../shared/data)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="TensorFlow threads (two recipes with --threads 1 each use both cores of a 2-core machine)")
    p.add_argument("--workers", default=None, metavar="HOST:PORT,HOST:PORT",
                   help="train on a MultiWorkerMirroredStrategy cluster: run the same command on every worker")
    p.add_argument("--index", type=_non_negative_int, default=0, help="this worker's place in --workers (0: chief)")
    p.set_defaults(func=_zoo_train)

    p = zoo.add_parser("evaluate", help="evaluate a stored model again with its recipe's protocol; rewrite its card")
    p.add_argument("name")
    p.add_argument("--root", default=None, help="where to write (default: the zoo folder tfvb reads)")
    p.add_argument("--data-root", type=_existing_folder, default=None,
                   help="folder holding mnist/ and uci/ (default: ../shared/data)")
    p.add_argument("--threads", type=_positive_int, default=None, help="TensorFlow threads")
    p.set_defaults(func=_zoo_evaluate)

    p = zoo.add_parser("repackage", help="write a stored entry again (same weights and card) with this tfvb's "
                       "serving export")
    p.add_argument("name")
    p.add_argument("--root", default=None, help="where to write (default: the zoo folder tfvb reads)")
    p.set_defaults(func=_zoo_repackage)

    p = zoo.add_parser("benchmark", help="re-evaluate a stored model and compare with its card")
    p.add_argument("name")
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="evaluate on the first N held-out examples only")
    p.add_argument("--data-root", type=_existing_folder, default=None)
    p.add_argument("--json", default=None, help="also write the comparison (with --protocol: the summary, "
                                                "after every split) here")
    p.add_argument("--protocol", action="store_true",
                   help="run the entry's whole benchmark protocol (mc_dropout_uci_*: Gal's UCI protocol on "
                        "every split) instead of re-evaluating the stored model")
    p.add_argument("--splits", type=_positive_int, default=None, help="with --protocol: the first N splits")
    p.add_argument("--jobs", type=_positive_int, default=1, help="with --protocol: worker processes")
    p.add_argument("--epoch-multiplier", type=_positive_int, default=100,
                   help="with --protocol: epochs = this x n_epochs (100: Gal's table; 10: the protocol's text)")
    p.add_argument("--resume", action="store_true", help="with --protocol and --json: keep the splits there")
    p.set_defaults(func=_zoo_benchmark)

    p = zoo.add_parser("package", help="write an entry from a run folder a recipe's own main() wrote")
    p.add_argument("name")
    p.add_argument("run_dir", type=_existing_folder, help="folder with model.keras, record.json and golden inputs")
    p.add_argument("--root", default=None)
    p.set_defaults(func=_zoo_package)

    p = sub.add_parser("demo", help="pictures and a report from the pretrained zoo models (no training)")
    p.add_argument("--out", default="demo", help="output folder")
    p.add_argument("--models", nargs="*", default=None, help="zoo names (default: every trained entry)")
    p.add_argument("--threads", type=_positive_int, default=None, help="TensorFlow threads")
    p.set_defaults(func=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (KeyError, ValueError, OSError, RuntimeError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"tfvb: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback through TensorFlow; 128 + SIGINT, as shells do
        print("tfvb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
