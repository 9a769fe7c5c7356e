"""Store a trained model for shipping in a little over half the space, checked against the original.

    python pretrained/compact.py models/cnn_seed5.keras pretrained/ensemble/cnn_seed5.keras --data data/fer2013.csv

The copy has every weight rounded to the nearest float16 value, computes in
float32, and sits in a deflated archive: the CNN's 6.9 MB become 3.9 MB, so
pretrained/ holds more ensemble members under its 40 MB. It loads with plain
keras.saving.load_model (safe loading included), as any .keras file.

Computing in float32 makes its labels the same on every machine; the kit
trains in bfloat16 where the CPU has it, and that alone changes about 0.5%
of FER2013's labels. So the check runs the original in float32 too: the
share of the held-out faces (PublicTest) where both give the same label is
printed and recorded, and a copy under 99.9% is refused. The original's run
record (.json) and history (.history.csv) are copied beside the copy, the
record with a "stored" entry: the agreement and the copy's accuracy.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from ferlib import UserError, cli  # noqa: E402
from ferlib.records import load_for_models  # noqa: E402
from ferlib.models import float32_copy, load_model, predict_probs, save_deflated  # noqa: E402
from ferlib.outputs import atomic_path, load_json, save_json  # noqa: E402

MIN_AGREEMENT = 0.999   # the share of labels the copy must keep


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("model", help="the trained .keras model")
    p.add_argument("dest", help="where the compact copy goes (.keras)")
    cli.add_data_args(p)
    args = p.parse_args(argv)
    if not args.dest.endswith(".keras") or os.path.abspath(args.dest) == os.path.abspath(args.model):
        raise UserError(f"{args.dest}: give a new .keras path for the copy, not the model itself")

    original = load_model(args.model)
    data = load_for_models([args.model], args.data, args.split_seed)
    x, y = data.split("val")
    if not len(x):
        raise UserError(f"{data.source}: no held-out (val) faces to check the copy on")
    reference, compact = float32_copy(original), float32_copy(original, half_weights=True)
    labels = [predict_probs(m, x).argmax(1) for m in (reference, compact)]
    agreement = float(np.mean(labels[0] == labels[1]))
    line = f"{args.model}: the compact copy keeps {agreement:.2%} of {len(x):,} val labels (both in float32)"
    if agreement < MIN_AGREEMENT:
        raise UserError(f"{line}, under {MIN_AGREEMENT:.1%}; not written")

    save_deflated(compact, args.dest)
    src, dest = (os.path.splitext(path)[0] for path in (args.model, args.dest))
    if os.path.exists(src + ".json"):
        record = load_json(src + ".json")
        record["stored"] = {"weights": "float32 rounded to float16 values", "compute": "float32",
                            "from": os.path.basename(args.model), "checked_on": data.source,
                            "labels_equal_to_float32_original": round(agreement, 6),
                            "val_accuracy": round(float(np.mean(labels[1] == y)), 6) if y.min() >= 0 else None}
        save_json(record, dest + ".json")
    if os.path.exists(src + ".history.csv"):
        with atomic_path(dest + ".history.csv") as tmp:
            shutil.copyfile(src + ".history.csv", tmp)
    mb = lambda path: os.path.getsize(path) / 1e6
    print(f"{line}; wrote {args.dest} ({mb(args.dest):.1f} MB, from {mb(args.model):.1f} MB)")


if __name__ == "__main__":
    sys.exit(cli.run(main))
