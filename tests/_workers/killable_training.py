"""A training run backed up by tfvb's BackupAndRestore, for the kill-at-random test.

Usage: killable_training.py BACKUP_DIR OUT_DIR

Writes OUT_DIR/started once training begins and OUT_DIR/final.npz (weights,
seed state, the whole run's history) when it ends. The data is the README's
pipeline (shuffled, dynamically binarized); every epoch is backed up, so a
kill can land in a step or in a backup.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfvb import callbacks, data  # noqa: E402
from tfvb.models import IWAE  # noqa: E402


class Started(keras.callbacks.Callback):
    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def on_train_batch_end(self, batch, logs=None):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()


def main(backup_dir, out_dir):
    keras.utils.set_random_seed(0)
    model = IWAE(k=4, latent_dim=4, hidden_units=(32,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    images = data.mnist_sample()[0][:512]
    train = data.image_dataset(images, batch_size=32, seed=5)
    backup = callbacks.BackupAndRestore(backup_dir)
    model.fit(train, epochs=30, verbose=0, callbacks=[Started(os.path.join(out_dir, "started")), backup])
    history = {f"h_{k}": np.asarray(v) for k, v in backup.history.items() if k != "epoch_seconds"}
    with open(os.path.join(out_dir, "restored_epoch"), "w") as f:
        f.write(str(backup.restored_epoch))
    np.savez(os.path.join(out_dir, "final.npz"), seed_state=model.seed_generator.state.numpy(), **history,
             **{f"w{i}": w for i, w in enumerate(model.get_weights())})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
