"""A CVAE training run with BackupAndRestore, for the kill-and-resume test.

Usage: resumable_training.py BACKUP_DIR OUT_DIR [--hang-at EPOCH BATCH]

Trains 4 epochs on fixed data (no shuffling, fixed binarization, so a
resumed run sees the same batches) with KL warm-up. Writes OUT_DIR/initial.npz
before training and OUT_DIR/final.npz (weights w0.., seed state, last
epoch's logs) after. With --hang-at, after that batch it writes
OUT_DIR/hanging and sleeps until it is killed.
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfvb import callbacks, data  # noqa: E402
from tfvb.models import CVAE  # noqa: E402

EPOCHS, BATCH = 4, 32


def make_model():
    model = CVAE(latent_dim=2, filters=(4, 8), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


def training_data():
    return data.binarize_fixed(data.mnist_sample()[0][:128], seed=0)


class Hang(keras.callbacks.Callback):
    def __init__(self, epoch, batch, marker):
        super().__init__()
        self.epoch, self.batch, self.marker, self.current = epoch, batch, marker, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            open(self.marker, "w").close()
            while True:  # mid-epoch: the test kills the process here
                time.sleep(1)


def main(backup_dir, out_dir, hang=None):
    keras.utils.set_random_seed(0)  # the same initial weights in every process
    model = make_model()
    np.savez(os.path.join(out_dir, "initial.npz"), **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    cbs = [keras.callbacks.BackupAndRestore(backup_dir), callbacks.KLWarmup(epochs=2)]
    if hang:
        cbs.append(Hang(*hang, os.path.join(out_dir, "hanging")))
    history = model.fit(training_data(), batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=cbs)
    logs = {f"log_{k}": v[-1] for k, v in history.history.items()}
    np.savez(os.path.join(out_dir, "final.npz"), seed_state=model.seed_generator.state.numpy(),
             epochs_run=len(history.epoch), **logs, **{f"w{i}": w for i, w in enumerate(model.get_weights())})


if __name__ == "__main__":
    hang = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 3 and sys.argv[3] == "--hang-at" else None
    main(sys.argv[1], sys.argv[2], hang)
