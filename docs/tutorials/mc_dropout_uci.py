"""Tutorial: MC dropout for regression, its uncertainty, and Gal's UCI benchmark protocol.

Run it as `python mc_dropout_uci.py` in a tfvb checkout (the UCI folders live in `../shared/data`
or `$TFVB_SHARED_DATA`; the first part needs no data). About two minutes on 2 CPU cores.
docs/tutorials/mc_dropout_uci.md explains it part by part.
"""

# --8<-- [start:toy]
import matplotlib

matplotlib.use("Agg")
import keras
import matplotlib.pyplot as plt
import numpy as np

import tfvb

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = np.concatenate([rng.uniform(-3, -0.5, 120), rng.uniform(1.0, 3, 120)]).astype("float32")[:, None]
y = (np.sin(2 * x[:, 0]) + 0.15 * rng.normal(size=len(x))).astype("float32")       # a gap in (-0.5, 1)

model = tfvb.models.MCDropoutRegressor(hidden_units=(400,), dropout_rate=0.1, tau=40.0, seed=0)
model.compile(optimizer=keras.optimizers.Adam(3e-3))
model.fit(x, y, batch_size=60, epochs=400, verbose=0)        # fit learns the normalization of x and y
grid = np.linspace(-8, 8, 400, dtype="float32")[:, None]
u = model.predict_uncertainty(grid, samples=500, seed=0)     # 500 dropout masks, one vectorized call
print(sorted(u))
for at in (-6.0, -2.0, 0.25, 2.0, 6.0):
    i = int(np.argmin(np.abs(grid[:, 0] - at)))
    print(f"x={at:5.2f}: mean {u['mean'][i]:6.3f}  epistemic sd {np.sqrt(u['epistemic'][i]):.3f}  "
          f"aleatoric sd {np.sqrt(u['aleatoric'][i]):.3f}")
# --8<-- [end:toy]

# --8<-- [start:toy_plot]
sd = np.sqrt(u["variance"])
plt.figure(figsize=(6, 3.4))
plt.fill_between(grid[:, 0], u["mean"] - 2 * sd, u["mean"] + 2 * sd, alpha=0.25, label="± 2 sd (total)")
plt.fill_between(grid[:, 0], u["mean"] - 2 * np.sqrt(u["epistemic"]), u["mean"] + 2 * np.sqrt(u["epistemic"]),
                 alpha=0.4, label="± 2 sd (epistemic)")
plt.plot(grid[:, 0], u["mean"], color="black", linewidth=1, label="predictive mean")
plt.scatter(x[:, 0], y, s=5, color="tab:red", label="training data")
plt.legend(fontsize=7, loc="lower left")
plt.title("MC dropout: the epistemic band widens outside the data")
plt.tight_layout()
plt.savefig("toy_regression.png", dpi=100)
plt.close()
# --8<-- [end:toy_plot]

# --8<-- [start:split]
d = tfvb.data.uci("bostonHousing", split=0)      # a folder name under the shared data, or a path
print(d.x_train.shape, d.x_test.shape, "grid:", d.dropout_rates, "x", d.tau_values)
net = tfvb.models.MCDropoutRegressor(hidden_units=(50,), dropout_rate=0.01, tau=0.15, seed=0)
net.compile(optimizer=keras.optimizers.Adam(1e-3))
net.fit(d.x_train, d.y_train, batch_size=128, epochs=400, verbose=0)
u = net.predict_uncertainty(d.x_test, samples=1000, seed=0)
rmse = tfvb.evaluate.rmse(d.y_test, u["mean"])
ll = tfvb.evaluate.gaussian_test_log_likelihood(d.y_test, u["mean"], u["variance"])
print(f"split 0, p=0.01, tau=0.15: RMSE {rmse:.2f}, test LL (Gaussian moment match) {ll:.2f} nats")
# --8<-- [end:split]

# --8<-- [start:protocol]
summary = tfvb.evaluate.uci_benchmark("bostonHousing", splits=3, epoch_multiplier=1, samples=1000,
                                      validation_samples=200, seed=0)
print(f"{summary['splits_run']} splits, {summary['protocol']['epochs']} epochs each")
print(
    f"RMSE {summary['rmse'][0]:.2f} ± {summary['rmse'][1]:.2f}   "
    f"test LL {summary['ll'][0]:.2f} ± {summary['ll'][1]:.2f}"
)
# --8<-- [end:protocol]
