"""Training throughput: the kit's CNN pipeline against the usual homework way, in one run.

kit        what train_cnn.py runs: build_cnn(augment=True) (mirror and shift
           as batched Keras layers inside the model), uint8 batches from
           ferlib.batches, the precision train_cnn.py picks ('auto').
reference  the same 1,696,583-parameter CNN in float32, fed the way the HW3
           code does it with ImageDataGenerator.flow: per image, in Python, a
           random flip, shift, rotation and zoom through scipy.ndimage's affine
           transform (order 1, 'nearest' fill: what ImageDataGenerator calls),
           float32 batches. Written here because Keras 3 only keeps that class
           under keras.src.legacy.

Both run model.fit on the same synthetic faces (speed does not depend on the
pixels) for a warm-up epoch and then a timed one; "cores busy" is process CPU
time over wall time (2.0 = both cores of this machine all the time).

FLOPs are counted, not measured: 2 x multiply-adds of the conv and dense
layers for a forward pass, times 3 for a training step (forward, gradient
w.r.t. activations, gradient w.r.t. weights); batch norm, ReLU, pooling,
dropout and augmentation are not counted. The machine's peaks are measured
in the same run with a 4096x4096 TF matmul in float32 and bfloat16.

The breakdown times each layer of the kit's model alone (forward + backward at
the training batch size, its real input shape and precision) and sums by type;
what the sum misses of the real step is the optimizer, the input and Keras.

    python bench/train_speed.py                 # ~3 min on 2 cores
    python bench/train_speed.py --steps 10      # quicker, noisier
"""

import argparse
import time

import numpy as np

import _common  # noqa: F401  (puts the repo on sys.path)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=128, help="as train_cnn.py's default (default: %(default)s)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per pass (default: %(default)s)")
    p.add_argument("--precision", default="auto", help="the kit's precision (default: %(default)s)")
    return p.parse_args()


# ---------------------------------------------------------------- the reference way

def imagedatagenerator_batches(x, y, batch_size, seed=0):
    """ImageDataGenerator(rotation_range=18, width/height_shift_range=0.1, zoom_range=0.1,
    horizontal_flip=True).flow(x, y, batch_size): one scipy affine transform per image."""
    import keras
    from scipy import ndimage

    class Flow(keras.utils.PyDataset):
        def __len__(self):
            return len(x) // batch_size

        def __getitem__(self, i):
            rng = np.random.default_rng([seed, i])
            out = np.empty((batch_size, 48, 48, 1), np.float32)
            for k, j in enumerate(range(i * batch_size, (i + 1) * batch_size)):
                out[k, :, :, 0] = random_transform(x[j].astype(np.float32), rng, ndimage)
            return out / 255.0, y[i * batch_size:(i + 1) * batch_size]

    return Flow()


def random_transform(img, rng, ndimage):
    theta = np.deg2rad(rng.uniform(-18, 18))
    tx, ty = rng.uniform(-0.1, 0.1, 2) * 48
    zx, zy = rng.uniform(0.9, 1.1, 2)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    m = rot @ np.diag([zx, zy])
    centre = np.array([23.5, 23.5])
    offset = centre - m @ centre + [tx, ty]
    img = ndimage.affine_transform(img, m, offset, order=1, mode="nearest")
    return img[:, ::-1] if rng.random() < 0.5 else img


# ---------------------------------------------------------------- measuring

def timed_fit(model, ds, steps, batch_size, rounds=3):
    """Best of `rounds` model.fit passes of `steps` batches, after a warm-up: (images/s, cores busy, all img/s).

    The best, not the mean: tf.data's autotuning sometimes halves a whole pass
    on 2 cores (bench/README.md), and the usual way's unlucky passes should not
    inflate the ratio.
    """
    model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)   # trace + warm caches
    runs = []
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
        wall = time.perf_counter() - w0
        runs.append((steps * batch_size / wall, (time.process_time() - c0) / wall))
    best = max(runs)
    return best[0], best[1], [round(r[0]) for r in runs]


def kit_speed(x, y, batch_size, steps, precision):
    """What train_cnn.py runs, timed by timed_fit: (the model, its timed_fit result)."""
    import keras
    from ferlib.batches import Batches
    from ferlib.models import build_cnn
    keras.mixed_precision.set_global_policy(precision)
    kit = build_cnn(augment=True)
    kit.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return kit, timed_fit(kit, Batches(x, y, batch_size, seed=0).dataset, steps, batch_size)


def matmul_peak(dtype, n=4096, reps=10):
    import tensorflow as tf
    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    f = tf.function(lambda a: tf.matmul(a, a))
    f(a).numpy()
    t0 = time.perf_counter()
    for _ in range(reps):
        r = f(a)
    r.numpy()
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def forward_flops(model):
    """2 x multiply-adds of conv and dense layers, per image."""
    import keras
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            h, w, c_out = layer.output.shape[1:]
            total += 2 * h * w * c_out * int(np.prod(layer.kernel.shape[:3]))
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
    return total


def layer_breakdown(model, batch_size, reps=10):
    """Seconds per training step spent in each layer type, each layer timed alone (fwd + bwd)."""
    import tensorflow as tf
    by_type = {}
    for layer in model.layers[1:]:
        shape = (batch_size,) + tuple(layer.input.shape[1:])
        dtype = "uint8" if layer.name == "augment" else layer.compute_dtype
        x = tf.cast(tf.random.uniform(shape, 0, 255), dtype)

        @tf.function
        def step(x, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(tf.cast(layer(x, training=True), tf.float32))
            if x.dtype.is_floating:
                return tape.gradient(y, [x] + layer.trainable_weights)
            return y

        step(x)
        t0 = time.perf_counter()
        for _ in range(reps):
            out = step(x)
        tf.nest.map_structure(lambda t: t.numpy(), out)
        kind = "augmentation" if layer.name == "augment" else layer.__class__.__name__
        by_type[kind] = by_type.get(kind, 0.0) + (time.perf_counter() - t0) / reps
    return by_type


def main():
    args = parse_args()
    import keras
    from ferlib.fused_bn import portable
    from ferlib.models import build_cnn
    from ferlib.synthetic import synthetic_faces
    from ferlib.machine import pick_precision

    n = args.batch_size * args.steps
    x, y, _ = synthetic_faces(n, seed=0)
    y = y.astype(np.int64)

    peak32, peak16 = matmul_peak("float32"), matmul_peak("bfloat16")
    print(f"matmul 4096^2: float32 {peak32:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s")

    # The reference: float32, Python-side augmentation.
    keras.mixed_precision.set_global_policy("float32")
    ref = portable(build_cnn(augment=False))   # stock Keras layers: the usual way
    ref.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ref_ips, ref_cores, ref_runs = timed_fit(ref, imagedatagenerator_batches(x, y, args.batch_size), args.steps,
                                             args.batch_size)
    print(f"reference (float32, ImageDataGenerator-style): best {ref_ips:.1f} img/s ({ref_cores:.2f} cores busy); "
          f"passes {ref_runs}")

    precision = pick_precision(args.precision)
    kit, (kit_ips, kit_cores, kit_runs) = kit_speed(x, y, args.batch_size, args.steps, precision)
    print(f"kit ({precision}, augmentation in the model): best {kit_ips:.1f} img/s ({kit_cores:.2f} cores busy); "
          f"passes {kit_runs}")

    flops = 3 * forward_flops(kit)
    gflops = kit_ips * flops / 1e9
    peak = peak16 if "bfloat16" in precision else peak32
    print(f"training step: {flops / 1e9:.2f} GFLOP per image (3 x {forward_flops(kit) / 1e6:.0f} MFLOP forward); "
          f"kit {gflops:.0f} GFLOP/s = {gflops / peak16:.0%} of bf16 peak, {gflops / peak32:.0%} of fp32 peak")

    step_s = args.batch_size / kit_ips
    parts = layer_breakdown(kit, args.batch_size)
    total = sum(parts.values())
    print(f"where a kit step goes, each layer timed alone (forward + backward, batch {args.batch_size}); "
          f"the parts sum to {total * 1e3:.0f} ms against a real step of {step_s * 1e3:.0f} ms:")
    for kind, s in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<24} {s * 1e3:7.1f} ms  {s / total:6.1%}")
    conv = parts.get("Conv2D", 0.0)
    print(f"conv layers alone run at {flops * args.batch_size / conv / 1e9:.0f} GFLOP/s; with everything else free "
          f"the kit could reach at most {args.batch_size / conv:.0f} img/s = {args.batch_size / conv / ref_ips:.2f}x "
          f"the reference")
    print(f"SUMMARY train_speed: kit {kit_ips:.0f} img/s vs reference {ref_ips:.0f} img/s = "
          f"{kit_ips / ref_ips:.2f}x; {gflops:.0f} GFLOP/s = {gflops / peak:.0%} of the measured "
          f"{'bf16' if 'bfloat16' in precision else 'fp32'} peak ({peak:.0f})")


if __name__ == "__main__":
    main()
