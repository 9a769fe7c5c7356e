"""The pieces of the fit loop that train_cnn.py and train_dnn.py share.

A trainer reads: parse the flags, load the data, set up precision and
devices, build and compile the model, fit, evaluate, save. The two trainers
differ only in the model they build and their defaults.

Resume: the run's working state lives in models/<name>.resume/ (see
ferlib.callbacks). Run the same command again after an interruption and
training continues from the last finished epoch; on success the folder is
removed.
"""

import argparse
import os
import contextlib
import shutil
import sys
import tempfile
import time
import zipfile
from functools import partial
from dataclasses import dataclass

import numpy as np

from ferlib import CLASS_NAMES, cli, tf_setup, training_code_fingerprint  # noqa: F401  (tf_setup: before keras, which imports tensorflow)
from ferlib.batches import Batches, array_batches
from ferlib.callbacks import AVERAGED, BEST, LAST_WEIGHTS, first_averaged_epoch, seed_random_layers, training_callbacks
from ferlib.data import UserError, load_fer2013
from ferlib.fused_bn import portable
from ferlib.losses import DistillationLoss, SparseSmoothedCrossentropy, label_accuracy
from ferlib.machine import distribution, pick_precision
from ferlib.models import augmentation_summary, ensemble_probs, load_model, mirror_tta, predict_probs
from ferlib.outputs import (atomic_path, check_writable, figure_paths, finish_record, git_state, load_json, pyplot,
                            save_figure, save_json, write_together)
from ferlib.words import FIGURE_WORDS, split_word, train_label

# Flags that say where a run writes or how it is started, not what it computes.
NOT_SETTINGS = ("models_dir", "figures_dir", "logs_dir", "precision_used", "restart", "force")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
DRY_RUN_BATCHES, DRY_RUN_VAL = 2, 64   # --dry-run: one epoch of this many batches, this many val images
# Distillation: the teachers' share of the loss and the temperature of a common strong setting on small
# image sets (0.9 and 4, as in Tian et al. 2020's CIFAR-100 comparisons); not tuned on FER2013.
DISTILL, TEMPERATURE = 0.9, 4.0


def add_train_args(p, epochs=100, batch_size=128, lr=1e-3, weight_decay=0.0, name="cnn", augment=True):
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training set (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help="images per step, all devices together: with several GPUs each gets its share. Grown k "
                        "times, raise --lr about k times too (the linear scaling rule) (default: %(default)s)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                   help="adam, or sgd: SGD with Nesterov momentum 0.9, the usual choice of FER2013's "
                        "published CNNs; give it a larger --lr, e.g. 0.01 (default: %(default)s)")
    p.add_argument("--lr", type=float, default=lr,
                   help="peak learning rate, decayed to 0 along half a cosine over the epochs (or see --plateau) "
                        "(default: %(default)s)")
    p.add_argument("--lr-warmup", type=int, default=0, metavar="EPOCHS",
                   help="a linear rise of the rate over the first EPOCHS epochs (--lr x epoch / (EPOCHS + 1), epochs "
                        "counted from 1), the "
                        "cosine from --lr over the rest: lets a higher peak start without diverging; about 30%% "
                        "of the epochs gives "
                        "one-cycle's shape of the rate (without its momentum cycle) (default: %(default)s)")
    p.add_argument("--plateau", action="store_true",
                   help="reduce-on-plateau instead of the cosine: --lr times 0.75 after every 5 epochs without "
                        "a better validation accuracy, the schedule of the best published single FER2013 CNN "
                        "(with --optimizer sgd)")
    p.add_argument("--weight-decay", type=float, default=weight_decay,
                   help="decoupled weight decay, as AdamW: each step multiplies every kernel by (1 - lr x this); "
                        "biases and batch norm's scale and shift are left alone (default: %(default)s)")
    p.add_argument("--ema", type=float, default=0.0, metavar="MOMENTUM",
                   help="validate, checkpoint and save an exponential moving average of the weights (Keras' "
                        "optimizer EMA; each step average = MOMENTUM x average + (1 - MOMENTUM) x weights), "
                        "0 = off; 0.999 averages over ~1,000 steps (default: %(default)s)")
    p.add_argument("--swa", type=float, default=0.0, metavar="FRACTION",
                   help="stochastic weight averaging: the saved model is the mean of the weights at the end of "
                        "each of the last FRACTION of the epochs, over which the rate is held at the cosine's "
                        "value where they start, with batch norm's statistics recomputed on the training set; "
                        "0 = off, 0.25 = the last quarter (default: %(default)s)")
    p.add_argument("--teacher", nargs="+", default=None, metavar="MODEL",
                   help="distil from these saved models (several: their mean, as predict.py's ensemble): the "
                        "loss mixes the labels' cross-entropy with the match to the teachers' probabilities at "
                        "--temperature (Hinton et al. 2015). The teachers see each training image and its "
                        "mirror once, before the first epoch, not the shifted copies the student trains on")
    p.add_argument("--distill", type=float, default=None, metavar="SHARE",
                   help="the teachers' share of the loss, 0 to 1 (default with --teacher: 0.9)")
    p.add_argument("--temperature", type=float, default=None,
                   help="softens the teachers' and the student's probabilities in the teachers' share of the "
                        "loss (default with --teacher: 4)")
    p.add_argument("--dropout-warmup", type=int, default=5,
                   help="epochs over which dropout rises linearly from 0 to the model's rates; the saved model "
                        "has the full rates (default: %(default)s)")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="share of each one-hot target spread over all classes, a usual remedy for noisy "
                        "labels (default: %(default)s)")
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
    cli.add_figures_arg(p, "the training curves go")
    p.add_argument("--logs-dir", default="logs",
                   help="TensorBoard logs go to LOGS_DIR/<name>/ (`tensorboard --logdir logs` shows every run's "
                        "curves side by side) (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images (quick runs)")
    p.add_argument("--force", action="store_true",
                   help="train even when models/<name>.json is a finished run of the same settings, training "
                        "code and data (without it, that run is reused: the command ends at once)")
    p.add_argument("--restart", action="store_true",
                   help="discard a half-done run of this name and start over (without it, a half-done run "
                        "resumes, and one made with other settings is refused)")
    p.add_argument("--dry-run", action="store_true",
                   help="smoke test: 1 epoch on 2 batches, written to a temporary folder, to check that "
                        "everything runs; models/ and figures/ are not touched")


def check_args(args):
    """Every flag's range, before anything is loaded or written: a UserError names the first bad one.

    A dry run's models and figures folders are pointed at a fresh temporary folder here, so a smoke
    test never touches a real model or a half-done run.
    """
    checks = [
        (args.epochs >= 1, "--epochs must be at least 1"),
        (args.batch_size >= 1, "--batch-size must be at least 1"),
        (args.lr > 0, "--lr must be above 0"),
        (args.weight_decay >= 0, "--weight-decay must be 0 or more"),
        (0 <= args.lr_warmup < args.epochs and not (args.lr_warmup and args.plateau),
         "--lr-warmup takes 0 (off) up to --epochs - 1 epochs, and shapes the cosine, not --plateau"),
        (0 <= args.ema < 1, "--ema takes a momentum from 0 (off) up to (not including) 1"),
        (args.dropout_warmup >= 0, "--dropout-warmup must be 0 or more"),
        (0 <= args.label_smoothing < 1, "--label-smoothing takes a share from 0 up to (not including) 1"),
        (args.mixup >= 0, "--mixup takes ALPHA >= 0 (0 = off)"),
        (0 <= args.erase <= 1 and (args.augment or not args.erase),
         "--erase takes a share from 0 to 1 and needs --augment"),
        (args.limit is None or args.limit >= 1, "--limit must be at least 1"),
        (0 <= args.swa < 1, "--swa takes a share of the epochs from 0 (off) up to (not including) 1"),
        (not args.swa or not (args.plateau or args.ema),
         "--swa holds the cosine's rate and averages the raw weights: it does not go with --plateau or --ema"),
        (args.teacher or (args.distill is None and args.temperature is None),
         "--distill and --temperature set how a student learns from --teacher; give the teacher models"),
        (args.distill is None or 0 <= args.distill <= 1, "--distill takes a share from 0 to 1"),
        (args.temperature is None or args.temperature > 0, "--temperature must be above 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    if args.teacher:   # set here, not as argparse defaults: a run without a teacher records them as off
        args.distill = DISTILL if args.distill is None else args.distill
        args.temperature = TEMPERATURE if args.temperature is None else args.temperature
    if args.dry_run:   # a smoke test must not overwrite a real model or touch a half-done run
        scratch = tempfile.mkdtemp(prefix="ferkit-dry-run-")
        args.models_dir, args.figures_dir, args.logs_dir = (os.path.join(scratch, d) for d in ("models", "figures",
                                                                                                "logs"))
        print(f"dry run: writing to {scratch}", file=sys.stderr)
    for folder in (args.models_dir, args.figures_dir):   # hours of training must not end in "cannot write"
        check_writable(folder)
    return args


# ---------------------------------------------------------------- the steps

@dataclass
class TrainingData:
    """The arrays one run uses: train and val (x uint8 (N,48,48), y int64), and every labelled split."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    splits: dict          # split name -> (x, y), for the final evaluation
    source: str
    rows: dict            # rows per split in the file
    usage: bool = False   # splits from Kaggle's Usage column (Training, PublicTest, PrivateTest)
    split_info: dict = None   # how val was drawn (ferlib.data.FERData.split_info)


def load_training_data(args):
    """The training and validation arrays of args.data, cut by --limit and --dry-run."""
    data = load_fer2013(args.data, split_seed=args.split_seed)
    x_tr, y_tr = data.labelled("train")
    x_va, y_va = data.split("val")
    if args.limit:
        x_tr, y_tr = x_tr[:args.limit], y_tr[:args.limit]
    if args.dry_run:
        n = DRY_RUN_BATCHES * args.batch_size
        x_tr, y_tr, x_va, y_va = x_tr[:n], y_tr[:n], x_va[:DRY_RUN_VAL], y_va[:DRY_RUN_VAL]
    splits = {"train": (x_tr, y_tr), "val": (x_va, y_va), "test": data.split("test")}
    return TrainingData(x_tr, y_tr, x_va, y_va, splits, data.source, data.counts(), data.usage, data.split_info)


def setup(args):
    """Precision policy and seeds set; returns the distribution strategy to build the model under."""
    import keras
    git_state()  # the record names the code this process starts with
    strategy = distribution()
    args.precision_used = pick_precision(args.precision)
    keras.mixed_precision.set_global_policy(args.precision_used)
    keras.utils.set_random_seed(args.seed)
    return strategy


def make_optimizer(args):
    """Adam or Nesterov SGD at args.lr (the schedule callback sets it per epoch), with decoupled weight decay
    and, with --ema, a moving average of the weights."""
    import keras
    decay = args.weight_decay or None
    ema = dict(use_ema=True, ema_momentum=args.ema) if args.ema else {}
    optimizer = (keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True, weight_decay=decay, **ema)
                 if args.optimizer == "sgd" else keras.optimizers.Adam(args.lr, weight_decay=decay, **ema))
    if decay:   # the usual exclusions: biases and batch norm's gamma and beta are few, and shift or scale only
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def compile_model(model, args):
    """Optimizer, loss and accuracy; with mixup or a teacher, a loss and an accuracy that read soft targets too."""
    import keras
    soft = args.label_smoothing or args.mixup
    loss = (DistillationLoss(args.temperature, args.distill, args.label_smoothing) if args.teacher
            else SparseSmoothedCrossentropy(args.label_smoothing) if soft else "sparse_categorical_crossentropy")
    model.compile(optimizer=make_optimizer(args), loss=loss,
                  metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")]
                  if args.mixup or args.teacher else ["accuracy"])
    return model


def fit(model, data, args, extra_callbacks=()):
    """Train (resuming a half-done run of the same settings); the model ends with its last epoch's weights.

    Returns the whole run's history (epochs 1-based), the resumed part included.
    """
    epochs = 1 if args.dry_run else args.epochs
    kind = model.name
    print(f"{kind}: {model.count_params():,} parameters; {len(data.y_train):,} train / {len(data.y_val):,} val "
          f"images from {data.source}; {args.precision_used}; {epochs} epoch{'s' * (epochs != 1)}", file=sys.stderr)
    resume_dir = start_or_resume(args)
    monitor = "val_accuracy" if len(data.y_val) else "accuracy"
    last = os.path.join(resume_dir, LAST_WEIGHTS)
    if os.path.exists(last):   # killed after its last epoch: evaluate and save, do not retrain
        print(f"{resume_dir}: training had finished; evaluating and saving", file=sys.stderr)
        # Built first, the optimizer takes its state from the file too: the saved model is then the
        # uninterrupted run's, optimizer included (unbuilt, Keras would skip that state with a warning).
        with strategy_of(model).scope():   # mirrored variables, under a MirroredStrategy
            model.optimizer.build(model.trainable_variables)
        model.load_weights(last)
        return read_history(resume_dir)
    teacher = teacher_targets(args, data.x_train) if args.teacher else None
    batches = Batches(data.x_train, data.y_train, args.batch_size, args.seed, args.mixup, teacher)
    callbacks = training_callbacks(batches, resume_dir, args, epochs, monitor) + list(extra_callbacks)
    model.fit(batches.dataset, shuffle=False, epochs=epochs, callbacks=callbacks,
              validation_data=array_batches(data.x_val, data.y_val) if len(data.y_val) else None,
              verbose=1 if sys.stdout.isatty() else 2)
    if model.stop_training:   # only TerminateOnNaN stops early
        shutil.rmtree(resume_dir, ignore_errors=True)   # a poisoned state is nothing to resume from
        raise UserError(f"training stopped at a NaN loss; {os.path.join(args.models_dir, args.name)}.keras "
                        "is untouched. Try a lower --lr.")

    return read_history(resume_dir)


def teacher_targets(args, x):
    """The teachers' probabilities for each training image, softened at --temperature: the mean over the
    teachers and over the image and its mirror, computed once before training (the student's random
    shifts are not shown to the teachers: a shift of a few pixels barely moves a CNN's output, and a
    teacher pass per batch would cost as much as the student's own forward pass, per teacher)."""
    t0 = time.perf_counter()
    probs = ensemble_probs([load_model(path) for path in args.teacher], x, tta=2)
    soft = np.log(np.clip(probs, 1e-7, 1)) / args.temperature
    soft = np.exp(soft - soft.max(1, keepdims=True))
    print(f"teachers: {len(args.teacher)} model{'s' * (len(args.teacher) > 1)} on {len(x):,} training images and "
          f"their mirrors in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return (soft / soft.sum(1, keepdims=True)).astype(np.float32)


def strategy_of(model):
    """The tf.distribute strategy the model was built under (one device on Keras' other backends)."""
    from ferlib.machine import OneDevice
    return getattr(model, "distribute_strategy", None) or OneDevice()


def read_history(resume_dir):
    """The run's CSV log, one row per epoch (the last copy of a repeated one), epochs counted from 1."""
    import pandas as pd
    history = pd.read_csv(os.path.join(resume_dir, "history.csv"))
    history = history.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)
    history["epoch"] += 1   # 1-based, as people count epochs
    return history


@contextlib.contextmanager
def one_run_at_a_time(args):
    """Hold models/<name>.lock while the run trains and saves; a second run of the name is refused.

    The operating system releases the lock when the process ends, killed or not.
    """
    os.makedirs(args.models_dir, exist_ok=True)
    path = os.path.join(args.models_dir, f"{args.name}.lock")
    with open(path, "a") as f:
        try:
            import fcntl
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:   # Windows: no flock; runs are not guarded there
            pass
        except BlockingIOError:
            raise UserError(f"another run named {args.name!r} is training in {args.models_dir} ({path} is "
                            "locked); wait for it, or pick another --name") from None
        yield


def load_result(model, args, history, data):
    """The run's result into model: with --swa the weight average, else the best validation epoch's weights.

    True if that changed the model (its evaluation must be redone).
    """
    if not args.swa:
        return load_best(model, args, history)
    average_epochs(model, os.path.join(resume_folder(args), AVERAGED))
    # Augmentation and dropout draw as in an epoch after the last: the same statistics after a resume.
    seed_random_layers(model, args.seed, int(history["epoch"].max()))
    recompute_batch_norm(model, data.x_train, args.batch_size)
    return True


def average_epochs(model, folder):
    """The model's trainable weights set to their mean over the epochs' files in folder (KeepEpochWeights).

    The rest (batch norm's statistics, the optimizer's state) is the last file's, then recomputed.
    """
    import glob
    files = sorted(glob.glob(os.path.join(folder, "epoch_*.weights.h5")))
    if not model.optimizer.built:   # a file holds the optimizer's state too, which an unbuilt one skips
        with strategy_of(model).scope():
            model.optimizer.build(model.trainable_variables)
    total = None
    for path in files:
        model.load_weights(path)
        weights = [np.asarray(v.numpy(), np.float64) for v in model.trainable_variables]
        total = weights if total is None else [t + w for t, w in zip(total, weights)]
    for v, t in zip(model.trainable_variables, total):
        v.assign((t / len(files)).astype(v.dtype))
    print(f"weights averaged over {len(files)} epochs", file=sys.stderr)


def recompute_batch_norm(model, x, batch_size):
    """Batch norm's moving statistics set to the mean over the training batches of each batch's own, the
    model running as in training (augmentation and dropout on).

    Averaged weights need statistics of their own: the moving averages belong to no one epoch's weights
    (Izmailov et al. 2018, as torch.optim.swa_utils.update_bn). A momentum of k/(k+1) at batch k makes
    Keras' moving average the plain mean.
    """
    import keras
    norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    if not norms:
        return
    momenta = [l.momentum for l in norms]
    for l in norms:
        l.moving_mean.assign(np.zeros(l.moving_mean.shape))
        l.moving_variance.assign(np.zeros(l.moving_variance.shape))
    for k, start in enumerate(range(0, len(x), batch_size)):
        for l in norms:
            l.momentum = k / (k + 1)
        model(x[start:start + batch_size, :, :, None].astype(np.float32), training=True)
    for l, m in zip(norms, momenta):
        l.momentum = m


def load_best(model, args, history):
    """The best validation epoch's weights into model: they are the run's result.

    True if that changed the model; False when the last epoch was the best (its
    weights are already in place) or nothing was checkpointed.
    """
    best = os.path.join(resume_folder(args), BEST)
    monitor = "val_accuracy" if "val_accuracy" in history else "accuracy"
    # idxmax takes the first of equal values, as the checkpoint keeps the first (it saves on improvement only).
    if not os.path.exists(best) or history.loc[history[monitor].idxmax(), "epoch"] == history["epoch"].max():
        return False
    model.load_weights(best)
    return True


def evaluate(model, data):
    """Loss and accuracy on every labelled split, and mirror-TTA accuracy on the held-out ones."""
    import keras
    evaluation = {}
    for split, (xs, ys) in data.splits.items():
        if not len(ys) or ys.min() < 0:
            continue
        if split == "train":
            loss, acc = model.evaluate(array_batches(xs, ys), verbose=0)
            evaluation[split] = {"loss": float(loss), "accuracy": float(acc), "n": int(len(ys))}
            continue
        # Held out: the plain pass gives loss and accuracy, and TTA reuses it (two passes, not three).
        probs = predict_probs(model, xs)
        loss = keras.ops.mean(keras.losses.get(model.loss)(ys, probs))
        evaluation[split] = {"loss": float(loss), "accuracy": float(np.mean(probs.argmax(1) == ys)),
                             "n": int(len(ys)), "accuracy_tta": float(np.mean(mirror_tta(model, xs, probs).argmax(1) == ys))}
    return evaluation


def save_run(model, history, evaluation, last_epoch, data, args, t0, script, argv):
    """Write models/<name>.keras, .history.csv, .json and figures/<name>_history.png; remove the resume folder.

    evaluation is the best epoch's model's (the one saved), last_epoch the last epoch's.
    Returns the run record.
    """
    kind = model.name
    saved = portable(model)   # stock Keras layers: what the .keras file holds and the report's table shows
    # Images/s of training alone; the first epoch also pays for tracing, so it is skipped when possible.
    train_s = history["train_seconds"].tolist() if "train_seconds" in history else []
    train_s = [s for s in train_s[1:] or train_s if s == s]   # NaN: an epoch logged by an older kit
    epoch_s = history["seconds"].tolist()
    monitor = "val_accuracy" if "val_accuracy" in history else "accuracy"
    record = {
        "name": args.name, "kind": kind,
        "config": {k: v for k, v in vars(args).items() if k != "precision_used"},
        "data": {"source": data.source, "usage": data.usage, "split": data.split_info, "rows": data.rows,
                 "train_rows_used": int(len(data.y_train)),
                 "class_counts": {split: np.bincount(ys[ys >= 0], minlength=len(CLASS_NAMES)).tolist()
                                  for split, (_, ys) in data.splits.items()}},
        "params": {"total": model.count_params(),
                   "trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
                   "non_trainable": int(sum(np.prod(w.shape) for w in model.non_trainable_weights))},
        "precision": args.precision_used,
        "distribution": {"strategy": type(strategy_of(model)).__name__.replace("_DefaultDistributionStrategy",
                                                                                "default"),
                         "replicas": int(strategy_of(model).num_replicas_in_sync)},
        "evaluation": evaluation, "evaluation_last_epoch": last_epoch,
        "epochs": int(history["epoch"].max()), "best_epoch": int(history.loc[history[monitor].idxmax(), "epoch"]),
        "train_seconds": round(float(np.nansum(epoch_s)), 2),
        "seconds_per_epoch": round(float(np.nanmean(epoch_s[1:] or epoch_s)), 2),
        "train_images_per_second": round(len(data.y_train) * len(train_s) / sum(train_s), 1) if train_s else None,
        "layers": layer_table(saved), "augmentation": augmentation_summary(model), "classes": CLASS_NAMES,
        "training_code": training_code_fingerprint(script),
    }
    if args.swa:
        epochs = int(history["epoch"].max())
        record["swa_epochs"] = [first_averaged_epoch(epochs, args.swa) + 1, epochs]   # averaged, 1-based
    if kind == "dnn":
        record["widths"] = [int(l.units) for l in model.layers if l.name.startswith("dense_")]

    base = os.path.join(args.models_dir, args.name)
    write_together([(base + ".keras", saved.save),
                    (base + ".history.csv", partial(history.to_csv, index=False)),
                    *history_figures(record, history, args.figures_dir),
                    (base + ".json", partial(save_json, with_starts(finish_record(record, t0, script, argv), args)))])
    shutil.rmtree(resume_folder(args), ignore_errors=True)
    acc = ", ".join(f"{k} {v['accuracy']:.4f}" for k, v in evaluation.items())
    print(f"{kind}: {acc}; {record['train_images_per_second']} train img/s; wrote {base}.keras", file=sys.stderr)
    return record


# ---------------------------------------------------------------- resume folder

def settings_of(args):
    """The flags that decide what a run computes (where it writes, and how it is started, left out)."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in NOT_SETTINGS}


def same_settings(saved, settings):
    """A flag the saved settings do not know (a kit upgrade added it) did not exist for that run, so it was
    off: it counts as the same setting only when it is off now (0, False, None). Not "at its default": a
    new default, like the CNN's weight decay, must not slip into a run made without it."""
    saved = {k: v for k, v in saved.items() if k not in NOT_SETTINGS}
    saved.update({k: v for k, v in settings.items() if k not in saved and not v})
    return saved == settings, saved


def finished_run(args, data, script):
    """The record in models/<name>.json when it is a finished run of these settings, training code and data;
    else None. Its date is renewed, so make sees it newer than its inputs again.

    A rerun (make after a checkout, a touched file) then costs seconds, not the hours of training again;
    --force trains anyway.
    """
    path = os.path.join(args.models_dir, f"{args.name}.json")
    if args.force or args.dry_run or not os.path.exists(path[:-len(".json")] + ".keras"):
        return None
    try:
        record = load_json(path)
    except (OSError, ValueError):
        return None
    same, _ = same_settings(record.get("config", {}), settings_of(args))
    done = record.get("data", {})
    if not (same and record.get("training_code") == training_code_fingerprint(script)
            and done.get("source") == data.source and done.get("rows") == data.rows
            and done.get("split") == data.split_info):
        return None
    os.utime(path)
    print(f"{path}: a finished run of these settings, training code and data; reused (--force trains again)",
          file=sys.stderr)
    return record


def note_start(resume_dir):
    """Add this process's start (date, commit, uncommitted changes) to the run's list of starts."""
    path = os.path.join(resume_dir, "starts.json")
    try:
        starts = load_json(path)
    except (OSError, ValueError):
        starts = []
    commit, dirty = git_state()
    save_json(starts + [{"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "git_commit": commit, "git_dirty": dirty}],
              path)


def with_starts(record, args):
    """The record's provenance from the run's starts: the commit it started at, each restart's listed."""
    try:
        starts = load_json(os.path.join(resume_folder(args), "starts.json"))
    except (OSError, ValueError):
        return record
    env = record["environment"]
    env["git_commit"], env["git_dirty"] = starts[0]["git_commit"], any(s["git_dirty"] for s in starts)
    env["starts"] = starts
    return record


def resume_folder(args):
    return os.path.join(args.models_dir, f"{args.name}.resume")


def start_or_resume(args):
    """The run's working folder: resumed when its settings match (same_settings), else made afresh.
    Each start is noted in it (note_start)."""
    resume_dir = resume_folder(args)
    settings = settings_of(args)
    stamp = os.path.join(resume_dir, "settings.json")
    if os.path.exists(stamp) and not args.restart:
        try:
            saved = load_json(stamp)   # argparse values are JSON's own types
        except ValueError:
            saved = None
        if saved is None:
            print(f"discarding {resume_dir}: its settings file is damaged", file=sys.stderr)
        else:
            same, saved = same_settings(saved, settings)
            if same:
                print(f"resuming from {resume_dir}", file=sys.stderr)
                repair_resume_folder(resume_dir)
                note_start(resume_dir)
                return resume_dir
            # "off": a flag the run's kit did not have (give 0 to match it); a changed default shows here too
            changed = ", ".join(f"--{k.replace('_', '-')} {'off' if saved.get(k) is None else saved[k]} -> {v}"
                                for k, v in settings.items() if saved.get(k) != v)
            raise UserError(f"{resume_dir} holds a half-done run with other settings ({changed}); give the "
                            "settings left of each arrow to resume it, or add --restart to discard it")
    elif os.path.exists(resume_dir):
        print(f"discarding {resume_dir}" + (" (--restart)" if args.restart else ": it has no settings file"),
              file=sys.stderr)
    shutil.rmtree(resume_dir, ignore_errors=True)
    os.makedirs(resume_dir)
    save_json(settings, stamp)
    note_start(resume_dir)
    return resume_dir


def repair_resume_folder(resume_dir):
    """Mend what a kill or a damaged disk left in a half-done run; each repair is one line on stderr.

    The log is cut to its last whole line; a backup that does not read is replaced by the one before
    it (Keras keeps two), or dropped when neither reads; a damaged best or last checkpoint is dropped.
    """
    say = lambda what: print(f"{resume_dir}: {what}", file=sys.stderr)
    log = os.path.join(resume_dir, "history.csv")
    if os.path.exists(log):
        with open(log, "rb") as f:
            text = f.read()
        if text and not text.endswith(b"\n"):
            with atomic_path(log) as tmp, open(tmp, "wb") as f:
                f.write(text[:text.rfind(b"\n") + 1])
            say("history.csv ended in a torn line (killed while logging?); it is cut to its last whole line")
    backup = os.path.join(resume_dir, "backup")
    pair = [os.path.join(backup, n) for n in ("latest.weights.h5", "training_metadata.json")]
    if os.path.exists(pair[0]) and not _backup_reads(*pair):
        if _backup_reads(*(p + ".bkp" for p in pair)):
            for p in pair:
                shutil.copyfile(p + ".bkp", p)
            say("the last backup is damaged (killed while it was written?); resuming from the one before it")
        else:
            shutil.rmtree(backup)
            say("the backup is damaged and has no readable copy; training starts again from epoch 1")
    for name, consequence in ((BEST, "the best epoch is chosen among the epochs still to run"),
                              (LAST_WEIGHTS, "training goes on from the last backup, if there is one")):
        path = os.path.join(resume_dir, name)
        if os.path.exists(path) and not (zipfile.is_zipfile(path) if name.endswith(".keras") else _h5_reads(path)):
            os.remove(path)
            say(f"{name} is damaged and is dropped; {consequence}")


def _h5_reads(path):
    import h5py
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def _backup_reads(weights, metadata):
    try:
        return _h5_reads(weights) and isinstance(load_json(metadata)["epoch"], int)
    except (OSError, ValueError, KeyError, TypeError):
        return False


# ---------------------------------------------------------------- record and curves

def layer_table(model):
    """[(name, type, output shape, params, detail)] for the report's architecture table.

    detail: kernel size and activation of a conv layer, units and activation of
    a dense one, a dropout layer's rate, the augmentation's steps.
    """
    rows = []
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        c = layer.get_config()
        if "kernel_size" in c:
            detail = f"{'x'.join(map(str, c['kernel_size']))}, {c['activation']}"
        elif "units" in c:
            detail = c["activation"]
        elif "rate" in c:
            detail = f"rate {c['rate']}"
        elif layer.name == "augment":
            detail = augmentation_summary(model)
        else:
            detail = ""
        shape = tuple(layer.output.shape)[1:]
        rows.append([layer.name, layer.__class__.__name__, "x".join(str(s) for s in shape),
                     int(layer.count_params()), detail])
    return rows


def history_figures(record, history, figures_dir):
    """[(figures/<name>_history[.lang].png, writer)] for a run's curves in each figure language."""
    source = record["data"]["source"]
    figures = []
    for lang, path in figure_paths(os.path.join(figures_dir, f"{record['name']}_history.png")):
        words = FIGURE_WORDS[lang]
        title = words["history_title"].format(
            kind=record["kind"].upper(), params=record["params"]["total"],
            source=words["synthetic_source"] if source == "synthetic" else os.path.basename(source))
        figures.append((path, partial(plot_history, history, title, train_line=train_label(lang, record),
                                      val_line=split_word(lang, "val", record["data"].get("usage")), lang=lang)))
    return figures


def plot_history(history, title, dest, train_line, val_line, lang="en"):
    """Loss and accuracy per epoch, the best validation epoch marked; page width."""
    plt = pyplot()
    w = FIGURE_WORDS[lang]
    fig, axes = plt.subplots(1, 2, figsize=(6.5, 2.6))
    monitor = "val_accuracy" if "val_accuracy" in history else "accuracy"
    best = int(history.loc[history[monitor].idxmax(), "epoch"])
    marker = "o" if len(history) < 15 else None
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(history["epoch"], history[metric], label=train_line, marker=marker, ms=3)
        if f"val_{metric}" in history:
            ax.plot(history["epoch"], history[f"val_{metric}"], label=val_line, marker=marker, ms=3)
        ax.axvline(best, color="gray", ls="--", lw=0.8, label=w["best_epoch"].format(epoch=best))
        ax.set_xlabel(w["epoch"])
        ax.xaxis.get_major_locator().set_params(integer=True)   # epochs are whole numbers
        ax.set_ylabel(w[metric])
        ax.grid(alpha=0.3)
    axes[1].set_ylim(0, 1)
    axes[1].legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, dest)
