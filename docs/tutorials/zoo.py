"""Tutorial: the model zoo: list, read a card, load, check, fine-tune, serve and re-benchmark a pretrained model.

Run it as `python zoo.py` (under a minute on 2 CPU cores: it loads trained models); it writes its pictures in
the current folder. docs/tutorials/zoo.md explains it part by part.
"""

# --8<-- [start:list]
import keras
import tensorflow as tf

import tfvb

for name in tfvb.zoo.list_models():
    state = "trained" if tfvb.zoo.is_trained(name) else "not trained"
    print(f"{name:24s} {state}")
# --8<-- [end:list]

# --8<-- [start:info]
card = tfvb.zoo.info("cvae_mnist_l16")
print(card["summary"])
print(card["class"], card["constructor"]["latent_dim"], "latent dimensions")
print(card["data"][:120], "...")
m = card["metrics"]
print(f"held-out NLL (IWAE-{m['log_likelihood_k']}): {m['iwae_5000_nll']:.1f} ± {m['iwae_5000_se']:.1f} nats "
      f"on {m['log_likelihood_images']} images; -ELBO {-m['elbo']:.1f} ± {m['elbo_se']:.1f}")
# --8<-- [end:info]

# --8<-- [start:load]
model = tfvb.zoo.load("cvae_mnist_l16")       # every file's sha256 checked first; a compiled keras.Model
print(type(model).__name__, model.latent_dim, model.optimizer.__class__.__name__)
print("golden batch, max |difference|:", tfvb.zoo.golden_check("cvae_mnist_l16", model))
images, _ = tfvb.data.mnist_sample()          # the held-out digits the zoo's MNIST models were evaluated on
held_out = tfvb.data.binarize_fixed(images[1500:], seed=0)
print("-ELBO on 500 bundled digits:", round(-model.evaluate(held_out, verbose=0, return_dict=True)["elbo"], 1))
tfvb.plots.sample_grid(model, "zoo_samples.png", n=36, seed=0, title="cvae_mnist_l16: samples")
tfvb.plots.interpolations(model, held_out, "zoo_interpolations.png", title="cvae_mnist_l16: interpolations")
# --8<-- [end:load]

# --8<-- [start:finetune]
keras.utils.set_random_seed(0)
model.optimizer.learning_rate.assign(1e-4)    # continue gently from where the recipe stopped
train = tfvb.data.image_dataset(images[:1500], batch_size=100, seed=0)
model.fit(train, epochs=2, verbose=0)
print("-ELBO on the same 500 digits after 2 more epochs on 1,500 others:",
      round(-model.evaluate(held_out, verbose=0, return_dict=True)["elbo"], 1))
# --8<-- [end:finetune]

# --8<-- [start:serve]
serving = tfvb.zoo.load("cvae_mnist_l16", format="savedmodel")   # the SavedModel export (tf.saved_model.load)
print(sorted(serving.signatures))
posterior = serving.encode(tf.constant(held_out[:4]))
print({k: tuple(v.shape) for k, v in sorted(posterior.items())})
print("decoded:", serving.decode(posterior["mean"]).shape)
# --8<-- [end:serve]

# --8<-- [start:benchmark]
tfvb.cli.main(["zoo", "benchmark", "vae_mnist", "--limit", "100"])   # the same as the shell command
# --8<-- [end:benchmark]
