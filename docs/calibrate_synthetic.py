"""Calibrate the built-in synthetic faces: how hard are they at `make report`'s settings?

Trains the CNN and the DNN exactly as `make report` does on the built-in set
(the flags are read from the Makefile), for two seeds, and prints a markdown
table: validation and test accuracy, the CNN's most-confused pairs and
per-class recall on the test split, raw-pixel logistic regression, and the
effect of the label noise (the same CNN scored against the true labels, and
a CNN trained on noise-free labels). docs/synthetic_calibration.md holds its
output.

    python docs/calibrate_synthetic.py            # ~10 minutes on 2 cores
    python docs/calibrate_synthetic.py --seeds 0  # one seed
"""

import argparse
import os
import re
import shlex
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import confusion  # noqa: E402
import train_cnn  # noqa: E402
import train_dnn  # noqa: E402
from ferlib import CLASS_NAMES, data  # noqa: E402
from ferlib.models import load_model, predict_probs  # noqa: E402


def makefile_flags():
    """(CNN flags, DNN flags) that `make report` passes on the built-in set: the Makefile's first branch."""
    text = open(os.path.join(ROOT, "Makefile")).read()
    first = text[text.index("ifeq ($(DATA_FILE),)"):text.index("else")]
    get = lambda name: re.search(rf"^\s*{name}\s*\?=\s*(.*)$", first, re.M).group(1).strip()  # noqa: E731
    cnn = ["--epochs", get("EPOCHS")] + shlex.split(get("TRAIN_FLAGS"))
    dnn = ["--epochs", get("DNN_EPOCHS")] + shlex.split(get("DNN_FLAGS"))
    return cnn, dnn


def test_report(model_path, x, y):
    pred = predict_probs(load_model(model_path), x).argmax(1)
    return confusion.confusion_report(y, pred), pred


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = p.parse_args()
    cnn_flags, dnn_flags = makefile_flags()
    out = tempfile.mkdtemp(prefix="calibrate_")
    dirs = ["--data", "synthetic", "--models-dir", out, "--figures-dir", out]
    d = data.load_synthetic()
    x_te, y_te = d.split("test")
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        cnn = train_cnn.main(cnn_flags + dirs + ["--seed", str(seed), "--name", f"cnn{seed}"])
        t_cnn = time.perf_counter() - t0
        dnn = train_dnn.main(dnn_flags + dirs + ["--seed", str(seed), "--name", f"dnn{seed}"])
        rep, pred = test_report(os.path.join(out, f"cnn{seed}.keras"), x_te, y_te)
        clean = float(np.mean(pred == d.clean_labels["test"]))
        recall = {c: rep["per_class"][c]["recall"] for c in CLASS_NAMES}
        rows.append((seed, cnn, dnn, rep, recall, clean, t_cnn))
    # The same CNN recipe on noise-free labels.
    saved = data.SYNTHETIC_LABEL_NOISE
    data.SYNTHETIC_LABEL_NOISE = 0.0
    cnn_clean = train_cnn.main(cnn_flags + dirs + ["--seed", str(args.seeds[0]), "--name", "cnn_clean"])
    data.SYNTHETIC_LABEL_NOISE = saved
    _, pred_clean = test_report(os.path.join(out, "cnn_clean.keras"), x_te, y_te)

    from sklearn.linear_model import LogisticRegression
    x_tr, y_tr = d.split("train")
    flat = lambda a: a.reshape(len(a), -1) / 255.0  # noqa: E731
    logreg = LogisticRegression(max_iter=500, C=0.01).fit(flat(x_tr), y_tr).score(flat(x_te), y_te)

    print(f"Flags: CNN `{' '.join(cnn_flags)}`, DNN `{' '.join(dnn_flags)}`; label noise {saved:.0%}.\n")
    print("| seed | CNN val | CNN test | DNN val | DNN test | CNN test vs true labels | CNN s | "
          "most confused (CNN, test) | recall (CNN, test) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed, cnn, dnn, rep, recall, clean, t_cnn in rows:
        ev, dv = cnn["evaluation"], dnn["evaluation"]
        rec = ", ".join(f"{c} {r:.2f}" for c, r in sorted(recall.items(), key=lambda kv: -kv[1]))
        print(f"| {seed} | {ev['val']['accuracy']:.4f} | {ev['test']['accuracy']:.4f} | {dv['val']['accuracy']:.4f} "
              f"| {dv['test']['accuracy']:.4f} | {clean:.4f} | {t_cnn:.0f} | {rep['sentence']} | {rec} |")
    ce = cnn_clean["evaluation"]
    print(f"\nCNN trained on noise-free labels (seed {args.seeds[0]}): test {np.mean(pred_clean == y_te):.4f} "
          f"against the noisy labels, {ce['test']['accuracy']:.4f} against the true ones "
          f"(val {ce['val']['accuracy']:.4f}).")
    print(f"Raw-pixel logistic regression (C=0.01): test {logreg:.4f}.")
    print("Class counts (train / val / test): " + "; ".join(
        f"{c} {' / '.join(str(int((d.split(s)[1] == k).sum())) for s in ('train', 'val', 'test'))}"
        for k, c in enumerate(CLASS_NAMES)))


if __name__ == "__main__":
    main()
