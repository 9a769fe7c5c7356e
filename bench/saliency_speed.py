"""Saliency maps for 700 faces: the kit's batched pass against a compiled one-by-one loop.

reference  a tf.function that returns |d logit / d pixel| for one image, called
           once per image, on the float32 model (the usual way: a loop over
           images), traced before it is timed.
kit        saliency.vanilla_saliency: the images in chunks of 256, on the model
           in the precision train_cnn.py trains it in; its one trace per call
           is timed, as saliency.py pays it.

700 faces: the built-in set's test split, all of which saliency.py analyses
by default (FER2013's PublicTest has 3,589). Both use the same weights
(random: speed does not depend on them).

    python bench/saliency_speed.py
"""

import argparse

import numpy as np

from _common import cnn_pair, seconds


def one_by_one(score_model):
    import tensorflow as tf

    @tf.function
    def grad(x, c):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = score_model(x, training=False)[0, c]
        return tf.abs(tape.gradient(score, x))

    def run(x, classes):
        return np.stack([grad(tf.constant(x[i:i + 1, :, :, None], tf.float32), int(c)).numpy()[0, ..., 0]
                         for i, c in enumerate(classes)])
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=700, help="faces per timed call (default: %(default)s)")
    p.add_argument("--precision", default="auto", help="the kit's precision (default: %(default)s)")
    args = p.parse_args()
    from ferlib.models import logits_model
    from ferlib.synthetic import synthetic_faces
    from saliency import vanilla_saliency

    x, y, _ = synthetic_faces(args.images, seed=0)
    ref, kit, precision = cnn_pair(args.precision)
    loop = one_by_one(logits_model(ref))

    loop(x[:2], y[:2])                      # trace
    t_loop = min(seconds(loop, x, y) for _ in range(2))
    t_kit = min(seconds(vanilla_saliency, kit, x, y) for _ in range(3))
    agree = np.corrcoef(loop(x[:8], y[:8]).ravel(), vanilla_saliency(kit, x[:8], y[:8]).ravel())[0, 1]
    print(f"one by one (float32, compiled step): {t_loop:.2f} s; kit batched ({precision}): {t_kit:.2f} s; "
          f"maps agree (Pearson r, 8 faces): {agree:.3f}")
    print(f"SUMMARY saliency_speed: {args.images} faces in {t_kit:.2f} s vs {t_loop:.2f} s one by one "
          f"= {t_loop / t_kit:.1f}x")


if __name__ == "__main__":
    main()
