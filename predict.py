"""Predict expressions for a file of faces: the course's Kaggle submission.

Reads the HW3 test file (`id,feature`) or any labelled form and writes
`id,label` rows, one per face, labels 0-6. With labels present (a labelled
file), it also prints the accuracy; for files without ids the row number is
the id. Several models given to --model predict as an ensemble: the mean of
their class probabilities, each over its test-time views.

    python predict.py --data data/test.csv --out submission.csv
    python predict.py --model models/cnn.keras --data data/test.csv --tta 18
    python predict.py --model a.keras b.keras c.keras --data data/test.csv --tta 18
"""

import csv
import os
import sys

import numpy as np

from ferlib import cli
from ferlib.data import UserError, load_fer2013
from ferlib.models import ensemble_probs, load_model
from ferlib.outputs import atomic_path, check_writable


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p, several=True)
    cli.add_data_args(p)
    p.add_argument("--split", choices=("test", "val", "train", "all"), default=None,
                   help="split of a labelled file to predict (default: test if it has rows, else val)")
    p.add_argument("--out", default="submission.csv", help="CSV to write, header id,label (default: %(default)s)")
    cli.add_tta_arg(p)
    args = p.parse_args(argv)
    if os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a folder; name the CSV file to write")
    check_writable(os.path.dirname(args.out) or ".")

    models = [load_model(path) for path in args.model]
    data = load_fer2013(args.data, seed=args.seed)
    split = args.split or ("test" if data.counts().get("test") else "val")
    x, y = data.split(split)
    if not len(x):
        raise UserError(f"{data.source}: its {split} split is empty; pick another with --split")
    ids = data.ids if data.ids is not None else np.arange(len(x))
    pred = ensemble_probs(models, x, tta=args.tta).argmax(1)
    with atomic_path(args.out) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows(zip(ids.tolist(), pred.tolist()))
    msg = f"wrote {len(pred)} predictions to {args.out}"
    accuracy = None
    if len(y) and y.min() >= 0:
        accuracy = float(np.mean(pred == y))
        msg += f"; accuracy on the {split} split {accuracy:.4f}" + (f" ({args.tta}-view TTA)" if args.tta > 1 else "") \
            + (f", ensemble of {len(models)}" if len(models) > 1 else "")
    print(msg)
    return {"out": args.out, "n": int(len(pred)), "split": split, "accuracy": accuracy, "models": args.model}


if __name__ == "__main__":
    sys.exit(cli.run(main))
