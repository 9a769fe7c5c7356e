"""Write report.md (and report.html): the five homework questions answered from what the runs recorded.

Reads only files that runs wrote (models/*.json, models/*.history.csv,
figures/*.png): every number in the report comes from one of them, and every
sentence that states a finding is built from those numbers. A missing run
gives a section that says which command makes it; the report is still
written. Each section names the record behind it and the commit that made it.

report.html is the file to hand in: the same text with the figures embedded,
laid out to print on A4 or Letter from any browser ("Print" -> "Save as PDF").

    python make_report.py                          # models/ + figures/ -> report.md, report.html
    python make_report.py --lang zh-TW             # Traditional Chinese
    python make_report.py --collaborators "B12345678 Wang"
"""

import base64
import html
import math
import os
import re
import sys

from ferlib import CLASS_NAMES, UserError, cli
from ferlib.outputs import atomic_path, figure_languages, load_json, localized, pyplot, save_figure
from ferlib.words import CLASS_WORDS, FIGURE_WORDS, SPLIT_WORDS, has_dropout, train_label

CHANCE = 1 / len(CLASS_NAMES)

# Every sentence per language; {} fields are filled from the records. Both tables have the same keys.
TEXT = {
    "en": {
        "title": "FER2013 homework report",
        "synthetic_note": "> Made by `make report` on the **built-in synthetic faces**, not on FER2013: it shows what the "
                          "kit produces and is reproducible on any machine. To make it on FER2013, put `fer2013.csv` in "
                          "`data/` (see data/README.md) and run `make report`.",
        "real_note": "> Made by `make report` on `{source}`.",
        "figure_lang": "",
        "gallery_fig": "Misclassified {split} faces of the most confused pairs, the most confident mistakes first: "
                       "true class -> predicted class, and the predicted class's probability.",
        "q1": "1. The CNN: architecture, training, accuracy",
        "q2": "2. A DNN with the same number of parameters",
        "q3": "3. Which expressions are confused: the confusion matrix",
        "q4": "4. Where the CNN looks: saliency maps",
        "q5": "5. What the conv filters respond to: gradient ascent",
        "collaborators": "**Collaborators:** {names}",
        "source": "*Numbers from `{files}`, written at commit {commit}{dirty}.*",
        "dirty": " with uncommitted changes",
        "prov": "Provenance",
        "missing": "Not run yet. Make it with: `{cmd}`",
        "layer": "layer", "type": "type", "shape": "output shape", "params": "parameters", "detail": "detail",
        "aug_layer": "augmentation (training only): {what}", "rescale_layer": "pixels / 255",
        "arch": "The network takes a 48x48 grayscale face, scaled to [0, 1] inside the model. It has {blocks} blocks of "
                "{per_block} convolutions ({kernel}, ReLU, each followed by batch normalization) with {filters} filters; "
                "each block ends with 2x2 max pooling and dropout {conv_drop}. Then Flatten, dense layers of "
                "{dense} units (ReLU, dropout {dense_drop}) and a 7-way softmax. Rows in italics are the kit's own "
                "input layers, without parameters.",
        "total": "Total parameters: **{total:,}** (trainable {trainable:,}, non-trainable {non_trainable:,}).",
        "bn_stats": " The non-trainable ones are batch norm's moving means and variances.",
        "recipe": "Trained for {epochs} epochs, batch size {batch_size}, {optimizer} at a peak learning rate of {lr} "
                  "decayed to 0 along a cosine{wd}{extra}; augmentation: {aug}{warmup}; precision {precision}. "
                  "{train_seconds:,.0f} s of training, {ips:,.0f} images/s.",
        "warmup": "; dropout warmed up over the first {n} epochs",
        "wd": ", decoupled weight decay {wd} (as in AdamW)",
        "ls": ", label smoothing {ls}", "mixup": ", mixup {mix}",
        "aug_none": "none", "sgd": "SGD with Nesterov momentum 0.9", "adam": "Adam",
        "curves": "Training curves, the best epoch marked. {how}",
        "how_aug": "\"Train\" is measured on augmented images with dropout on, so it reads lower than the model's "
                   "accuracy on clean training images (table below).",
        "how_drop": "\"Train\" is measured with dropout on, so it reads lower than the model's accuracy on clean "
                    "training images (table below).",
        "how_plain": "\"Train\" is the mean over each epoch's batches, while the weights still change.",
        "aug_words": {"mirror": "mirror", "shift": "shift", "erase": "random erasing"},
        "acc_header": ["split", "best epoch ({best})", "last epoch ({last})", "images"],
        "acc_note": "Accuracy with a 95% Wilson interval. The best epoch is picked on the validation split itself, so "
                    "its validation accuracy flatters; the last epoch's, and the test split's, do not.",
        "dnn_arch": "Flatten, then dense layers of {widths} units (ReLU), then a 7-way softmax.",
        "compare_fig": "Validation accuracy of both models per epoch, with chance (1/7) and the majority class's share.",
        "side": ["", "CNN", "DNN"], "side_params": "parameters", "side_val": "validation accuracy",
        "side_test": "test accuracy", "side_train": "clean training accuracy",
        "not_learned": "**The {model} did not learn:** its best validation accuracy, {acc:.4f}, is at the level of "
                       "always answering the majority class ({majority:.4f}) and its training loss ends at {loss:.3f}, "
                       "near ln 7 = 1.946 (a uniform guess). No conclusion about the architectures is drawn from it; "
                       "rerun it with a lower learning rate (e.g. `--lr 1e-3`).",
        "compare_better": "With {d:,} parameters against the CNN's {c:,} ({rel:+.3%}), the DNN reaches {dv:.4f} "
                          "validation accuracy, {gap:.1f} points below the CNN's {cv:.4f}. On its clean training "
                          "images the CNN scores {ct:.4f} ({cg:+.1f} points against validation), the DNN {dt:.4f} "
                          "({dg:+.1f}). Equal capacity, so the difference is what convolution buys: weights shared "
                          "across positions see the same brow or mouth wherever the face sits, while each dense weight "
                          "is tied to one pixel.",
        "compare_worse": "With {d:,} parameters against the CNN's {c:,}, the DNN reaches {dv:.4f} validation "
                         "accuracy against the CNN's {cv:.4f}: on this data the DNN is not worse.",
        "conf_fig": "Row-normalised confusion matrix of the CNN on the {split} split: each cell is the share (%) of the "
                    "true class (row) predicted as the column's class.",
        "conf_acc": "On the {split} split ({n} faces) the CNN's accuracy is {acc:.4f} ({acc_tta:.4f} with mirror "
                    "test-time augmentation), macro-F1 {f1:.4f}.",
        "train_counts": "Training faces per class: {counts}.",
        "conf_pairs": "The most confused pairs (share of the true class predicted as the other): {pairs}.",
        "pair": "{true} -> {pred} {rate:.0%}",
        "asym_low_recall": "{c}: recall {r:.2f}, precision {p:.2f}: the model answers {c} too rarely; when it does "
                           "it is right {p:.0%} of the time, and most of the {c} faces it misses go to {to}.",
        "asym_low_precision": "{c}: precision {p:.2f}, recall {r:.2f}: the model answers {c} too often; {wrong:.0%} "
                              "of its {c} answers are wrong, most of them {frm} faces.",
        "rare": "{c} is the rarest class in training ({share:.1%} of the faces).",
        "conf_none": "No face of the {split} split is misclassified: every class has recall 1.00.",
        "class": "class", "precision": "precision", "recall": "recall", "f1": "F1", "support": "faces",
        "sal_fig": "Saliency of the class score (pre-softmax) for one correctly classified face per class and a "
                   "misclassified one (red: true -> predicted), {split} split. Methods: {methods}; Grad-CAM at "
                   "`{layer}`. Each map is scaled to its own maximum.",
        "sal_mean": "Mean {method} map of the correctly classified faces of each class, on one shared scale.",
        "bands_intro": "Saliency per pixel of each face band over the face's mean per pixel ({method}; 1.00 = no "
                       "preference, so the bands' areas do not count):",
        "band": "band", "all_classes": "all classes",
        "band_names": {"brows and eyes": "brows and eyes", "nose": "nose", "mouth": "mouth"},
        "band_finding": "Over all classes the maps favour the {top} band ({r:.2f}x); {per_class}.",
        "band_class": "{c} the {band} ({r:.2f}x)",
        "inside": "On these synthetic faces the pixels that carry the expression are known: per pixel they get "
                  "{ratio:.1f}x the saliency of the rest.",
        "random_ok": "Sanity check (Adebayo et al.): maps of the same faces from a model with re-drawn weights have a "
                     "rank correlation of {rho:.2f} with the trained model's, so the maps depend on what the model "
                     "learned.",
        "random_bad": "Sanity check (Adebayo et al.): maps from a model with re-drawn weights have a rank correlation of "
                      "{rho:.2f} with the trained model's: these maps show the image more than the model.",
        "filters_fig": "Each image is the input that drives one filter of `{layer}` highest, found by {steps} "
                       "gradient-ascent steps from gray noise; ordered by the activation reached, strongest first; "
                       "#n is the filter's index.",
        "patterns": "Read from each image's 2-D spectrum: of the {live} live filters, {stripes} respond to oriented "
                    "stripes ({h} horizontal, {v} vertical, {d} diagonal) and {dots} to lattices of dots or short dashes; "
                    "{fine} have a period under 4 pixels (edges and fine texture), {coarse} a coarser one (parts the "
                    "size of an eye or a mouth). {dead} filters are dead (never active).",
        "activations": "Output of `{layer}` for {split} face {index} (true {true}, predicted {pred}), every map on "
                       "one colour scale.",
        "devices": "Training devices", "replicas": "{n} replica(s), tf.distribute strategy `{strategy}`",
        "commit": "git commit", "machine": "Machine", "versions": "Libraries", "data": "Data", "seed": "seed",
        "steps": "Steps (command, wall time)", "rows": "{source}: {rows}", "unknown": "unknown",
    },
    "zh-TW": {
        "title": "FER2013 作業報告",
        "synthetic_note": "> 本報告由 `make report` 在**內建的合成人臉資料**上產生，而非 FER2013；用以展示本套件的輸出，"
                          "任何機器皆可重現。若要以 FER2013 產生，請將 `fer2013.csv` 放入 `data/`（見 data/README.md）"
                          "後執行 `make report`。",
        "real_note": "> 本報告由 `make report` 在 `{source}` 上產生。",
        "figure_lang": "> 這台電腦上找不到中文字型，所以圖中的文字為英文。",
        "gallery_fig": "最常混淆的組合中被分錯的{split}臉，最有把握的錯誤排在前面：真實類別 -> 預測類別，以及預測類別的機率。",
        "q1": "1. CNN：模型架構、訓練過程與準確率",
        "q2": "2. 參數量相同的 DNN",
        "q3": "3. 哪些表情容易混淆：混淆矩陣",
        "q4": "4. CNN 在看哪裡：Saliency map",
        "q5": "5. 卷積濾波器對什麼有反應：梯度上升",
        "collaborators": "**合作者：** {names}",
        "source": "*數字取自 `{files}`，於 commit {commit}{dirty} 產生。*",
        "dirty": "（含未提交的修改）",
        "prov": "資料來源與執行紀錄",
        "missing": "尚未執行。請執行：`{cmd}`",
        "layer": "層", "type": "類型", "shape": "輸出形狀", "params": "參數量", "detail": "說明",
        "aug_layer": "資料增強（僅訓練時）：{what}", "rescale_layer": "像素 / 255",
        "arch": "輸入為 48x48 灰階人臉，在模型內縮放到 [0, 1]。共 {blocks} 個區塊，每個區塊有 {per_block} 層卷積"
                "（{kernel}、ReLU，每層之後接 batch normalization），濾波器數量依序為 {filters}；每個區塊最後接 "
                "2x2 max pooling 與 dropout {conv_drop}。接著 Flatten、{dense} 個單元的全連接層（ReLU、dropout "
                "{dense_drop}），最後是 7 類的 softmax。斜體的列是本套件自己的輸入層，沒有參數。",
        "total": "總參數量：**{total:,}**（可訓練 {trainable:,}，不可訓練 {non_trainable:,}）。",
        "bn_stats": "不可訓練的參數是 batch norm 的移動平均與變異數。",
        "recipe": "共訓練 {epochs} 個 epoch，batch size {batch_size}，{optimizer}，最高學習率 {lr}，以 cosine 衰減到 0"
                  "{wd}{extra}；資料增強：{aug}{warmup}；精度 {precision}。"
                  "訓練 {train_seconds:,.0f} 秒，每秒 {ips:,.0f} 張。",
        "wd": "，decoupled weight decay {wd}（與 AdamW 相同）",
        "warmup": "；前 {n} 個 epoch 逐步提高 dropout",
        "ls": "，label smoothing {ls}", "mixup": "，mixup {mix}",
        "aug_none": "無", "sgd": "SGD（Nesterov momentum 0.9）", "adam": "Adam",
        "curves": "訓練曲線，虛線標出最佳 epoch。{how}",
        "how_aug": "「train」是在資料增強後的影像上、dropout 開啟時量得，因此低於模型在原始訓練影像上的準確率（見下表）。",
        "how_drop": "「train」是在 dropout 開啟時量得，因此低於模型在原始訓練影像上的準確率（見下表）。",
        "how_plain": "「train」是每個 epoch 各批次的平均，期間權重仍在變動。",
        "aug_words": {"mirror": "鏡像翻轉", "shift": "平移", "erase": "隨機擦除"},
        "acc_header": ["資料集", "最佳 epoch（{best}）", "最後 epoch（{last}）", "張數"],
        "acc_note": "準確率與 95% Wilson 信賴區間。最佳 epoch 是依驗證集本身選出的，所以驗證集的數字偏高；"
                    "最後 epoch 與測試集的數字沒有這個偏差。",
        "dnn_arch": "Flatten，接著 {widths} 個單元的全連接層（ReLU），最後是 7 類的 softmax。",
        "compare_fig": "兩個模型每個 epoch 的驗證準確率，以及隨機猜測（1/7）與多數類別所占比例的參考線。",
        "side": ["", "CNN", "DNN"], "side_params": "參數量", "side_val": "驗證準確率",
        "side_test": "測試準確率", "side_train": "原始訓練影像準確率",
        "not_learned": "**{model} 沒有學起來：**最佳驗證準確率 {acc:.4f}，等同於永遠回答多數類別（{majority:.4f}），"
                       "訓練損失最後為 {loss:.3f}，接近 ln 7 = 1.946（均勻亂猜）。因此不以它比較兩種架構；"
                       "請以較小的學習率重新訓練（例如 `--lr 1e-3`）。",
        "compare_better": "DNN 有 {d:,} 個參數，CNN 有 {c:,} 個（差 {rel:+.3%}）；DNN 的驗證準確率為 {dv:.4f}，"
                          "比 CNN 的 {cv:.4f} 低 {gap:.1f} 個百分點。CNN 在原始訓練影像上達到 {ct:.4f}（比驗證集高 "
                          "{cg:+.1f} 個百分點），DNN 為 {dt:.4f}（{dg:+.1f}）。參數量相同，差距來自卷積本身：共享權重"
                          "無論眉毛或嘴巴出現在哪個位置都能辨認，而全連接層的每個權重只對應一個像素。",
        "compare_worse": "DNN 有 {d:,} 個參數，CNN 有 {c:,} 個；DNN 的驗證準確率為 {dv:.4f}，CNN 為 {cv:.4f}："
                         "在這份資料上 DNN 並沒有比較差。",
        "conf_fig": "CNN 在 {split} 上依列正規化的混淆矩陣：每格是該列真實類別被預測為該欄類別的比例（%）。",
        "conf_acc": "在 {split}（{n} 張）上，CNN 的準確率為 {acc:.4f}（加上鏡像 TTA 為 {acc_tta:.4f}），"
                    "macro-F1 為 {f1:.4f}。",
        "train_counts": "訓練資料各類別張數：{counts}。",
        "conf_pairs": "最容易混淆的組合（真實類別被預測為另一類的比例）：{pairs}。",
        "pair": "{true} → {pred} {rate:.0%}",
        "asym_low_recall": "{c}：recall {r:.2f}，precision {p:.2f}：模型太少回答{c}；回答{c}時有 {p:.0%} 是對的，"
                           "而被漏掉的{c}的臉大多被判成{to}。",
        "asym_low_precision": "{c}：precision {p:.2f}，recall {r:.2f}：模型太常回答{c}；回答{c}的有 {wrong:.0%} 是錯的，"
                              "其中最多的是{frm}的臉。",
        "rare": "{c}是訓練資料中最少的類別（占 {share:.1%}）。",
        "conf_none": "{split} 中沒有任何一張被分錯：每個類別的 recall 都是 1.00。",
        "class": "類別", "precision": "precision", "recall": "recall", "f1": "F1", "support": "張數",
        "sal_fig": "類別分數（softmax 之前）的 saliency：每個類別一張分類正確的臉，加上一張分錯的臉（紅字：真實 → 預測），"
                   "{split}。方法：{methods}；Grad-CAM 取自 `{layer}`。每張圖各自以最大值縮放。",
        "sal_mean": "各類別分類正確的臉的平均 {method} 圖，共用同一個色階。",
        "bands_intro": "各臉部區帶每個像素的 saliency 除以整張臉每個像素的平均（{method}；1.00 表示沒有偏好，"
                       "因此與區帶面積無關）：",
        "band": "區帶", "all_classes": "所有類別",
        "band_names": {"brows and eyes": "眉毛與眼睛", "nose": "鼻子", "mouth": "嘴巴"},
        "band_finding": "整體而言，saliency 偏向{top}區帶（{r:.2f} 倍）；{per_class}。",
        "band_class": "{c}偏向{band}（{r:.2f} 倍）",
        "inside": "在合成人臉上，帶有表情的像素是已知的：每個像素得到的 saliency 是其他像素的 {ratio:.1f} 倍。",
        "random_ok": "合理性檢查（Adebayo 等人）：把模型權重重新隨機抽樣後，同一批臉的 saliency 與訓練好的模型的"
                     "等級相關係數為 {rho:.2f}，所以這些圖確實取決於模型學到的東西。",
        "random_bad": "合理性檢查（Adebayo 等人）：權重重新隨機抽樣的模型，其 saliency 與訓練好的模型的等級相關係數為 "
                      "{rho:.2f}：這些圖反映的是影像本身多於模型。",
        "filters_fig": "每張圖是讓 `{layer}` 某個濾波器反應最強的輸入，從灰色雜訊開始做 {steps} 步梯度上升求得；"
                       "依達到的 activation 由強到弱排列；#n 是濾波器編號。",
        "patterns": "由每張圖的二維頻譜判讀：{live} 個有反應的濾波器中，{stripes} 個對有方向的條紋有反應（水平 {h}、"
                    "垂直 {v}、斜向 {d}），{dots} 個對點或短線排成的格子有反應；{fine} 個的週期小於 4 像素（邊緣與細紋理），"
                    "{coarse} 個較粗（與眼睛或嘴巴相當的大小）。{dead} 個濾波器沒有反應。",
        "activations": "`{layer}` 對 {split} 第 {index} 張臉（真實為{true}，預測為{pred}）的輸出，所有圖共用同一個色階。",
        "devices": "訓練裝置", "replicas": "{n} 份模型副本（tf.distribute 策略 `{strategy}`）",
        "commit": "git commit", "machine": "機器", "versions": "套件版本", "data": "資料", "seed": "隨機種子",
        "steps": "步驟（指令、執行時間）", "rows": "{source}：{rows}", "unknown": "不明",
    },
}

COMMANDS = {"cnn": "python train_cnn.py", "dnn": "python train_dnn.py", "confusion": "python confusion.py",
            "saliency": "python saliency.py", "filters": "python filter_viz.py --image 0"}
RECORDS = {"cnn": "cnn.json", "dnn": "dnn.json", "confusion": "cnn.confusion.json",
           "saliency": "cnn.saliency.json", "filters": "cnn.filters.json"}


# ---------------------------------------------------------------- small pieces

def read(path):
    """A run record, or None when the run was not made; a damaged one is a UserError naming it."""
    if not os.path.exists(path):
        return None
    try:
        return load_json(path)
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path}: damaged run record (not JSON); rerun the step that writes it") from None


def link(path, out_dir, alt):
    return f"![{alt}]({os.path.relpath(path, out_dir).replace(os.sep, '/')})" if path and os.path.exists(path) else ""


def figure(path, out_dir, caption, lang):
    """A figure in the report's language (else in English) and its caption below it; nothing when it is missing."""
    if path and os.path.exists(localized(path, lang)):
        path = localized(path, lang)
    image = link(path, out_dir, caption.split(".")[0].split("。")[0])
    return f"{image}\n\n*{caption}*" if image else ""


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def wilson(accuracy, n, z=1.96):
    """95% Wilson score interval of an accuracy measured on n images."""
    if not n:
        return 0.0, 0.0
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def with_interval(e):
    lo, hi = wilson(e["accuracy"], e["n"])
    return f"{e['accuracy']:.4f} [{lo:.3f}, {hi:.3f}]"


def source_line(t, files, records):
    envs = [r["environment"] for r in records if r and "environment" in r]
    commits = sorted({e.get("git_commit") or t["unknown"] for e in envs})
    dirty = t["dirty"] if any(e.get("git_dirty") for e in envs) else ""
    return t["source"].format(files="`, `".join(files), commit=", ".join(commits) or t["unknown"], dirty=dirty)


def majority_share(rec, split="val"):
    counts = rec.get("data", {}).get("class_counts", {}).get(split)
    return max(counts) / sum(counts) if counts and sum(counts) else None


def learned(rec):
    """False when a run's best validation accuracy is at the majority class's share (or chance) or its
    training loss stayed near ln 7: the model answers the same whatever it sees."""
    val = rec["evaluation"].get("val", rec["evaluation"].get("train"))
    floor = max(CHANCE, majority_share(rec) or 0)
    return val["accuracy"] > floor + 0.02 and rec["evaluation"]["train"]["loss"] < 0.95 * math.log(len(CLASS_NAMES))


# ---------------------------------------------------------------- sections

def cnn_architecture(t, rec):
    """The paragraph of question 1, read from the layer table."""
    rows = rec["layers"]
    convs = [r for r in rows if r[1] == "Conv2D"]
    drops = [r for r in rows if r[1] == "Dropout"]
    dense = [r for r in rows if r[1] == "Dense" and r[0] != "logits"]
    pools = [r for r in rows if r[1] == "MaxPooling2D"]
    if not (convs and pools and len(rows[0]) > 4):
        return ""
    filters = sorted({int(r[2].split("x")[-1]) for r in convs})
    conv_drop = sorted({r[4].split()[-1] for r in drops[:len(pools)]})
    dense_drop = sorted({r[4].split()[-1] for r in drops[len(pools):]})
    return t["arch"].format(blocks=len(pools), per_block=len(convs) // len(pools), kernel=convs[0][4].split(",")[0],
                            filters=", ".join(map(str, filters)), conv_drop=", ".join(conv_drop),
                            dense=", ".join(r[2] for r in dense), dense_drop=", ".join(dense_drop) or "0")


def layer_rows(t, rec):
    rows = []
    for r in rec["layers"]:
        name, kind, shape, params, detail = (list(r) + [""])[:5]
        if name == "augment":
            rows.append([f"*`{name}`*", f"*{kind}*", shape, "0",
                         f"*{t['aug_layer'].format(what=augmentation_words(t, detail))}*"])
        elif name == "rescale":
            rows.append([f"*`{name}`*", f"*{kind}*", shape, "0", f"*{t['rescale_layer']}*"])
        else:
            rows.append([f"`{name}`", kind, shape, f"{params:,}", detail])
    return table([t["layer"], t["type"], t["shape"], t["params"], t["detail"]], rows)


def recipe(t, rec):
    c = rec["config"]
    extra = (t["ls"].format(ls=c["label_smoothing"]) if c.get("label_smoothing") else "") + \
        (t["mixup"].format(mix=c["mixup"]) if c.get("mixup") else "")
    return t["recipe"].format(
        epochs=rec["epochs"], batch_size=c["batch_size"], optimizer=t["sgd" if c.get("optimizer") == "sgd" else "adam"],
        lr=c["lr"], wd=t["wd"].format(wd=c["weight_decay"]) if c.get("weight_decay") else "", extra=extra,
        aug=augmentation_words(t, rec.get("augmentation")) if c.get("augment") else t["aug_none"],
        warmup=t["warmup"].format(n=c["dropout_warmup"]) if has_dropout(rec) and c.get("dropout_warmup") else "",
        precision=rec["precision"], train_seconds=rec["train_seconds"],
        ips=rec["train_images_per_second"] or 0)


def augmentation_words(t, summary):
    """'mirror, shift 0.1' in the report's language."""
    if not summary:
        return t["aug_none"]
    words = []
    for step in summary.split(", "):
        name, _, value = step.partition(" ")
        words.append(t["aug_words"].get(name, name) + (f" {value}" if value else ""))
    return "、".join(words) if t is TEXT["zh-TW"] else ", ".join(words)


def accuracy_table(t, rec, lang):
    last = rec.get("evaluation_last_epoch", {})
    header = [h.format(best=rec["best_epoch"], last=rec["epochs"]) for h in t["acc_header"]]
    rows = [[SPLIT_WORDS[lang][s], with_interval(e), with_interval(last[s]) if s in last else "-", e["n"]]
            for s, e in rec["evaluation"].items()]
    return table(header, rows) + "\n\n" + t["acc_note"]


def model_section(t, lang, rec, figures_dir, out_dir, arch_line):
    how = t["how_aug"] if rec.get("augmentation") else t["how_drop"] if has_dropout(rec) else t["how_plain"]
    total = t["total"].format(**rec["params"]) + (t["bn_stats"] if rec["params"]["non_trainable"] else "")
    return [arch_line, layer_rows(t, rec), total, recipe(t, rec),
            figure(os.path.join(figures_dir, f"{rec['name']}_history.png"), out_dir, t["curves"].format(how=how), lang),
            accuracy_table(t, rec, lang)]


def plot_comparison(cnn, dnn, models_dir, lang, dest):
    """Both models' validation accuracy per epoch, with the chance and majority-class lines."""
    import pandas as pd
    plt = pyplot()
    w = FIGURE_WORDS[lang]
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    for rec, colour in ((cnn, "C0"), (dnn, "C1")):
        path = os.path.join(models_dir, f"{rec['name']}.history.csv")
        if os.path.exists(path):
            h = pd.read_csv(path)
            kind = rec["kind"].upper()
            ax.plot(h["epoch"], h["val_accuracy"], color=colour, label=w["model_validation"].format(kind=kind))
            train = train_label(lang, rec)
            ax.plot(h["epoch"], h["accuracy"], color=colour, ls=":", label=w["model_train"].format(kind=kind, train=train))
    ax.axhline(CHANCE, color="gray", ls="--", lw=0.8, label=w["chance"])
    majority = majority_share(cnn)
    if majority:
        ax.axhline(majority, color="black", ls="-.", lw=0.8, label=w["majority"])
    ax.set_xlabel(w["epoch"])
    ax.set_ylabel(w["accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    fig.tight_layout()
    save_figure(fig, dest)


def comparison(t, lang, cnn, dnn, figures_dir, models_dir, out_dir):
    dest = os.path.join(figures_dir, "cnn_dnn_accuracy.png")
    drawn_in = lang if lang in figure_languages() else "en"   # no CJK font: the English figure
    plot_comparison(cnn, dnn, models_dir, drawn_in, localized(dest, drawn_in))
    c, d = cnn["params"]["total"], dnn["params"]["total"]
    ev_c, ev_d = cnn["evaluation"], dnn["evaluation"]
    cv, dv = ev_c["val"]["accuracy"], ev_d["val"]["accuracy"]
    rows = [[t["side_params"], f"{c:,}", f"{d:,}"], [t["side_val"], f"{cv:.4f}", f"{dv:.4f}"]]
    if "test" in ev_c and "test" in ev_d:
        rows.append([t["side_test"], f"{ev_c['test']['accuracy']:.4f}", f"{ev_d['test']['accuracy']:.4f}"])
    rows.append([t["side_train"], f"{ev_c['train']['accuracy']:.4f}", f"{ev_d['train']['accuracy']:.4f}"])
    parts = [figure(dest, out_dir, t["compare_fig"], lang), table(t["side"], rows)]
    failed = [(name, rec) for name, rec in (("CNN", cnn), ("DNN", dnn)) if not learned(rec)]
    for name, rec in failed:
        parts.append(t["not_learned"].format(model=name, acc=rec["evaluation"]["val"]["accuracy"],
                                             majority=majority_share(rec) or CHANCE,
                                             loss=rec["evaluation"]["train"]["loss"]))
    if not failed:
        ct, dt = ev_c["train"]["accuracy"], ev_d["train"]["accuracy"]
        key = "compare_better" if cv > dv else "compare_worse"
        parts.append(t[key].format(c=c, d=d, cv=cv, dv=dv, rel=(d - c) / c, gap=100 * (cv - dv), ct=ct, dt=dt,
                                   cg=100 * (ct - cv), dg=100 * (dt - dv)))
    return parts


def confusion_section(t, lang, conf, cnn, out_dir, faces=True):
    names, split = CLASS_WORDS[lang], SPLIT_WORDS[lang][conf["split"]]
    per, norm = conf["per_class"], conf["normalized"]
    parts = [figure(conf["figure"], out_dir, t["conf_fig"].format(split=split), lang),
             t["conf_acc"].format(split=split, n=conf["n"], acc=conf["accuracy_plain"], acc_tta=conf["accuracy_tta"],
                                  f1=conf["macro_f1"])]
    counts = (cnn or {}).get("data", {}).get("class_counts", {}).get("train")
    if counts:
        parts.append(t["train_counts"].format(counts=", ".join(f"{names[c]} {k:,}" for c, k in zip(CLASS_NAMES, counts))))
    if not conf["most_confused"]:
        parts.append(t["conf_none"].format(split=split))
    else:
        parts.append(t["conf_pairs"].format(pairs="; ".join(
            t["pair"].format(true=names[p["true"]], pred=names[p["predicted"]], rate=p["rate"])
            for p in conf["most_confused"])))
        # The two classes whose precision and recall differ most, and what that says.
        gaps = sorted(CLASS_NAMES, key=lambda c: -abs(per[c]["precision"] - per[c]["recall"]))[:2]
        for c in gaps:
            i = CLASS_NAMES.index(c)
            p, r = per[c]["precision"], per[c]["recall"]
            if abs(p - r) < 0.05:
                continue
            if r < p:
                to = max((j for j in range(len(CLASS_NAMES)) if j != i), key=lambda j: norm[i][j])
                parts.append(t["asym_low_recall"].format(c=names[c], r=r, p=p, to=names[CLASS_NAMES[to]]))
            else:
                col = [conf["counts"][j][i] if j != i else -1 for j in range(len(CLASS_NAMES))]
                frm = CLASS_NAMES[max(range(len(col)), key=col.__getitem__)]
                parts.append(t["asym_low_precision"].format(c=names[c], r=r, p=p, wrong=1 - p, frm=names[frm]))
        if counts:
            rarest = CLASS_NAMES[min(range(len(counts)), key=counts.__getitem__)]
            parts.append(t["rare"].format(c=names[rarest], share=min(counts) / sum(counts)))
    parts.append(table([t["class"], t["precision"], t["recall"], t["f1"], t["support"]],
                       [[names[c], f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1-score']:.3f}",
                         int(v["support"])] for c, v in per.items()]))
    if faces and conf.get("gallery"):
        parts.append(figure(conf.get("gallery_figure"), out_dir, t["gallery_fig"].format(split=split), lang))
    return parts


def saliency_section(t, lang, sal, out_dir, faces=True):
    names, split = CLASS_WORDS[lang], SPLIT_WORDS[lang][sal["split"]]
    method = sal["methods"][0]
    stats = sal["per_method"][method]
    bands = list(stats["bands"])
    band_word = t["band_names"]
    parts = [figure(sal["figure"], out_dir, t["sal_fig"].format(split=split, methods=", ".join(sal["methods"]),
                                                                layer=sal.get("gradcam_layer") or "-"), lang) if faces else "",
             figure(sal["figure_mean"], out_dir, t["sal_mean"].format(method=method), lang),
             t["bands_intro"].format(method=method)]
    rows = [[t["all_classes"]] + [f"{stats['bands'][b]:.2f}" for b in bands]]
    rows += [[names[c]] + [f"{v[b]:.2f}" for b in bands] for c, v in stats["bands_by_class"].items()]
    parts.append(table([t["class"]] + [band_word[b] for b in bands], rows))
    top = max(bands, key=stats["bands"].get)
    per_class = ", ".join(t["band_class"].format(c=names[c], band=band_word[max(bands, key=v.get)], r=max(v.values()))
                          for c, v in stats["bands_by_class"].items())
    parts.append(t["band_finding"].format(top=band_word[top], r=stats["bands"][top], per_class=per_class))
    if "inside_outside_ratio" in stats:
        parts.append(t["inside"].format(ratio=stats["inside_outside_ratio"]))
    rho = sal.get("randomisation_rank_correlation")
    if rho is not None:
        parts.append(t["random_ok" if rho < 0.5 else "random_bad"].format(rho=rho))
    return parts


def filters_section(t, lang, filt, out_dir, faces=True):
    parts = [figure(filt["figure"], out_dir, t["filters_fig"].format(layer=filt["layer"], steps=filt["steps"]), lang)]
    c = filt.get("pattern_counts")
    if c:
        parts.append(t["patterns"].format(live=c["stripes"] + c["dots"], stripes=c["stripes"], h=c["horizontal"],
                                          v=c["vertical"], d=c["diagonal"], dots=c["dots"], fine=c["fine"],
                                          coarse=c["coarse"], dead=len(filt["dead"])))
    image = filt.get("image")
    if filt.get("activations_figure") and image and faces:
        names = CLASS_WORDS[lang]
        parts.append(figure(filt["activations_figure"], out_dir, t["activations"].format(
            layer=filt["layer"], split=SPLIT_WORDS[lang][image["split"]], index=image["index"],
            true=names.get(image["true"], FIGURE_WORDS[lang]["unlabelled"]), pred=names[image["predicted"]]), lang))
    return parts


def provenance(t, records):
    first = next(r for r in records.values() if r and "environment" in r)
    env = first["environment"]
    lines = []
    for name in ("cnn", "dnn"):
        rec = records.get(name)
        if rec:
            rows = ", ".join(f"{k} {v:,}" for k, v in rec["data"]["rows"].items())
            lines.append(f"- {t['data']} ({name}): " + t["rows"].format(source=rec["data"]["source"], rows=rows)
                         + f"; {t['seed']} {rec['config']['seed']}")
            d = rec.get("distribution") or {"strategy": "default", "replicas": 1}   # older records: one device
            lines.append(f"- {t['devices']} ({name}): " + t["replicas"].format(n=d["replicas"], strategy=d["strategy"]))
    lines.append(f"- {t['steps']}:")
    for rec in records.values():
        if rec:
            lines.append(f"  - `{rec['environment']['command']}`: {rec['wall_seconds']:.1f} s")
    lines.append(f"- {t['versions']}: Python {env['python']}, TensorFlow {env['tensorflow']}, Keras {env['keras']}, "
                 f"NumPy {env['numpy']}, scikit-learn {env['scikit-learn']}")
    lines.append(f"- {t['machine']}: {env['machine']}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the report

def build_report(models_dir, figures_dir, out, lang="en", collaborators="", faces=True):
    t = TEXT[lang]
    out_dir = os.path.dirname(os.path.abspath(out))
    records = {k: read(os.path.join(models_dir, f)) for k, f in RECORDS.items()}
    cnn, dnn = records["cnn"], records["dnn"]
    source = cnn["data"]["source"] if cnn else (dnn["data"]["source"] if dnn else None)
    doc = [f"# {t['title']}", t["synthetic_note"] if source in (None, "synthetic") else
           t["real_note"].format(source=source)]
    sections = [
        ("q1", ["cnn"], lambda: model_section(t, lang, cnn, figures_dir, out_dir, cnn_architecture(t, cnn))),
        ("q2", ["dnn", "cnn"], lambda: model_section(t, lang, dnn, figures_dir, out_dir, t["dnn_arch"].format(
            widths=", ".join(map(str, dnn.get("widths", []))))) + (
            comparison(t, lang, cnn, dnn, figures_dir, models_dir, out_dir) if cnn else [])),
        ("q3", ["confusion", "cnn"], lambda: confusion_section(t, lang, records["confusion"], cnn, out_dir, faces)),
        ("q4", ["saliency"], lambda: saliency_section(t, lang, records["saliency"], out_dir, faces)),
        ("q5", ["filters"], lambda: filters_section(t, lang, records["filters"], out_dir, faces)),
    ]
    for key, needs, make in sections:
        doc.append(f"## {t[key]}")
        doc.append(t["collaborators"].format(names=collaborators))
        if records[needs[0]]:
            doc.extend(make())
            used = [n for n in needs if records[n]]
            files = [os.path.relpath(os.path.join(models_dir, RECORDS[n]), out_dir).replace(os.sep, "/") for n in used]
            doc.append(source_line(t, files, [records[n] for n in used]))
        else:
            doc.append(t["missing"].format(cmd=COMMANDS[needs[0]]))
    if any(records.values()):
        doc.append(f"## {t['prov']}")
        doc.append(provenance(t, records))
    if lang != "en" and re.search(rf"\]\([^)]*(?<!\.{re.escape(lang)})\.png\)", "\n".join(doc)):
        doc.insert(2, t["figure_lang"])   # a figure had to be shown in English: say so once, at the top
    text = "\n\n".join(p for p in doc if p) + "\n"
    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return text


HTML_STYLE = """
@page { size: auto; margin: 18mm 16mm; }
body { font-family: "Noto Sans CJK TC", "Noto Sans TC", "PingFang TC", "Microsoft JhengHei", Helvetica, Arial,
       sans-serif; font-size: 10.5pt; line-height: 1.4; max-width: 17cm; margin: 1em auto; color: #111; }
h1 { font-size: 18pt; } h2 { font-size: 13.5pt; margin-top: 1.4em; break-after: avoid; }
img { max-width: 100%; display: block; margin: 0.4em auto; break-inside: avoid; }
table { border-collapse: collapse; font-size: 9pt; margin: 0.5em 0; break-inside: avoid; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; }
blockquote { margin: 0.5em 0; padding-left: 0.8em; border-left: 3px solid #bbb; color: #444; }
code { font-size: 0.92em; overflow-wrap: anywhere; } em { color: #333; }
"""


def write_html(markdown_text, md_path, dest, lang):
    """report.html: the markdown rendered, every figure embedded (one file to open, print or send)."""
    import markdown
    out_dir = os.path.dirname(os.path.abspath(md_path))

    def embed(match):
        alt, target = match.group(1), match.group(2)
        path = os.path.join(out_dir, target)
        if not os.path.exists(path):
            return match.group(0)
        data = base64.b64encode(open(path, "rb").read()).decode()
        return f"![{alt}](data:image/png;base64,{data})"

    body = markdown.markdown(re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", embed, markdown_text), extensions=["tables"])
    title = markdown_text.splitlines()[0].lstrip("# ")
    page = (f"<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
    with atomic_path(dest) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models-dir", default="models", help="where the run records are (default: %(default)s)")
    cli.add_figures_arg(p, "the figures are that the report links")
    p.add_argument("--out", default="report.md", help="the report to write; the .html beside it (default: %(default)s)")
    p.add_argument("--lang", choices=sorted(TEXT), default="en",
                   help="language of the headings and sentences (default: %(default)s)")
    p.add_argument("--collaborators", default="",
                   help="names for each question's \"Collaborators:\" line (default: blank, to fill in)")
    p.add_argument("--no-faces", action="store_true",
                   help="leave out every figure that shows a face (the per-face saliency maps and the activation "
                        "maps), e.g. to publish a report on data that is not yours to share")
    args = p.parse_args(argv)
    text = build_report(args.models_dir, args.figures_dir, args.out, args.lang, args.collaborators, not args.no_faces)
    html_path = os.path.splitext(args.out)[0] + ".html"
    write_html(text, args.out, html_path, args.lang)
    print(f"wrote {args.out} ({len(text.splitlines())} lines) and {html_path}")
    return text


if __name__ == "__main__":
    sys.exit(cli.run(main))
