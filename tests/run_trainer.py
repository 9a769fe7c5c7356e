"""Run a trainer as the tests need it: mirrored over logical CPU devices, or killed at a named point.

    python tests/run_trainer.py [--replicas N] [--kill-at POINT] train_dnn.py ARGS...

--replicas N: the CPU split into N logical devices and the model mirrored over them
(tf.distribute.MirroredStrategy), as on a machine with N GPUs.

--kill-at POINT: SIGKILL, as a dead battery or the OOM killer would, at
POINT   where the process dies
epoch   inside the second epoch, after its first batch
backup  while the second epoch's backup weights are written (half the file on disk)
best    while the first best checkpoint is written (half of it on disk)
final   while the finished model is written (half of it on disk, under its temporary name)

A run that never reaches its point ends as usual, with status 0.
"""

import os
import runpy
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ferlib import tf_setup  # noqa: F401,E402  (before keras: keras imports tensorflow)
import keras  # noqa: E402


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def torn(path):
    """The file as a kill in the middle of writing it leaves it: its first half."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def die_after(original, matches, nth=1):
    """Wrap a saving function: on its nth call that writes a matching path, tear the file and die."""
    calls = []

    def wrapper(self, filepath, *args, **kwargs):
        result = original(self, filepath, *args, **kwargs)
        if matches(str(filepath)):
            calls.append(filepath)
            if len(calls) == nth:
                torn(str(filepath))
                die()
        return result
    return wrapper


class DieInEpoch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 0:
            die()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def mirror_over_cpus(n):
    import tensorflow as tf
    import ferlib.train
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    ferlib.train.distribution = lambda: tf.distribute.MirroredStrategy(devices)


def main():
    argv = sys.argv[1:]
    options = {}
    while argv[0].startswith("--"):
        options[argv[0]] = argv[1]
        argv = argv[2:]
    script, args = argv[0], argv[1:]
    if "--replicas" in options:
        mirror_over_cpus(int(options["--replicas"]))
    point = options.get("--kill-at")
    if point is None:
        pass
    elif point == "epoch":
        import ferlib.train
        fit = ferlib.train.fit
        ferlib.train.fit = lambda model, data, a, extra=(): fit(model, data, a, [*extra, DieInEpoch()])
    elif point == "backup":
        keras.Model.save_weights = die_after(keras.Model.save_weights, lambda p: p.endswith("latest.weights.h5"), 2)
    elif point == "best":
        keras.Model.save = die_after(keras.Model.save, lambda p: p.endswith(".best.tmp.keras"))
    elif point == "final":
        # The finished model is written under a temporary name, then renamed: die before the rename.
        replace = os.replace

        def dying_replace(src, dst):
            if dst.endswith(".keras") and not dst.endswith("best.keras"):
                torn(src)
                die()
            replace(src, dst)
        os.replace = dying_replace
    else:
        sys.exit(f"unknown point {point!r}")
    sys.argv = [script, *args]
    runpy.run_path(os.path.join(ROOT, script), run_name="__main__")


if __name__ == "__main__":
    main()
