"""What the benches share: the repo on sys.path, TensorFlow set up as the kit sets it up, and one CNN in two precisions."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ferlib import tf_setup  # noqa: F401,E402  (before keras: keras imports tensorflow)


def cnn_pair(precision):
    """(reference float32 CNN, the same weights under `precision`): the kit runs a saved model
    in the precision it was trained in; the reference way is float32."""
    import keras
    from ferlib.fused_bn import portable
    from ferlib.models import build_cnn
    from ferlib.machine import pick_precision
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("float32")
    ref = portable(build_cnn(augment=False))
    precision = pick_precision(precision)
    keras.mixed_precision.set_global_policy(precision)
    kit = build_cnn(augment=False)
    kit.set_weights(ref.get_weights())
    keras.mixed_precision.set_global_policy("float32")
    return ref, kit, precision


def seconds(fn, *args):
    """Wall seconds of fn(*args)."""
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0
