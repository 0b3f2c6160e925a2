"""Throughput of `tfvb.evaluate.log_likelihood` at k = 5000 (images per second).

Reference: the same estimate computed one image at a time with k = 5000
samples in one call each (no batching over images).

    .venv/bin/python benchmarks/log_likelihood.py --json benchmarks/results/log_likelihood.json
"""

import argparse

from _timing import interleaved, write_json

import tfvb
from tfvb import evaluate, objectives


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    images, _ = tfvb.data.mnist_sample()
    x = tfvb.data.binarize_fixed(images[: args.images])
    result = {"benchmark": "log_likelihood", "k": args.k, "images": args.images}
    for label, model in {"iwae_mlp": tfvb.models.IWAE(k=1, seed=0),
                         "cvae_conv": tfvb.models.CVAE(latent_dim=16, seed=0)}.items():
        n = args.images if label == "iwae_mlp" else max(4, args.images // 10)

        def batched(model=model, n=n):
            evaluate.log_likelihood(model, x[:n], k=args.k, verbose=0)

        def one_by_one(model=model, n=n):
            for i in range(n):
                objectives.iwae_bound(model.log_importance_weights(x[i:i + 1], args.k), axis=0).numpy()

        medians, _ = interleaved({"tfvb": batched, "one_image_at_a_time": one_by_one}, repeats=args.repeats)
        result[label] = {"images": n, "images_per_second": round(n / medians["tfvb"], 2),
                         "reference_images_per_second": round(n / medians["one_image_at_a_time"], 2),
                         "ratio": round(medians["one_image_at_a_time"] / medians["tfvb"], 3)}
    print(result)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
