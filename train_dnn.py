"""Train a plain DNN with as many parameters as the reference CNN (report question 2).

Flatten -> `--depth` ReLU dense layers -> Dense(7). The widths are solved
(ferlib.models.dnn_widths) so that the total parameter count is within 0.1%
of the CNN's 1,696,583: the comparison then isolates what convolution buys,
not what size buys. Same data, optimiser and outputs as train_cnn.py, with
defaults of its own, chosen on FER2013's PublicTest (docs/ablations.md):
no augmentation (a dense layer has no translation invariance to learn from
shifted copies), no dropout, decoupled weight decay 0.3 (the one
regulariser that helped, and only given more than 30 epochs), 60 epochs.

    python train_dnn.py                     # default data, 60 epochs
    python train_dnn.py --depth 4 --dropout 0.2 --augment
"""

import argparse
import sys
import time

from ferlib import cli, train
from ferlib.data import UserError
from ferlib.models import build_cnn, build_dnn


def parse_args(argv=None):
    p = cli.parser(__doc__)
    cli.add_data_args(p, trainer=True)
    cli.add_seed_arg(p, "the weights, the shuffling and the augmentation")
    train.add_train_args(p, epochs=60, weight_decay=0.3, name="dnn", augment=False)
    p.add_argument("--depth", type=int, default=3, help="hidden dense layers (default: %(default)s)")
    # The older spelling, kept hidden
    p.add_argument("--dropout", type=float, dest="dropout", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--dense-dropout", type=float, dest="dropout", default=0.0,
                   help="dropout rate after each hidden layer, 0 up to (not including) 1 (default: %(default)s)")
    args = train.check_args(p.parse_args(argv))
    if args.depth < 1:
        raise UserError("--depth must be at least 1")
    if not 0 <= args.dropout < 1:
        raise UserError("--dense-dropout takes a rate from 0 up to (not including) 1")
    return args


def main(argv=None, callbacks=()):
    args = parse_args(argv)
    t0 = time.perf_counter()
    target = build_cnn(augment=False).count_params()   # before the seeds: drawing the CNN's weights must not
    strategy = train.setup(args)                         # change the DNN's
    data = train.load_training_data(args)
    reused = train.finished_run(args, data, __file__)
    if reused:
        return reused
    with strategy.scope():
        model = build_dnn(target, args.depth, args.dropout, augment=args.augment, erase=args.erase)
        train.compile_model(model, args)
    print(f"parameters: CNN {target:,}  DNN {model.count_params():,}  "
          f"({(model.count_params() - target) / target:+.3%})", file=sys.stderr)
    with train.one_run_at_a_time(args):
        history = train.fit(model, data, args, callbacks)
        last_epoch = train.evaluate(model, data)
        evaluation = train.evaluate(model, data) if train.load_result(model, args, history, data) else last_epoch
        return train.save_run(model, history, evaluation, last_epoch, data, args, t0, __file__, argv)


if __name__ == "__main__":
    sys.exit(cli.run(main))
