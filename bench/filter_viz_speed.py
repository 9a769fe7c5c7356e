"""Filter images for a whole layer: the kit's batched ascent against keras-io's loop, one run.

reference  keras-io's "Visualizing what convnets learn": a model cut at the
           layer, one filter at a time, a compiled tf.function step, float32;
           timed on --loop-filters filters and scaled to the layer's count
           (each filter costs the same: same steps, same shapes).
kit        filter_viz.ascend: every filter in one batch, image i driving
           filter i, in the precision train_cnn.py trains in.

Same steps for both; random weights (speed does not depend on them).

    python bench/filter_viz_speed.py                    # conv2d_9: 128 filters, 200 steps
"""

import argparse

import numpy as np

from _common import cnn_pair, seconds


def keras_io_loop(cut, filters, steps, lr=10.0):
    import tensorflow as tf

    @tf.function
    def step(img, f):
        with tf.GradientTape() as tape:
            tape.watch(img)
            loss = tf.reduce_mean(cut(img)[:, 2:-2, 2:-2, f])
        g = tf.math.l2_normalize(tape.gradient(loss, img))
        return img + lr * g

    for f in filters:
        img = tf.random.uniform((1, 48, 48, 1), 108, 148)
        for _ in range(steps):
            img = step(img, tf.constant(int(f)))
        img.numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layer", default="conv2d_9", help="(default: %(default)s, the last conv layer)")
    p.add_argument("--steps", type=int, default=200, help="(default: %(default)s)")
    p.add_argument("--loop-filters", type=int, default=16,
                   help="filters the slow loop is timed on (default: %(default)s)")
    p.add_argument("--precision", default="auto", help="the kit's precision (default: %(default)s)")
    args = p.parse_args()
    from filter_viz import ascend, layer_model

    ref, kit, precision = cnn_pair(args.precision)
    ref_cut, kit_cut = layer_model(ref, args.layer), layer_model(kit, args.layer)
    filters = np.arange(kit_cut.output.shape[-1])

    keras_io_loop(ref_cut, filters[:1], 2)                 # trace
    ascend(kit_cut, filters, 2, progress=False)
    t_loop = seconds(keras_io_loop, ref_cut, filters[:args.loop_filters], args.steps)
    t_loop_all = t_loop / args.loop_filters * len(filters)
    t_kit = seconds(ascend, kit_cut, filters, args.steps, 0, False)
    print(f"keras-io loop (float32): {t_loop / args.loop_filters:.2f} s a filter, {t_loop_all:.0f} s for "
          f"{len(filters)} (timed on {args.loop_filters}); kit batched ({precision}): {t_kit:.1f} s")
    print(f"SUMMARY filter_viz_speed: {args.layer}, {len(filters)} filters x {args.steps} steps in {t_kit:.1f} s "
          f"vs {t_loop_all:.0f} s one filter at a time = {t_loop_all / t_kit:.1f}x")


if __name__ == "__main__":
    main()
