"""What the machine offers training: CPU features, precision, and how many devices to mirror over."""

import contextlib
import functools
import os
import platform

from ferlib import UserError
from ferlib.tf_setup import import_tensorflow, tensorflow_backend


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


def gpus():
    """The GPUs the Keras backend sees, by name."""
    if tensorflow_backend():
        return [d.name for d in import_tensorflow().config.list_physical_devices("GPU")]
    import jax
    return [d.device_kind for d in jax.devices() if d.platform == "gpu"]


def pick_precision(requested):
    """Resolve 'auto': fp16 on a GPU, bf16 where the CPU computes it natively, else fp32."""
    if requested != "auto":
        return requested
    if gpus():
        return "mixed_float16"
    if cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        return "mixed_bfloat16"
    return "float32"


def distribution():
    """Several GPUs: the model mirrored over them (MirroredStrategy); else the default strategy.

    Several machines are refused: Keras 3's fit fails under MultiWorkerMirroredStrategy (the
    PerReplica batch it reduces to build the model, keras-team/keras#20585, and the metrics after it).
    On other Keras backends: one device, and a scope that does nothing.
    """
    if not tensorflow_backend():
        return OneDevice()
    tf = import_tensorflow()
    if os.environ.get("TF_CONFIG"):
        raise UserError("TF_CONFIG is set, but training on several machines does not work with Keras 3 "
                        "(keras-team/keras#20585); unset TF_CONFIG to train on this machine's GPUs or CPU")
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


class OneDevice:
    """The default strategy's stand-in on backends without tf.distribute: one device."""
    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()
