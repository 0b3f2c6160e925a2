"""Tutorial: Bayesian neural networks, calibration and out-of-distribution detection on the bundled digits.

Run it as `python bnn_calibration.py` (about a minute on 2 CPU cores); it writes its pictures in the
current folder. docs/tutorials/bnn_calibration.md explains it part by part.
"""

# --8<-- [start:data]
import matplotlib

matplotlib.use("Agg")
import keras
import matplotlib.pyplot as plt
import numpy as np

import tfvb

keras.utils.set_random_seed(0)
images, labels = tfvb.data.mnist_sample()           # 2,000 held-out MNIST digits bundled with tfvb
x_train, y_train = images[:1500], labels[:1500]
x_test, y_test = images[1500:], labels[1500:]
fashion = tfvb.data.fashion_mnist_sample()[0][:500]  # out of distribution: clothes, not digits
print(x_train.shape, np.bincount(y_train))
# --8<-- [end:data]

# --8<-- [start:train]
bnn = tfvb.models.BNNClassifier(10, hidden_units=(200,), layer="flipout", seed=0)
bnn.compile(optimizer=keras.optimizers.Adam(1e-3))
history = bnn.fit(x_train, y_train, batch_size=100, epochs=40, verbose=0)   # learns num_examples=1500
print(f"num_examples learned from fit: {bnn.num_examples}")
print(f"-ELBO per example: epoch 1 {history.history['loss'][0]:.3f}, epoch 40 {history.history['loss'][-1]:.3f}")
# --8<-- [end:train]

# --8<-- [start:baseline]
plain = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(200, activation="relu"), keras.layers.Dense(10, activation="softmax")])
plain.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
plain.fit(x_train, y_train, batch_size=100, epochs=40, verbose=0)
# --8<-- [end:baseline]

# --8<-- [start:predict]
u = bnn.predict_uncertainty(x_test, samples=100, seed=0)     # 100 weight draws in one vectorized call
print(sorted(u))
p_bnn = np.asarray(u["mean"])
p_plain = plain.predict(x_test, verbose=0)


def scores(name, probs):
    nll = -np.log(probs[np.arange(len(y_test)), y_test] + 1e-12)
    accuracy = np.mean(probs.argmax(-1) == y_test)
    ece = tfvb.evaluate.expected_calibration_error(probs, y_test)
    print(f"{name:26s} accuracy {accuracy:.3f}   NLL {nll.mean():.3f} ± {nll.std(ddof=1) / np.sqrt(len(nll)):.3f}"
          f"   ECE {ece:.3f}")


scores("deterministic network", p_plain)
scores("Bayesian (Flipout), T=100", p_bnn)
# --8<-- [end:predict]

# --8<-- [start:reliability]
tfvb.evaluate.reliability_diagram(p_plain, y_test, path="reliability_plain.png", title="deterministic")
tfvb.evaluate.reliability_diagram(p_bnn, y_test, path="reliability_bnn.png", title="Bayesian (Flipout)")
# --8<-- [end:reliability]

# --8<-- [start:ood]
u_ood = bnn.predict_uncertainty(fashion, samples=100, seed=0)
for measure in ("entropy", "mutual_information", "variation_ratio"):
    auroc = tfvb.evaluate.ood_auroc(u[measure], u_ood[measure])
    print(f"{measure:20s} digits {np.mean(u[measure]):.3f}   clothes {np.mean(u_ood[measure]):.3f}   AUROC {auroc:.3f}")
plain_entropy = tfvb.uncertainty.entropy(p_plain)
plain_ood_entropy = tfvb.uncertainty.entropy(plain.predict(fashion, verbose=0))
print(f"deterministic entropy AUROC {tfvb.evaluate.ood_auroc(plain_entropy, plain_ood_entropy):.3f}")

plt.figure(figsize=(5.5, 3.4))
bins = np.linspace(0, np.log(10), 40)
plt.hist(u["entropy"], bins=bins, alpha=0.6, label="held-out digits")
plt.hist(u_ood["entropy"], bins=bins, alpha=0.6, label="Fashion-MNIST")
plt.xlabel("predictive entropy (nats)")
plt.ylabel("images")
plt.legend()
plt.title("Bayesian (Flipout) classifier, T=100")
plt.tight_layout()
plt.savefig("ood_entropy.png", dpi=100)
plt.close()
# --8<-- [end:ood]
