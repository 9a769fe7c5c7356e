"""Write report.md (and report.html): the five homework questions answered from what the runs recorded.

Reads only files that runs wrote (models/*.json, models/*.history.csv,
figures/*.png). Python builds one context per report: the numbers, and the
decisions they imply (which region a class needs, whether a gap clears its
interval). The words live in templates/report.<lang>.md, Jinja2 templates that
read like the report and only say what the context holds. Each question opens
with its answer; what backs it (intervals, controls, provenance) is in the
appendix, "How each answer was measured". A missing run gives a section that
says which command makes it; the report is still written.

report.html is the file to hand in: the same text with the figures embedded,
laid out to print on A4 or Letter from any browser ("Print" -> "Save as PDF").

    python make_report.py                          # models/ + figures/ -> report.md, report.html
    python make_report.py --lang zh-TW --out report.zh-TW.md
    python make_report.py --collaborators "B12345678 Wang"
"""

import math
import os
import re
import sys

import numpy as np

from ferlib import CLASS_NAMES, UserError, cli
from ferlib.outputs import atomic_path, figure_languages, load_json, localized, pyplot, save_figure
from ferlib.report_html import write_html
from ferlib.synthetic import LABEL_NOISE, planted_pairs
from ferlib.words import (CLASS_WORDS, FIGURE_WORDS, LANGUAGES, REGION_WORDS, has_dropout, spaced, split_word,
                          train_label)

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
CHANCE = 1 / len(CLASS_NAMES)
SHOWN_REGIONS = ("brows", "eyes", "nose", "mouth", "rest")   # the tables' columns, the face's parts first
RHO_05 = 0.786   # |Spearman's rho| over 7 classes from which p < 0.05 (two-sided; exact tables)
LEVEL = 0.01   # the curves are "level" from the first epoch within this much of the best validation accuracy
RECORDS = {"cnn": "cnn.json", "dnn": "dnn.json", "dnn_same": "dnn_same_recipe.json", "confusion": "cnn.confusion.json",
           "saliency": "cnn.saliency.json", "filters": "cnn.filters.json"}
COMMANDS = {"cnn": "python train_cnn.py", "dnn": "python train_dnn.py",
            "dnn_same": "python train_dnn.py --name dnn_same_recipe --augment --weight-decay 0.3 --dropout 0",
            "confusion": "python confusion.py", "saliency": "python saliency.py",
            "filters": "python filter_viz.py --index 0"}


def read(path):
    """A run record, or None when the run was not made; a damaged one is a UserError naming it."""
    if not os.path.exists(path):
        return None
    try:
        return load_json(path)
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path}: damaged run record (not JSON); rerun the step that writes it") from None


# ---------------------------------------------------------------- intervals

def wilson(accuracy, n, z=1.96):
    """95% Wilson score interval of an accuracy measured on n images."""
    if not n:
        return 0.0, 0.0
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def mean_interval(values):
    """Mean of a few runs' numbers, its 95% Student-t interval, and the sample sd."""
    from scipy import stats
    d = stats.describe(values)
    lo, hi = stats.t.interval(0.95, d.nobs - 1, loc=d.mean, scale=stats.sem(values))
    return float(d.mean), float(lo), float(hi), math.sqrt(d.variance)


def accuracy_difference(plus, minus):
    """Accuracy of `plus` minus `minus` (evaluations), with an unpaired 95% interval: each accuracy's binomial
    variance added, as if measured on independent images (on the same images a paired interval is narrower)."""
    value = plus["accuracy"] - minus["accuracy"]
    half = 1.96 * math.sqrt(sum(e["accuracy"] * (1 - e["accuracy"]) / e["n"] for e in (plus, minus)))
    return {"value": value, "lo": value - half, "hi": value + half}


def scored(e):
    """An evaluation as the templates read it: accuracy, its Wilson interval, the number of faces."""
    lo, hi = wilson(e["accuracy"], e["n"])
    return {"acc": e["accuracy"], "lo": lo, "hi": hi, "n": e["n"], "tta": e.get("accuracy_tta")}


def majority_share(rec, split="val"):
    counts = rec.get("data", {}).get("class_counts", {}).get(split)
    return max(counts) / sum(counts) if counts and sum(counts) else None


def learned(rec):
    """False when a run's best validation accuracy is at the majority class's share (or chance) or its
    training loss stayed near ln 7: the model answers the same whatever it sees."""
    val = rec["evaluation"].get("val", rec["evaluation"].get("train"))
    floor = max(CHANCE, majority_share(rec) or 0)
    return val["accuracy"] > floor + 0.02 and rec["evaluation"]["train"]["loss"] < 0.95 * math.log(len(CLASS_NAMES))


# ---------------------------------------------------------------- the context, question by question

RECIPE_DEFAULTS = {"optimizer": "adam", "lr_warmup": 0, "plateau": False, "weight_decay": 0, "ema": 0, "teacher": None,
                   "dropout_warmup": 0, "augment": False}   # flags a run's record may predate: off


def model_context(rec, models_dir, figures_dir):
    """What questions 1 and 2 say of one trained model: its layers, recipe, accuracy and curves."""
    rows = [dict(zip(("name", "kind", "shape", "params", "detail"), list(r) + [""])) for r in rec["layers"]]
    config = {**RECIPE_DEFAULTS, **rec["config"]}
    return {
        "name": rec["name"], "rows": rows, **architecture(rows), "params": rec["params"], "config": config,
        "widths": rec.get("widths", []), "learned": learned(rec), "dropout": has_dropout(rec),
        "epochs": rec["epochs"], "best_epoch": rec["best_epoch"], "swa": rec.get("swa_epochs") if config.get("swa") else None,
        **curve_facts(os.path.join(models_dir, f"{rec['name']}.history.csv")), "precision": rec["precision"],
        "train_seconds": rec["train_seconds"],
        "images_per_second": rec.get("train_images_per_second") or 0,
        "augmentation": [step.partition(" ")[::2] for step in (rec.get("augmentation") or "").split(", ") if step]
        if config["augment"] else [],
        "splits": {s: scored(e) for s, e in rec["evaluation"].items()},
        "last": {s: scored(e) for s, e in rec.get("evaluation_last_epoch", {}).items()},
        "chosen_from": rec.get("chosen_from_runs", 1), "seeds": seed_spread(rec),
        "curves": os.path.join(figures_dir, f"{rec['name']}_history.png"),
    }


def curve_facts(history_path):
    """What the validation curves show: the epoch from which accuracy stays within LEVEL of its best to the end
    (None: it never does), and where the validation loss is lowest against where it ends."""
    import pandas as pd
    if not os.path.exists(history_path):
        return {"level_epoch": None, "loss_min_epoch": None}
    h = pd.read_csv(history_path)
    if "val_accuracy" not in h:
        return {"level_epoch": None, "loss_min_epoch": None}
    below = np.flatnonzero(h["val_accuracy"].to_numpy() < h["val_accuracy"].max() - LEVEL)
    after = below[-1] + 1 if len(below) else 0
    low = h["val_loss"].idxmin()
    return {"level_epoch": int(h["epoch"].iloc[after]) if after < len(h) else None,
            "loss_min_epoch": int(h["epoch"][low]), "loss_min": float(h["val_loss"][low]),
            "acc_at_loss_min": float(h["val_accuracy"][low]), "acc_best": float(h["val_accuracy"].max()),
            "loss_last": float(h["val_loss"].iloc[-1]), "last_epoch": int(h["epoch"].iloc[-1])}


def architecture(rows):
    """The layer table read as blocks (convolutions up to a pooling, and its dropout) and hidden dense layers."""
    blocks, dense, prev = [], [], None
    for r in rows:
        kind = r["kind"]
        if kind == "Conv2D" and (not blocks or "out" in blocks[-1]):
            blocks.append({"convs": 0, "params": 0, "filters": int(r["shape"].split("x")[-1]),
                           "kernel": r["detail"].split(",")[0]})
        if kind in ("Conv2D", "BatchNormalization") and blocks and "out" not in blocks[-1]:
            blocks[-1]["convs"] += kind == "Conv2D"
            blocks[-1]["params"] += r["params"]
        elif kind == "MaxPooling2D" and blocks:
            blocks[-1]["out"] = r["shape"]
        elif kind == "Dense" and r["name"] != "logits":
            dense.append({"units": int(r["shape"]), "params": r["params"]})
        elif kind == "Dropout" and prev in ("MaxPooling2D", "Dense"):   # after a block, or a hidden dense layer
            (blocks if prev == "MaxPooling2D" else dense)[-1]["dropout"] = float(r["detail"].split()[-1])
        prev = kind if kind != "Dropout" else prev
    return {"blocks": blocks, "dense": dense, "out_params": next((r["params"] for r in rows if r["name"] == "logits"), 0)}


def seed_spread(rec):
    """The recipe's other seeds' best-epoch accuracy: mean, interval, sd, and the split's binomial sd."""
    runs = rec.get("seed_runs", [])
    if len(runs) < 2 or "val" not in rec["evaluation"]:
        return None
    mean, lo, hi, sd = mean_interval([r["best"] for r in runs])
    return {"k": len(runs), "seeds": [r["seed"] for r in runs], "mean": mean, "lo": lo, "hi": hi, "sd": sd,
            "binomial_sd": math.sqrt(mean * (1 - mean) / rec["evaluation"]["val"]["n"])}


def recipe_differences(rec, cnn):
    """How a DNN run's recipe differs from the CNN's: keys the templates word ([] when only its layers differ)."""
    a, b = rec["config"], cnn["config"]
    out = [("epochs", rec["epochs"], cnn["epochs"])] if rec["epochs"] != cnn["epochs"] else []
    if (a["batch_size"], a["lr"]) != (b["batch_size"], b["lr"]):
        out.append(("rate", (a["batch_size"], a["lr"]), (b["batch_size"], b["lr"])))
    if a.get("weight_decay", 0) != b.get("weight_decay", 0):
        out.append(("weight_decay", a.get("weight_decay", 0), b.get("weight_decay", 0)))
    if bool(rec.get("augmentation")) != bool(cnn.get("augmentation")):
        out.append(("augmentation", bool(rec.get("augmentation")), bool(cnn.get("augmentation"))))
    if has_dropout(rec) != has_dropout(cnn):
        out.append(("dropout", has_dropout(rec), has_dropout(cnn)))
    return [{"what": k, "this": x, "cnn": y} for k, x, y in out]


def q2_context(cnn, dnn, same):
    """Question 2: the DNN against the CNN, with the controlled run (the CNN's recipe) where it ran."""
    def against(rec):
        both = learned(cnn) and learned(rec)
        return {"learned": learned(rec), "val": rec["evaluation"]["val"]["accuracy"],
                "train": rec["evaluation"]["train"]["accuracy"],
                "gap": accuracy_difference(cnn["evaluation"]["val"], rec["evaluation"]["val"]) if both else None,
                "differs": recipe_differences(rec, cnn)}
    conv = [r[3] for r in cnn["layers"] if r[1] == "Conv2D"]
    first = next(r for r in dnn["layers"] if r[1] == "Dense")
    return {"own": against(dnn), "same": against(same) if same else None, "same_cmd": COMMANDS["dnn_same"],
            "size_gap": abs(dnn["params"]["total"] - cnn["params"]["total"]) / cnn["params"]["total"],
            "size_diff": dnn["params"]["total"] - cnn["params"]["total"],
            "conv_layers": len(conv), "conv_params": sum(conv), "conv_share": sum(conv) / cnn["params"]["total"],
            "first_params": first[3], "first_units": int(first[2]), "pixels": first[3] // int(first[2]) - 1,
            "first_share": first[3] / dnn["params"]["total"]}


def q3_context(conf, cnn, sal=None):
    """Question 3: the most confused pairs, the part of the face each wrong answer rests on, how near each pair
    lies in the last hidden layer, and rarity."""
    from scipy.stats import spearmanr
    per = conf["per_class"]
    counts = (cnn or {}).get("data", {}).get("class_counts", {}).get("train")
    share = dict(zip(CLASS_NAMES, np.asarray(counts) / sum(counts))) if counts else None
    near = {frozenset((p["a"], p["b"])): p for p in conf.get("separation", {}).get("pairs", [])}
    norm, matrix = np.asarray(conf["normalized"]), np.asarray(conf["counts"])
    cues, needs = (sal or {}).get("confusion_cues") or {}, (sal or {}).get("by_class") or {}
    pairs = []
    for p in conf["most_confused"]:
        back = CLASS_NAMES.index(p["predicted"]), CLASS_NAMES.index(p["true"])   # the other way round
        of = int(per[p["true"]]["support"])
        pairs.append({**p, "near": near.get(frozenset((p["true"], p["predicted"]))), "of": of,
                      "back": float(norm[back]), "back_count": int(matrix[back]),
                      "back_of": int(per[p["predicted"]]["support"]),
                      "cue": cue_context(cues.get(f"{p['true']}>{p['predicted']}"), needs.get(p["predicted"], {})),
                      **dict(zip(("lo", "hi"), wilson(p["rate"], of)))})
    called = matrix.sum(0) - np.diag(matrix)   # faces wrongly called each class
    errors = int(called.sum())
    classes = [{"name": c, "precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"],
                "support": int(v["support"]), "share": share[c] if share else None} for c, v in per.items()]
    rarest = min(classes, key=lambda c: c["share"]) if share else None
    trained = (cnn or {}).get("evaluation", {}).get(conf["split"], {}).get("accuracy")
    return {"split": conf["split"], "n": conf["n"], "acc": conf["accuracy_plain"], "acc_tta": conf["accuracy_tta"],
            "macro_f1": conf["macro_f1"], "pairs": pairs, "n_pairs": len(near), "classes": classes,
            "cue_faces": (sal or {}).get("cue_faces"),
            "nearest": list(near.values())[:6], "rarest": rarest,
            "recall_rank": sorted(classes, key=lambda c: c["recall"]).index(rarest) + 1 if rarest else None,
            "share_recall_rho": float(spearmanr([c["share"] for c in classes], [c["recall"] for c in classes])[0])
            if share else None, "rho_clear": RHO_05,
            "magnet": {"name": CLASS_NAMES[int(called.argmax())], "share": float(called.max() / max(errors, 1)),
                       "errors": errors} if errors else None,
            "planted": planted(conf["counts"]) if conf.get("data") == "synthetic" else None,
            "recorded": trained, "recorded_differs": round((trained - conf["accuracy_plain"]) * conf["n"])
            if trained is not None and len(conf.get("members") or [1]) == 1 else 0,
            "precision": (cnn or {}).get("precision", "float32"),
            "figure": conf["figure"], "gallery": conf.get("gallery_figure") if conf.get("gallery") else None}


def cue_context(cue, needed):
    """What one wrong answer rests on (saliency.confusion_cues): the parts, the costliest's drop and interval,
    and whether it is the part the answered class's own faces need most (question 4; not said of a cue spread
    over the whole face). None: not measured."""
    if cue is None:
        return None
    top = cue["cue"]
    o = cue["occlusion"].get(top, {})
    return {"n": cue["n"], "parts": [top] + cue["close"] if top else [], "drop": o.get("prob"),
            "lo": o.get("prob_lo"), "hi": o.get("prob_hi"),
            "own": bool(top) and len(cue["close"]) < 2 and top == needed.get("costliest")}


def planted(counts):
    """On the built-in faces: the share of the CNN's errors on the confusions the generator plants, against the
    share if each class's errors spread evenly over the other six."""
    pairs = planted_pairs()
    idx = {(CLASS_NAMES.index(a), CLASS_NAMES.index(b)) for a, b, _ in pairs}
    k = len(CLASS_NAMES)
    errors = sum(counts[i][j] for i in range(k) for j in range(k) if i != j)
    expected = sum((sum(counts[i]) - counts[i][i]) * sum((i, j) in idx for j in range(k)) / (k - 1) for i in range(k))
    return {"pairs": [{"a": a, "b": b, "blend": m} for a, b, m in pairs], "noise": LABEL_NOISE, "errors": errors,
            "share": sum(counts[i][j] for i, j in idx) / max(errors, 1), "expected": expected / max(errors, 1)}


def q4_context(sal):
    """Question 4: per class, the region whose hiding costs it most and whether its map agrees."""
    classes = [{"name": name, "relative": {}, "favoured": None, "map_agrees": None, **a,
                "close": [{"region": r, "prob": a["occlusion"][r]["prob"]} for r in a.get("close", [])],
                "cost": a["occlusion"].get(a.get("costliest"))} for name, a in sal["by_class"].items()]
    groups, shifts = {}, {}   # classes by the parts hiding costs them most (ties together); by the part their map favours
    for c in classes[1:]:
        if c.get("costliest"):
            groups.setdefault((c["costliest"],) + tuple(x["region"] for x in c["close"]), []).append(c["name"])
        if c.get("favoured"):
            shifts.setdefault(c["favoured"], []).append(c["name"])
    drawn = classes[0].get("saliency", {})
    brightest = sorted((r for r in drawn if r != "rest"), key=lambda r: -drawn[r])[:2]
    return {"split": sal["split"], "n": sal["n_mean"], "follows_faces": sal["regions_follow_faces"],
            "brightest": [{"region": r, "score": drawn[r], "redrawn": classes[0]["saliency_redrawn"][r]}
                          for r in brightest],
            "boxes": sal.get("region_boxes"), "all": classes[0], "classes": classes[1:], "regions": SHOWN_REGIONS,
            "groups": sorted(groups.items(), key=lambda g: -len(g[1])), "shifts": sorted(shifts.items()),
            "agree": [c["name"] for c in classes[1:] if c["map_agrees"] == "more"],
            "unmeasured": [c["name"] for c in classes[1:] if not c.get("costliest")],
            "rho": sal.get("randomisation_rank_correlation"), "inside": sal.get("inside_outside_ratio"),
            "inside_base": sal.get("inside_outside_baseline"), "bootstrap": sal["bootstrap"],
            "relative_figure": sal["figure_mean"], "faces_figure": sal["figure"]}


def patch_groups(shown, base):
    """The shown filters grouped by what their mean patch reads as and where: [{"patch", "region", "filters"}],
    each filter with the expression its strongest faces favour (favoured_class)."""
    groups = {}
    for f in shown:
        key = (f["patch"]["shape"], f["patch"]["direction"], f["region"])
        group = groups.setdefault(key, {"patch": f["patch"], "region": f["region"], "filters": []})
        group["filters"].append({"filter": f["filter"], "favours": favoured_class(f.get("classes"), base)})
    return list(groups.values())


def favoured_class(counts, base):
    """The class most common among a filter's strongest faces, where its share is at least twice that class's
    share of all the dissected faces and its 95% Wilson interval lies above it (the control: a filter blind to
    expression gets the base rate): {"name", "share", "lo", "hi", "all", "n"}; None where no class clears both
    or the faces are unlabelled."""
    if not counts or not base:
        return None
    n, total = sum(counts.values()), sum(base.values())
    name = max(counts, key=counts.get)
    lo, hi = wilson(counts[name] / n, n)
    return {"name": name, "share": counts[name] / n, "lo": lo, "hi": hi, "all": base[name] / total, "n": n} \
        if lo > base[name] / total and counts[name] / n >= 2 * base[name] / total else None


def q5_context(filt):
    """Question 5: per layer, how many filters are selective for each region against re-drawn weights."""
    layers = []
    for name in filt.get("layer_order", []):
        rec = filt["layers"][name]
        d, again = rec.get("dissection"), rec.get("second_start", {})
        if d is not None:
            counts = {r: n for r, n in d["counts"].items() if r != "none"}
            over = {f: [r for r, bar in d["bar"].items() if d["lift"][f][r] > bar] for f in d["selective"]}
            best = max(d["selective"], key=lambda f: d["lift"][f][d["selective"][f]] / d["bar"][d["selective"][f]],
                       default=None)
            layers.append({"name": name, "field": rec["receptive_field"], "filters": len(rec["filters"]),
                           "counts": counts, "none": d["counts"]["none"], "selective": sum(counts.values()),
                           "bar": d["bar"], "position": d["redrawn_median"], "faces": d["faces"],
                           "top_share": d["top_share"], "bar_percentile": d.get("bar_percentile", 100),
                           "redrawn_filters": d.get("redrawn_filters", len(rec["filters"])),
                           "kappa": again.get("kappa"), "same": again.get("same"),
                           "compared": again.get("filters"), "firm": rec.get("firm", False),
                           "several": sum(len(rs) > 1 for rs in over.values()), "kinds": rec["counts"],
                           "shown": patch_groups(rec.get("shown_selective", []), filt.get("dissected_classes")),
                           "best": {"filter": best, "region": d["selective"][best],
                                    "lift": d["lift"][best][d["selective"][best]]} if best is not None else None})
    return {"layers": layers, "top_share": layers[0]["top_share"] if layers else None, "steps": filt["steps"],
            "split": filt.get("split", "val"), "firm": [l for l in layers if l["firm"]], "grid": filt["figure"],
            "selective_figure": filt.get("selective_figure"), "patch_faces": filt.get("patch_faces"),
            "activations": filt.get("activations_figure"), "image": filt.get("image"), "regions": SHOWN_REGIONS}


def provenance(records, models_dir, out_dir):
    """Per record: the file, the command that wrote it, its wall time, the commit, and the machine and libraries."""
    items = []
    for key, rec in records.items():
        if rec:
            env = rec.get("environment", {})
            path = rec.get("record_path") or os.path.relpath(os.path.join(models_dir, RECORDS[key]), out_dir)
            items.append({"file": path.replace(os.sep, "/"), "command": env.get("command", ""),
                          "machine": env.get("machine", ""),
                          "seconds": rec.get("wall_seconds"), "commit": env.get("git_commit") or "?",
                          "dirty": env.get("git_dirty", False), "seed": rec.get("config", {}).get("seed"),
                          "starts": len(env.get("starts", [])) or 1})
    env = next((r["environment"] for r in records.values() if r and "environment" in r), {})
    return {"records": items, "machine": env.get("machine", ""),
            "libraries": [f"{name} {env[key]}" for key, name in (("python", "Python"), ("tensorflow", "TensorFlow"),
                          ("jax", "JAX"), ("keras", "Keras"), ("numpy", "NumPy"), ("scikit-learn", "scikit-learn"))
                          if key in env]}


def build_context(models_dir, figures_dir, out_dir, collaborators="", faces=True, made_by="make report", photo=None):
    """Every number and decision the report states, read from the records; None for a question not yet run."""
    records = {k: read(os.path.join(models_dir, f)) for k, f in RECORDS.items()}
    cnn, dnn, same = records["cnn"], records["dnn"], records["dnn_same"]
    source = (cnn or dnn or {}).get("data", {}).get("source")
    return {
        "synthetic": source in (None, "synthetic"), "source": source, "made_by": made_by, "faces": faces,
        "usage": bool((cnn or dnn or {}).get("data", {}).get("usage")), "collaborators": collaborators,
        "commands": COMMANDS, "records": records, "figures_dir": figures_dir, "photo": photo,
        "q1": model_context(cnn, models_dir, figures_dir) if cnn else None,
        "q2": {"dnn": model_context(dnn, models_dir, figures_dir), "figure": os.path.join(figures_dir, "cnn_dnn_accuracy.png"),
               **(q2_context(cnn, dnn, same) if cnn else {})} if dnn else None,
        "q3": q3_context(records["confusion"], cnn, records["saliency"]) if records["confusion"] else None,
        "q4": q4_context(records["saliency"]) if records["saliency"] else None,
        "q5": q5_context(records["filters"]) if records["filters"] else None,
        "provenance": provenance(records, models_dir, out_dir),
    }


# ---------------------------------------------------------------- the figure drawn here

def plot_comparison(records, names, models_dir, val, lang, dest):
    """Each run's validation accuracy per epoch (and its training accuracy, dotted), with chance and majority."""
    import pandas as pd
    plt = pyplot()
    w = FIGURE_WORDS[lang]
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    for k, (rec, name) in enumerate(zip(records, names)):
        path = os.path.join(models_dir, f"{rec['name']}.history.csv")
        if os.path.exists(path):
            h = pd.read_csv(path)
            label = lambda key, what: w[key].format(kind=name, val=what, train=what).replace("） ", "）")  # noqa: E731
            ax.plot(h["epoch"], h["val_accuracy"], color=f"C{k}", label=label("model_validation", val))
            ax.plot(h["epoch"], h["accuracy"], color=f"C{k}", ls=":", label=label("model_train", train_label(lang, rec)))
    ax.axhline(CHANCE, color="gray", ls="--", lw=0.8, label=w["chance"])
    if majority_share(records[0]):
        ax.axhline(majority_share(records[0]), color="black", ls="-.", lw=0.8, label=w["majority"])
    ax.set_xlabel(w["epoch"])
    ax.xaxis.get_major_locator().set_params(integer=True)   # epochs are whole numbers
    ax.set_ylabel(w["accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3)
    fig.tight_layout(rect=(0, 0.22, 1, 1))   # the legend below the axes, clear of the x label
    save_figure(fig, dest)


# ---------------------------------------------------------------- rendering

def environment(lang, out_dir, usage, figures_dir="figures"):
    """The Jinja2 environment of one language: its filters word classes, regions and splits, format numbers,
    and link figures (in the report's language where drawn in it, else in English)."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    sep = "、" if lang == "zh-TW" else ", "

    def fig(path):   # a figure a record names, found in figures_dir (the records may come from another folder)
        path = path and os.path.join(figures_dir, os.path.basename(path))
        if path and os.path.exists(localized(path, lang)):
            path = localized(path, lang)
        return os.path.relpath(path, out_dir).replace(os.sep, "/") if path and os.path.exists(path) else ""

    def and_join(items):
        items = [str(x) for x in items]
        return items[0] if len(items) == 1 else sep.join(items[:-1]) + ("和" if lang == "zh-TW" else " and ") + items[-1]

    env.filters.update(
        cls=lambda c: CLASS_WORDS[lang].get(c, c), region=lambda r: REGION_WORDS[lang][r],
        split=lambda s: split_word(lang, s, usage), fig=fig, join=lambda xs: sep.join(map(str, xs)), and_join=and_join,
        f1=lambda x: f"{x:.1f}", f2=lambda x: f"{x:.2f}", f3=lambda x: f"{x:.3f}", f4=lambda x: f"{x:.4f}", n=lambda x: f"{x:,}",
        pct=lambda x: f"{100 * x:.0f}%", pct1=lambda x: f"{100 * x:.1f}%", pct3=lambda x: f"{100 * x:.3f}%", pts=lambda x: f"{100 * x:.1f}",
        dims=lambda s: re.sub(r"(?<=\d)x(?=\d)", "×", str(s)) if lang == "zh-TW" else s,
        iv=lambda d, k="lo", digits=3: f"[{d[k]:.{digits}f}, {d[k.replace('lo', 'hi')]:.{digits}f}]")
    return env


def render(context, lang, out_dir):
    """The report's Markdown in lang from the context."""
    env = environment(lang, out_dir, context["usage"], context["figures_dir"])
    text = env.get_template(f"report.{lang}.md").render(**context)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return (spaced(text) if lang == "zh-TW" else text).strip() + "\n"


def build_report(models_dir, figures_dir, out, lang="en", collaborators="", faces=True, made_by="make report",
                 photo=None):
    out_dir = os.path.dirname(os.path.abspath(out))
    context = build_context(models_dir, figures_dir, out_dir, collaborators, faces, made_by, photo)
    if context["q1"] and context["q2"]:   # question 2's figure, drawn here from the three runs' histories
        runs = [context["records"][k] for k in ("cnn", "dnn", "dnn_same") if context["records"][k]]
        drawn_in = lang if lang in figure_languages() else "en"   # no CJK font: the English figure
        names = ["CNN"] + [FIGURE_WORDS[drawn_in][k] for k in ("dnn_own", "dnn_same")][:len(runs) - 1]
        plot_comparison(runs, names, models_dir, split_word(drawn_in, "val", context["usage"]), drawn_in,
                        localized(context["q2"]["figure"], drawn_in))
    text = render(context, lang, out_dir)
    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return text, context["records"]


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models-dir", default="models", help="where the run records are (default: %(default)s)")
    cli.add_figures_arg(p, "the figures are that the report links")
    p.add_argument("--out", default="report.md", help="the report to write; the .html beside it (default: %(default)s)")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="the report's language (default: %(default)s)")
    p.add_argument("--collaborators", default="",
                   help="names for each question's \"Collaborators:\" line (default: blank, to fill in)")
    p.add_argument("--made-by", default="make report", help="the command the report says made it (default: %(default)s)")
    p.add_argument("--no-faces", action="store_true",
                   help="leave out every figure that shows a face (the per-face saliency maps, the confused faces, the "
                        "face patches and activation maps), e.g. to publish a report on data that is not yours to share")
    p.add_argument("--photo", default=None,
                   help="a photo annotated by faces.py --saliency (in --figures-dir), shown at the end of question 4")
    args = p.parse_args(argv)
    text, records = build_report(args.models_dir, args.figures_dir, args.out, args.lang, args.collaborators,
                                 not args.no_faces, args.made_by, args.photo)
    dirty = [n for n, rec in records.items() if (rec or {}).get("environment", {}).get("git_dirty")]
    if dirty:
        print(f"make_report.py: note: {', '.join(dirty)} came from a tree with uncommitted changes, and the report says "
              "so; for a report to hand in, commit and make it again", file=sys.stderr)
    html_path = os.path.splitext(args.out)[0] + ".html"
    write_html(text, args.out, html_path, args.lang)
    print(f"wrote {args.out} ({len(text.split())} words) and {html_path}")
    return text


if __name__ == "__main__":
    sys.exit(cli.run(main))
