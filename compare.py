"""Is model A better than model B? Both on the same labelled faces, and their difference with a paired interval.

Two accuracies on one test set are not independent: most faces are right
(or wrong) for both models, and only the faces where they disagree decide the
difference. So the interval is a paired bootstrap over the faces: each
resample draws the faces with replacement and keeps each face's pair of
outcomes. It measures how much the difference would move with other faces
of the same kind; it says nothing about how much it moves with the training
seed (train both recipes on several seeds for that: sweep.py).

    python compare.py --model models/cnn_a.keras models/cnn_b.keras --data data/fer2013.csv
    python compare.py --model models/cnn_a.keras pretrained/cnn_fer2013.keras --data data/fer2013.csv --tta 18
"""

import argparse
import sys

import numpy as np

from ferlib import cli
from ferlib.data import UserError
from ferlib.records import load_for_models
from ferlib.models import ensemble_probs, load_model

RESAMPLES = 10_000


def paired_difference(right_a, right_b, resamples=RESAMPLES, seed=0):
    """Accuracy of A minus B over the same faces, with the 95% paired bootstrap interval: (diff, lo, hi).

    A face contributes +1 (only A right), -1 (only B right) or 0, so a resample's difference is fixed by how
    many faces of each kind it draws: one multinomial draw per resample, exactly the bootstrap over faces.
    """
    right_a, right_b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    n = len(right_a)
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    draws = np.random.default_rng(seed).multinomial(n, [only_a / n, only_b / n, 1 - (only_a + only_b) / n], resamples)
    diffs = (draws[:, 0] - draws[:, 1]) / n
    return (only_a - only_b) / n, float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--model", nargs=2, metavar=("A", "B"), help="the two saved .keras models, A and B")
    p.add_argument("models", nargs="*", help=argparse.SUPPRESS)   # the older spelling: A B without --model
    cli.add_data_args(p)
    p.add_argument("--split", choices=("test", "val", "train"), default="val",
                   help="labelled split both models predict (default: %(default)s)")
    cli.add_tta_arg(p)
    args = p.parse_args(argv)
    paths = args.model or args.models
    if len(paths) != 2 or (args.model and args.models):
        p.error("give the two models as --model A B")
    models = [load_model(path) for path in paths]
    data = load_for_models(paths, args.data, args.split_seed)
    x, y = data.split(args.split)
    if not len(x) or y.min() < 0:
        raise UserError(f"{data.source}: its {args.split} split has no labelled faces; pick another with --split")

    right_a, right_b = ((ensemble_probs([m], x, tta=args.tta).argmax(1) == y) for m in models)
    diff, lo, hi = paired_difference(right_a, right_b)
    views = f", {args.tta}-view TTA" if args.tta > 1 else ""
    print(f"{args.split} split, {len(y):,} faces{views}: A {right_a.mean():.4f}, B {right_b.mean():.4f}; "
          f"A - B {diff:+.4f} [{lo:+.4f}, {hi:+.4f}] (95% paired bootstrap, {RESAMPLES:,} resamples); "
          f"only A right on {np.sum(right_a & ~right_b):,} faces, only B on {np.sum(~right_a & right_b):,}")
    return {"n": len(y), "accuracy_a": float(right_a.mean()), "accuracy_b": float(right_b.mean()),
            "difference": diff, "interval": [lo, hi]}


if __name__ == "__main__":
    sys.exit(cli.run(main))
