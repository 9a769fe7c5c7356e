"""Put the shipped FER2013 models in models/ as if they had been trained there: `make report PRETRAINED=1`.

    python -m ferlib.shipped data/fer2013.csv        # models/cnn.*, dnn.*, dnn_same_recipe.json, their curves

The CNN and the DNN of pretrained/ (model, run record, history) and question
2's controlled DNN (record and history; its model is not shipped) are copied
under the names make_report.py reads, and their training curves are drawn in
figures/. Nothing in pretrained/ is written. The analyses then run on the
user's own copy of FER2013, faces and all, exactly as after training.

Refused, in one line, for data the shipped models were not held out on: the
built-in faces, or a file whose validation faces are not Kaggle's PublicTest
rows (another split would score the models partly on faces they trained on).
"""

import glob
import os
import shutil
import sys

from ferlib import CLASS_NAMES, ROOT, UserError, cli

PRETRAINED = os.path.join(ROOT, "pretrained")
# Each run make_report.py reads: its name there <- the shipped files' stem.
SHIPPED = {"cnn": "cnn_fer2013", "dnn": "dnn_fer2013", "dnn_same_recipe": "dnn_same_recipe_fer2013"}
CHOSEN_FROM = 7   # the shipped CNN is the best on PublicTest of seven runs of its recipe (pretrained/README.md)
NOT_RECIPE = {"seed", "name", "data", "models_dir", "figures_dir", "logs_dir", "restart", "dry_run", "force"}


def same_recipe(a, b):
    """Whether two runs' configs differ only in naming and placing; an option one record predates is left out."""
    return all(a[k] == b[k] for k in a.keys() & b.keys() - NOT_RECIPE)


def seed_runs(record):
    """The shipped CNN's recipe as run under each seed whose record ships (itself and the ensemble members)."""
    from ferlib.outputs import load_json
    members = [load_json(p) for p in sorted(glob.glob(os.path.join(PRETRAINED, "ensemble", "*.json")))]
    return sorted(({"seed": r["config"]["seed"], "best": r["evaluation"]["val"]["accuracy"],
                    "last": r["evaluation_last_epoch"]["val"]["accuracy"]}
                   for r in [record] + members if same_recipe(r["config"], record["config"])), key=lambda r: r["seed"])


def check_data(data, record):
    """A UserError unless the data's validation faces are the ones the shipped models were held out on."""
    from ferlib.records import describe, same_split, split_of
    if data.source == "synthetic":
        raise UserError("PRETRAINED=1: the shipped models were trained on FER2013, not on the built-in faces; put "
                        "fer2013.csv in data/ (see data/README.md), or leave PRETRAINED out to train on the built-in faces")
    if not same_split(split_of(record), data.split_info):
        raise UserError(f"{data.source}: its validation faces ({describe(data.split_info)}) are not the ones the shipped "
                        f"models were held out on ({describe(split_of(record))} of Kaggle's fer2013.csv); scoring them "
                        "there would count faces they trained on. Use Kaggle's fer2013.csv, or train your own (make report)")


def install(data_path=None, models_dir="models", figures_dir="figures"):
    """Copy the shipped runs into models_dir and draw their curves into figures_dir; returns their records."""
    import numpy as np
    import pandas as pd
    from ferlib.data import load_fer2013
    from ferlib.models import load_model
    from ferlib.outputs import check_writable, load_json, save_json, write_together
    from ferlib.train import history_figures, layer_table
    for folder in (models_dir, figures_dir):
        check_writable(folder)
    records = {name: load_json(os.path.join(PRETRAINED, f"{stem}.json")) for name, stem in SHIPPED.items()}
    data = load_fer2013(data_path)
    check_data(data, records["cnn"])
    writes = []
    for name, stem in SHIPPED.items():
        record, src = records[name], os.path.join(PRETRAINED, stem)
        history = pd.read_csv(src + ".history.csv")
        dest = os.path.join(models_dir, name)
        record.update(name=name, record_path=f"pretrained/{stem}.json")
        if os.path.exists(src + ".keras"):
            if any(len(row) < 5 for row in record["layers"]):   # a record older than the layer details
                record["layers"] = layer_table(load_model(src + ".keras"))
            writes.append((dest + ".keras", lambda tmp, src=src: shutil.copyfile(src + ".keras", tmp)))
        record["data"].setdefault("class_counts", {
            split: np.bincount(y[y >= 0], minlength=len(CLASS_NAMES)).tolist() for split, (_, y) in data.splits.items()})
        if name == "cnn":
            record.update(chosen_from_runs=CHOSEN_FROM, seed_runs=seed_runs(record))
        writes += history_figures(record, history, figures_dir)
        writes += [(dest + ".history.csv", lambda tmp, h=history: h.to_csv(tmp, index=False)),
                   (dest + ".json", lambda tmp, r=record: save_json(r, tmp))]
    write_together(writes)
    print(f"{', '.join(os.path.join(models_dir, n) for n in SHIPPED)}: the shipped FER2013 runs, ready for the "
          f"analyses on {data.source}", file=sys.stderr)
    return records


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("data", nargs="?", default=None, help="FER2013 (default: the scripts' default data)")
    p.add_argument("--models-dir", default="models", help="where the runs go (default: %(default)s)")
    cli.add_figures_arg(p, "their training curves go")
    args = p.parse_args(argv)
    return install(args.data, args.models_dir, args.figures_dir)


if __name__ == "__main__":
    sys.exit(cli.run(main))
