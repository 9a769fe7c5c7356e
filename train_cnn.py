"""Train the reference CNN on FER2013 (report question 1).

The network is the homework's reference: three blocks of three 3x3 conv
layers with batch norm (32, 64, 128 filters), max pooling and dropout after
each block, then Dense 256 -> 128 -> 7: exactly 1,696,583 parameters. It is
trained with on-the-fly augmentation (mirror, shift), Adam with a cosine
learning-rate decay and decoupled weight decay 0.3 (as AdamW), in bfloat16
where the CPU supports it. Its dropout is warmed up over the first 5 epochs:
at full rates from the first step the network sits at the majority class for
epochs on FER2013. Why these defaults: docs/ablations.md.

Writes models/<name>.keras, models/<name>.json (the run record: data, flags,
accuracies, timings), models/<name>.history.csv and figures/<name>_history.png.
Interrupted? Run the same command again: it resumes from the last epoch.

    python train_cnn.py                         # default data, 100 epochs
    python train_cnn.py --data data/fer2013.csv --epochs 30
    python train_cnn.py --dry-run               # one quick smoke step
"""

import sys
import time

from ferlib import cli, train
from ferlib.data import UserError
from ferlib.models import build_cnn


def parse_args(argv=None):
    p = cli.parser(__doc__)
    cli.add_data_args(p, trainer=True)
    cli.add_seed_arg(p, "the weights, the shuffling and the augmentation")
    train.add_train_args(p, weight_decay=0.3, name="cnn")
    p.add_argument("--dense-dropout", type=float, default=0.5,
                   help="dropout after each of the two hidden dense layers; the reference fixes where "
                        "dropout goes, not its rates (default: %(default)s)")
    args = p.parse_args(argv)
    if not 0 <= args.dense_dropout < 1:
        raise UserError("--dense-dropout takes a rate from 0 up to (not including) 1")
    return train.check_args(args)


def main(argv=None, callbacks=()):
    args = parse_args(argv)
    t0 = time.perf_counter()
    strategy = train.setup(args)
    data = train.load_training_data(args)
    reused = train.finished_run(args, data, __file__)
    if reused:
        return reused
    with strategy.scope():
        model = build_cnn(augment=args.augment, erase=args.erase, dense_dropout=args.dense_dropout)
        train.compile_model(model, args)
    with train.one_run_at_a_time(args):
        history = train.fit(model, data, args, callbacks)
        last_epoch = train.evaluate(model, data)
        evaluation = train.evaluate(model, data) if train.load_result(model, args, history, data) else last_epoch
        return train.save_run(model, history, evaluation, last_epoch, data, args, t0, __file__, argv)


if __name__ == "__main__":
    sys.exit(cli.run(main))
