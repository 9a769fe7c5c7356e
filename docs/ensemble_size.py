"""How far do more members take the ensemble? (docs/ablations.md)

Every subset of the given models is scored as predict.py scores an
ensemble (the mean of the members' class probabilities, each over its
test-time views): the mean accuracy and log loss at each size k. Members of
one recipe are exchangeable, and the k-member mean roughly follows
A - B/k, whose A is where any number of such members levels off; the fit
and its forecast for a few more members are printed. How rough: on
simulated members that gain 2-5 points from one to five, as the shipped
CNNs do, the fit on five lands within 0.008 of what 65 reach
(tests/test_compare.py). Each --add model
is scored beside all the --model ones: does a member of another recipe add
what one more seed would?

    python docs/ensemble_size.py --model pretrained/cnn_fer2013.keras pretrained/ensemble/*.keras --data data/fer2013.csv --tta
"""

import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ferlib import UserError, cli  # noqa: E402
from ferlib.records import load_for_models  # noqa: E402
from ferlib.models import load_model, predict_probs  # noqa: E402


def size_curve(probs, y):
    """Mean accuracy and log loss over every k-member subset, for k = 1 .. len(probs)."""
    rows = []
    for k in range(1, len(probs) + 1):
        accs, losses = [], []
        for members in itertools.combinations(probs, k):
            mean = sum(members) / k
            accs.append(np.mean(mean.argmax(1) == y))
            losses.append(-np.mean(np.log(np.maximum(mean[np.arange(len(y)), y], 1e-12))))
        rows.append((k, len(accs), float(np.mean(accs)), min(accs), max(accs), float(np.mean(losses))))
    return rows


def inverse_k_fit(ks, values):
    """(A, B) of values ~ A - B/k by least squares: A is the many-member limit."""
    slope, limit = np.polyfit(1 / np.asarray(ks, float), values, 1)
    return float(limit), float(-slope)


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p, several=True)
    p.add_argument("--add", nargs="*", default=[], help="models of other recipes, each scored with all --model ones")
    cli.add_data_args(p)
    p.add_argument("--split", default="val", help="(default: %(default)s)")
    cli.add_tta_arg(p)
    args = p.parse_args(argv)
    if len(args.model) < 3:
        raise UserError("--model needs at least 3 models: a fit of A - B/k needs 3 sizes")
    x, y = load_for_models(args.model + args.add, args.data, args.split_seed).split(args.split)
    probs = {path: predict_probs(load_model(path), x, tta=args.tta) for path in args.model + args.add}
    members = [probs[path] for path in args.model]
    print(f"{len(args.model)} models on {args.split} ({len(y)} images), {args.tta} view(s) each")
    print("  k  subsets  accuracy (mean, min-max)      log loss")
    rows = size_curve(members, y)
    for k, n, acc, lo, hi, loss in rows:
        print(f"{k:3d} {n:8d}  {acc:.4f} ({lo:.4f}-{hi:.4f})        {loss:.4f}")
    ks = [r[0] for r in rows]
    (acc_a, acc_b), (loss_a, loss_b) = inverse_k_fit(ks, [r[2] for r in rows]), inverse_k_fit(ks, [r[5] for r in rows])
    print(f"fit: accuracy {acc_a:.4f} - {acc_b:.4f}/k, log loss {loss_a:.4f} + {-loss_b:.4f}/k")
    for k in range(len(members) + 1, len(members) + 4):
        print(f"  forecast at k = {k}: accuracy {acc_a - acc_b / k:.4f}")
    print(f"  limit (any number of members): accuracy {acc_a:.4f}")
    everyone = sum(members) / len(members)
    for path in args.add:
        joined = (everyone * len(members) + probs[path]) / (len(members) + 1)
        print(f"all {len(members)} + {path}: {np.mean(joined.argmax(1) == y):.4f} "
              f"(that model alone {np.mean(probs[path].argmax(1) == y):.4f}; one more seed, forecast: "
              f"{acc_a - acc_b / (len(members) + 1):.4f})")


if __name__ == "__main__":
    sys.exit(cli.run(main))
