"""Why a 2-core CPU sometimes trains at 0.7 of its speed: tf.data autotuning, side by side.

The same bf16 CNN is trained for several short passes on the same uint8
batches, fed three ways:

  pydataset   a keras.utils.PyDataset (workers=1), which Keras wraps in
              tf.data with an AUTOTUNE prefetch on the shared thread pool:
              what most Keras code (and this kit, before) does
  autotune    a tf.data generator with .prefetch(AUTOTUNE), the tf.data guide's advice
  kit         ferlib.batches.Batches: the same generator, autotuning off, one
              private thread (ferlib.batches.quiet_options)

Prints img/s and cores busy (process CPU time / wall) of every pass. On this
machine the first two alternate between ~1.9 cores busy and ~1.4 (a pass
at ~0.7 of the speed); the kit's passes stay at ~1.9.

    python bench/input_pipeline.py            # ~4 min on 2 cores
"""

import argparse
import time

import numpy as np

import _common  # noqa: F401  (puts the repo on sys.path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--passes", type=int, default=6, help="timed passes per way (default: %(default)s)")
    p.add_argument("--steps", type=int, default=25, help="batches of 128 per pass (default: %(default)s)")
    args = p.parse_args()
    import keras
    import tensorflow as tf
    from ferlib.models import build_cnn
    from ferlib.synthetic import synthetic_faces
    from ferlib.batches import Batches
    from ferlib.machine import pick_precision

    bs = 128
    x, y, _ = synthetic_faces(bs * args.steps, seed=0)
    y = y.astype(np.int64)
    kit = Batches(x, y, bs, seed=0)

    class Plain(keras.utils.PyDataset):
        def __len__(self):
            return args.steps

        def __getitem__(self, i):
            return x[i * bs:(i + 1) * bs, :, :, None], y[i * bs:(i + 1) * bs]

    def autotune():
        spec = kit.dataset.element_spec
        return tf.data.Dataset.from_generator(kit._epoch, output_signature=spec).prefetch(tf.data.AUTOTUNE)

    ways = {"pydataset": lambda: Plain(), "autotune": autotune, "kit": lambda: kit.dataset}
    keras.mixed_precision.set_global_policy(pick_precision("auto"))
    model = build_cnn(augment=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(kit.dataset, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)
    slow = {}
    for name, make in ways.items():
        runs = []
        for _ in range(args.passes):
            w0, c0 = time.perf_counter(), time.process_time()
            model.fit(make(), epochs=1, verbose=0, shuffle=False)
            wall = time.perf_counter() - w0
            runs.append((bs * args.steps / wall, (time.process_time() - c0) / wall))
        best = max(r[0] for r in runs)
        slow[name] = sum(r[0] < 0.85 * best for r in runs)
        print(f"{name:<10} " + "  ".join(f"{ips:4.0f} img/s ({cores:.2f})" for ips, cores in runs))
    print("SUMMARY input_pipeline: passes below 0.85 of their way's best: "
          + ", ".join(f"{k} {v}/{args.passes}" for k, v in slow.items()))


if __name__ == "__main__":
    main()
