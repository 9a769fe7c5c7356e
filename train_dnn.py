"""Train a plain DNN with as many parameters as the reference CNN (report question 2).

Flatten -> `--depth` ReLU dense layers -> Dense(7). The widths are solved
(ferlib.models.dnn_widths) so that the total parameter count is within 0.1%
of the CNN's 1,696,583: the comparison then isolates what convolution buys,
not what size buys. Same data, optimiser and outputs as train_cnn.py; its
own defaults, chosen on FER2013's PublicTest (docs/ablations.md):

- no augmentation: a dense layer has no translation invariance to learn from
  shifted copies; at 30 epochs, 0.335 with it against 0.403 without;
- no dropout: at 30 epochs, dropout 0.5 / 0.3 / 0.1 / 0 gave 0.371 / 0.403 /
  0.435 / 0.440 (0.437 and 0.447 for dropout 0.1 and 0 with seed 1);
- 30 epochs: the best epoch of those runs was 23-30 (2 minutes here).

    python train_dnn.py                     # default data, 30 epochs
    python train_dnn.py --depth 4 --dropout 0.2 --augment
"""

import sys

from ferlib import cli
from ferlib.models import build_cnn, build_dnn
from ferlib.train import add_train_args, run_training


def main(argv=None, callbacks=()):
    p = cli.parser(__doc__)
    cli.add_data_args(p)
    add_train_args(p, epochs=30, name="dnn", augment=False)
    p.add_argument("--depth", type=int, default=3, help="hidden dense layers (default: %(default)s)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout after each hidden layer (default: %(default)s)")
    args = p.parse_args(argv)
    target = build_cnn(augment=False).count_params()
    dnn = build_dnn(target, args.depth, args.dropout, augment=False).count_params()
    print(f"parameters: CNN {target:,}  DNN {dnn:,}  ({(dnn - target) / target:+.3%})", file=sys.stderr)
    def build():
        return build_dnn(target, args.depth, args.dropout, augment=args.augment, erase=args.erase)
    return run_training(args, build, "dnn", __file__, argv, callbacks)


if __name__ == "__main__":
    sys.exit(cli.run(main))
