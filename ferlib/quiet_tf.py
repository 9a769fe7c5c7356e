"""Import TensorFlow without its start-up chatter.

TensorFlow's C++ start-up notices (CUDA probing on CPU machines, oneDNN
notes) mean nothing to a student, and TF 2.19+ prints some of them whatever
TF_CPP_MIN_LOG_LEVEL says (tensorflow/tensorflow#100442): five lines before
every script's output. Real errors still raise in Python, with their message.
Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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


import_tensorflow()
