"""Does test-time augmentation beyond the mirror pay? (docs/ablations.md)

Accuracy of a saved model on one split when its softmax is averaged over
1 view (plain), 2 (plus the mirror image: what the kit calls TTA), 10 (five
2-pixel shifts, centre and corners, each with its mirror) and 18 (all nine
shifts of -2/0/+2 pixels, each with its mirror): the views of predict.py's
and confusion.py's --tta (ferlib.models.predict_probs).

    python docs/tta_views.py --model pretrained/cnn_fer2013.keras --data data/fer2013.csv
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ferlib import TTA_VIEWS, cli  # noqa: E402
from ferlib.records import load_for_models  # noqa: E402
from ferlib.models import load_model, predict_probs  # noqa: E402


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_data_args(p)
    cli.add_model_arg(p)
    p.add_argument("--split", default="val", help="(default: %(default)s)")
    args = p.parse_args(argv)
    x, y = load_for_models(args.model, args.data, args.split_seed).split(args.split)
    model = load_model(args.model)
    print(f"{args.model} on {args.split} ({len(y)} images)")
    for views in TTA_VIEWS:
        acc = np.mean(predict_probs(model, x, tta=views).argmax(1) == y)
        print(f"{views:2d} view{'s' * (views > 1)}: {acc:.4f}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
