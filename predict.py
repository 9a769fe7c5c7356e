"""Predict expressions for a file of faces: the course's Kaggle submission, or a model's accuracy.

On faces without labels (the HW3 test file, `id,feature`) it writes `id,label`
rows, one per face, labels 0-6, to --out (default submission.csv). On a
labelled split (--split val, or a labelled file) it is an evaluation: it prints
the accuracy and writes nothing unless --out is given (then the row number is
the id where the file has none). Several models given to --model predict as an
ensemble: the mean of their class probabilities, each over its test-time views.
The validation split is the one the models' run records name.

    python predict.py --data data/test.csv                     # -> submission.csv
    python predict.py --model models/cnn.keras --data data/test.csv --tta 18 --out cnn_tta.csv
    python predict.py --model a.keras b.keras c.keras --split val --tta 18   # accuracy only
"""

import csv
import os
import sys

import numpy as np

from ferlib import cli
from ferlib.data import UserError
from ferlib.records import load_for_models
from ferlib.models import ensemble_probs, load_model
from ferlib.outputs import atomic_path, check_writable

SUBMISSION = "submission.csv"   # what Kaggle's HW3 competition takes


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p, several=True)
    cli.add_data_args(p)
    p.add_argument("--split", choices=("test", "val", "train", "all"), default=None,
                   help="split of a labelled file to predict (default: test if it has rows, else val)")
    p.add_argument("--out", default=None,
                   help=f"CSV to write, header id,label (default: {SUBMISSION} for faces without labels; "
                        "nothing for a labelled split, whose accuracy is printed)")
    cli.add_tta_arg(p)
    args = p.parse_args(argv)
    if args.out is not None:
        if os.path.isdir(args.out):
            raise UserError(f"--out {args.out} is a folder; name the CSV file to write")
        check_writable(os.path.dirname(args.out) or ".")

    models = [load_model(path) for path in args.model]
    data = load_for_models(args.model, args.data, args.split_seed)
    split = args.split or ("test" if data.counts().get("test") else "val")
    x, y = data.split(split)
    if not len(x):
        raise UserError(f"{data.source}: its {split} split is empty; pick another with --split")
    ids = data.ids if data.ids is not None else np.arange(len(x))
    labelled = bool(len(y)) and y.min() >= 0
    out = args.out or (None if labelled else SUBMISSION)
    if out is not None:
        check_writable(os.path.dirname(out) or ".")
    pred = ensemble_probs(models, x, tta=args.tta).argmax(1)
    said = []
    if out is not None:
        with atomic_path(out) as tmp:
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", "label"])
                w.writerows(zip(ids.tolist(), pred.tolist()))
        said.append(f"wrote {len(pred)} predictions to {out}")
    accuracy = float(np.mean(pred == y)) if labelled else None
    if labelled:
        said.append(f"accuracy on the {split} split ({len(y):,} faces) {accuracy:.4f}"
                    + (f" ({args.tta}-view TTA)" if args.tta > 1 else "")
                    + (f", ensemble of {len(models)}" if len(models) > 1 else ""))
    print("; ".join(said))
    return {"out": out, "n": int(len(pred)), "split": split, "accuracy": accuracy, "models": args.model}


if __name__ == "__main__":
    sys.exit(cli.run(main))
