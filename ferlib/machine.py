"""What the machine offers training: CPU features, precision, and how many devices to mirror over."""

import functools
import os
import platform

from ferlib import UserError
from ferlib.tf_setup import import_tensorflow


@functools.lru_cache(maxsize=1)
def cpuinfo():
    """The first processor's fields of /proc/cpuinfo ({} where there is none, e.g. macOS)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_name():
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags():
    return set(cpuinfo().get("flags", "").split())


def pick_precision(requested):
    """Resolve 'auto': fp16 on a GPU, bf16 where the CPU computes it natively, else fp32."""
    if requested != "auto":
        return requested
    if import_tensorflow().config.list_physical_devices("GPU"):
        return "mixed_float16"
    if cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        return "mixed_bfloat16"
    return "float32"


def distribution():
    """Several GPUs: the model mirrored over them (MirroredStrategy); else the default strategy.

    Several machines are refused: Keras 3's fit fails under MultiWorkerMirroredStrategy (the
    PerReplica batch it reduces to build the model, keras-team/keras#20585, and the metrics after it).
    """
    tf = import_tensorflow()
    if os.environ.get("TF_CONFIG"):
        raise UserError("TF_CONFIG is set, but training on several machines does not work with Keras 3 "
                        "(keras-team/keras#20585); unset TF_CONFIG to train on this machine's GPUs or CPU")
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
