"""Mixed precision against float32: the same training steps, their losses and their time.

For each model, the float32 run and the mixed_float16 / mixed_bfloat16 runs
start from the same weights and see the same batches (real digits from the
bundled MNIST sample) with Adam; the noise is drawn in float32 from the same
seeds, so the runs differ by the rounding of the compute dtype only.
Reported per policy: the median time of a training step (after the first,
traced, step) and its ratio to float32 in the same run, the largest
relative difference of a step's loss from float32's, and the largest
difference of the posterior-mean predictions after training. Under
mixed_float16, `compile` wraps Adam in Keras' dynamic LossScaleOptimizer
(initial scale 2^15); the final scale is reported (each halving is a skipped
step). On CPUs without native float16/bfloat16 arithmetic, mixed precision
is slower: it pays off on GPUs and TPUs.

Usage:
    python benchmarks/mixed_precision.py --steps 20 --json benchmarks/results/mixed_precision.json
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def _models():
    from tfvb.models import CVAE, IWAE, BNNClassifier

    return {
        "bnn_lenet_flipout": lambda: BNNClassifier(10, architecture="lenet", hidden_units=(120, 84), layer="flipout",
                                                   num_examples=2000, seed=0),
        "bnn_mlp_local_reparameterization": lambda: BNNClassifier(10, hidden_units=(400, 400), num_examples=2000,
                                                                  layer="local_reparameterization", seed=0),
        "cvae": lambda: CVAE(latent_dim=2, seed=0),
        "iwae_k50": lambda: IWAE(k=50, seed=0),
    }


def run(name, make, policy, weights, batches, steps):
    import keras

    keras.mixed_precision.set_global_policy(policy)
    try:
        model = make()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        losses, times = [], []
        for i in range(steps):
            batch = batches[i % len(batches)]
            start = time.perf_counter()
            losses.append(float(model.train_on_batch(*batch, return_dict=True)["loss"]))
            times.append(time.perf_counter() - start)
        predictions = np.asarray(model.predict(batches[0][0], verbose=0), np.float64)
        scale = getattr(model.optimizer, "dynamic_scale", None)
        return {"losses": losses, "step_s": statistics.median(times[1:]), "predictions": predictions,
                "loss_scale": None if scale is None else float(scale)}
    finally:
        keras.mixed_precision.set_global_policy("float32")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf
    from _timing import runtime, write_json

    from tfvb.data import binarize_fixed, mnist_sample

    images, labels = mnist_sample()
    rows = []
    for name, make in _models().items():
        x = images if name.startswith("bnn") else binarize_fixed(images, seed=0)
        batches = [(x[i:i + args.batch],) + ((labels[i:i + args.batch],) if name.startswith("bnn") else ())
                   for i in range(0, len(x), args.batch)]
        weights = make().get_weights()
        out = {policy: run(name, make, policy, weights, batches, args.steps) for policy in POLICIES}
        ref = out["float32"]
        for policy in POLICIES:
            r = out[policy]
            rel = np.abs(np.subtract(r["losses"], ref["losses"])) / np.abs(ref["losses"])
            row = {
                "model": name,
                "policy": policy,
                "step_s": r["step_s"],
                "ratio_to_float32": r["step_s"] / ref["step_s"],
                "max_rel_loss_diff": float(rel.max()),
                "final_loss": r["losses"][-1],
                "max_abs_prediction_diff": float(np.abs(r["predictions"] - ref["predictions"]).max()),
                "loss_scale": r["loss_scale"],
                "finite": bool(np.isfinite(r["losses"]).all()),
            }
            rows.append(row)
            print(
                f"{name:34s} {policy:15s} step {row['step_s'] * 1e3:7.1f} ms (x{row['ratio_to_float32']:.2f})  "
                f"loss rel diff {row['max_rel_loss_diff']:.2e}  prediction diff {row['max_abs_prediction_diff']:.2e}"
                f"  loss scale {row['loss_scale']}",
                flush=True,
            )
    lines = [
        "| model | policy | step ms | x float32 | max rel. loss diff | max pred. diff | final loss scale |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        scale = "" if r["loss_scale"] is None else f"{r['loss_scale']:g}"
        lines.append(
            f"| {r['model']} | {r['policy']} | {r['step_s'] * 1e3:.1f} | {r['ratio_to_float32']:.2f} | "
            f"{r['max_rel_loss_diff']:.1e} | {r['max_abs_prediction_diff']:.1e} | {scale} |"
        )
    report = {
        "benchmark": "mixed_precision",
        "steps": args.steps,
        "batch": args.batch,
        "rows": rows,
        "table": "\n".join(lines),
        **runtime(tf, keras=keras.__version__),
    }
    print(report["table"])
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
