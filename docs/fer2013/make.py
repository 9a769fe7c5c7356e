"""Regenerate docs/fer2013/: the report on FER2013 from the shipped models, with no figure of a face.

    python docs/fer2013/make.py data/fer2013.csv.gz

FER2013's faces are not ours to publish, so the report is written with
make_report.py --no-faces: the per-face saliency maps, the gallery of
confused faces and the activation maps are left out, and the report says so
where each would be; the training curves, the confusion matrix, the mean
saliency maps and the filter images stay.

In a scratch folder: the shipped models and records of pretrained/ (a record
older than a field the report reads gets it from its model and the data: the
layer table with each layer's details, the class counts per split, whether
the splits are Kaggle's Usage ones), question 2's controlled DNN from
records/ (a record and its history: the model is not shipped), their
training curves drawn from the histories, then confusion.py, saliency.py and
filter_viz.py on the data's held-out split, then both reports. The reports,
the figures they link and the analyses' records (in records/, which the
reports name) are copied here.

The controlled DNN is trained by the command in records/README.md (100
epochs of the CNN's recipe; it is not retrained here).
"""

import glob
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import confusion  # noqa: E402
import filter_viz  # noqa: E402
import make_report  # noqa: E402
import saliency  # noqa: E402
from ferlib import CLASS_NAMES  # noqa: E402
from ferlib.data import load_fer2013  # noqa: E402
from ferlib.models import load_model  # noqa: E402
from ferlib.outputs import load_json, save_json, write_together  # noqa: E402
from ferlib.train import history_figures, layer_table  # noqa: E402


RECORDS = os.path.join(HERE, "records")
# The shipped CNN is the best on PublicTest of seven runs of its recipe (pretrained/README.md).
SHIPPED_CNN_CHOSEN_FROM = 7


# Config keys that name or place a run rather than shape it: runs that differ only in these share a recipe.
NOT_RECIPE = {"seed", "name", "data", "models_dir", "figures_dir", "logs_dir", "restart", "dry_run"}


def same_recipe(a, b):
    """Whether two runs' configs differ only in naming and placing; an option one record predates is left out
    (the run could not have used it)."""
    return all(a[k] == b[k] for k in a.keys() & b.keys() - NOT_RECIPE)


def seed_runs(record):
    """The shipped CNN's recipe as run under each seed whose record ships (itself and the ensemble members)."""
    members = [load_json(p) for p in sorted(glob.glob(os.path.join(ROOT, "pretrained", "ensemble", "*.json")))]
    return sorted(({"seed": r["config"]["seed"], "best": r["evaluation"]["val"]["accuracy"],
                    "last": r["evaluation_last_epoch"]["val"]["accuracy"]}
                   for r in [record] + members if same_recipe(r["config"], record["config"])), key=lambda r: r["seed"])


def shipped_run(kind, data, models, figures):
    """pretrained/<kind>_fer2013.* as make_report reads a run: models/<kind>.keras, .json, its curves."""
    name = f"{kind}_fer2013"
    record = load_json(os.path.join(ROOT, "pretrained", f"{name}.json"))
    shutil.copy(os.path.join(ROOT, "pretrained", f"{name}.keras"), os.path.join(models, f"{kind}.keras"))
    shutil.copy(os.path.join(ROOT, "pretrained", f"{name}.history.csv"), models)
    if any(len(row) < 5 for row in record["layers"]):
        record["layers"] = layer_table(load_model(os.path.join(models, f"{kind}.keras")))
    record["data"].setdefault("class_counts", {
        split: np.bincount(y[y >= 0], minlength=len(CLASS_NAMES)).tolist() for split, (_, y) in data.splits.items()})
    record["data"]["usage"] = data.usage
    record["record_path"] = f"pretrained/{name}.json"
    if kind == "cnn":
        record["chosen_from_runs"] = SHIPPED_CNN_CHOSEN_FROM
        record["seed_runs"] = seed_runs(record)
    save_json(record, os.path.join(models, f"{kind}.json"))
    write_together(history_figures(record, pd.read_csv(os.path.join(models, f"{name}.history.csv")), figures))


def controlled_run(models, figures):
    """records/dnn_same_recipe.* (question 2's DNN trained with the CNN's recipe) as make_report reads it."""
    record = load_json(os.path.join(RECORDS, "dnn_same_recipe.json"))
    record["record_path"] = "docs/fer2013/records/dnn_same_recipe.json"
    shutil.copy(os.path.join(RECORDS, "dnn_same_recipe.history.csv"), models)
    save_json(record, os.path.join(models, "dnn_same_recipe.json"))
    write_together(history_figures(record, pd.read_csv(os.path.join(models, "dnn_same_recipe.history.csv")), figures))


def keep_record(path):
    """An analysis record of the scratch folder, kept in records/ and named there by the report."""
    record = load_json(path)
    record["record_path"] = f"docs/fer2013/records/{os.path.basename(path)}"
    save_json(record, path)
    shutil.copy(path, RECORDS)


def main(data_path):
    # Run in the scratch folder with the kit's default paths, so the commands the report quotes are
    # the ones a user types (python confusion.py --model models/cnn.keras ...), not this machine's.
    scratch = tempfile.mkdtemp(prefix="fer2013-report-")
    os.makedirs(os.path.join(scratch, "models"))
    os.makedirs(os.path.join(scratch, "data"))
    data_link = os.path.join("data", os.path.basename(data_path))
    os.symlink(os.path.abspath(data_path), os.path.join(scratch, data_link))
    os.chdir(scratch)
    data = load_fer2013(data_link)
    for kind in ("cnn", "dnn"):
        shipped_run(kind, data, "models", "figures")
    controlled_run("models", "figures")
    common = ["--model", "models/cnn.keras", "--data", data_link]
    confusion.main(common)
    saliency.main(common)
    filter_viz.main(common + ["--image", "0"])   # its record says what the left-out activation figure showed
    for what in ("confusion", "saliency", "filters"):
        keep_record(os.path.join("models", f"cnn.{what}.json"))
    out = os.path.join(HERE, "figures")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for lang, report in (("en", "report.md"), ("zh-TW", "report.zh-TW.md")):
        text = make_report.main(["--no-faces", "--lang", lang, "--out", report,
                                 "--made-by", f"python docs/fer2013/make.py {data_path}"])
        shutil.copy(report, HERE)
        for link in re.findall(r"\]\((figures/[^)]+)\)", text):
            shutil.copy(link, out)
    os.chdir(ROOT)
    shutil.rmtree(scratch)
    print(f"wrote {HERE}/report.md, report.zh-TW.md and figures/")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/fer2013.csv.gz")
