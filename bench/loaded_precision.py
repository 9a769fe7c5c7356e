"""How fast a shipped model predicts as saved (mixed bfloat16) and recast to float32, side by side.

    python bench/loaded_precision.py            # 1,024 built-in faces, the shipped CNN, best of 3 passes each

On a CPU without bfloat16 instructions (no AVX512-BF16 or AMX) TensorFlow emulates bfloat16 and the saved
policy is slow; ferlib.models.load_model recasts such a model to float32 there (compute="auto"). The ratio
printed is as-saved time over float32 time on this machine, with the share of labels the two agree on.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ferlib.data import load_synthetic  # noqa: E402
from ferlib.machine import cpu_flags, cpu_name  # noqa: E402
from ferlib.models import computing_in, load_model, predict_probs  # noqa: E402

MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained", "cnn_fer2013.keras")


def best_time(model, x, passes=3):
    predict_probs(model, x[:64])   # trace once, outside the timing
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        probs = predict_probs(model, x)
        times.append(time.perf_counter() - t0)
    return min(times), probs


def main():
    x, _ = load_synthetic().split("train")
    x = x[:1024]
    saved = load_model(MODEL, compute=None)
    fast, saved_probs = best_time(saved, x)
    slow, f32_probs = best_time(computing_in(saved, "float32"), x)
    native = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    print(f"{cpu_name()}, bfloat16 {'native' if native else 'emulated'}: {len(x)} faces as saved (mixed_bfloat16) "
          f"{fast:.2f} s, in float32 {slow:.2f} s; as saved / float32 = {fast / slow:.2f}; "
          f"labels agree on {(saved_probs.argmax(1) == f32_probs.argmax(1)).mean():.1%}")


if __name__ == "__main__":
    main()
