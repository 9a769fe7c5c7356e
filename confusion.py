"""Which expressions does the model confuse? (report question 3)

Loads a saved model, predicts one split, and writes:
  figures/<model>_confusion.png   the row-normalised matrix in percent, each true class with its count
  figures/<model>_confused.png    misclassified faces of the most-confused pairs, most confident first
  models/<model>.confusion.json   accuracy (plain and mirror-TTA), per-class precision/recall/F1,
                                  macro-F1, the matrices, the most-confused pairs in words, and how
                                  near each pair of classes lies in the model's last hidden layer

Rows are the true class, columns the prediction; a row-normalised cell is
"of the true X, the share predicted Y". The matrices and scores come from
scikit-learn. Figures are drawn in English, and also in Traditional Chinese
(<name>.zh-TW.png) when a CJK font is at hand.

    python confusion.py                              # models/cnn.keras on test (val if the file has no test)
    python confusion.py --model models/dnn.keras --split test --tta 10
    python confusion.py --model a.keras b.keras c.keras --tta 18   # an ensemble

Several models are scored as an ensemble: the mean of their class
probabilities, each over the same test-time views. Its outputs are named
ensemble_<a>_<b>_..., beside the first model, and its record lists the members.
"""

import os
import sys
import time
from functools import partial

import numpy as np

from ferlib import CLASS_NAMES, cli
from ferlib.records import load_for_models
from ferlib.models import ensemble_probs, load_model
from ferlib.outputs import (analysis_paths, check_writable, figure_paths, finish_record, pyplot, save_figure,
                            save_json, write_together)
from ferlib.words import CLASS_WORDS, FIGURE_WORDS, class_words, spaced, split_word

TOP_PAIRS = 3
GALLERY_FACES = 6   # per pair: one row of the gallery


def confusion_report(y_true, y_pred):
    """Everything the report needs about one set of predictions, as plain numbers."""
    from sklearn.metrics import classification_report, confusion_matrix
    labels = list(range(len(CLASS_NAMES)))
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    rows = counts.sum(1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    rep = classification_report(y_true, y_pred, labels=labels, target_names=CLASS_NAMES,
                                output_dict=True, zero_division=0)
    off = norm.copy()
    np.fill_diagonal(off, -1)
    order = np.argsort(off, axis=None)[::-1][:TOP_PAIRS]
    pairs = [{"true": CLASS_NAMES[i], "predicted": CLASS_NAMES[j], "rate": float(norm[i, j]),
              "count": int(counts[i, j])} for i, j in zip(*np.unravel_index(order, norm.shape))
             if counts[i, j] > 0]   # a perfect model confuses nothing, not "Angry -> Disgust 0%"
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(rep["macro avg"]["f1-score"]),
        "per_class": {c: {k: float(rep[c][k]) for k in ("precision", "recall", "f1-score", "support")}
                      for c in CLASS_NAMES},
        "counts": counts.tolist(), "normalized": norm.round(4).tolist(),
        "most_confused": pairs,
        "sentence": "; ".join(f"{p['true']} -> {p['predicted']} {p['rate']:.0%}" for p in pairs) or "none",
    }


def hidden_features(model, x, batch=512):
    """The model's last hidden layer for faces x (N,48,48): the input of its "logits" layer, in float32."""
    import keras
    cut = keras.Model(model.inputs[0], model.get_layer("logits").input)
    return np.concatenate([np.asarray(cut(x[i:i + batch, :, :, None].astype(np.float32), training=False), np.float32)
                           for i in range(0, len(x), batch)])


def class_separation(features, y):
    """How near each pair of classes lies in the last hidden layer: the distance between the two class
    centroids over the root mean square distance of a face from its own class's centroid (a class pair at
    1.0 is as far apart as a typical face from its centroid). Pairs nearest first, each with its rank."""
    present = [c for c in range(len(CLASS_NAMES)) if (y == c).any()]
    centroids = {c: features[y == c].mean(0) for c in present}
    within = np.sqrt(np.mean([np.sum((features[y == c] - centroids[c]) ** 2, 1).mean() for c in present]))
    pairs = sorted(({"a": CLASS_NAMES[a], "b": CLASS_NAMES[b],
                     "distance": float(np.linalg.norm(centroids[a] - centroids[b]) / within)}
                    for i, a in enumerate(present) for b in present[i + 1:]), key=lambda p: p["distance"])
    return [{**p, "rank": k + 1} for k, p in enumerate(pairs)]


def plot_confusion(counts, split, usage, accuracy, tta, lang, dest):
    """One row-normalised matrix in percent; each true class labelled with its count; a colour bar."""
    plt = pyplot()
    w, names = FIGURE_WORDS[lang], class_words(lang)
    counts = np.asarray(counts)
    rows = counts.sum(1, keepdims=True)
    share = 100 * np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    for i, j in np.ndindex(share.shape):   # every cell written: 0 is no face, <1 a few faces that round to 0%
        text = "<1" if counts[i, j] and share[i, j] < 0.5 else f"{share[i, j]:.0f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if share[i, j] > 60 else "black",
                fontweight="bold" if i != j and counts[i, j] else "normal")
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right")
    ax.set_yticks(range(len(names)), [w["class_count"].format(c=c, n=int(k)) for c, k in zip(names, rows[:, 0])])
    ax.set_xlabel(w["predicted_class"])
    ax.set_ylabel(w["true_class"])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label=w["share_of_true"])
    ax.set_title(w["confusion_title"].format(split=split_word(lang, split, usage), n=int(counts.sum()),
                                             accuracy=accuracy, tta=w["tta"].format(views=tta) if tta > 1 else ""))
    fig.tight_layout()
    save_figure(fig, dest)


def confused_faces(y, probs, pairs, per_pair=GALLERY_FACES):
    """For each most-confused pair, its misclassified faces, most confident mistake first."""
    pred = probs.argmax(1)
    gallery = []
    for p in pairs:
        i, j = CLASS_NAMES.index(p["true"]), CLASS_NAMES.index(p["predicted"])
        idx = np.flatnonzero((y == i) & (pred == j))
        idx = idx[np.argsort(-probs[idx, j], kind="stable")][:per_pair]
        gallery.append({"true": p["true"], "predicted": p["predicted"], "indices": idx.tolist(),
                        "probabilities": probs[idx, j].round(4).tolist()})
    return gallery


def plot_confused_faces(x, gallery, split, usage, lang, dest, cols=GALLERY_FACES):
    """One row per pair: its misclassified faces, each with true -> predicted and the predicted probability."""
    plt = pyplot()
    w, words = FIGURE_WORDS[lang], CLASS_WORDS[lang]
    fig, axes = plt.subplots(len(gallery), cols, figsize=(6.5, 1.25 * len(gallery) + 0.3), squeeze=False,
                             layout="constrained")
    for row, pair in zip(axes, gallery):
        for ax in row:
            ax.axis("off")
        for ax, i, prob in zip(row, pair["indices"], pair["probabilities"]):
            ax.imshow(x[i], cmap="gray", vmin=0, vmax=255)
            ax.set_title(w["gallery_label"].format(true=words[pair["true"]], predicted=words[pair["predicted"]],
                                                   probability=prob), fontsize=8, pad=2)
    fig.suptitle(spaced(w["gallery_title"].format(split=split_word(lang, split, usage))))
    save_figure(fig, dest)


def ensemble_path(paths):
    """The path an ensemble's outputs are named from: ensemble_<a>_<b>_....keras beside the first member."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    return os.path.join(os.path.dirname(paths[0]), "ensemble_" + "_".join(stems) + ".keras")


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p, several=True)
    cli.add_data_args(p)
    cli.add_split_arg(p, "to score", ("val", "test", "train", "all"))
    cli.add_tta_arg(p)   # the matrix's predictions; the plain and mirror accuracies are recorded either way
    cli.add_figures_arg(p, "the confusion matrix goes")
    args = p.parse_args(argv)
    check_writable(args.figures_dir)   # before the work, not after it
    t0 = time.perf_counter()

    models = [load_model(path) for path in args.model]
    data = load_for_models(args.model, args.data, args.split_seed)
    split = args.split or data.held_out_split()
    x, y = data.labelled(split)
    probs = ensemble_probs(models, x)
    probs_tta = (probs + ensemble_probs(models, np.ascontiguousarray(x[:, :, ::-1]))) / 2   # = tta=2, one pass fewer
    chosen = {1: probs, 2: probs_tta}.get(args.tta)
    chosen = ensemble_probs(models, x, tta=args.tta) if chosen is None else chosen
    report = confusion_report(y, chosen.argmax(1))
    model = args.model[0] if len(args.model) == 1 else ensemble_path(args.model)
    report.update({
        "model": model, "members": args.model, "data": data.source, "usage": data.usage, "data_split": data.split_info,
        "split": split, "n": int(len(y)), "tta": args.tta,
        "accuracy_plain": float(np.mean(probs.argmax(1) == y)),
        "accuracy_tta": float(np.mean(probs_tta.argmax(1) == y)),
    })
    report["gallery"] = confused_faces(y, chosen, report["most_confused"])
    if "logits" in [layer.name for layer in models[0].layers]:   # the kit's models; an ensemble: its first member
        report["separation"] = {"model": args.model[0], "pairs": class_separation(hidden_features(models[0], x), y)}
    fig_prefix, json_path = analysis_paths(model, args.figures_dir, "confusion")
    report["figure"] = fig_prefix + ".png"
    report["gallery_figure"] = analysis_paths(model, args.figures_dir, "confused")[0] + ".png"
    writes = [(path, partial(plot_confusion, report["counts"], split, data.usage, report["accuracy"], args.tta, lang))
              for lang, path in figure_paths(report["figure"])]
    if report["gallery"]:
        writes += [(path, partial(plot_confused_faces, x, report["gallery"], split, data.usage, lang))
                   for lang, path in figure_paths(report["gallery_figure"])]
    write_together(writes + [(json_path, partial(save_json, finish_record(report, t0, __file__, argv)))])
    views = f"; {args.tta}-view TTA {report['accuracy']:.4f}" if args.tta > 2 else ""
    members = f", ensemble of {len(models)}" if len(models) > 1 else ""
    print(f"accuracy {report['accuracy_plain']:.4f} (with mirror TTA {report['accuracy_tta']:.4f}{views}), "
          f"macro-F1 {report['macro_f1']:.4f} on {len(y)} {split} images{members}")
    print(f"most confused: {report['sentence']}")
    print(f"wrote {report['figure']}, {report['gallery_figure']} and {json_path}")
    return report


if __name__ == "__main__":
    sys.exit(cli.run(main))
