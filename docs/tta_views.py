"""Does test-time augmentation beyond the mirror pay? (docs/ablations.md)

Accuracy of a saved model on one split when its softmax is averaged over
1 view (plain), 2 (plus the mirror image: what the kit calls TTA), 10 (five
2-pixel shifts, centre and corners, each with its mirror) and 18 (all nine
shifts of -2/0/+2 pixels, each with its mirror). Shifts replicate the edge
pixels, as the training augmentation's RandomTranslation does.

    python docs/tta_views.py --model models/cnn_fer100_fs.keras \
        --data data/fer2013.csv
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ferlib import cli  # noqa: E402
from ferlib.data import load_fer2013  # noqa: E402
from ferlib.models import load_model, predict_probs  # noqa: E402

PAD = 2


def shifted(x, dy, dx):
    """x (N,48,48) moved dy rows down and dx columns right, edges replicated."""
    p = np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD)), mode="edge")
    h, w = x.shape[1:]
    return np.ascontiguousarray(p[:, PAD - dy:PAD - dy + h, PAD - dx:PAD - dx + w])


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_data_args(p)
    cli.add_model_arg(p)
    p.add_argument("--split", default="val", help="(default: %(default)s)")
    args = p.parse_args(argv)
    x, y = load_fer2013(args.data, seed=args.seed).split(args.split)
    model = load_model(args.model)
    probs = {}
    for dy in (-PAD, 0, PAD):
        for dx in (-PAD, 0, PAD):
            xs = shifted(x, dy, dx)
            probs[dy, dx, False] = predict_probs(model, xs)
            probs[dy, dx, True] = predict_probs(model, np.ascontiguousarray(xs[:, :, ::-1]))
    corners = [(0, 0), (-PAD, -PAD), (-PAD, PAD), (PAD, -PAD), (PAD, PAD)]
    views = {"plain": [(0, 0, False)], "mirror": [(0, 0, False), (0, 0, True)],
             "5 shifts x mirror": [(dy, dx, m) for dy, dx in corners for m in (False, True)],
             "9 shifts x mirror": list(probs)}
    print(f"{args.model} on {args.split} ({len(y)} images)")
    for name, keys in views.items():
        acc = np.mean(sum(probs[k] for k in keys).argmax(1) == y)
        print(f"{name:>18}, {len(keys):2d} view{'s' * (len(keys) > 1)}: {acc:.4f}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
