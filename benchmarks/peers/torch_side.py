"""The PyTorch side of the peers benchmark: one row and one peer, timed once, in a process of its own.

    .venv-peers/bin/python benchmarks/peers/torch_side.py ROW PEER --threads 1 [--sizes JSON] [--sanity-epochs 3]

PEER is `pythae` (its IWAE / VAE models and its trainer's `train_step`),
`bayesian_torch` (its LinearFlipout layers in a training loop of the kind its
examples write) or `plain_torch` (a plain PyTorch loop written here). Runs in
the peers' own environment (`make bench-peers` creates it): torch, pythae and
bayesian-torch, never tfvb's. Prints one JSON line, like `tfvb_side.py`.

What is matched to tfvb: the networks (784-200-200-50 tanh, or the Flipout
784-400-400-10 ReLU MLP), the initial weights' distribution (Glorot-uniform
weights and zero biases, as Keras'; posterior sigma 0.01 for the BNN), the
objective, the optimizer, the data and the batch sizes. Where a choice was
free, it favours the peer: batches are sliced from one shuffled tensor and
binarized per batch (no per-image DataLoader), gradients are off while
evaluating or predicting, and prediction skips bayesian-torch's KL.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from rows import ADAM_EPSILON, LEARNING_RATE, POSTERIOR_SIGMA, SIZES, binarized, mnist_train  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

LATENT, HIDDEN = 50, (200, 200)
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0  # tfvb's clip of the encoder's log-variance


def clocks():
    return time.perf_counter(), time.process_time()


def since(start):
    wall, cpu = clocks()
    return {"wall": wall - start[0], "cpu": cpu - start[1]}


def glorot(module):
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module


def mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return glorot(nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1])))


def batches(x, batch_size, binarize=True, labels=None):
    """One epoch of shuffled batches, each binarized by one Bernoulli draw per pixel."""
    order = torch.randperm(len(x))
    for start in range(0, len(x), batch_size):
        rows = order[start:start + batch_size]
        xb = torch.bernoulli(x[rows]) if binarize else x[rows]
        yield (xb,) if labels is None else (xb, labels[rows])


# -- plain PyTorch: the IWAE (k=1 is the VAE) ---------------------------------------------------------
class PlainIWAE(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k
        self.encoder = mlp((784, *HIDDEN, 2 * LATENT))
        self.decoder = mlp((LATENT, *reversed(HIDDEN), 784))

    def log_weights(self, x, k):
        """log p(x|z) + log p(z) - log q(z|x) for k samples per image: (k, batch); log 2 pi cancels."""
        mean, logvar = self.encoder(x).chunk(2, dim=-1)
        logvar = logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)
        eps = torch.randn((k, *mean.shape))
        z = mean + torch.exp(0.5 * logvar) * eps
        logits = self.decoder(z)
        log_px = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
        return log_px - 0.5 * (z * z).sum(-1) + 0.5 * (logvar + eps * eps).sum(-1)

    def loss(self, x):
        log_w = self.log_weights(x, self.k)
        return -(torch.logsumexp(log_w, 0) - math.log(self.k)).mean()

    @torch.no_grad()
    def log_likelihood(self, x, k):
        per_call = max(1, 20_000 // k)  # about 16M logits a call, as tfvb's evaluation
        values = [torch.logsumexp(self.log_weights(x[i:i + per_call], k), 0) - math.log(k)
                  for i in range(0, len(x), per_call)]
        return float(torch.cat(values).mean())


def plain_trainer(model, x, batch_size):
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON)

    def epoch():
        total, count = 0.0, 0
        for (xb,) in batches(x, batch_size):
            loss = model.loss(xb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(xb), count + len(xb)
        return total / count

    return epoch


# -- pythae: its IWAE / VAE on networks given to it, trained by its BaseTrainer --------------------------
def pythae_model(k):
    from pythae.models import IWAE, VAE, IWAEConfig, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = mlp((784, *HIDDEN, 2 * LATENT))

        def forward(self, x):
            mean, logvar = self.net(x.reshape(len(x), -1)).chunk(2, dim=-1)
            return ModelOutput(embedding=mean, log_covariance=logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))

    class Decoder(BaseDecoder):  # pythae's Bernoulli decoders output probabilities
        def __init__(self):
            super().__init__()
            self.net = mlp((LATENT, *reversed(HIDDEN), 784))

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    if k == 1:
        config = VAEConfig(input_dim=(784,), latent_dim=LATENT, reconstruction_loss="bce")
        return VAE(config, encoder=Encoder(), decoder=Decoder())
    config = IWAEConfig(input_dim=(784,), latent_dim=LATENT, reconstruction_loss="bce", number_samples=k)
    return IWAE(config, encoder=Encoder(), decoder=Decoder())


class _Batches:
    """What pythae's trainer iterates: batches of `DatasetOutput(data=...)`, binarized per batch."""

    def __init__(self, x, batch_size):
        self.dataset, self.batch_size = x, batch_size

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        from pythae.data.datasets import DatasetOutput

        for (xb,) in batches(self.dataset, self.batch_size):
            yield DatasetOutput(data=xb)


def pythae_trainer(model, x, batch_size):
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    config = BaseTrainerConfig(output_dir=tempfile.mkdtemp(prefix="pythae-"), per_device_train_batch_size=batch_size,
                               num_epochs=2, learning_rate=LEARNING_RATE, optimizer_params={"eps": ADAM_EPSILON},
                               no_cuda=True)
    trainer = BaseTrainer(model, BaseDataset(torch.bernoulli(x), torch.zeros(len(x))), training_config=config)
    trainer.prepare_training()
    trainer.train_loader = _Batches(x, batch_size)
    epochs = iter(range(1, 1_000_000))
    return lambda: trainer.train_step(next(epochs))


def pythae_log_likelihood(model, x, k):
    model.eval()
    with torch.no_grad():  # one pass of all k samples per image (pythae's batch_size = k)
        return float(model.get_nll(x, n_samples=k, batch_size=k))  # despite its name: the mean log p(x)


# -- bayesian-torch: LinearFlipout layers ---------------------------------------------------------------
def flipout_model(n):
    from bayesian_torch.layers import LinearFlipout

    class SummedKL(LinearFlipout):
        """bayesian-torch's Flipout layer with its KL summed over the weights (its own is a mean per
        weight, which is not the ELBO's KL)."""

        def kl_div(self, mu_q, sigma_q, mu_p, sigma_p):
            kl = torch.log(sigma_p) - torch.log(sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5
            return kl.sum()

    rho = math.log(math.expm1(POSTERIOR_SIGMA))

    class FlipoutMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(SummedKL(a, b, posterior_rho_init=rho) for a, b in
                                        [(784, 400), (400, 400), (400, 10)])
            for layer in self.layers:  # Keras' start: Glorot-uniform means, zero bias means
                nn.init.xavier_uniform_(layer.mu_weight)
                nn.init.zeros_(layer.mu_bias)
                nn.init.constant_(layer.rho_weight, rho)
                nn.init.constant_(layer.rho_bias, rho)

        def forward(self, x, return_kl=True):
            kl = 0.0
            for i, layer in enumerate(self.layers):
                x = layer(x, return_kl=return_kl)
                if return_kl:
                    x, layer_kl = x
                    kl = kl + layer_kl
                x = torch.relu(x) if i < len(self.layers) - 1 else x
            return (x, kl) if return_kl else x

    return FlipoutMLP()


def flipout_trainer(model, x, y, batch_size):
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    n = len(x)

    def epoch():
        model.train()
        total, count = 0.0, 0
        for xb, yb in batches(x, batch_size, binarize=False, labels=y):
            logits, kl = model(xb)
            loss = F.cross_entropy(logits, yb) + kl / n
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(xb), count + len(xb)
        return total / count

    return epoch


@torch.no_grad()
def flipout_predict(model, x, draws):
    """Predictive mean, entropy and mutual information of `draws` weight draws."""
    probs = torch.stack([torch.softmax(model(x, return_kl=False), -1) for _ in range(draws)])
    mean = probs.mean(0)
    entropy = -(mean * torch.log(mean.clamp_min(1e-12))).sum(-1)
    expected = -(probs * torch.log(probs.clamp_min(1e-12))).sum(-1).mean(0)
    return mean, entropy, entropy - expected


# -- rows -----------------------------------------------------------------------------------------------
def trainer(row, peer, sizes):
    grey, labels = mnist_train(sizes["digits"])
    x, y = torch.from_numpy(grey), torch.from_numpy(labels)
    if row == "bnn_epoch":
        model = flipout_model(len(x))
        return model, flipout_trainer(model, x, y, sizes["bnn_batch"])
    k = sizes["iwae_k"] if row == "iwae_epoch" else 1
    if peer == "pythae":
        model = pythae_model(k)
        return model, pythae_trainer(model, x, sizes["vae_batch"])
    model = PlainIWAE(k)
    return model, plain_trainer(model, x, sizes["vae_batch"])


def evaluation_digits(sizes):
    """The IWAE-5000 row's fixed binarized digits (read and drawn before any clock starts)."""
    return torch.from_numpy(binarized(mnist_train(sizes["ll_digits"])[0]))


def log_likelihood(model, peer, x, k):
    return pythae_log_likelihood(model, x, k) if peer == "pythae" else model.log_likelihood(x, k)


def vae_parts(row, sizes):
    """The VAE epoch's two parts (`vae_step`, `vae_data`), as `tfvb_side.vae_parts`."""
    grey = mnist_train(sizes["digits"])[0]
    batch = sizes["vae_batch"]
    if row == "vae_step":
        model = PlainIWAE(1)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON)
        fixed = torch.from_numpy(binarized(grey)).split(batch)

        def run():
            total = 0.0
            for xb in fixed:
                loss = model.loss(xb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(xb)
            return total / len(grey)

        return run
    x = torch.from_numpy(grey)

    def run():
        total = 0.0
        for (xb,) in batches(x, batch):
            total += float(xb.sum())
        return total / x.numel()

    return run


def timing(row, peer, sizes):
    if row in ("vae_step", "vae_data"):
        run = vae_parts(row, sizes)
        run()
        start = clocks()
        value = run()
        return {**since(start), "loss" if row == "vae_step" else "mean_pixel": value}
    if row in ("iwae_epoch", "vae_epoch", "bnn_epoch"):
        _, epoch = trainer(row, peer, sizes)
        epoch()
        start = clocks()
        loss = epoch()
        return {**since(start), "loss": float(loss)}
    if row == "iwae5000":
        model = pythae_model(sizes["iwae_k"]) if peer == "pythae" else PlainIWAE(sizes["iwae_k"])
        x = evaluation_digits(sizes)
        log_likelihood(model, peer, x, sizes["ll_k"])
        start = clocks()
        value = log_likelihood(model, peer, x, sizes["ll_k"])
        return {**since(start), "log_likelihood": value}
    if row == "bnn_predict":
        model = flipout_model(sizes["digits"])
        x = torch.from_numpy(mnist_train(sizes["predict_digits"])[0])
        flipout_predict(model, x, sizes["draws"])
        start = clocks()
        mean = flipout_predict(model, x, sizes["draws"])[0]
        return {**since(start), "mean_max_probability": float(mean.max(-1).values.mean())}
    raise ValueError(f"Expected one of the rows of rows.py. Received: {row!r}")


def sanity(row, peer, sizes, epochs):
    train_row = {"iwae5000": "iwae_epoch", "bnn_predict": "bnn_epoch"}.get(row, row)
    model, epoch = trainer(train_row, peer, sizes)
    for _ in range(epochs):
        loss = epoch()
    result = {"train_loss": float(loss)}
    if train_row == "bnn_epoch":
        grey, labels = mnist_train(sizes["digits"] + 1000)
        mean = flipout_predict(model, torch.from_numpy(grey[-1000:]), sizes["draws"])[0]
        result["held_out_accuracy"] = float((mean.argmax(-1).numpy() == labels[-1000:]).mean())
    else:
        result["log_likelihood_k50"] = log_likelihood(model, peer, evaluation_digits(sizes), 50)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("row")
    parser.add_argument("peer", choices=["pythae", "plain_torch", "bayesian_torch"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default=None, help="JSON of rows.SIZES entries to override")
    parser.add_argument("--sanity-epochs", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = {**SIZES, **json.loads(args.sizes or "{}")}
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(0)
    result = sanity(args.row, args.peer, sizes, args.sanity_epochs) if args.sanity_epochs else \
        timing(args.row, args.peer, sizes)
    from importlib.metadata import version

    result["version"] = {p: version(p) for p in ("torch", "pythae", "bayesian-torch")}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
