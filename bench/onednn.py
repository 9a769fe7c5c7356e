"""oneDNN's CPU kernels against TensorFlow's default Eigen ones, on the kit's CNN training step.

TensorFlow turns oneDNN on by itself only on x86 CPUs with AVX-512 VNNI or
BF16 or AMX; ferlib/tf_setup.py turns it on on every x86-64 CPU. The switch
(TF_ENABLE_ONEDNN_OPTS) is read once, when TensorFlow loads, so each side runs
in a process of its own: Eigen, oneDNN, Eigen, oneDNN, one after the other, and
each side's best pass counts. A pass is what bench/train_speed.py times for
the kit: model.fit on uint8 batches of synthetic faces, augmentation in the
model, the precision train_cnn.py picks. On a CPU where TensorFlow already
picks oneDNN, the ratio shows what that default is worth.

    python bench/onednn.py              # ~6 min on 2 cores
    python bench/onednn.py --steps 5    # quicker, noisier
"""

import argparse
import json
import os
import subprocess
import sys

SIDES = {"0": "Eigen (TF_ENABLE_ONEDNN_OPTS=0)", "1": "oneDNN (TF_ENABLE_ONEDNN_OPTS=1)"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10, help="timed batches of 128 per pass (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=2, help="processes per side (default: %(default)s)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def one_side(steps):
    """In a child process: the kit's training throughput under this process's TensorFlow, as one JSON line."""
    import _common  # noqa: F401  (sets up TensorFlow, keeping the TF_ENABLE_ONEDNN_OPTS it was given)
    import numpy as np
    from train_speed import kit_speed
    from ferlib.machine import cpu_name, pick_precision
    from ferlib.synthetic import synthetic_faces
    from tensorflow.python.util import _pywrap_util_port

    x, y, _ = synthetic_faces(128 * steps, seed=0)
    precision = pick_precision("auto")
    _, (ips, cores, passes) = kit_speed(x, y.astype(np.int64), 128, steps, precision)
    print(json.dumps({"img_s": ips, "cores": cores, "passes": passes, "precision": precision, "cpu": cpu_name(),
                      "onednn": _pywrap_util_port.IsMklEnabled()}))


def main():
    args = parse_args()
    if args.child:
        return one_side(args.steps)
    best = {}
    for _ in range(args.repeats):
        for side, words in SIDES.items():
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=side, TF_CPP_MIN_LOG_LEVEL="3")
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--steps", str(args.steps)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            assert r["onednn"] == (side == "1"), f"TensorFlow did not take TF_ENABLE_ONEDNN_OPTS={side}"
            print(f"{words}: best {r['img_s']:.1f} img/s ({r['cores']:.2f} cores busy), passes {r['passes']}; "
                  f"{r['precision']} on {r['cpu']}", flush=True)
            best[side] = max(best.get(side, 0.0), r["img_s"])
    print(f"SUMMARY onednn: {best['1']:.0f} img/s with oneDNN vs {best['0']:.0f} with Eigen = "
          f"{best['1'] / best['0']:.2f}x")


if __name__ == "__main__":
    main()
