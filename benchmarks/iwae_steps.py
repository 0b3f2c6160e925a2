"""IWAE: time per train step for k = 1, 5, 50, and k = 50 against 50 separate k = 1 steps.

The k samples are drawn and decoded in one batched call, so a k = 50 step
should cost far less than 50 k = 1 steps (the reference: the same work done
one sample at a time).

    .venv/bin/python benchmarks/iwae_steps.py --json benchmarks/results/iwae_steps.json
"""

import argparse

import keras
from _timing import interleaved, write_json

import tfvb


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    images, _ = tfvb.data.mnist_sample()
    x = tfvb.data.binarize_fixed(images[: args.batch])

    def stepper(k):
        model = tfvb.models.IWAE(k=k, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return lambda: [model.train_on_batch(x) for _ in range(args.steps)]

    medians, _ = interleaved({k: stepper(k) for k in (1, 5, 50)}, repeats=args.repeats)
    per_step = {k: v / args.steps for k, v in medians.items()}
    result = {
        "benchmark": "iwae_steps", "batch": args.batch,
        "seconds_per_step": {f"k={k}": round(v, 5) for k, v in per_step.items()},
        "k50_step_over_50_k1_steps": round(per_step[50] / (50 * per_step[1]), 3),
        "k50_vs_k1_cost": round(per_step[50] / per_step[1], 2),
    }
    print(result)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
