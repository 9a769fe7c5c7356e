"""Which faces a saved model was held out on: read from its run record, so it is scored on those.

A trainer writes models/<name>.json beside models/<name>.keras; its data.split
says how the validation split was drawn (Kaggle's Usage column, or a split seed
and fraction) and fingerprints the validation rows. Every script that scores a
saved model loads the data through load_for_models: the split comes from the
record, --split-seed is refused where it disagrees, and models held out on
different faces are refused together (an ensemble or a comparison of them would
score some models on faces they trained on).
"""

import os
import sys

from ferlib import UserError

DEFAULT_SPLIT_SEED = 0


def record_path(model_path):
    """models/cnn.keras -> models/cnn.json"""
    return os.path.splitext(model_path)[0] + ".json"


def read_record(model_path):
    """The run record beside a model, or None when there is none."""
    import json
    path = record_path(model_path)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as e:
        raise UserError(f"{path}: not a readable run record ({e})") from None


def split_of(record):
    """How the record's model was held out: {"by": "usage" | "seed" | "built-in" | ..., ...}; None if unknown.

    Records written before data.split existed: a file without a Usage column had its split drawn from the
    weights' --seed then, which is what they are taken to say.
    """
    if not record:
        return None
    data = record.get("data", {})
    if "split" in data:
        return data["split"]
    if data.get("source") == "synthetic":
        return {"by": "built-in"}
    if data.get("usage") is True:
        return {"by": "usage"}
    if data.get("usage") is False:
        return {"by": "seed", "seed": int(record.get("config", {}).get("seed", 0)), "fraction": 0.1}
    return None


def describe(split):
    if split is None:
        return "unknown"
    if split["by"] == "seed":
        return f"split seed {split['seed']}, {split['fraction']:.0%} held out"
    return {"usage": "the Usage column's PublicTest rows", "built-in": "the built-in faces' fixed split",
            "folders": "the val folder"}.get(split["by"], split["by"])


def same_split(a, b):
    """True when two split descriptions hold out the same faces (fingerprints compared where both have one)."""
    keys = ("by", "seed", "fraction")
    if any(a.get(k) != b.get(k) for k in keys):
        return False
    return not (a.get("val_hash") and b.get("val_hash") and a["val_hash"] != b["val_hash"])


def models_split(model_paths, split_seed=None):
    """(split seed to load the data with, {model: its split or None}); a UserError when they disagree.

    split_seed: the command line's --split-seed, None when not given.
    """
    splits = {path: split_of(read_record(path)) for path in model_paths}
    known = [(path, s) for path, s in splits.items() if s is not None]
    for path, split in known[1:]:
        first, its = known[0]
        if not same_split(its, split):
            raise UserError(f"{first} and {path} were held out on different validation faces ({describe(its)}; "
                            f"{describe(split)}): score them apart")
    seeds = [(path, s["seed"]) for path, s in known if s["by"] == "seed"]
    if seeds:
        path, seed = seeds[0]
        if split_seed is not None and split_seed != seed:
            raise UserError(f"--split-seed {split_seed}: {path} was held out on split seed {seed} (its record, "
                            f"{record_path(path)}); leave --split-seed out to score its own validation faces")
    else:
        seed = DEFAULT_SPLIT_SEED if split_seed is None else split_seed
    for path, split in splits.items():
        if split is None:
            print(f"note: {path} has no record of its validation split ({record_path(path)}); taking split seed "
                  f"{seed}", file=sys.stderr)
    return seed, splits


def load_for_models(model_paths, data_path=None, split_seed=None):
    """The data the models are scored on, split as their records say (see models_split)."""
    from ferlib.data import load_fer2013
    seed, splits = models_split(model_paths, split_seed)
    data = load_fer2013(data_path, split_seed=seed)
    for path, split in splits.items():
        if split is not None and data.split_info.get("by") not in (None, "none") \
                and not same_split(split, data.split_info):
            print(f"note: {path} was held out on {describe(split)} of {read_record(path)['data'].get('source')}; "
                  f"{data.source}'s validation split is another ({describe(data.split_info)}) and may hold faces it "
                  "trained on", file=sys.stderr)
            break
    return data
