"""Import TensorFlow the kit's way: quiet, and with its fast CPU kernels on.

Every module that imports keras or tensorflow imports this one first, since
both settings are read once, when TensorFlow loads.

Quiet: TensorFlow's C++ start-up notices (CUDA probing on CPU machines,
oneDNN notes) mean nothing to a student, and TF 2.19+ prints some of them
whatever TF_CPP_MIN_LOG_LEVEL says (tensorflow/tensorflow#100442): five lines
before every script's output. Real errors still raise in Python, with their
message. Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.

Fast: TensorFlow turns on its oneDNN kernels by itself only on x86 CPUs with
AVX-512 VNNI or BF16 or AMX. On the rest (AVX2-only CPUs, many laptops' among them) the kit turns
them on: the CNN's training step runs about twice as fast as on the default
Eigen kernels (bench/onednn.py). oneDNN sums in another order, so the last digits
of a result change with it. TF_ENABLE_ONEDNN_OPTS=0 keeps Eigen.

Training also runs on Keras' JAX backend (KERAS_BACKEND=jax, for a GPU
machine that has JAX and not TensorFlow); TensorFlow is then not imported.
"""

import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def tensorflow_backend():
    """True unless KERAS_BACKEND names another Keras backend (Keras reads the same variable)."""
    return os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"


def import_tensorflow():
    """Import tensorflow with the process's stderr (fd 2) pointed at /dev/null meanwhile."""
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import tensorflow
        return tensorflow
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


if tensorflow_backend():
    import_tensorflow()
