"""Tutorial: data-parallel training with tf.distribute (MirroredStrategy on two logical CPU devices).

Run it as `python distributed.py` (about a minute on 2 CPU cores). docs/tutorials/distributed.md
explains it part by part.
"""

# --8<-- [start:devices]
import numpy as np
import tensorflow as tf

# Two logical CPU devices stand in for two GPUs. This must run before TensorFlow starts its
# runtime, i.e. before the first op; on a machine with GPUs, skip it and use them.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
print(tf.config.list_logical_devices("CPU"))
# --8<-- [end:devices]

# --8<-- [start:mirrored]
import keras

import tfvb

keras.utils.set_random_seed(0)
images, _ = tfvb.data.mnist_sample()
x = tfvb.data.binarize_fixed(images[:1200], seed=0)

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
print("replicas:", strategy.num_replicas_in_sync)
with strategy.scope():                     # build and compile inside the scope: the variables are mirrored
    model = tfvb.models.CVAE(latent_dim=8, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
initial = [w.copy() for w in model.get_weights()]
history = model.fit(x, batch_size=100, epochs=3, shuffle=False, verbose=0)   # 100 images per step, 50 per replica
print("per-epoch -ELBO, 2 replicas:", np.round(history.history["loss"], 3))
# --8<-- [end:mirrored]

# --8<-- [start:compare]
single = tfvb.models.CVAE(latent_dim=8, seed=0)    # the same network on one device
single.compile(optimizer=keras.optimizers.Adam(1e-3))
single.set_weights(initial)
history_1 = single.fit(x, batch_size=100, epochs=3, shuffle=False, verbose=0)
print("per-epoch -ELBO, 1 device:  ", np.round(history_1.history["loss"], 3))
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(model.get_weights(), single.get_weights()))
print(f"largest weight difference after 36 steps: {diff:.2g}")
# --8<-- [end:compare]
