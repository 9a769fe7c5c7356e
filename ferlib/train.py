"""The one fit loop both trainers use.

train_cnn.py and train_dnn.py differ only in the model they build and their
defaults; everything else is here: precision, distribution, batches,
callbacks (all Keras': CSV log, best checkpoint, resume, NaN stop, LR
schedule), evaluation, and the atomic run record.

Resume: the run's working state lives in models/<name>.resume/ (Keras'
BackupAndRestore plus the CSV log and best checkpoint). Run the same command
again after an interruption and training continues from the last finished
epoch; on success the folder is removed. Batches are a pure function of
(seed, epoch), so a resumed run sees exactly the batches an uninterrupted one
would have.
"""

import argparse
import math
import os
import shutil
import sys
import time

import numpy as np

from ferlib import CLASS_NAMES
from ferlib.data import UserError, load_fer2013
from ferlib.models import (SparseSmoothedCrossentropy, augmentation_summary, label_accuracy, portable,
                           predict_probs)
from ferlib.outputs import atomic_path, finish_record, load_json, pyplot, save_figure, save_json, save_model

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def add_train_args(p, epochs=100, batch_size=128, lr=1e-3, weight_decay=0.0, name="cnn", augment=True):
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training set (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=batch_size, help="images per step (default: %(default)s)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                   help="adam, or sgd: SGD with Nesterov momentum 0.9, the usual choice for FER2013's "
                        "published CNNs; give it a larger --lr, e.g. 0.01. Adam won here (10 epochs, with the "
                        "earlier rotation+zoom augmentation: 0.545 against SGD's 0.520, docs/ablations.md) "
                        "(default: %(default)s)")
    p.add_argument("--lr", type=float, default=lr,
                   help="peak learning rate; cosine-decayed to 0 over the epochs (default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=weight_decay,
                   help="decoupled weight decay, as AdamW: each step multiplies every kernel by (1 - lr x this); "
                        "biases and batch norm's scale and shift are left alone (default: %(default)s)")
    p.add_argument("--dropout-warmup", type=int, default=5,
                   help="epochs over which dropout rises linearly from 0 to the model's rates: with its full "
                        "dropout from the first step the reference CNN sits at the majority class for epochs "
                        "on FER2013 (docs/ablations.md); the saved model has the full rates (default: %(default)s)")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="softens the one-hot targets, a usual remedy for FER2013's noisy labels; it cost "
                        "the CNN accuracy here (10 epochs, with the earlier rotation+zoom augmentation: 0.531 at 0.1 "
                        "against 0.545, docs/ablations.md) "
                        "(default: %(default)s)")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="mixup: train on blends lam x a + (1 - lam) x b of two images and of their labels, "
                        "lam ~ Beta(ALPHA, ALPHA) per image; 0 = off, 0.2 is usual (default: %(default)s)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=augment,
                   help="random mirror and shift of each training image (default: %(default)s)")
    p.add_argument("--erase", type=float, default=0.0, metavar="P",
                   help="random erasing, part of the augmentation: this share of training images gets one "
                        "rectangle of noise; 0 = off (default: %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: mixed_float16 on a GPU, mixed_bfloat16 on a CPU with bf16 instructions "
                        "(AVX512-BF16/AMX), else float32 (default: %(default)s)")
    p.add_argument("--name", default=name, help="run name: models/<name>.keras etc. (default: %(default)s)")
    p.add_argument("--models-dir", default="models", help="where the model and its record go (default: %(default)s)")
    p.add_argument("--figures-dir", default="figures", help="where the curves go (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images (quick runs)")
    p.add_argument("--dry-run", action="store_true",
                   help="smoke test: 1 epoch on 2 batches, to check that everything runs")


# ---------------------------------------------------------------- hardware

def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def pick_precision(requested):
    """Resolve 'auto': fp16 on a GPU, bf16 where the CPU computes it natively, else fp32."""
    import tensorflow as tf
    if requested != "auto":
        return requested
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    if cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        return "mixed_bfloat16"
    return "float32"


def distribution():
    """Several machines (TF_CONFIG set) or GPUs: mirror the model; else the default strategy."""
    import tensorflow as tf
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


# ---------------------------------------------------------------- batches

class Batches:
    """uint8 training batches as a tf.data pipeline, reshuffled every epoch from (seed, epoch) alone.

    `set_epoch` picks the order; the generator reads it when an epoch's
    iterator starts, which Keras does after the callbacks' on_epoch_begin.
    """

    def __init__(self, x, y, batch_size, seed, mixup=0.0):
        import tensorflow as tf
        self.x, self.y, self.batch_size, self.seed, self.mixup = x, y, batch_size, seed, mixup
        self.set_epoch(0)
        labels = tf.TensorSpec((None, len(CLASS_NAMES)), tf.float32) if mixup else tf.TensorSpec((None,), tf.int64)
        spec = (tf.TensorSpec((None,) + x.shape[1:] + (1,), tf.uint8), labels)
        ds = tf.data.Dataset.from_generator(self._epoch, output_signature=spec)
        self.dataset = ds.apply(tf.data.experimental.assert_cardinality(len(self))).with_options(quiet_options())

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def _epoch(self):
        for i in range(len(self)):
            idx = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])   # sorted: faster gather
            x, y = self.x[idx, :, :, None], self.y[idx].astype(np.int64)
            if self.mixup:
                x, y = mixup(x, y, self.mixup, np.random.default_rng([self.seed, self.epoch, i]))
            yield x, y


def mixup(x, y, alpha, rng):
    """Each image blended with another of its batch, lam ~ Beta(alpha, alpha); labels -> class weights alike.

    In numpy from (seed, epoch, batch), not Keras' MixUp layer: that one draws
    from a seed generator of its own in the tf.data pipeline, which a resumed
    run would restart. Blends are rounded back to uint8: half a gray level at most.
    """
    lam = rng.beta(alpha, alpha, size=len(x)).astype(np.float32)
    other = rng.permutation(len(x))
    one_hot = np.eye(len(CLASS_NAMES), dtype=np.float32)[y]
    blend = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[other]
    return np.rint(blend).astype(np.uint8), lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[other]


def quiet_options():
    """tf.data without autotuning and with one private thread.

    On a 2-core CPU tf.data's autotuned prefetch threads compete with TF's
    two compute threads, and some whole epochs then run with ~1.4-1.7 cores
    busy instead of ~1.9, at 0.7-0.9 of the speed (bench/README.md). Batches
    of uint8 cost nothing to make, so there is nothing for prefetching to hide.
    """
    import tensorflow as tf
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return options


def array_batches(x, y=None, batch_size=512):
    """Arrays -> a quiet tf.data pipeline for evaluate/predict (Keras' own adapter autotunes)."""
    import tensorflow as tf
    x = x[..., None] if x.ndim == 3 else x
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).batch(batch_size)
    return ds.with_options(quiet_options())


def _callbacks(ds, resume_dir, epochs, lr, monitor, seed, warmup):
    import keras

    class EpochSeeds(keras.callbacks.Callback):
        """Batches, dropout and augmentation draws depend on (seed, epoch) only.

        Keras keeps each random layer's RNG position in a seed-generator
        variable that a resumed run would restart from zero; setting them all
        at every epoch start makes a resumed run draw exactly what an
        uninterrupted one does.
        """
        def on_epoch_begin(self, epoch, logs=None):
            ds.set_epoch(epoch)
            states = [v for v in self.model.variables if "seed_generator_state" in v.path]
            for i, v in enumerate(states):
                v.assign(np.array([seed * 7919 + i, epoch << 20], dtype=v.dtype))

    class Timer(keras.callbacks.Callback):
        """Seconds of training (no validation) and in all, per epoch; the latter also goes into
        the epoch's logs, so the CSV log keeps it across a resume."""
        def __init__(self):
            super().__init__()
            self.train_s, self.epoch_s = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0, self.t_val = time.perf_counter(), None

        def on_test_begin(self, logs=None):
            self.t_val = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            t = time.perf_counter()
            self.train_s.append((self.t_val or t) - self.t0)
            self.epoch_s.append(t - self.t0)
            if logs is not None:
                logs["seconds"] = round(t - self.t0, 3)

    class DropoutWarmup(keras.callbacks.Callback):
        """Dropout rates scaled by min(1, epoch / warmup); a rate is fixed when the step is traced,
        so a changed rate means a retrace (one per warm-up epoch, a few seconds each)."""
        def on_train_begin(self, logs=None):
            self.layers = [l for l in self.model.layers if isinstance(l, keras.layers.Dropout)]
            self.final = [l.rate for l in self.layers]

        def on_epoch_begin(self, epoch, logs=None):
            scale = min(1.0, epoch / warmup) if warmup > 0 else 1.0
            rates = [r * scale for r in self.final]
            if rates != [l.rate for l in self.layers]:
                for layer, rate in zip(self.layers, rates):
                    layer.rate = rate
                self.model.make_train_function(force=True)

        def on_train_end(self, logs=None):
            for layer, rate in zip(self.layers, self.final):
                layer.rate = rate

    def cosine(epoch):
        return 0.5 * lr * (1 + math.cos(math.pi * epoch / epochs))

    timer = Timer()
    return timer, [
        EpochSeeds(), timer, DropoutWarmup(),
        keras.callbacks.LearningRateScheduler(cosine),
        keras.callbacks.TerminateOnNaN(),
        # The log before the backup: a kill between the two repeats an epoch
        # in the log (we keep the last) instead of losing one.
        keras.callbacks.CSVLogger(os.path.join(resume_dir, "history.csv"), append=True),
        # On resume, the best so far must be remembered, or the first resumed
        # epoch would always count as the best.
        keras.callbacks.ModelCheckpoint(os.path.join(resume_dir, "best.keras"), monitor=monitor,
                                        mode="max", save_best_only=True,
                                        initial_value_threshold=_best_so_far(resume_dir, monitor)),
        keras.callbacks.BackupAndRestore(os.path.join(resume_dir, "backup")),
    ]


# ---------------------------------------------------------------- the run

def make_optimizer(args):
    """Adam or Nesterov SGD at args.lr (the schedule callback sets it per epoch), with decoupled weight decay."""
    import keras
    decay = args.weight_decay or None
    optimizer = (keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True, weight_decay=decay)
                 if args.optimizer == "sgd" else keras.optimizers.Adam(args.lr, weight_decay=decay))
    if decay:   # the usual exclusions: biases and batch norm's gamma and beta are few, and shift or scale only
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def run_training(args, build, kind, script, argv, extra_callbacks=()):
    """Train build() on args.data and write model, record, history and curves. Returns the record."""
    import keras
    import pandas as pd

    t_start = time.perf_counter()
    if args.epochs < 1 or args.batch_size < 1:
        raise UserError("--epochs and --batch-size must be at least 1")
    if not 0 <= args.erase <= 1 or (args.erase and not args.augment):
        raise UserError("--erase takes a share from 0 to 1 and needs --augment")
    if args.mixup < 0:
        raise UserError("--mixup takes ALPHA >= 0 (0 = off)")
    data = load_fer2013(args.data, seed=args.seed)
    x_tr, y_tr = data.labelled("train")
    x_va, y_va = data.split("val")
    if args.limit:
        x_tr, y_tr = x_tr[:args.limit], y_tr[:args.limit]
    epochs = args.epochs
    if args.dry_run:
        x_tr, y_tr, x_va, y_va, epochs = x_tr[:2 * args.batch_size], y_tr[:2 * args.batch_size], x_va[:64], y_va[:64], 1

    precision = pick_precision(args.precision)
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(args.seed)
    strategy = distribution()
    with strategy.scope():
        model = build()
        # Mixup's training targets are class weights, validation's are labels: one loss and
        # one accuracy that read both.
        model.compile(optimizer=make_optimizer(args),
                      loss=SparseSmoothedCrossentropy(args.label_smoothing) if args.label_smoothing or args.mixup
                      else "sparse_categorical_crossentropy",
                      metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")] if args.mixup
                      else ["accuracy"])
    params = {"total": model.count_params(),
              "trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
              "non_trainable": int(sum(np.prod(w.shape) for w in model.non_trainable_weights))}
    print(f"{kind}: {params['total']:,} parameters; {len(y_tr):,} train / {len(y_va):,} val images "
          f"from {data.source}; {precision}; {epochs} epochs", file=sys.stderr)

    name, models_dir = args.name, args.models_dir
    resume_dir = _resume_dir(os.path.join(models_dir, f"{name}.resume"), args)
    has_val = len(y_va) > 0
    ds = Batches(x_tr, y_tr, args.batch_size, args.seed, args.mixup)
    timer, callbacks = _callbacks(ds, resume_dir, epochs, args.lr, "val_accuracy" if has_val else "accuracy",
                                  args.seed, args.dropout_warmup)
    model.fit(ds.dataset, shuffle=False, validation_data=array_batches(x_va, y_va) if has_val else None,
              epochs=epochs, callbacks=callbacks + list(extra_callbacks), verbose=1 if sys.stdout.isatty() else 2)
    if model.stop_training:   # only TerminateOnNaN stops us early
        shutil.rmtree(resume_dir, ignore_errors=True)   # a poisoned state is nothing to resume from
        raise UserError(f"training stopped at a NaN loss; {os.path.join(models_dir, name)}.keras is untouched. "
                        "Try a lower --lr.")

    history = pd.read_csv(os.path.join(resume_dir, "history.csv"))
    history = history.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)
    history["epoch"] += 1   # 1-based, as people count epochs
    best = os.path.join(resume_dir, "best.keras")
    if os.path.exists(best):   # the best-validation epoch's weights are the result
        model.load_weights(best)
    best_epoch = int(history.loc[history["val_accuracy" if has_val else "accuracy"].idxmax(), "epoch"])

    evaluation = {}
    for split, (xs, ys) in {"train": (x_tr, y_tr), "val": (x_va, y_va), "test": data.split("test")}.items():
        if len(ys) and ys.min() >= 0:
            loss, acc = model.evaluate(array_batches(xs, ys), verbose=0)
            evaluation[split] = {"loss": float(loss), "accuracy": float(acc), "n": int(len(ys))}
            if split != "train":   # the mirror-TTA number the report and README quote
                tta = predict_probs(model, xs, tta=True).argmax(1)
                evaluation[split]["accuracy_tta"] = float(np.mean(tta == ys))

    # Images/s of training alone; the first epoch also pays for tracing, so skip it when we can.
    train_s = timer.train_s[1:] or timer.train_s
    # Epoch times from the log, which a resumed run carries over: the whole run's, not this process's.
    epoch_s = history["seconds"].tolist() if "seconds" in history and history["seconds"].notna().all() \
        else timer.epoch_s
    record = {
        "name": name, "kind": kind, "config": {k: v for k, v in vars(args).items()},
        "data": {"source": data.source, "rows": data.counts(), "train_rows_used": int(len(y_tr))},
        "params": params, "precision": precision, "evaluation": evaluation,
        "epochs": int(history["epoch"].max()), "best_epoch": best_epoch,
        "train_seconds": round(float(sum(epoch_s)), 2),
        "seconds_per_epoch": round(float(np.mean(epoch_s[1:] or epoch_s)), 2),
        "train_images_per_second": round(len(y_tr) * len(train_s) / sum(train_s), 1),
        "layers": layer_table(model), "augmentation": augmentation_summary(model), "classes": CLASS_NAMES,
    }
    if kind == "dnn":
        record["widths"] = [int(l.units) for l in model.layers if l.name.startswith("dense_")]

    base = os.path.join(models_dir, name)
    save_model(portable(model), base + ".keras")
    with atomic_path(base + ".history.csv") as tmp:
        history.to_csv(tmp, index=False)
    plot_history(history, f"{kind.upper()} ({params['total']:,} parameters) on {_short(data.source)}",
                 os.path.join(args.figures_dir, f"{name}_history.png"))
    save_json(finish_record(record, t_start, script, argv), base + ".json")
    shutil.rmtree(resume_dir, ignore_errors=True)
    acc = ", ".join(f"{k} {v['accuracy']:.4f}" for k, v in evaluation.items())
    print(f"{kind}: {acc}; {record['train_images_per_second']} train img/s; wrote {base}.keras", file=sys.stderr)
    return record


def _best_so_far(resume_dir, monitor):
    import pandas as pd
    log = os.path.join(resume_dir, "history.csv")
    if not os.path.exists(log) or not os.path.exists(os.path.join(resume_dir, "best.keras")):
        return None
    values = pd.read_csv(log).get(monitor)
    return None if values is None or values.empty else float(values.max())


def _resume_dir(resume_dir, args):
    """The run's working folder; a leftover from a run with other settings is discarded.

    A flag the leftover's stamp does not know (a kit upgrade added it) did not
    exist for that run, so it was off: it counts as the same setting only when
    it is off now (0, False, None). Not "at its default": a new default, like
    the CNN's weight decay, must not slip into a run half done without it.
    """
    settings = {k: v for k, v in sorted(vars(args).items()) if k not in ("models_dir", "figures_dir")}
    stamp = os.path.join(resume_dir, "settings.json")
    if os.path.exists(stamp):
        saved = load_json(stamp)   # argparse values are JSON's own types
        saved.update({k: v for k, v in settings.items() if k not in saved and not v})
        if saved == settings:
            print(f"resuming from {resume_dir}", file=sys.stderr)
            return resume_dir
        print(f"discarding {resume_dir}: it was made with other settings", file=sys.stderr)
    shutil.rmtree(resume_dir, ignore_errors=True)
    os.makedirs(resume_dir)
    save_json(settings, stamp)
    return resume_dir


def _short(source):
    return "the built-in synthetic faces" if source == "synthetic" else os.path.basename(source)


def layer_table(model):
    """[(name, type, output shape, params)] for the report's architecture table."""
    rows = []
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        shape = tuple(layer.output.shape)[1:]
        rows.append([layer.name, layer.__class__.__name__, "x".join(str(s) for s in shape), int(layer.count_params())])
    return rows


def plot_history(history, title, dest):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric, label in ((axes[0], "loss", "loss (cross-entropy)"), (axes[1], "accuracy", "accuracy")):
        ax.plot(history["epoch"], history[metric], label="train", marker="o" if len(history) < 15 else None)
        if f"val_{metric}" in history:
            ax.plot(history["epoch"], history[f"val_{metric}"], label="validation",
                    marker="o" if len(history) < 15 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[1].set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, dest)
