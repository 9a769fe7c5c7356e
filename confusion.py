"""Which expressions does the model confuse? (report question 3)

Loads a saved model, predicts one split, and writes:
  figures/<model>_confusion.png   the row-normalised matrix in percent, each true class with its count
  models/<model>.confusion.json   accuracy (plain and mirror-TTA), per-class precision/recall/F1,
                                  macro-F1, the matrices, and the most-confused pairs in words

Rows are the true class, columns the prediction; a row-normalised cell is
"of the true X, the share predicted Y". The matrices and scores come from
scikit-learn.

    python confusion.py                              # models/cnn.keras on the val split
    python confusion.py --model models/dnn.keras --split test --tta
"""

import sys
import time

import numpy as np

from ferlib import CLASS_NAMES, cli
from ferlib.data import load_fer2013
from ferlib.models import load_model, mirror_tta, predict_probs
from ferlib.outputs import analysis_paths, finish_record, pyplot, save_figure, save_json

TOP_PAIRS = 3


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


def plot_confusion(counts, title, dest):
    """One row-normalised matrix in percent; each true class labelled with its count; a colour bar."""
    plt = pyplot()
    counts = np.asarray(counts)
    rows = counts.sum(1, keepdims=True)
    share = 100 * np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    for i, j in np.ndindex(share.shape):
        if counts[i, j] or i == j:
            ax.text(j, i, f"{share[i, j]:.0f}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 60 else "black", fontweight="bold" if i != j else "normal")
    n = len(CLASS_NAMES)
    ax.set_xticks(range(n), CLASS_NAMES, rotation=40, ha="right")
    ax.set_yticks(range(n), [f"{c} (n={int(k)})" for c, k in zip(CLASS_NAMES, rows[:, 0])])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (faces in the split)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="% of the true class")
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, dest)


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p)
    cli.add_data_args(p)
    cli.add_split_arg(p, "to score", ("val", "test", "train", "all"))
    p.add_argument("--tta", action="store_true",
                   help="the matrix from predictions averaged over each image and its mirror "
                        "(both accuracies are recorded either way)")
    cli.add_figures_arg(p, "the confusion matrix goes")
    args = p.parse_args(argv)
    t0 = time.perf_counter()

    model = load_model(args.model)
    data = load_fer2013(args.data, seed=args.seed)
    split = args.split or data.held_out_split()
    x, y = data.labelled(split)
    probs = predict_probs(model, x)
    probs_tta = mirror_tta(model, x, probs)
    report = confusion_report(y, (probs_tta if args.tta else probs).argmax(1))
    report.update({
        "model": args.model, "data": data.source, "split": split, "n": int(len(y)), "tta": args.tta,
        "accuracy_plain": float(np.mean(probs.argmax(1) == y)),
        "accuracy_tta": float(np.mean(probs_tta.argmax(1) == y)),
    })
    fig_prefix, json_path = analysis_paths(args.model, args.figures_dir, "confusion")
    report["figure"] = fig_prefix + ".png"
    plot_confusion(report["counts"], f"{split} split, n={len(y)}, accuracy {report['accuracy']:.3f}"
                   + (" (mirror TTA)" if args.tta else ""), report["figure"])
    save_json(finish_record(report, t0, __file__, argv), json_path)
    print(f"accuracy {report['accuracy_plain']:.4f} (with mirror TTA {report['accuracy_tta']:.4f}), "
          f"macro-F1 {report['macro_f1']:.4f} on {len(y)} {split} images")
    print(f"most confused: {report['sentence']}")
    print(f"wrote {report['figure']} and {json_path}")
    return report


if __name__ == "__main__":
    sys.exit(cli.run(main))
