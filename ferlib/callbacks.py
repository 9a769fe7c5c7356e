"""The Keras callbacks of the fit loop: exact resume, timings, dropout warm-up, the schedules, the weights
kept for averaging, and the standard ones.

Everything a resumed run needs lives in the run's resume folder: Keras'
BackupAndRestore state, the CSV log and the best checkpoint.
"""

import math
import os
import shutil
import time

import numpy as np

from ferlib import tf_setup  # noqa: F401  (before keras: keras imports tensorflow)
from ferlib import PLATEAU_FACTOR, PLATEAU_PATIENCE
from ferlib.tf_setup import tensorflow_backend

import keras  # noqa: E402


class EpochSeeds(keras.callbacks.Callback):
    """Batches, dropout and augmentation draws depend on (seed, epoch) only.

    Keras keeps each random layer's RNG position in a seed-generator variable
    that a resumed run would restart from zero; setting them all at every
    epoch start makes a resumed run draw exactly what an uninterrupted one does.
    """

    def __init__(self, batches, seed):
        super().__init__()
        self.batches, self.seed = batches, seed

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        seed_random_layers(self.model, self.seed, epoch)


def seed_random_layers(model, seed, epoch):
    """Every random layer's generator state set from (seed, epoch) alone."""
    states = [v for v in model.variables if "seed_generator_state" in v.path]
    for i, v in enumerate(states):
        # Distinct per layer (a prime stride) and per epoch (epoch in the high bits of the
        # counter), so no two layers or epochs start from the same state.
        v.assign(np.array([seed * 7919 + i, epoch << 20], dtype=v.dtype))


class Timer(keras.callbacks.Callback):
    """Seconds per epoch, in all and of training alone (no validation), written into the epoch's logs.

    In the logs, the CSV log keeps them across a resume: the record's times
    are the whole run's, not this process's.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.t0, self.t_val = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        self.t_val = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        t = time.perf_counter()
        if logs is not None:
            logs["seconds"] = round(t - self.t0, 3)
            logs["train_seconds"] = round((self.t_val or t) - self.t0, 3)


class DropoutWarmup(keras.callbacks.Callback):
    """Dropout rates scaled by min(1, epoch / warmup); the model ends with its full rates.

    A rate is fixed when the train step is traced, so a changed rate means a
    retrace (one per warm-up epoch, a few seconds each).
    """

    def __init__(self, warmup):
        super().__init__()
        self.warmup = warmup

    def on_train_begin(self, logs=None):
        self.layers = [l for l in self.model.layers if isinstance(l, keras.layers.Dropout)]
        self.final = [l.rate for l in self.layers]

    def on_epoch_begin(self, epoch, logs=None):
        scale = min(1.0, epoch / self.warmup) if self.warmup > 0 else 1.0
        rates = [r * scale for r in self.final]
        if rates != [l.rate for l in self.layers]:
            for layer, rate in zip(self.layers, rates):
                layer.rate = rate
            self.model.make_train_function(force=True)

    def on_train_end(self, logs=None):
        for layer, rate in zip(self.layers, self.final):
            layer.rate = rate


class SaveLastWeights(keras.callbacks.Callback):
    """At the end of training, the last epoch's weights into the resume folder, atomically.

    Runs before BackupAndRestore removes its state, so a run killed anywhere
    after its last epoch (evaluating, saving) finds them and does not retrain.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_end(self, logs=None):
        if self.model.stop_training:   # stopped at a NaN: nothing worth keeping
            return
        tmp = os.path.join(os.path.dirname(self.path), f".tmp{os.getpid()}.weights.h5")   # Keras wants the suffix
        self.model.save_weights(tmp)
        os.replace(tmp, self.path)


class SwapEMAWeights(keras.callbacks.SwapEMAWeights):
    """Keras' swap of the optimizer's weight average into the model at each epoch's end (swap_on_epoch).

    Validation, the best checkpoint, the backup and the final model all see
    the average; the next epoch swaps the raw weights back in to train on.
    A backup is written after the swap, so a run that resumes from one starts
    with the average in the model, and must swap before training as well.
    """

    def __init__(self, resuming):
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = resuming


class BestCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras' best-only checkpoint, written beside its place and renamed into it.

    A kill while the model is written leaves the previous best whole.
    """

    def __init__(self, path, **kwargs):
        self.path = path
        super().__init__(os.path.join(os.path.dirname(path), ".best.tmp.keras"), save_best_only=True, **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if os.path.exists(self.filepath):
            os.replace(self.filepath, self.path)


def cosine_schedule(lr, epochs, hold_from=None, warmup=0):
    """Epoch -> learning rate: over the first `warmup` epochs a linear rise towards lr (lr x (epoch + 1) /
    (warmup + 1)), then from lr down to 0 along half a cosine over the rest; from epoch hold_from on, held
    at its value there (weight averaging's constant rate)."""
    last = epochs if hold_from is None else hold_from

    def schedule(epoch):
        epoch = min(epoch, last)
        if epoch < warmup:
            return lr * (epoch + 1) / (warmup + 1)
        return 0.5 * lr * (1 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))
    return schedule


class KeepEpochWeights(keras.callbacks.Callback):
    """The weights at the end of each epoch from `first` (0-based) on, as folder/epoch_NNN.weights.h5,
    for weight averaging.

    One file per epoch, written beside its place and renamed into it: an epoch a resumed run repeats
    replaces its file, and is never counted twice.
    """

    def __init__(self, folder, first):
        super().__init__()
        self.folder, self.first = folder, first

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.first:
            return
        os.makedirs(self.folder, exist_ok=True)
        tmp = os.path.join(self.folder, f".tmp{os.getpid()}.weights.h5")   # Keras wants the suffix
        self.model.save_weights(tmp)
        os.replace(tmp, os.path.join(self.folder, f"epoch_{epoch + 1:03d}.weights.h5"))


PLATEAU_MIN_DELTA = 1e-4   # PLATEAU_FACTOR and PLATEAU_PATIENCE: ferlib/__init__.py


def plateau_lr(lr, values, factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE, min_delta=PLATEAU_MIN_DELTA):
    """The rate after the monitored values so far (higher is better), by Keras' ReduceLROnPlateau rule.

    A function of the values, not a callback's state: a resumed run reads them back from its CSV log and
    gets the uninterrupted run's rate.
    """
    best, wait = -math.inf, 0
    for value in values:
        if value - min_delta > best:
            best, wait = value, 0
        else:
            wait += 1
            if wait >= patience:
                lr, wait = lr * factor, 0
    return lr


def plateau_schedule(lr, log, monitor):
    """Epoch -> rate: plateau_lr over the monitored values of the epochs before it, read from the CSV log."""
    import pandas as pd

    def schedule(epoch):
        if not os.path.exists(log) or not os.path.getsize(log):   # the logger opens it empty, first epoch
            return lr
        history = pd.read_csv(log).drop_duplicates("epoch", keep="last")   # a repeated epoch: its last copy
        return plateau_lr(lr, history[history["epoch"] < epoch].sort_values("epoch")[monitor])
    return schedule


LAST_WEIGHTS, BEST, AVERAGED = "last.weights.h5", "best.keras", "averaged"


def first_averaged_epoch(epochs, fraction):
    """The first (0-based) of the last `fraction` of the epochs, at least one epoch averaged."""
    return epochs - max(1, round(epochs * fraction))


def training_callbacks(batches, resume_dir, args, epochs, monitor):
    """The fit loop's callbacks, in the order they must run."""
    backup = os.path.join(resume_dir, "backup")
    resuming = os.path.exists(os.path.join(backup, "latest.weights.h5"))
    ema = [SwapEMAWeights(resuming=resuming)] if args.ema else []
    first = first_averaged_epoch(epochs, args.swa) if args.swa else None
    swa = [KeepEpochWeights(os.path.join(resume_dir, AVERAGED), first)] if args.swa else []
    return [
        EpochSeeds(batches, args.seed), Timer(), DropoutWarmup(args.dropout_warmup),
        keras.callbacks.LearningRateScheduler(
            plateau_schedule(args.lr, os.path.join(resume_dir, "history.csv"), monitor)
            if args.plateau else cosine_schedule(args.lr, epochs, hold_from=first, warmup=args.lr_warmup)),
        keras.callbacks.TerminateOnNaN(),
        *ema,   # before the checkpoints, which then hold the average
        *swa,   # before the backup: a kill between the two repeats the epoch, which rewrites its file
        # The log before the backup: a kill between the two repeats an epoch
        # in the log (the last copy is kept) instead of losing one.
        keras.callbacks.CSVLogger(os.path.join(resume_dir, "history.csv"), append=True),
        *tensorboard(os.path.join(args.logs_dir, args.name), resuming),
        # On resume, the best so far must be remembered, or the first resumed
        # epoch would always count as the best.
        BestCheckpoint(os.path.join(resume_dir, BEST), monitor=monitor, mode="max",
                       initial_value_threshold=best_so_far(resume_dir, monitor)),
        SaveLastWeights(os.path.join(resume_dir, LAST_WEIGHTS)),
        # Two copies: a kill while the newest is written leaves the one before it to resume from.
        keras.callbacks.BackupAndRestore(backup, double_checkpoint=True),
    ]


def tensorboard(log_dir, resuming):
    """[Keras' TensorBoard callback] writing each epoch's metrics to log_dir; a fresh run clears it first.

    TensorBoard's event files need TensorFlow: none on Keras' other backends.
    """
    if not tensorflow_backend():
        return []
    if not resuming:   # a restarted run's curves must not mix with the discarded one's
        shutil.rmtree(log_dir, ignore_errors=True)
    return [keras.callbacks.TensorBoard(log_dir, write_graph=False, profile_batch=0)]


def best_so_far(resume_dir, monitor):
    """The best monitored value a resumed run already reached, or None for a fresh run."""
    import pandas as pd
    log = os.path.join(resume_dir, "history.csv")
    if not os.path.exists(log) or not os.path.exists(os.path.join(resume_dir, BEST)):
        return None
    values = pd.read_csv(log).get(monitor)
    return None if values is None or values.empty else float(values.max())
