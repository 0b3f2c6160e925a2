"""Tutorial: variational autoencoders and the importance-weighted autoencoder on the bundled MNIST digits.

Run it as `python vae_iwae.py` (about three minutes on 2 CPU cores); it writes its pictures in the
current folder. docs/tutorials/vae_iwae.md explains it part by part.
"""

# --8<-- [start:data]
import matplotlib

matplotlib.use("Agg")
import keras
import matplotlib.pyplot as plt
import numpy as np

import tfvb

keras.utils.set_random_seed(0)
images, labels = tfvb.data.mnist_sample()            # 2,000 real MNIST digits that ship with tfvb
train = tfvb.data.image_dataset(images[:1500], batch_size=100, seed=0)   # binarized afresh every epoch
held_out = tfvb.data.binarize_fixed(images[1500:], seed=0)              # 500 digits, one fixed binarization
print(images.shape, images.dtype, "pixels in", (float(images.min()), float(images.max())))
# --8<-- [end:data]

# --8<-- [start:train]
vae = tfvb.models.CVAE(latent_dim=2, kl="analytic", seed=0)   # estimator B: the KL term in closed form
vae.compile(optimizer=keras.optimizers.Adam(1e-3))
history = vae.fit(train, validation_data=(held_out,), epochs=30, verbose=0,
                  callbacks=[tfvb.callbacks.KLWarmup(epochs=3)])
for epoch in (0, 9, 19, 29):
    print(f"epoch {epoch + 1:2d}: train -ELBO {history.history['loss'][epoch]:6.1f}, "
          f"held-out -ELBO {history.history['val_loss'][epoch]:6.1f} nats")
# --8<-- [end:train]

# --8<-- [start:estimators]
vae_a = tfvb.models.CVAE(latent_dim=2, kl="sample", seed=1)   # estimator A: the KL sampled with z
vae_a.compile(optimizer=keras.optimizers.Adam(1e-3))
vae_a.set_weights(vae.get_weights())                          # the same trained network
batch = held_out[:100]
for name, model in [("A (kl='sample')", vae_a), ("B (kl='analytic')", vae)]:
    elbos = [model.test_on_batch(batch, return_dict=True)["elbo"] for _ in range(50)]
    print(f"estimator {name:18s} ELBO {np.mean(elbos):8.2f} nats, standard deviation over 50 draws {np.std(elbos):.3f}")
# --8<-- [end:estimators]

# --8<-- [start:pictures]
tfvb.plots.latent_manifold(vae, "manifold.png", title="this CVAE (1,500 digits, 30 epochs)")
tfvb.plots.latent_manifold(tfvb.zoo.load("cvae_mnist"), "manifold_zoo.png",
                           title="the zoo's cvae_mnist (60,000 digits)")
tfvb.plots.reconstructions(vae, held_out, "reconstructions.png", n=12, title="held-out digits (top), reconstructions")
mean, logvar = vae.encode(held_out)              # q(z|x) of the held-out digits
plt.figure(figsize=(4.5, 4))
plt.scatter(mean[:, 0], mean[:, 1], c=labels[1500:], cmap="tab10", s=6)
plt.colorbar(label="digit")
plt.xlabel("z[0]")
plt.ylabel("z[1]")
plt.title("posterior means of 500 held-out digits")
plt.tight_layout()
plt.savefig("latent_means.png", dpi=100)
plt.close()
# --8<-- [end:pictures]

# --8<-- [start:iwae]
iwae = tfvb.models.IWAE(k=10, seed=0)   # Burda et al.'s 784-200-200-50 tanh MLP, trained on L_10
iwae.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-4))
history = iwae.fit(train, validation_data=(held_out,), epochs=60, verbose=0)
print(f"after 60 epochs: held-out L_10 {history.history['val_iwae_bound'][-1]:.1f}, "
      f"held-out ELBO {history.history['val_elbo'][-1]:.1f} nats")
# --8<-- [end:iwae]

# --8<-- [start:evidence]
import tensorflow as tf

x = held_out[:200]
log_w = tfvb.evaluate.log_importance_weights(iwae, x, k=5000, chunk=250, seed=0)   # (5000, 200): log w per sample
# The jackknife is k L_k - (k-1) L_{k-1}: a difference of nearly equal numbers times k, so compute in float64.
log_w = tf.cast(log_w, tf.float64)
ks = [1, 10, 100, 1000, 5000]
estimates = {"iwae": {}, "jackknife": {}}
for k in ks:
    estimates["iwae"][k] = tfvb.objectives.iwae_bound(log_w[:k], axis=0).numpy()             # per digit
    if k > 1:                                                                                 # needs k > order
        estimates["jackknife"][k] = tfvb.objectives.jackknife_bound(log_w[:k], order=1, axis=0).numpy()
for k in ks:
    line = f"k={k:5d}  IWAE-k {estimates['iwae'][k].mean():8.2f}"
    if k > 1:
        line += f"   jackknife {estimates['jackknife'][k].mean():8.2f}"
    print(line)
se = estimates["iwae"][5000].std(ddof=1) / np.sqrt(len(x))
print(f"standard error over the 200 digits: {se:.2f} nats (the same digits for every k: compare the paired gaps)")
# --8<-- [end:evidence]

# --8<-- [start:evidence_plot]
reference = estimates["iwae"][5000]
plt.figure(figsize=(5.5, 3.6))
for method, marker in [("iwae", "o"), ("jackknife", "s")]:
    used = sorted(estimates[method])
    gaps = [estimates[method][k] - reference for k in used]          # paired over the same digits
    plt.errorbar(used, [g.mean() for g in gaps], yerr=[g.std(ddof=1) / np.sqrt(len(g)) for g in gaps],
                 marker=marker, capsize=3, label=f"{method} estimate")
plt.xscale("log")
plt.axhline(0, color="gray", linewidth=0.8)
plt.xlabel("importance samples k")
plt.ylabel("estimate - IWAE-5000 (nats, paired)")
plt.title("log p(x) estimates on 200 held-out digits")
plt.legend()
plt.tight_layout()
plt.savefig("evidence.png", dpi=100)
plt.close()
# --8<-- [end:evidence_plot]
