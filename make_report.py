"""Write report.md: the five homework questions answered from what the runs recorded.

Reads only files that runs wrote (models/*.json, models/*.history.csv,
figures/*.png): every number in the report comes from one of them, and every
sentence that states a finding is built from those numbers. A missing run
gives a section that says which command makes it; the report is still
written.

    python make_report.py                  # models/ + figures/ -> report.md
    python make_report.py --lang zh-TW     # headings and phrases in Traditional Chinese
"""

import datetime
import os
import sys

from ferlib import cli
from ferlib.outputs import atomic_path, load_json

# Fixed text per language; {} fields are filled from the records.
TEXT = {
    "en": {
        "title": "FER2013 homework report",
        "synthetic_note": "> Made by `make report` on the **built-in synthetic faces**, not on FER2013: it shows what the "
                          "kit produces and is reproducible on any machine. To make it on FER2013, put `fer2013.csv` in "
                          "`data/` (see data/README.md) and run `make report`.",
        "real_note": "> Made by `make report` on `{source}`.",
        "q1": "1. The CNN: architecture, training, accuracy",
        "q2": "2. A DNN with the same number of parameters",
        "q3": "3. Which expressions are confused: the confusion matrix",
        "q4": "4. Where the CNN looks: saliency maps",
        "q5": "5. What the conv filters respond to: gradient ascent",
        "prov": "Provenance",
        "missing": "Not run yet. Make it with: `{cmd}`",
        "layer": "layer", "type": "type", "shape": "output shape", "params": "parameters",
        "split": "split", "acc": "accuracy", "loss": "loss", "images": "images",
        "total": "Total parameters: **{total:,}** (trainable {trainable:,}, non-trainable {non_trainable:,}).",
        "training": "Trained for {epochs} epochs (best validation accuracy at epoch {best_epoch}) with batch size "
                    "{batch_size}, {optimizer} at peak learning rate {lr} with cosine decay, weight decay {wd}, "
                    "label smoothing {ls}, mixup {mix}, augmentation {aug}, precision {precision}; {train_seconds:.0f} s of training at "
                    "{ips:.0f} images/s, {spe:.1f} s per epoch.",
        "on": "on", "off": "off",
        "curves": "Training curves",
        "dnn_arch": "Flatten, then dense layers of widths {widths}, then Dense(7).",
        "side": "| | CNN | DNN |\n|---|---|---|\n| parameters | {c:,} | {d:,} |\n| validation accuracy | {cv:.4f} | {dv:.4f} |"
                "{test_row}",
        "compare_better": "With {d:,} parameters against the CNN's {c:,} ({rel:+.2%}), the DNN reaches {dv:.4f} "
                          "validation accuracy, {gap:.1f} points below the CNN's {cv:.4f}. Equal capacity, so the "
                          "difference is what convolution buys: weights shared across positions see the same "
                          "brow or mouth wherever the face sits, while each dense weight is tied to one pixel.",
        "compare_worse": "With {d:,} parameters against the CNN's {c:,}, the DNN reaches {dv:.4f} validation "
                         "accuracy against the CNN's {cv:.4f}: on this data the DNN is not worse.",
        "conf_acc": "On the {split} split ({n} images) the CNN's accuracy is {acc:.4f} ({acc_tta:.4f} with mirror "
                    "test-time augmentation), macro-F1 {f1:.4f}.",
        "conf_pairs": "The most confused pairs (share of the true class predicted as the other): {sentence}.",
        "conf_best_worst": "Best recognised: {best} (recall {best_r:.2f}); worst: {worst} (recall {worst_r:.2f}).",
        "conf_none": "No image of the {split} split is misclassified: every class has recall 1.00.",
        "class": "class", "precision": "precision", "recall": "recall", "f1": "F1", "support": "support",
        "sal_methods": "Methods: {methods}. Each row: a face of the {split} split that the CNN classified "
                       "correctly, the saliency heat map and overlay per method, and the top-15% pixels.",
        "sal_mean": "Mean saliency map per class",
        "filters": "Layer `{layer}`, {n} filters, {steps} gradient-ascent steps from gray noise (all filters in "
                   "one batch). {dead} dead filters; median activation gain over the start {gain:.1f}x.",
        "activations": "Output of `{layer}` for one face",
        "when": "Date", "commit": "git commit", "machine": "Machine", "versions": "Libraries",
        "data": "Data", "seed": "Seed", "steps": "Steps (command, wall time)",
        "rows": "{source}: {rows}",
    },
    "zh-TW": {
        "title": "FER2013 作業報告",
        "synthetic_note": "> 本報告由 `make report` 在**內建的合成人臉資料**上產生，而非 FER2013；用以展示本套件的輸出，"
                          "任何機器皆可重現。若要以 FER2013 產生，請將 `fer2013.csv` 放入 `data/`（見 data/README.md）"
                          "後執行 `make report`。",
        "real_note": "> 本報告由 `make report` 在 `{source}` 上產生。",
        "q1": "1. CNN：模型架構、訓練過程與準確率",
        "q2": "2. 參數量相同的 DNN",
        "q3": "3. 哪些表情容易混淆：混淆矩陣",
        "q4": "4. CNN 在看哪裡：Saliency map",
        "q5": "5. 卷積濾波器對什麼有反應：梯度上升",
        "prov": "資料來源與執行紀錄",
        "missing": "尚未執行。請執行：`{cmd}`",
        "layer": "層", "type": "類型", "shape": "輸出形狀", "params": "參數量",
        "split": "資料集", "acc": "準確率", "loss": "損失", "images": "張數",
        "total": "總參數量：**{total:,}**（可訓練 {trainable:,}，不可訓練 {non_trainable:,}）。",
        "training": "共訓練 {epochs} 個 epoch（驗證準確率最佳於第 {best_epoch} 個 epoch），batch size {batch_size}，"
                    "{optimizer} 最高學習率 {lr} 並以 cosine 衰減，weight decay {wd}，label smoothing {ls}，mixup {mix}，資料增強 {aug}，精度 {precision}；"
                    "訓練 {train_seconds:.0f} 秒，每秒 {ips:.0f} 張，每個 epoch {spe:.1f} 秒。",
        "on": "開啟", "off": "關閉",
        "curves": "訓練曲線",
        "dnn_arch": "Flatten，接著寬度為 {widths} 的全連接層，最後 Dense(7)。",
        "side": "| | CNN | DNN |\n|---|---|---|\n| 參數量 | {c:,} | {d:,} |\n| 驗證準確率 | {cv:.4f} | {dv:.4f} |"
                "{test_row}",
        "compare_better": "DNN 有 {d:,} 個參數，CNN 有 {c:,} 個（差 {rel:+.2%}）；DNN 的驗證準確率為 {dv:.4f}，"
                          "比 CNN 的 {cv:.4f} 低 {gap:.1f} 個百分點。參數量相同，差距來自卷積本身：共享權重無論"
                          "眉毛或嘴巴出現在哪個位置都能辨認，而全連接層的每個權重只對應一個像素。",
        "compare_worse": "DNN 有 {d:,} 個參數，CNN 有 {c:,} 個；DNN 的驗證準確率為 {dv:.4f}，CNN 為 {cv:.4f}："
                         "在這份資料上 DNN 並沒有比較差。",
        "conf_acc": "在 {split}（{n} 張）上，CNN 的準確率為 {acc:.4f}（加上鏡像 TTA 為 {acc_tta:.4f}），"
                    "macro-F1 為 {f1:.4f}。",
        "conf_pairs": "最容易混淆的組合（真實類別被預測為另一類的比例）：{sentence}。",
        "conf_best_worst": "辨識最好的是 {best}（recall {best_r:.2f}）；最差的是 {worst}（recall {worst_r:.2f}）。",
        "conf_none": "{split} 中沒有任何一張被分錯：每個類別的 recall 都是 1.00。",
        "class": "類別", "precision": "precision", "recall": "recall", "f1": "F1", "support": "張數",
        "sal_methods": "方法：{methods}。每一列是 {split} 中一張被 CNN 正確分類的臉、各方法的熱圖與疊圖，"
                       "以及最顯著的 15% 像素。",
        "sal_mean": "各類別的平均 saliency map",
        "filters": "層 `{layer}`，{n} 個濾波器，從灰色雜訊做 {steps} 步梯度上升（所有濾波器同一個 batch）。"
                   "{dead} 個濾波器沒有反應；activation 的中位數提升 {gain:.1f} 倍。",
        "activations": "`{layer}` 對一張臉的輸出",
        "when": "日期", "commit": "git commit", "machine": "機器", "versions": "套件版本",
        "data": "資料", "seed": "隨機種子", "steps": "步驟（指令、執行時間）",
        "rows": "{source}：{rows}",
    },
}

COMMANDS = {"cnn": "python train_cnn.py", "dnn": "python train_dnn.py", "confusion": "python confusion.py",
            "saliency": "python saliency.py", "filters": "python filter_viz.py --image 0"}


def read(path):
    return load_json(path) if os.path.exists(path) else None


def link(path, out_dir, alt):
    return f"![{alt}]({os.path.relpath(path, out_dir).replace(os.sep, '/')})" if path and os.path.exists(path) else ""


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def accuracy_table(t, rec):
    return table([t["split"], t["acc"], t["loss"], t["images"]],
                 [[s, f"{e['accuracy']:.4f}", f"{e['loss']:.4f}", e["n"]] for s, e in rec["evaluation"].items()])


def training_text(t, rec):
    c = rec["config"]
    aug = t["on"] + (f" ({rec['augmentation']})" if rec.get("augmentation") else "") if c["augment"] else t["off"]
    optimizer = "SGD (Nesterov momentum 0.9)" if c.get("optimizer") == "sgd" else "Adam"
    return t["training"].format(epochs=rec["epochs"], best_epoch=rec["best_epoch"], batch_size=c["batch_size"],
                                optimizer=optimizer, lr=c["lr"], wd=c.get("weight_decay", 0),
                                ls=c.get("label_smoothing", 0), mix=c.get("mixup", 0.0), aug=aug,
                                precision=rec["precision"], train_seconds=rec["train_seconds"],
                                ips=rec["train_images_per_second"], spe=rec["seconds_per_epoch"])


def model_section(t, rec, figures_dir, out_dir, arch_line=""):
    parts = [arch_line] if arch_line else []
    parts.append(table([t["layer"], t["type"], t["shape"], t["params"]],
                       [[f"`{n}`", k, s, f"{p:,}"] for n, k, s, p in rec["layers"]]))
    parts.append(t["total"].format(**rec["params"]))
    parts.append(training_text(t, rec))
    parts.append(f"**{t['curves']}**\n\n" + link(os.path.join(figures_dir, f"{rec['name']}_history.png"),
                                                   out_dir, t["curves"]))
    parts.append(accuracy_table(t, rec))
    return parts


def comparison(t, cnn, dnn):
    c, d = cnn["params"]["total"], dnn["params"]["total"]
    cv, dv = cnn["evaluation"]["val"]["accuracy"], dnn["evaluation"]["val"]["accuracy"]
    test_row = ""
    if "test" in cnn["evaluation"] and "test" in dnn["evaluation"]:
        test_row = f"\n| test accuracy | {cnn['evaluation']['test']['accuracy']:.4f} | " \
                   f"{dnn['evaluation']['test']['accuracy']:.4f} |"
    side = t["side"].format(c=c, d=d, cv=cv, dv=dv, test_row=test_row)
    key = "compare_better" if cv > dv else "compare_worse"
    return [side, t[key].format(c=c, d=d, cv=cv, dv=dv, rel=(d - c) / c, gap=100 * (cv - dv))]


def confusion_section(t, conf, out_dir):
    per = conf["per_class"]
    if conf["most_confused"]:
        best = max(per, key=lambda k: per[k]["recall"])
        worst = min(per, key=lambda k: per[k]["recall"])
        errors = [t["conf_pairs"].format(sentence=conf["sentence"]),
                  t["conf_best_worst"].format(best=best, best_r=per[best]["recall"],
                                              worst=worst, worst_r=per[worst]["recall"])]
    else:
        errors = [t["conf_none"].format(split=conf["split"])]
    return [
        link(conf["figure"], out_dir, "confusion matrix"),
        t["conf_acc"].format(split=conf["split"], n=conf["n"], acc=conf["accuracy_plain"],
                             acc_tta=conf["accuracy_tta"], f1=conf["macro_f1"]),
        *errors,
        table([t["class"], t["precision"], t["recall"], t["f1"], t["support"]],
              [[c, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1-score']:.3f}", int(v["support"])]
               for c, v in per.items()]),
    ]


def saliency_section(t, sal, out_dir):
    return [link(sal["figure"], out_dir, "saliency maps"),
            t["sal_methods"].format(methods=", ".join(sal["methods"]), split=sal["split"]),
            f"**{t['sal_mean']}**\n\n" + link(sal["figure_mean"], out_dir, t["sal_mean"]),
            sal["observation"] + "."]


def filters_section(t, filt, out_dir):
    parts = [link(filt["figure"], out_dir, "filter images"),
             t["filters"].format(layer=filt["layer"], n=len(filt["filters"]), steps=filt["steps"],
                                 dead=len(filt["dead"]), gain=filt["median_gain"])]
    if filt.get("activations_figure"):
        parts.append(f"**{t['activations'].format(layer=filt['layer'])}**\n\n"
                     + link(filt["activations_figure"], out_dir, "activations"))
    return parts


def provenance(t, records):
    first = next(r for r in records.values() if r)
    env = first["environment"]
    lines = []
    for name in ("cnn", "dnn"):
        rec = records.get(name)
        if rec:
            rows = ", ".join(f"{k} {v:,}" for k, v in rec["data"]["rows"].items())
            lines.append(f"- {t['data']} ({name}): " + t["rows"].format(source=rec["data"]["source"], rows=rows)
                         + f"; {t['seed']} {rec['config']['seed']}")
    lines.append(f"- {t['steps']}:")
    for name, rec in records.items():
        if rec:
            lines.append(f"  - `{rec['environment']['command']}`: {rec['wall_seconds']:.1f} s ({rec.get('date', '')})")
    lines.append(f"- {t['versions']}: Python {env['python']}, TensorFlow {env['tensorflow']}, Keras {env['keras']}, "
                 f"NumPy {env['numpy']}, scikit-learn {env['scikit-learn']}")
    lines.append(f"- {t['machine']}: {env['machine']}")
    lines.append(f"- {t['commit']}: {env['git_commit'] or 'unknown'}")
    return "\n".join(lines)


def build_report(models_dir, figures_dir, out, lang="en"):
    t = TEXT[lang]
    out_dir = os.path.dirname(os.path.abspath(out))
    records = {k: read(os.path.join(models_dir, f)) for k, f in
               (("cnn", "cnn.json"), ("dnn", "dnn.json"), ("confusion", "cnn.confusion.json"),
                ("saliency", "cnn.saliency.json"), ("filters", "cnn.filters.json"))}
    cnn, dnn = records["cnn"], records["dnn"]
    source = cnn["data"]["source"] if cnn else (dnn["data"]["source"] if dnn else None)
    doc = [f"# {t['title']}", t["synthetic_note"] if source in (None, "synthetic") else
           t["real_note"].format(source=source)]

    def section(key, rec, make):
        doc.append(f"## {t[key]}")
        doc.extend(make() if rec else [t["missing"].format(cmd=COMMANDS[_name_of(key)])])

    section("q1", cnn, lambda: model_section(t, cnn, figures_dir, out_dir))
    doc.append(f"## {t['q2']}")
    if dnn:
        doc.extend(model_section(t, dnn, figures_dir, out_dir,
                                 t["dnn_arch"].format(widths=", ".join(map(str, dnn.get("widths", []))))))
        if cnn:
            doc.extend(comparison(t, cnn, dnn))
    else:
        doc.append(t["missing"].format(cmd=COMMANDS["dnn"]))
    section("q3", records["confusion"], lambda: confusion_section(t, records["confusion"], out_dir))
    section("q4", records["saliency"], lambda: saliency_section(t, records["saliency"], out_dir))
    section("q5", records["filters"], lambda: filters_section(t, records["filters"], out_dir))
    if any(records.values()):
        doc.append(f"## {t['prov']}")
        doc.append(provenance(t, records))
        doc.append(f"- {t['when']}: {datetime.date.today().isoformat()} (make_report.py)")
    text = "\n\n".join(p for p in doc if p) + "\n"
    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return text


def _name_of(key):
    return {"q1": "cnn", "q2": "dnn", "q3": "confusion", "q4": "saliency", "q5": "filters"}[key]


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models-dir", default="models", help="where the run records are (default: %(default)s)")
    cli.add_figures_arg(p, "the figures are that the report links")
    p.add_argument("--out", default="report.md", help="the report to write (default: %(default)s)")
    p.add_argument("--lang", choices=sorted(TEXT), default="en",
                   help="language of the headings and sentences (default: %(default)s)")
    args = p.parse_args(argv)
    text = build_report(args.models_dir, args.figures_dir, args.out, args.lang)
    print(f"wrote {args.out} ({len(text.splitlines())} lines)")
    return text


if __name__ == "__main__":
    sys.exit(cli.run(main))
