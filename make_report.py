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

import math
import os
import re
import sys

from ferlib import CLASS_NAMES, PLATEAU_FACTOR, PLATEAU_PATIENCE, UserError, cli
from ferlib.outputs import atomic_path, figure_languages, load_json, localized, pyplot, save_figure
from ferlib.report_html import write_html
from ferlib.synthetic import LABEL_NOISE, planted_pairs
from ferlib.words import CLASS_WORDS, FIGURE_WORDS, REGION_WORDS, has_dropout, spaced, split_word, train_label

CHANCE = 1 / len(CLASS_NAMES)
ACTIVE = 0.1   # a map counts as active on a face when its strongest cell passes this share of the layer's strongest
FIRM = 0.6     # Cohen's kappa from which a layer's filter readings count as holding up from another start
               # (Landis & Koch 1977: above 0.6 'substantial' agreement)

# Every sentence per language; {} fields are filled from the records. Both tables have the same keys.
TEXT = {
    "en": {
        "title": "FER2013 homework report",
        "synthetic_note": "> Made by `{made_by}` on the **built-in synthetic faces**, not on FER2013: it shows what the "
                          "kit produces and is reproducible on any machine. To make it on FER2013, put `fer2013.csv` in "
                          "`data/` (see data/README.md) and run `make report`.",
        "real_note": "> Made by `{made_by}` on `{source}`.",
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
        "sources": "*Numbers from {each}.*", "source_each": "`{file}` (commit {commit}{dirty})",
        "prov": "Provenance",
        "missing": "Not run yet. Make it with: `{cmd}`",
        "layer": "layer", "type": "type", "shape": "output shape", "params": "parameters", "detail": "detail",
        "aug_layer": "augmentation (training only): {what}", "rescale_layer": "pixels / 255",
        "arch": "The network takes a 48x48 grayscale face, scaled to [0, 1] inside the model. It has {blocks} blocks of "
                "{per_block} convolutions ({kernel}, ReLU, each followed by batch normalization) with {filters} filters; "
                "each block ends with 2x2 max pooling and dropout {conv_drop}. Then Flatten, dense layers of "
                "{dense} units (ReLU, dropout {dense_drop}) and a 7-way softmax. Rows in italics have no "
                "parameters: the augmentation, which runs only in training, and the scaling of the pixels.",
        "total": "Total parameters: **{total:,}** (trainable {trainable:,}, non-trainable {non_trainable:,}).",
        "bn_stats": " The non-trainable ones are batch norm's moving means and variances.",
        "recipe": "Trained for {epochs} epochs, batch size {batch_size}, {optimizer} {schedule}{wd}{extra}; "
                  "augmentation: {aug}{warmup}{averaged}{teacher}; precision {precision}. "
                  "{train_seconds:,.0f} s of training, the {val} evaluation after each epoch included; "
                  "{ips:,.0f} images/s in the training steps alone.",
        "warmup": "; dropout raised from 0 to its full rates over the first {n} epochs",
        "cosine": "at a peak learning rate of {lr} decayed to 0 along a cosine",
        "lr_warmup": "at a learning rate raised linearly to a peak of {lr} over the first {n} epochs, then decayed to "
                     "0 along a cosine",
        "plateau": "at a learning rate of {lr}, multiplied by {factor} after every {patience} epochs without a better "
                   "{val} accuracy",
        "swa": "; the saved weights are the mean of those at the end of epochs {first}-{last} (stochastic weight "
               "averaging, the rate held constant over them), batch norm's statistics recomputed on the training set",
        "ema": "; the saved weights are an exponential moving average of the weights (momentum {m})",
        "teacher": "; distilled from {n} trained CNN{s}: the match to their mean probabilities at temperature {T} "
                   "is {share:.0%} of the loss, the labels' cross-entropy the rest",
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
        "acc_note": "Accuracy with a 95% Wilson interval. The best epoch was chosen on the {val} split itself, so its "
                    "{val} accuracy flatters it{run}; the last epoch's flatters less. {test}",
        "acc_run": ", and so does the choice of this run: the best on {val} of {n} runs of the same recipe",
        "acc_test": "The {test} split chose nothing, so its accuracy does not flatter.",
        "seed_runs": "The {k} runs of this recipe whose records ship in `pretrained/` (seeds {seeds}, this one "
                     "included) score {best:.4f} [{blo:.4f}, {bhi:.4f}] on {val} at their best epoch and {last:.4f} "
                     "[{llo:.4f}, {lhi:.4f}] at their last (mean, 95% t-interval). Seed to seed, the best epoch's "
                     "accuracy has a sample sd of {sd:.4f}, against a binomial sd of {bsd:.4f} from the {n:,} {val} "
                     "faces alone: {cmp}.",
        "seed_cmp_faces": "the faces, not the seed, make most of one run's uncertainty",
        "seed_cmp_seed": "the seed makes more of one run's uncertainty than the faces do",
        "acc_no_test": "This data has no test split apart from {val}, so every held-out number here was also used to "
                       "choose.",
        "train_below_val": "The clean training accuracy lies {d:.1f} points below the {val} accuracy, inside the "
                           "{val} accuracy's 95% interval [{lo:.3f}, {hi:.3f}]: {n:,} {val} faces are too few to tell "
                           "the two apart (and the best epoch was chosen on {val}).",
        "dnn_arch": "Flatten, then dense layers of {widths} units (ReLU), then a 7-way softmax.",
        "compare_fig": "{val} accuracy per epoch of the CNN and the DNNs (training accuracy dotted), with chance (1/7) "
                       "and the majority class's share.",
        "dnn_own": "DNN, own recipe", "dnn_same": "DNN, CNN's recipe",
        "side_params": "parameters", "side_val": "{val} accuracy", "side_test": "test accuracy",
        "side_train": "clean training accuracy", "side_gap": "training minus {val} (points)",
        "side_recipe": "recipe", "same_as_cnn": "the CNN's",
        "not_learned": "**The {model} did not learn:** its best validation accuracy, {acc:.4f}, is at the level of "
                       "always answering the majority class ({majority:.4f}) and its training loss ends at {loss:.3f}, "
                       "near ln 7 = 1.946 (a uniform guess). No conclusion about the architectures is drawn from it; "
                       "rerun it with a lower learning rate (e.g. `--lr 1e-3`).",
        "capacity": "The DNNs have {d:,} parameters against the CNN's {c:,} (a difference of {rel:.3%}), so no "
                    "comparison here is one of size.",
        "same_missing": "The controlled comparison (the DNN trained with the CNN's recipe) is not run yet: `{cmd}`.",
        "compare_same": "Trained with the CNN's recipe, the DNN reaches {sv:.4f} on {val}, {gap:.1f} points "
                        "{dir} the CNN's {cv:.4f} (95% interval of the difference, unpaired: {lo:.1f} to {hi:.1f} "
                        "points). {others}",
        "others_none": "The two runs differ only in their layers, so this gap is the one attributed to convolution: "
                       "weights shared across positions see the same brow or mouth wherever the face sits, while each "
                       "dense weight is tied to one pixel.",
        "others": "The two runs differ in their layers and also in these settings: {what}; so this gap is attributed "
                    "to convolution only as far as those settings do not matter.",
        "fit_or_general": "Where this gap comes from: on the clean training images, the DNN trained with the CNN's "
                            "recipe scores {fit:.1f} points {fit_dir} the CNN (95% interval of the difference, "
                            "unpaired: {flo:.1f} to {fhi:.1f} points). Its training accuracy is {sg:.1f} points {sdir} "
                            "its {val} accuracy, against {cg:.1f} points {cdir} for the CNN (the DNN's "
                            "training-minus-{val} gap minus the CNN's: {gen:+.1f} points, 95% interval {glo:+.1f} to "
                            "{ghi:+.1f}); ",
        "mostly_fit": "so the DNN falls behind mostly because it fits the training faces worse, not because it "
                      "generalises worse.",
        "fit_only": "so the DNN falls behind because it fits the training faces worse: its training-minus-{val} gap "
                    "is smaller than the CNN's, not larger.",
        "mostly_general": "so the DNN mostly generalises worse: it fits its training faces about as well but does worse "
                          "on faces it has not seen.",
        "not_worse": "so the DNN is not worse here.",
        "compare_own": "The DNN of its own recipe reaches {dv:.4f}, {gap:.1f} points {dir} the CNN's; besides its layers "
                       "it differs from the CNN in {what}, so its gap is not attributed to convolution alone.",
        "why_conv": "Why convolution does better with the same number of parameters: a conv layer applies the same "
                    "small kernels at every position of the face, so a pattern learned in one place is found in any "
                    "other, and the {n_conv} conv layers together hold {conv:,} parameters ({conv_share:.0%} of the "
                    "CNN's). The DNN's first layer instead gives each of the {pixels:,} pixels its own weight into each "
                    "of its {units} units ({first:,} parameters, {first_share:.0%} of the DNN's), so a face shifted by "
                    "a few pixels is a new input to it.",
        "why_shift": " The runs bear this out: under the CNN's random shifts and mirrors the DNN fits its clean "
                     "training faces to {st:.4f}, against {ot:.4f} for the DNN of its own recipe ({what}), while the "
                     "CNN, under the same augmentation, fits them to {ct:.4f}.",
        "below": "below", "above": "above",
        "diff_epochs": "{n} epochs instead of {m}", "diff_optimizer": "the optimiser, {opt}",
        "diff_rate": "batch {bs} at learning rate {lr} instead of {cbs} at {clr}",
        "diff_wd": "weight decay {wd} instead of {cwd}", "diff_aug_none": "no augmentation",
        "diff_aug": "augmentation", "diff_no_dropout": "no dropout (the CNN has it)", "list_sep": ", ", "times": "x",
        "conf_fig": "Row-normalised confusion matrix of the CNN on the {split} split: each cell is the share (%) of the "
                    "true class (row) predicted as the column's class.",
        "conf_acc": "On the {split} split ({n:,} faces) the CNN's accuracy is {acc:.4f} ({acc_tta:.4f} with mirror "
                    "test-time augmentation), macro-F1 {f1:.4f}.",
        "conf_differs": "The CNN's training run measured {rec:.4f} on the same faces ({right:,} right, {k} {dir} than "
                        "here); sections 1 and 2 use that number. The model computes in {precision}, and the kernels "
                        "of another processor or math library, which order their sums and round differently, can "
                        "tip a borderline face either way.",
        "more": "more", "fewer": "fewer",
        "train_counts": "Training faces per class: {counts}.",
        "conf_pairs": "The most confused pairs (share of the true class predicted as the other): {pairs}.",
        "pair": "{true} -> {pred} {rate:.0%}",
        "asym_low_recall": "{c}: recall {r:.2f}, precision {p:.2f}: the model answers {c} too rarely; when it does "
                           "it is right {p:.0%} of the time. Of the {c} faces it misses, {share:.0%} go to {to}, more than to any "
                           "other class.",
        "asym_low_precision": "{c}: precision {p:.2f}, recall {r:.2f}: the model answers {c} too often; {wrong:.0%} "
                              "of its {c} answers are wrong, and {share:.0%} of those are {frm} faces, more than of any other class.",
        "rare": "{c} is the rarest class in training ({share:.1%} of the faces).",
        "planted": "On these built-in faces the confusions are planted: the generator blends each face towards its "
                     "partner class by a random weight up to a maximum ({blends}; Fear's partner is one of two, Happy has "
                     "none), and {noise:.0%} of the labels are flipped to the partner ({happy}'s to any other class). So the "
                     "question is whether the model's errors follow these pairs: {share:.0%} of its {n:,} errors fall on them, "
                     "against {expected:.0%} if each class's errors were spread evenly over the other six classes.",
        "planted_pair": "{c} towards {p} up to {blend:.2f}",
        "conf_none": "No face of the {split} split is misclassified: every class has recall 1.00.",
        "class": "class", "precision": "precision", "recall": "recall", "f1": "F1", "support": "faces",
        "sal_fig": "Saliency of the class score (pre-softmax) for one correctly classified face per class and a "
                   "misclassified one (red: true -> predicted), {split} split. Methods: {methods}; Grad-CAM at "
                   "`{layer}`. Each map is scaled to its own maximum.",
        "sal_mean": "Top left: the mean face of the {split} split with the regions {regions}. Then the mean gradient map "
                    "of each class's faces, on one shared scale, the regions outlined.",
        "no_faces": "*Left out here: {what}. FER2013's faces may not be redistributed, so this report is made without "
                    "any figure that shows a face (`make_report.py --no-faces`); the report that `make report` makes on "
                    "your own copy of FER2013 has it.*",
        "nf_gallery": "the gallery of misclassified faces of the most confused pairs",
        "nf_saliency": "the saliency maps of single faces (one correctly classified face per class and a misclassified "
                       "one, by gradient, SmoothGrad and Grad-CAM)",
        "nf_activations": "the output of each filter for one face",
        "regions_follow": "as each face's own parts average out (the generator draws each face's parts, which follow "
                            "its pose; an outline encloses where a part lies in at least half as many faces as at its most common "
                            "place)",
        "regions_fixed": "(fixed boxes on the aligned crop)",
        "regions_how": "How strongly each region draws the gradient map of the true class's score, over all {n:,} faces of "
                       "the {split} split: its saliency per pixel over the map's mean per pixel, divided by the same "
                       "ratio for the largest of three content-free baselines on the same faces and regions: a centred "
                       "Gaussian map (sigma {sigma} px), a flat map with a dark {border}-px border, and the maps of the "
                       "same network with re-drawn weights. 1.00 means that the region draws no more than a map that "
                       "knows nothing of the face. Even such a map is brighter in the centre than at the edge, so an "
                       "uncorrected per-pixel ratio always favours the nose. The largest of the three is used because "
                       "each carries a different bias: where faces sit, what zero padding does at the edge, and what "
                       "the architecture and the image's own edges give without any learning. In brackets, the 95% "
                       "bootstrap interval ({boot} resamples of the faces); in bold, the regions whose interval lies "
                       "above {clears:.2f}: with four regions in eight rows, an interval that only just clears 1.00 "
                       "would name a region of a content-free map by chance.",
        "occlusion_how": "The causal check: each region of each face is replaced by the {split} split's mean face, "
                           "and the table gives the drop in the true class's probability per 100 pixels of the region (95% "
                           "bootstrap interval); a negative drop means that hiding the region raises the probability. A larger drop "
                           "means that, pixel for pixel, the model needs that region more.",
        "what_it_uses": "What the CNN uses, in plain words: a region is named only where its saliency interval lies "
                          "above {clears:.2f} (bold in the saliency-ratio table) and hiding it lowers the true class's probability (interval above 0), "
                          "the largest drop per pixel first.",
        "all_classes": "all classes", "all_classes_who": "All classes",
        "region_who": "**{who}** ({n:,} faces): ",
        "region_none": "no region stands out: none both draws more saliency than the content-free baselines and "
                         "lowers the true class's probability when hidden",
        "region_uses": "it uses ",
        "region_named": "{region} ({ratio:.2f}x the baseline [{lo:.2f}, {hi:.2f}]; hidden, it costs the true "
                        "class {drop:.3f} of probability per 100 pixels [{dlo:.3f}, {dhi:.3f}])",
        "region_looks": "; it also looks at {regions}, but hiding that costs no measurable probability",
        "region_looks_none": "; it looks at {regions}, but hiding that costs no measurable probability",
        "region_the": "the {region}",
        "list_join": "; ", "period": ".",
        "inside": "On these synthetic faces the pixels that carry the expression (the generator's brows, eyes, mouth "
                    "and nose wrinkles, grown by a pixel) are known: per pixel they get {ratio:.1f}x the saliency of the "
                    "other pixels, against at most {base:.1f}x for the content-free baselines.",
        "random_ok": "Sanity check (Adebayo et al.): maps of the same faces from a model with re-drawn weights have a "
                     "rank correlation of {rho:.2f} with the trained model's, so the maps depend on what the model "
                     "learned.",
        "random_bad": "Sanity check (Adebayo et al.): maps from a model with re-drawn weights have a rank correlation of "
                      "{rho:.2f} with the trained model's: these maps show the image more than the model.",
        "filters_fig": "The input that drives each filter highest, found by {steps} gradient-ascent steps from gray "
                       "noise, for the last conv layer of each block, side by side: per layer its {n} strongest live "
                       "filters, strongest first. Each tile gives the filter's index and its reading: S stripes (h "
                       "horizontal, v vertical, d diagonal), L lattice, B blob; the number is the period in pixels.",
        "patterns_check": "Each image is read from its 2-D spectrum as stripes (waves in one direction), a lattice "
                            "(waves in two or more directions) or a blob (no wave that repeats). The reading is checked at every run "
                            "on {n} images of known kind (gratings of every orientation and period, dot lattices, blobs): it is "
                            "right on {right:.0%} of them. The check covers clean patterns only: an image that mixes kinds, such as "
                            "a few repeated spots, is read by its strongest waves.",
        "filters_header": ["layer", "receptive field (px)", "live filters", "stripes (h / v / d)", "lattices", "blobs",
                           "dead", "median period"],
        "period_cell": "{px:.1f} px ({share:.0%} of the field)",
        "layer_reading": "`{layer}` has a {rf}x{rf}-pixel receptive field: of its {live} live filters, {s} respond "
                           "to stripes, {l} to lattices and {b} to blobs{period}.",
        "layer_period": "; the median period of its stripes and lattices is {px:.1f} px, {share:.0%} of the field's "
                          "side",
        "with_depth": "With depth, from `{first}` to `{last}`, the receptive field grows from {rf_a} to {rf_z} px; the "
                      "median period, layer by layer, is {periods} px, that is {fractions} of the field; the share of "
                      "blobs among the live filters goes from {b_a:.0%} to {b_z:.0%}{second}.",
        "over_field": "{items} have a period longer than their layer's receptive field: less "
                      "than one cycle fits in the field, so such a filter answers a single edge between a light and a "
                      "dark band (which the ascent repeats over the image), not a repeating wave.",
        "over_item": "{k} of the {n} stripes and lattices of `{layer}` (field {rf} px)",
        "depth_second": " (from the second start: {a:.0%} to {z:.0%})",
        "second_start": "To see how firm these readings are, every layer is climbed again from other noise (seed "
                        "{seed}) and read again. The same kind comes back for {items}.",
        "second_item": "{same} of the {n} live filters of `{layer}`", "second_kappa": " (Cohen's κ {kappa:.2f})",
        "not_firm": "In {layers} the agreement is below κ {firm}: a filter's reading there depends on where the climb "
                    "starts, so those counts are a rough split, not the kind of each filter. The second start's counts "
                    "(stripes / lattices / blobs): {counts}.",
        "second_counts": "`{layer}` {s} / {l} / {b}",
        "all_firm": "Every layer agrees at κ {firm} or more: the readings hold up from another start.",
        "activation_regions": "On this face, {active} of the {n} maps are active (their strongest cell above "
                                "{share:.0%} of the layer's strongest). By the region of the face under each active map's strongest "
                                "cell: {counts}. The five maps with the strongest cell: {top}.",
        "map_region": "#{f} ({region})",
        "activations": "Output of `{layer}` for {split} face {index} (true {true}, predicted {pred}), every map on "
                       "one colour scale.",
        "devices": "Training devices", "one_device": "one device (no tf.distribute strategy)",
        "replicas": "{n} devices, the model mirrored on each (tf.distribute `{strategy}`)",
        "machine": "Machine", "versions": "Libraries", "data": "Data", "seed": "seed",
        "steps": "Steps (command, wall time)", "rows": "{source}: {rows}", "unknown": "unknown",
        "stripes_cell": "{s} ({h} / {v} / {d})", "count_item": "{region} {k}", "sentence_sep": " ",
        "cnn_recipe": "its own (question 1)", "dnn_same_name": "DNN trained with the CNN's recipe",
        "costs_most": "; hiding {region} costs the most ({drop:.3f} per 100 pixels [{lo:.3f}, {hi:.3f}]), but its "
                      "saliency does not clear the baselines",
        "brightest": "; its mean map is brightest in {region} (figure above), but over the whole region the saliency "
                     "per pixel is {ratio:.2f}x the baseline [{lo:.2f}, {hi:.2f}]: a bright spot, not a bright region",
        "builtin": "the built-in synthetic faces", "cores": ", {n} cores", "seconds": "{s:.1f} s",
        "of_run": " ({name}): ", "colon": ": ", "semi": "; ",
    },
    "zh-TW": {
        "title": "FER2013 作業報告",
        "synthetic_note": "> 本報告是以 `{made_by}` 在**內建的合成人臉資料**（而非 FER2013）上產生，用來展示這套作業程式的輸出，在任何機器上都能重現。若要以 FER2013 "
                            "產生，請將 `fer2013.csv` 放入 `data/`（見 `data/README.md`）後執行 `make report`。",
        "real_note": "> 本報告是以 `{made_by}` 在 `{source}` 上產生。",
        "figure_lang": "> 這台電腦上找不到中文字型，所以圖中的文字為英文。",
        "gallery_fig": "最常混淆的類別對中被分錯的{split}影像，依模型信心由高到低排列；每張標示「真實類別 → 預測類別」與預測類別的機率 p。",
        "q1": "1. CNN：模型架構、訓練過程與準確率",
        "q2": "2. 參數量相同的 DNN",
        "q3": "3. 哪些表情容易混淆：混淆矩陣",
        "q4": "4. CNN 在看哪裡：顯著圖（saliency map）",
        "q5": "5. 卷積濾波器對什麼有反應：梯度上升",
        "collaborators": "**合作者：** {names}",
        "source": "*數字取自 `{files}`；這些數字產生時的 commit 為 {commit}{dirty}。*",
        "dirty": "，當時另有尚未 commit 的修改",
        "sources": "*數字取自 {each}。*", "source_each": "`{file}`（commit {commit}{dirty}）",
        "prov": "資料來源與執行紀錄",
        "missing": "尚未執行。請執行：`{cmd}`",
        "layer": "層", "type": "類型", "shape": "輸出形狀", "params": "參數量", "detail": "說明",
        "aug_layer": "資料增強（僅訓練時）：{what}", "rescale_layer": "像素 / 255",
        "arch": "輸入為 48×48 灰階人臉，像素值在模型內正規化到 [0, 1]。共 {blocks} 個區塊，每個區塊有 {per_block} 層卷積（{kernel}、ReLU，每層之後接 batch "
                  "normalization），濾波器數量依序為 {filters}；每個區塊最後接 2×2 max pooling 與 dropout {conv_drop}。接著經過 Flatten，再接全連接層（依序為 "
                  "{dense} 個神經元，ReLU，dropout {dense_drop}），最後是 7 類的 softmax 輸出層。表中斜體的列沒有參數：一是只在訓練時啟用的資料增強，二是像素值的縮放。",
        "total": "總參數量：**{total:,}**（可訓練 {trainable:,}，不可訓練 {non_trainable:,}）。",
        "bn_stats": "不可訓練的參數是 batch normalization 的移動平均值（moving mean）與移動變異數（moving variance）。",
        "recipe": "共訓練 {epochs} 個 epoch，batch size {batch_size}，使用 {optimizer}，{schedule}{wd}{extra}；"
                    "資料增強：{aug}{warmup}{averaged}{teacher}；數值精度為 {precision}。訓練共耗時 {train_seconds:,.0f} 秒（含每個 epoch 後在{val}上的評估）；"
               "單看訓練步驟，每秒 {ips:,.0f} 張影像。",
        "wd": "，採用 decoupled weight decay {wd}（即 AdamW 的做法）",
        "warmup": "；dropout 在前 {n} 個 epoch 從 0 逐步調升到設定值",
        "cosine": "學習率最高 {lr}，並以 cosine 排程遞減至 0",
        "lr_warmup": "學習率在前 {n} 個 epoch 線性升到最高值 {lr}，再以 cosine 排程遞減至 0",
        "plateau": "學習率起始為 {lr}，每當連續 {patience} 個 epoch {val}準確率沒有提升就乘以 {factor}",
        "swa": "；儲存的權重是第 {first} 至 {last} 個 epoch 結束時權重的平均（stochastic weight averaging，這段期間學習率固定不變），"
               "batch normalization 的統計量再以訓練集重新計算",
        "ema": "；儲存的權重是訓練中權重的指數移動平均（momentum {m}）",
        "teacher": "；以 {n} 個已訓練的 CNN 進行知識蒸餾（distillation）：與它們在溫度 {T} 下平均機率的差距占損失的 {share:.0%}，"
                   "其餘為與標籤的 cross-entropy",
        "ls": "，label smoothing {ls}", "mixup": "，mixup {mix}",
        "aug_none": "無", "sgd": "SGD（Nesterov momentum 0.9）", "adam": "Adam",
        "curves": "訓練曲線，虛線標出最佳 epoch。{how}",
        "how_aug": "圖中的「訓練」曲線是在資料增強後的影像上、啟用 dropout 時測得，因此會低於模型在未增強的訓練影像上的準確率（見下表）。",
        "how_drop": "圖中的「訓練」曲線是在啟用 dropout 時測得，因此會低於模型在未增強的訓練影像上的準確率（見下表）。",
        "how_plain": "圖中的「訓練」曲線是每個 epoch 內各 batch 準確率的平均，計算期間權重仍在更新。",
        "aug_words": {'mirror': '水平翻轉', 'shift': '平移', 'erase': '隨機擦除'},
        "acc_header": ["資料集", "最佳 epoch（第 {best} 個）準確率", "最後 epoch（第 {last} 個）準確率", "張數"],
        "acc_note": "中括號內為準確率的 95% Wilson 信賴區間。最佳 epoch 是依{val}本身選出的，所以{val}準確率會偏樂觀{run}；最後一個 epoch 受此影響較小。{test}",
        "acc_run": "；從同一訓練設定的 {n} 次訓練中挑出在{val}上最好的這一次，也會讓它偏樂觀",
        "acc_test": "{test}沒有參與任何模型選擇，因此其準確率沒有這種偏差。",
        "seed_runs": "以此訓練設定進行、紀錄附於 `pretrained/` 的 {k} 次訓練（種子 {seeds}，含本次），在{val}上的平均準確率："
                     "各自最佳 epoch 為 {best:.4f} [{blo:.4f}, {bhi:.4f}]，最後一個 epoch 為 {last:.4f} [{llo:.4f}, {lhi:.4f}]"
                     "（95% t 信賴區間）。不同種子之間，最佳 epoch 準確率的樣本標準差為 {sd:.4f}；相較之下，單憑{val}的 "
                     "{n:,} 張臉部影像，二項分布標準差就有 {bsd:.4f}：{cmp}。",
        "seed_cmp_faces": "單次訓練的不確定性主要來自臉部影像的抽樣，而非種子",
        "seed_cmp_seed": "單次訓練的不確定性主要來自種子，而非臉部影像的抽樣",
        "acc_no_test": "這份資料除了{val}之外沒有測試集，所以這裡每個未用於訓練的數字也都參與過模型選擇。",
        "train_below_val": "未增強訓練影像的準確率比{val}低 {d:.1f} 個百分點，但仍落在{val}準確率的 95% 信賴區間 [{lo:.3f}, {hi:.3f}] 內：{val}只有 "
                             "{n:,} 張影像，不足以區分兩者（而且最佳 epoch 是依{val}選出的）。",
        "dnn_arch": "DNN 先將輸入 Flatten，接著是全連接層（依序為 {widths} 個神經元，ReLU），最後是 7 類的 softmax 輸出層。",
        "compare_fig": "CNN 與各 DNN 每個 epoch 的{val}準確率（點線為訓練準確率），以及隨機猜測（1/7）與多數類別所占比例的參考線。",
        "dnn_own": "DNN（自身訓練設定）", "dnn_same": "DNN（CNN 的訓練設定）",
        "side_params": "參數量", "side_val": "{val}準確率", "side_test": "測試集準確率",
        "side_train": "未增強訓練影像準確率", "side_gap": "訓練減{val}（百分點）",
        "side_recipe": "訓練設定", "same_as_cnn": "與 CNN 相同",
        "not_learned": "**{model} 沒有學起來：**最佳驗證準確率 {acc:.4f}，等同於永遠回答多數類別（{majority:.4f}），"
                       "訓練損失最後為 {loss:.3f}，接近 ln 7 = 1.946（均勻亂猜）。因此不以它比較兩種架構；"
                       "請以較小的學習率重新訓練（例如 `--lr 1e-3`）。",
        "capacity": "兩個 DNN 都有 {d:,} 個參數，CNN 則有 {c:,} 個（相差約 {rel:.3%}），因此以下比較不受模型大小影響。",
        "same_missing": "對照比較（以 CNN 的訓練設定訓練 DNN）尚未執行：`{cmd}`。",
        "compare_same": "沿用 CNN 訓練設定的 DNN，{val}準確率為 {sv:.4f}，比 CNN 的 {cv:.4f} {dir} {gap:.1f} 個百分點（差距的 95% 信賴區間為 "
                          "{lo:.1f} 至 {hi:.1f} 個百分點，以非配對方式計算）。{others}",
        "others_none": "兩次訓練只差在網路架構，因此這個差距歸因於卷積：共享權重無論眉毛或嘴巴出現在哪個位置都能辨認，而全連接層的每個權重只對應一個像素。",
        "others": "除了網路架構之外，DNN 的訓練設定與 CNN 還有以下差異：{what}。因此，只有在這些差異不影響結果的前提下，才能把這個差距歸因於卷積。",
        "fit_or_general": "這個差距從何而來？在未增強的訓練影像上，沿用 CNN 訓練設定的 DNN 準確率比 CNN {fit_dir} "
                            "{fit:.1f} 個百分點（差距的 95% 信賴區間為 {flo:.1f} 至 {fhi:.1f} 個百分點，以非配對方式計算）。"
                            "它的訓練準確率比{val}準確率{sdir} {sg:.1f} 個百分點，CNN 則{cdir} {cg:.1f} 個百分點"
                            "（兩者「訓練減{val}」的差距相減，DNN 減 CNN 為 {gen:+.1f} 個百分點，95% 信賴區間 "
                            "{glo:+.1f} 至 {ghi:+.1f} 個百分點），",
        "mostly_fit": "可見 DNN 落後主要是因為對訓練影像擬合得較差（underfitting），而不是泛化能力較差。",
        "fit_only": "可見 DNN 落後是因為對訓練影像擬合得較差（underfitting）：它「訓練減{val}」的差距反而比 CNN 小。",
        "mostly_general": "可見 DNN 主要是泛化能力較差：它對訓練資料擬合得差不多好，但在沒看過的臉上表現較差。",
        "not_worse": "可見在這裡 DNN 並沒有比較差。",
        "compare_own": "使用自身訓練設定的 DNN，{val}準確率為 {dv:.4f}，比 CNN {dir} {gap:.1f} 個百分點；但它除了網路架構之外，與 CNN "
                         "還有以下差異：{what}，因此這個差距不能完全歸因於卷積。",
        "why_conv": "為什麼參數一樣多，CNN 卻表現較好？卷積層在臉上每個位置都套用同一組小卷積核，因此在某處學到的圖樣，在其他"
                    "位置也認得出來；{n_conv} 個卷積層合計只有 {conv:,} 個參數（占 CNN 的 {conv_share:.0%}）。DNN 的第一層則讓 "
                    "{pixels:,} 個像素中的每一個，都以各自獨立的權重連到 {units} 個神經元中的每一個（{first:,} 個參數，占 DNN 的 "
                    "{first_share:.0%}），所以同一張臉只要平移幾個像素，對它而言就是全新的輸入。",
        "why_shift": "實驗結果也印證了這一點：以 CNN 的隨機平移與水平翻轉訓練時，DNN 在未增強訓練影像上的準確率只有 {st:.4f}；"
                     "使用自身訓練設定的 DNN 則為 {ot:.4f}，其設定的不同之處在於{what}；CNN 在同樣的資料增強下訓練，仍達 {ct:.4f}。",
        "below": "低了", "above": "高出",
        "diff_epochs": "{n} 個 epoch（而非 {m} 個）", "diff_optimizer": "最佳化方法（{opt}）",
        "diff_rate": "batch size {bs}、學習率 {lr}（而非 batch size {cbs}、學習率 {clr}）",
        "diff_wd": "weight decay {wd}（而非 {cwd}）", "diff_aug_none": "無資料增強",
        "diff_aug": "有資料增強", "diff_no_dropout": "無 dropout（CNN 有）", "list_sep": "、", "times": "×",
        "conf_fig": "CNN 在{split}上依列正規化的混淆矩陣：每格是該列真實類別被預測為該欄類別的比例（%）。",
        "conf_acc": "在{split}（{n:,} 張）上，CNN 的準確率為 {acc:.4f}（加上水平翻轉的測試時增強，即 TTA，則為 {acc_tta:.4f}），macro-F1 為 {f1:.4f}。",
        "conf_differs": "訓練 CNN 時在同一批影像上測得的準確率為 {rec:.4f}（判對 {right:,} 張，比這裡{dir} {k} 張）；"
                        "第 1、2 節用的是這個數字。模型以 {precision} 運算，換用不同的處理器或數學函式庫時，底層 kernel 的"
                        "加總順序與捨入方式會略有不同，足以讓位在分類邊界上的個別影像被判成另一類。",
        "more": "多", "fewer": "少",
        "train_counts": "訓練資料各類別張數：{counts}。",
        "conf_pairs": "最容易混淆的類別對（真實類別被誤判為另一類別的比例）：{pairs}。",
        "pair": "{true}被判為{pred} {rate:.0%}",
        "asym_low_recall": "{c}的 recall 為 {r:.2f}、precision 為 {p:.2f}：模型判為{c}的次數偏少，但一旦判為{c}，有 {p:.0%} "
                             "是正確的；未被正確辨識的{c}表情中，有 {share:.0%} 被誤判為{to}，比誤判為其他任何類別都多。",
        "asym_low_precision": "{c}的 precision 為 {p:.2f}、recall 為 {r:.2f}：模型判為{c}的次數偏多，判為{c}的臉有 {wrong:.0%} "
                                "是錯的；這些錯誤中有 {share:.0%} 是{frm}的臉，比其他任何類別都多。",
        "rare": "{c}是訓練資料中最少的類別（占 {share:.1%}）。",
        "planted": "在這些內建的合成人臉上，混淆是刻意設計的：產生器會以隨機權重把每張臉往其「搭配類別」的表情混合，權重有上限（{blends}），另有 {noise:.0%} "
                     "的標籤被改成搭配類別（{happy}則改成其他任一類別）。因此關鍵在於模型的錯誤是否集中在這些類別對：模型的 {n:,} 個錯誤中有 {share:.0%} "
                     "落在這些類別對上；若各類別的錯誤平均分散到其他六類，預期只有 {expected:.0%}。",
        "planted_pair": "{c}混向{p}最多 {blend:.2f}",
        "conf_none": "{split}中沒有任何一張被分錯：每個類別的 recall 都是 1.00。",
        "class": "類別", "precision": "precision", "recall": "recall", "f1": "F1", "support": "張數",
        "sal_fig": "{split}中每個類別各取一張分類正確的臉，另加一張分錯的臉（紅字：真實 → 預測），顯示其類別分數（softmax 之前的 logit）的顯著圖。方法：{methods}；Grad-CAM "
                     "以 `{layer}` 層計算。每張圖各自除以其最大值做正規化。",
        "sal_mean": "左上：{split}的平均臉，並標出各區域{regions}。其餘各圖：各類別所有臉的平均梯度圖，共用同一個色階，"
                    "並描出各區域的輪廓。",
        "no_faces": "*此處省略了{what}。FER2013 的人臉不得再散布，所以本報告不含任何顯示人臉的圖"
                    "（`make_report.py --no-faces`）；用你自己的 FER2013 執行 `make report` 產生的報告會包含這張圖。*",
        "nf_gallery": "最常混淆的組合中被分錯的臉",
        "nf_saliency": "單張臉的顯著圖（每個類別一張分類正確的臉，加上一張分錯的臉；方法為梯度、SmoothGrad 與 Grad-CAM）",
        "nf_activations": "單張臉經過各濾波器後的輸出",
        "regions_follow": "（每張臉的部位由產生器畫出，會隨臉的姿勢移動；輪廓圍出的是該部位出現的臉數至少達到其最常出現位置一半的範圍）",
        "regions_fixed": "（對齊後人臉上的固定方框）",
        "regions_how": "下表衡量各區域分到多少顯著度（saliency）。資料為{split}全部 {n:,} 張臉，各自對真實類別分數計算梯度圖。計算方式：先算「區域內平均每像素顯著度 ÷ "
                         "整張圖平均每像素顯著度」，再除以三種與臉部內容無關的基準圖在同一批臉、同一區域上算出的同一比值（取三者中的最大值）。三種基準是：置中的高斯圖（σ = {sigma} 像素）、四周 {border} "
                         "像素為暗邊的均勻圖，以及將同一網路的權重重新隨機初始化後得到的顯著圖。比值為 1.00 表示該區域分到的顯著度，並不比完全不考慮臉部內容的基準圖多。即使是這樣的基準圖，中央也比邊緣亮，因此未經校正的每像素比值"
                         "必然偏向位於影像中央的鼻子。之所以取三者中的最大值，是因為每種基準各反映一種偏差：臉通常出現的位置、zero padding "
                         "在影像邊緣造成的效應，以及未經訓練的網路架構與影像本身邊緣所產生的反應。中括號內為 95% bootstrap 信賴區間（以臉為單位重抽樣 {boot} 次）；粗體表示信賴區間下界高於 "
                         "{clears:.2f} 的區域。門檻設在 {clears:.2f} 而非 1.00，是因為表中共有 8 列 × 4 個區域，若只要略高於 1.00 "
                         "就標粗體，即使是與臉部內容無關的圖，也可能純屬偶然而有某個區域被標出。",
        "occlusion_how": "因果檢查（遮蔽實驗）：將每張臉的某個區域換成{split}平均臉在同一區域的像素（以下簡稱「遮住」）。下表列出真實類別機率的下降量，以該區域每 100 個像素計，中括號內為 95% "
                           "bootstrap 信賴區間；負值表示遮住後機率反而上升。下降越多，表示以單位像素而言，模型越依賴這個區域。",
        "what_it_uses": "簡單來說，CNN 依賴哪些區域：只有當顯著度比值的信賴區間下界高於 {clears:.2f}（即顯著度比值表中的粗體），且遮住後機率下降量的信賴區間下界高於 0 "
                          "時，才列出該區域，並依每像素下降幅度由大到小排列。",
        "all_classes": "所有類別", "all_classes_who": "所有類別",
        "region_who": "**{who}**（{n:,} 張臉）：",
        "region_none": "沒有特別突出的區域，亦即沒有任何區域同時符合「顯著度高於與內容無關的基準」與「遮住後真實類別機率下降」兩個條件",
        "region_uses": "模型依賴",
        "region_named": "{region}（顯著度為基準的 {ratio:.2f} 倍，95% 信賴區間 {lo:.2f} 至 {hi:.2f}；遮住後真實類別機率每 100 個像素下降 "
                          "{drop:.3f}，95% 信賴區間 {dlo:.3f} 至 {dhi:.3f}）",
        "region_looks": "；顯著圖也落在{regions}上，但遮住後機率沒有顯著下降",
        "region_looks_none": "；顯著度集中在{regions}，但遮住後機率並無可測得的下降",
        "region_the": "{region}",
        "list_join": "；", "period": "。",
        "inside": "由於是合成人臉，我們知道哪些像素帶有表情資訊（產生器畫出的眉毛、眼睛、嘴巴與鼻樑皺紋，再向外擴一個像素）：這些像素的平均每像素顯著度是其他像素的 {ratio:.1f} "
                    "倍，而與內容無關的基準圖最多只有 {base:.1f} 倍。",
        "random_ok": "健全性檢查（sanity check，Adebayo 等人）：將模型權重重新隨機初始化後，同一批臉的顯著圖與訓練後模型之顯著圖的等級相關係數僅 "
                       "{rho:.2f}，表示這些顯著圖確實取決於模型學到的內容。",
        "random_bad": "健全性檢查（sanity check，Adebayo 等人）：將模型權重重新隨機初始化後，顯著圖與訓練後模型之顯著圖的等級相關係數為 {rho:.2f}：這些圖反映的是影像本身多於模型。",
        "filters_fig": "使各濾波器反應最強的輸入影像，由灰色雜訊出發、經 {steps} 步梯度上升求得。取三個區塊各自的最後一層卷積並排呈現，每層列出反應最強的 {n} "
                         "個濾波器，由強到弱排列。每格標出濾波器編號與自動分類結果：S 為條紋（h 水平、v 垂直、d 斜向），L 為格點，B 為斑點；數字為週期（像素）。",
        "patterns_check": "我們依每張圖的二維頻譜，將其分為條紋（只有單一方向的週期波）、格點（兩個以上方向的週期波）或斑點（沒有重複出現的週期結構）。每次執行都會以 {n} "
                            "張已知類型的圖（各種方向與週期的條紋、點狀格點、斑點）驗證這個分類方法，準確率為 {right:.0%}。這項驗證只涵蓋乾淨的圖樣：混合多種類型的圖（例如少數幾個重複出現的小圓點）會依其最強的波來判讀。",
        "filters_header": ["層", "感受野（像素）", "有反應的濾波器", "條紋（水平／垂直／斜向）", "格點", "斑點", "無反應",
                           "週期中位數"],
        "period_cell": "{px:.1f} 像素（感受野的 {share:.0%}）",
        "layer_reading": "`{layer}` 的感受野為 {rf}×{rf} 像素：在 {live} 個有反應的濾波器中，{s} 個對條紋有反應、{l} 個對格點有反應、{b} "
                           "個對斑點有反應{period}。",
        "layer_period": "；條紋與格點的週期中位數為 {px:.1f} 像素，約為感受野邊長的 {share:.0%}",
        "with_depth": "隨著層數加深，從 `{first}` 到 `{last}`，感受野從 {rf_a} 像素增加到 {rf_z} 像素；各層的週期中位數依序為 {periods} "
                        "像素，分別約為感受野邊長的 {fractions}；斑點在有反應的濾波器中所占比例從 {b_a:.0%} 變為 {b_z:.0%}{second}。",
        "over_field": "{items}的週期比感受野還長：感受野裡容納不到一個完整週期，所以這類濾波器反應的是"
                      "單一一道明暗交界（梯度上升把它在整張影像上重複排開），而不是重複的波紋。",
        "over_item": "`{layer}`（感受野 {rf} 像素）判讀為條紋或格點的 {n} 個濾波器中，有 {k} 個",
        "depth_second": "（以第二個起點判讀：從 {a:.0%} 變為 {z:.0%}）",
        "second_start": "為了確認這些判讀是否穩定，每一層都改從另一組雜訊（seed {seed}）重新做梯度上升並再判讀一次。判讀類型與第一次相同的濾波器：{items}。",
        "second_item": "`{layer}` 的 {n} 個有反應的濾波器中有 {same} 個", "second_kappa": "（Cohen's κ {kappa:.2f}）",
        "not_firm": "{layers} 的一致性低於 κ {firm}：這些層中個別濾波器的判讀會隨起點而改變，所以其計數只能看作大致的分布，"
                    "不代表每個濾波器的確切類型。以第二個起點判讀的計數（條紋／格點／斑點）：{counts}。",
        "second_counts": "`{layer}` {s}／{l}／{b}",
        "all_firm": "每一層的一致性都在 κ {firm} 以上：換一個起點，判讀結果仍然穩定。",
        "activation_regions": "這張臉在 {n} 張輸出圖中有 {active} 張有反應（最強位置的活化值超過該層最強者的 "
                                "{share:.0%}）。依各圖最強位置落在臉的哪個區域分類：{counts}。最強位置活化值最高的五張圖：{top}。",
        "map_region": "#{f}（{region}）",
        "activations": "`{layer}` 對{split}第 {index} 張臉（真實為{true}，預測為{pred}）的輸出，所有圖共用同一個色階。",
        "devices": "訓練裝置", "one_device": "單一裝置（未使用 tf.distribute 策略）",
        "replicas": "{n} 個裝置，每個裝置上各有一份模型（tf.distribute `{strategy}`）",
        "machine": "機器", "versions": "套件版本", "data": "資料", "seed": "隨機種子",
        "steps": "步驟（指令、執行時間）", "rows": "{source}，{rows}", "unknown": "不明",
        "stripes_cell": "{s}（{h}／{v}／{d}）", "count_item": "{region} {k} 張", "sentence_sep": "",
        "cnn_recipe": "本身的設定（見第 1 節）", "dnn_same_name": "沿用 CNN 訓練設定的 DNN",
        "costs_most": "；遮住{region}時機率下降最多（每 100 個像素 {drop:.3f}，95% 信賴區間 {lo:.3f} 至 {hi:.3f}），"
                      "但其顯著度未達門檻",
        "brightest": "；該類別的平均顯著圖最亮處落在{region}（見上圖），但就整個區域而言，每像素顯著度只有基準的 {ratio:.2f} 倍"
                     "（95% 信賴區間 {lo:.2f} 至 {hi:.2f}），亮的只是局部一點，而非整個區域",
        "builtin": "內建合成人臉", "cores": "，{n} 核心", "seconds": "{s:.1f} 秒",
        "of_run": "（{name}）：", "colon": "：", "semi": "；",
    },
}

COMMANDS = {"cnn": "python train_cnn.py", "dnn": "python train_dnn.py",
            "dnn_same": "python train_dnn.py --name dnn_same_recipe --epochs 100 --augment --weight-decay 0.3",
            "confusion": "python confusion.py",
            "saliency": "python saliency.py", "filters": "python filter_viz.py --image 0"}
RECORDS = {"cnn": "cnn.json", "dnn": "dnn.json", "dnn_same": "dnn_same_recipe.json", "confusion": "cnn.confusion.json",
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


def mean_interval(values):
    """Mean of a few runs' numbers and its 95% Student-t interval."""
    from scipy import stats
    d = stats.describe(values)
    lo, hi = stats.t.interval(0.95, d.nobs - 1, loc=d.mean, scale=stats.sem(values))
    return float(d.mean), float(lo), float(hi), math.sqrt(d.variance)


def seed_spread(t, runs, val, n):
    """How much the seed moves the recipe's held-out accuracy, against what the finite split alone would."""
    best, blo, bhi, sd = mean_interval([r["best"] for r in runs])
    last, llo, lhi, _ = mean_interval([r["last"] for r in runs])
    bsd = math.sqrt(best * (1 - best) / n)
    return t["seed_runs"].format(k=len(runs), seeds=t["list_sep"].join(str(r["seed"]) for r in runs), val=val,
                                 best=best, blo=blo, bhi=bhi, last=last, llo=llo, lhi=lhi, sd=sd, bsd=bsd, n=n,
                                 cmp=t["seed_cmp_faces"] if sd < bsd else t["seed_cmp_seed"])


def with_interval(e):
    lo, hi = wilson(e["accuracy"], e["n"])
    return f"{e['accuracy']:.4f} [{lo:.3f}, {hi:.3f}]"


def source_line(t, files, records):
    """Which records a section's numbers come from and the commit each was written at (with uncommitted changes,
    where a record says so)."""
    made = [(f, (r.get("environment") or {}).get("git_commit") or t["unknown"],
             t["dirty"] if (r.get("environment") or {}).get("git_dirty") else "") for f, r in zip(files, records)]
    if len({(c, d) for _, c, d in made}) == 1:
        return t["source"].format(files=f"`{t['list_sep']}`".join(files), commit=made[0][1], dirty=made[0][2])
    return t["sources"].format(each=t["list_sep"].join(t["source_each"].format(file=f, commit=c, dirty=d)
                                                       for f, c, d in made))


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
    return t["arch"].format(blocks=len(pools), per_block=len(convs) // len(pools), kernel=convs[0][4].split(",")[0].replace("x", t["times"]),
                            filters=t["list_sep"].join(map(str, filters)), conv_drop=t["list_sep"].join(conv_drop),
                            dense=t["list_sep"].join(r[2] for r in dense), dense_drop=t["list_sep"].join(dense_drop) or "0")


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


def recipe(t, rec, lang):
    c = rec["config"]
    extra = (t["ls"].format(ls=c["label_smoothing"]) if c.get("label_smoothing") else "") + \
        (t["mixup"].format(mix=c["mixup"]) if c.get("mixup") else "")
    val = split_word(lang, "val", rec["data"].get("usage"))
    schedule = (t["plateau"].format(lr=c["lr"], factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE, val=val)
                if c.get("plateau") else t["lr_warmup"].format(lr=c["lr"], n=c["lr_warmup"]) if c.get("lr_warmup")
                else t["cosine"].format(lr=c["lr"]))
    averaged = (t["swa"].format(first=rec["swa_epochs"][0], last=rec["swa_epochs"][1]) if c.get("swa") else
                t["ema"].format(m=c["ema"]) if c.get("ema") else "")
    teachers = c.get("teacher") or []
    teacher = t["teacher"].format(n=len(teachers), s="s" * (len(teachers) > 1), T=c.get("temperature"),
                                  share=c.get("distill") or 0) if teachers else ""
    return t["recipe"].format(
        epochs=rec["epochs"], batch_size=c["batch_size"], optimizer=t["sgd" if c.get("optimizer") == "sgd" else "adam"],
        schedule=schedule, averaged=averaged, teacher=teacher,
        wd=t["wd"].format(wd=c["weight_decay"]) if c.get("weight_decay") else "", extra=extra,
        aug=augmentation_words(t, rec.get("augmentation")) if c.get("augment") else t["aug_none"],
        warmup=t["warmup"].format(n=c["dropout_warmup"]) if has_dropout(rec) and c.get("dropout_warmup") else "",
        precision=rec["precision"], train_seconds=rec["train_seconds"], val=val,
        ips=rec["train_images_per_second"] or 0)


def augmentation_words(t, summary):
    """'mirror, shift 0.1' in the report's language."""
    if not summary:
        return t["aug_none"]
    words = []
    for step in summary.split(", "):
        name, _, value = step.partition(" ")
        words.append(t["aug_words"].get(name, name) + (f" {value}" if value else ""))
    return t["list_sep"].join(words)


def accuracy_table(t, rec, lang):
    last = rec.get("evaluation_last_epoch", {})
    header = [h.format(best=rec["best_epoch"], last=rec["epochs"]) for h in t["acc_header"]]
    usage = rec["data"].get("usage")
    val, test = split_word(lang, "val", usage), split_word(lang, "test", usage)
    rows = [[split_word(lang, s, usage), with_interval(e), with_interval(last[s]) if s in last else "-", f"{e['n']:,}"]
            for s, e in rec["evaluation"].items()]
    runs = rec.get("chosen_from_runs", 1)
    note = t["acc_note"].format(val=val, run=t["acc_run"].format(val=val, n=runs) if runs > 1 else "",
                                test=t["acc_test"].format(test=test) if "test" in rec["evaluation"]
                                else t["acc_no_test"].format(val=val))
    ev = rec["evaluation"]
    if "val" in ev and len(rec.get("seed_runs", [])) > 1:
        note += t["sentence_sep"] + seed_spread(t, rec["seed_runs"], val, ev["val"]["n"])
    if "val" in ev and ev["train"]["accuracy"] < ev["val"]["accuracy"]:
        lo, hi = wilson(ev["val"]["accuracy"], ev["val"]["n"])
        if lo <= ev["train"]["accuracy"]:
            note += t["sentence_sep"] + t["train_below_val"].format(d=100 * (ev["val"]["accuracy"] - ev["train"]["accuracy"]),
                                                      val=val, lo=lo, hi=hi, n=ev["val"]["n"])
    return table(header, rows) + "\n\n" + note


def model_section(t, lang, rec, figures_dir, out_dir, arch_line):
    how = t["how_aug"] if rec.get("augmentation") else t["how_drop"] if has_dropout(rec) else t["how_plain"]
    total = t["total"].format(**rec["params"]) + (t["bn_stats"] if rec["params"]["non_trainable"] else "")
    return [arch_line, layer_rows(t, rec), total, recipe(t, rec, lang),
            figure(os.path.join(figures_dir, f"{rec['name']}_history.png"), out_dir, t["curves"].format(how=how), lang),
            accuracy_table(t, rec, lang)]


def curve_label(lang, key, kind, what):
    """A legend entry: "CNN PublicTest", "CNN 訓練", but "DNN（自身訓練設定）PublicTest", since a full-width bracket
    carries its own space."""
    return FIGURE_WORDS[lang][key].format(kind=kind, val=what, train=what).replace("） ", "）")


def plot_comparison(runs, models_dir, val, lang, dest):
    """Each run's validation accuracy per epoch (and its training accuracy, dotted), with chance and majority."""
    import pandas as pd
    plt = pyplot()
    w = FIGURE_WORDS[lang]
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    for k, (rec, name) in enumerate(runs):
        path = os.path.join(models_dir, f"{rec['name']}.history.csv")
        if os.path.exists(path):
            h = pd.read_csv(path)
            train = train_label(lang, rec)
            ax.plot(h["epoch"], h["val_accuracy"], color=f"C{k}", label=curve_label(lang, "model_validation", name, val))
            ax.plot(h["epoch"], h["accuracy"], color=f"C{k}", ls=":", label=curve_label(lang, "model_train", name, train))
    ax.axhline(CHANCE, color="gray", ls="--", lw=0.8, label=w["chance"])
    majority = majority_share(runs[0][0])
    if majority:
        ax.axhline(majority, color="black", ls="-.", lw=0.8, label=w["majority"])
    ax.set_xlabel(w["epoch"])
    ax.xaxis.get_major_locator().set_params(integer=True)   # epochs are whole numbers
    ax.set_ylabel(w["accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2)
    fig.tight_layout(rect=(0, 0.3, 1, 1))   # the legend below the axes, clear of the x label
    save_figure(fig, dest)


def recipe_differences(t, rec, cnn):
    """How a DNN run's recipe differs from the CNN's, in words ("" when it differs only in its layers)."""
    a, b = rec["config"], cnn["config"]
    out = []
    if rec["epochs"] != cnn["epochs"]:
        out.append(t["diff_epochs"].format(n=rec["epochs"], m=cnn["epochs"]))
    if a["batch_size"] != b["batch_size"] or a["lr"] != b["lr"]:
        out.append(t["diff_rate"].format(bs=a["batch_size"], lr=a["lr"], cbs=b["batch_size"], clr=b["lr"]))
    if a.get("optimizer") != b.get("optimizer"):
        out.append(t["diff_optimizer"].format(opt=t["sgd" if a.get("optimizer") == "sgd" else "adam"]))
    if a.get("weight_decay", 0) != b.get("weight_decay", 0):
        out.append(t["diff_wd"].format(wd=a.get("weight_decay", 0), cwd=b.get("weight_decay", 0)))
    if bool(rec.get("augmentation")) != bool(cnn.get("augmentation")):
        out.append(t["diff_aug_none"] if not rec.get("augmentation") else t["diff_aug"])
    if not has_dropout(rec) and has_dropout(cnn):
        out.append(t["diff_no_dropout"])
    return t["list_sep"].join(out)


def accuracy_difference(plus, minus):
    """The sum of the accuracies in `plus` minus the sum of those in `minus` (an evaluation, or a list of them),
    with an unpaired 95% interval: each accuracy's binomial variance added, as if measured on independent images
    (on the same images a paired interval is narrower)."""
    plus, minus = [plus] if isinstance(plus, dict) else plus, [minus] if isinstance(minus, dict) else minus
    value = sum(e["accuracy"] for e in plus) - sum(e["accuracy"] for e in minus)
    half = 1.96 * math.sqrt(sum(e["accuracy"] * (1 - e["accuracy"]) / e["n"] for e in plus + minus))
    return value, value - half, value + half


def comparison(t, lang, cnn, dnn, same, figures_dir, models_dir, out_dir):
    """Q2's comparison: the DNN of its own recipe, and (the controlled row) the DNN trained with the CNN's."""
    val = split_word(lang, "val", cnn["data"].get("usage"))
    dest = os.path.join(figures_dir, "cnn_dnn_accuracy.png")
    drawn_in = lang if lang in figure_languages() else "en"   # no CJK font: the English figure
    runs = [(cnn, "CNN"), (dnn, t["dnn_own"])] + ([(same, t["dnn_same"])] if same else [])
    plot_comparison(runs, models_dir, split_word(drawn_in, "val", cnn["data"].get("usage")), drawn_in,
                    localized(dest, drawn_in))
    header = [""] + [name for _, name in runs]
    rows = [[t["side_params"]] + [f"{r['params']['total']:,}" for r, _ in runs],
            [t["side_val"].format(val=val)] + [f"{r['evaluation']['val']['accuracy']:.4f}" for r, _ in runs]]
    if all("test" in r["evaluation"] for r, _ in runs):
        rows.append([t["side_test"]] + [f"{r['evaluation']['test']['accuracy']:.4f}" for r, _ in runs])
    rows.append([t["side_train"]] + [f"{r['evaluation']['train']['accuracy']:.4f}" for r, _ in runs])
    rows.append([t["side_gap"].format(val=val)] + [
        f"{100 * (r['evaluation']['train']['accuracy'] - r['evaluation']['val']['accuracy']):+.1f}" for r, _ in runs])
    rows.append([t["side_recipe"]] + [t["cnn_recipe"] if r is cnn else (recipe_differences(t, r, cnn) or
                                                                        t["same_as_cnn"]) for r, _ in runs])
    caption = t["compare_fig"].format(val=val)
    parts = [figure(dest, out_dir, caption[0].upper() + caption[1:], lang), table(header, rows)]
    called = {id(cnn): "CNN", id(dnn): "DNN", id(same): t["dnn_same_name"]}
    failed = [(called[id(rec)], rec) for rec, _ in runs if not learned(rec)]
    for name, rec in failed:
        parts.append(t["not_learned"].format(model=name, acc=rec["evaluation"]["val"]["accuracy"],
                                             majority=majority_share(rec) or CHANCE,
                                             loss=rec["evaluation"]["train"]["loss"]))
    c, d = cnn["params"]["total"], dnn["params"]["total"]
    parts.append(t["capacity"].format(c=c, d=d, rel=abs(d - c) / c))
    if same is None:
        parts.append(t["same_missing"].format(cmd=COMMANDS["dnn_same"]))
    elif learned(cnn) and learned(same):
        gap, lo, hi = accuracy_difference(cnn["evaluation"]["val"], same["evaluation"]["val"])
        ct, st = cnn["evaluation"]["train"]["accuracy"], same["evaluation"]["train"]["accuracy"]
        cg = ct - cnn["evaluation"]["val"]["accuracy"]
        sg = st - same["evaluation"]["val"]["accuracy"]
        # How much worse it fits; how much more it loses from train to val: (st - sv) - (ct - cv).
        fit, flo, fhi = accuracy_difference(cnn["evaluation"]["train"], same["evaluation"]["train"])
        general, glo, ghi = accuracy_difference([same["evaluation"]["train"], cnn["evaluation"]["val"]],
                                                [same["evaluation"]["val"], cnn["evaluation"]["train"]])
        reading = (t["not_worse"] if gap <= 0 else t["fit_only"].format(val=val) if fit > 0 and ghi < 0
                   else t["mostly_fit" if fit > abs(general) else "mostly_general"])
        others = recipe_differences(t, same, cnn)
        parts.append(t["compare_same"].format(
            val=val, sv=same["evaluation"]["val"]["accuracy"], cv=cnn["evaluation"]["val"]["accuracy"],
            gap=abs(100 * gap), dir=t["below"] if gap > 0 else t["above"], lo=100 * lo, hi=100 * hi,
            others=t["others"].format(what=others) if others else t["others_none"]))
        side = lambda d: t["above"] if d > 0 else t["below"]  # noqa: E731
        flo, fhi = (100 * flo, 100 * fhi) if fit >= 0 else (-100 * fhi, -100 * flo)   # how far below (or above)
        parts.append(t["fit_or_general"].format(val=val, fit=abs(100 * fit), fit_dir=side(-fit), flo=flo, fhi=fhi,
                                                sg=abs(100 * sg), sdir=side(sg), cg=abs(100 * cg), cdir=side(cg),
                                                gen=100 * general, glo=100 * glo, ghi=100 * ghi) + reading)
    if learned(cnn) and learned(dnn):
        gap = cnn["evaluation"]["val"]["accuracy"] - dnn["evaluation"]["val"]["accuracy"]
        parts.append(t["compare_own"].format(val=val, dv=dnn["evaluation"]["val"]["accuracy"], gap=abs(100 * gap),
                                             dir=t["below"] if gap > 0 else t["above"],
                                             what=recipe_differences(t, dnn, cnn) or t["same_as_cnn"]))
    why = why_convolution(t, cnn, dnn, same)
    if why:
        parts.append(why)
    return parts


def why_convolution(t, cnn, dnn, same):
    """Q2's why, from the layer tables: the parameters shared over positions against one weight per pixel, and, where
    the controlled DNN ran, what the CNN's shifts did to how well the DNN fits its training faces."""
    conv = [row[3] for row in cnn.get("layers", []) if row[1] == "Conv2D"]
    dense = [row for row in dnn.get("layers", []) if row[1] == "Dense"]
    if not conv or not dense:
        return ""
    first = dense[0]
    pixels = first[3] // int(first[2]) - 1   # (inputs + 1 bias) x units
    text = t["why_conv"].format(n_conv=len(conv), conv=sum(conv), conv_share=sum(conv) / cnn["params"]["total"],
                                pixels=pixels, units=int(first[2]), first=first[3],
                                first_share=first[3] / dnn["params"]["total"])
    if same and learned(same) and learned(dnn) and same.get("augmentation") and not dnn.get("augmentation"):
        st, ot = same["evaluation"]["train"]["accuracy"], dnn["evaluation"]["train"]["accuracy"]
        if st < ot:
            text += t["why_shift"].format(st=st, ot=ot, ct=cnn["evaluation"]["train"]["accuracy"],
                                          what=recipe_differences(t, dnn, same))
    return text


def planted_sentence(t, lang, counts):
    """On the built-in faces: the confusions the generator plants, and whether the model's errors follow them."""
    names = CLASS_WORDS[lang]
    pairs = planted_pairs()
    planted = {(CLASS_NAMES.index(a), CLASS_NAMES.index(b)) for a, b, _ in pairs}
    counts = [[int(v) for v in row] for row in counts]
    k = len(CLASS_NAMES)
    errors = sum(counts[i][j] for i in range(k) for j in range(k) if i != j)
    on_planted = sum(counts[i][j] for i, j in planted)
    # Null: each class's errors spread evenly over the other six classes.
    expected = sum((sum(counts[i]) - counts[i][i]) * sum((i, j) in planted for j in range(k)) / (k - 1)
                   for i in range(k))
    blends = t["list_sep"].join(t["planted_pair"].format(c=names[a], p=names[b], blend=m) for a, b, m in pairs)
    return t["planted"].format(blends=blends, noise=LABEL_NOISE, happy=names["Happy"], n=errors,
                               share=on_planted / max(errors, 1), expected=expected / max(errors, 1))


def top_other(counts, skip):
    """The index of the largest count other than counts[skip], and its share of all counts but that one."""
    others = [j for j in range(len(counts)) if j != skip]
    top = max(others, key=lambda j: counts[j])
    return top, counts[top] / max(sum(counts[j] for j in others), 1)


def confusion_section(t, lang, conf, cnn, out_dir, faces=True):
    names, split = CLASS_WORDS[lang], split_word(lang, conf["split"], conf.get("usage"))
    per = conf["per_class"]
    parts = [figure(conf["figure"], out_dir, t["conf_fig"].format(split=split), lang),
             t["conf_acc"].format(split=split, n=conf["n"], acc=conf["accuracy_plain"], acc_tta=conf["accuracy_tta"],
                                  f1=conf["macro_f1"])]
    trained = (cnn or {}).get("evaluation", {}).get(conf["split"], {}).get("accuracy")
    more = round((trained - conf["accuracy_plain"]) * conf["n"]) if trained is not None else 0
    if more and len(conf.get("members") or [1]) == 1:
        # The same model and faces on another machine: say why the number moved, not leave two numbers.
        parts.append(t["conf_differs"].format(rec=trained, k=abs(more), right=round(trained * conf["n"]),
                                              dir=t["more" if more > 0 else "fewer"],
                                              precision=cnn.get("precision", "float32")))
    counts = (cnn or {}).get("data", {}).get("class_counts", {}).get("train")
    if counts:
        parts.append(t["train_counts"].format(counts=t["list_sep"].join(f"{names[c]} {k:,}" for c, k in zip(CLASS_NAMES, counts))))
    if not conf["most_confused"]:
        parts.append(t["conf_none"].format(split=split))
    else:
        parts.append(t["conf_pairs"].format(pairs=t["list_join"].join(
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
                to, share = top_other(conf["counts"][i], i)
                parts.append(t["asym_low_recall"].format(c=names[c], r=r, p=p, to=names[CLASS_NAMES[to]], share=share))
            else:
                frm, share = top_other([row[i] for row in conf["counts"]], i)
                parts.append(t["asym_low_precision"].format(c=names[c], r=r, p=p, wrong=1 - p,
                                                            frm=names[CLASS_NAMES[frm]], share=share))
        if counts:
            rarest = CLASS_NAMES[min(range(len(counts)), key=counts.__getitem__)]
            parts.append(t["rare"].format(c=names[rarest], share=min(counts) / sum(counts)))
        if conf.get("data") == "synthetic":
            parts.append(planted_sentence(t, lang, conf["counts"]))
    parts.append(table([t["class"], t["precision"], t["recall"], t["f1"], t["support"]],
                       [[names[c], f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1-score']:.3f}",
                         int(v["support"])] for c, v in per.items()]))
    if faces and conf.get("gallery"):
        parts.append(figure(conf.get("gallery_figure"), out_dir, t["gallery_fig"].format(split=split), lang))
    elif conf.get("gallery"):
        parts.append(t["no_faces"].format(what=t["nf_gallery"]))
    return parts


def region_cell(s):
    return f"{s['ratio']:.2f} [{s['lo']:.2f}, {s['hi']:.2f}]"


def occlusion_cell(o):
    return f"{o['prob']:.3f} [{o['prob_lo']:.3f}, {o['prob_hi']:.3f}]"


def region_sentence(t, lang, name, answer):
    """One plain sentence: what the CNN uses for this class (or over all classes), with its numbers."""
    regions = REGION_WORDS[lang]
    who = t["all_classes_who"] if name == "all" else CLASS_WORDS[lang][name]
    head = t["region_who"].format(who=who, n=answer["n"])
    the = {r: t["region_the"].format(region=w) for r, w in regions.items()}
    looks = answer.get("looked_at_only") or []
    also = t["region_looks" if answer["named"] else "region_looks_none"].format(
        regions=t["list_sep"].join(the[r] for r in looks)) if looks else ""
    occ = answer["occlusion"]
    most = max(occ, key=lambda r: occ[r]["prob"])
    if most not in answer["named"] and occ[most]["prob_lo"] > 0:   # needed most, though the maps do not show it
        o = occ[most]
        also += t["costs_most"].format(region=the[most], drop=o["prob"], lo=o["prob_lo"], hi=o["prob_hi"])
    # What the eye picks out in the class-mean figure, where the measurement does not back it: said, so that the
    # text and the figure do not seem to disagree ("all" has no map in the figure).
    bright = answer.get("brightest")
    if name != "all" and bright and bright not in answer["named"] and bright not in looks:
        s = answer["saliency"][bright]
        also += t["brightest"].format(region=the[bright], ratio=s["ratio"], lo=s["lo"], hi=s["hi"])
    if not answer["named"]:
        return head + t["region_none"] + also + t["period"]
    used = []
    for r in answer["named"]:
        s, o = answer["saliency"][r], answer["occlusion"][r]
        used.append(t["region_named"].format(region=the[r], ratio=s["ratio"], lo=s["lo"], hi=s["hi"],
                                             drop=o["prob"], dlo=o["prob_lo"], dhi=o["prob_hi"]))
    return head + t["region_uses"] + t["list_join"].join(used) + also + t["period"]


def saliency_section(t, lang, sal, out_dir, faces=True):
    names, split = CLASS_WORDS[lang], split_word(lang, sal["split"], sal.get("usage"))
    regions = ("brows and eyes", "nose", "mouth", "rest")
    region_words = REGION_WORDS[lang]
    parts = [figure(sal["figure"], out_dir, t["sal_fig"].format(split=split, methods=t["list_sep"].join(
                 FIGURE_WORDS[lang][f"method_{m}"] for m in sal["methods"]),
                 layer=sal.get("gradcam_layer") or "-"), lang) if faces else t["no_faces"].format(what=t["nf_saliency"]),
             figure(sal["figure_mean"], out_dir, t["sal_mean"].format(
                 split=split, regions=t["regions_follow" if sal["regions_follow_faces"] else "regions_fixed"]), lang),
             t["regions_how"].format(n=sal["n_mean"], split=split, sigma=sal["gaussian_sigma"],
                                     border=sal["dark_border"], boot=f"{sal['bootstrap']:,}", clears=sal["clears"])]
    by_class = sal["by_class"]
    rows = []
    for name, answer in by_class.items():
        who = t["all_classes"] if name == "all" else names[name]
        clears = answer["named"] + answer.get("looked_at_only", [])
        rows.append([who] + [(f"**{region_cell(answer['saliency'][r])}**" if r in clears else
                              region_cell(answer["saliency"][r])) if r in answer["saliency"] else "-" for r in regions])
    parts.append(table([t["class"]] + [region_words[r] for r in regions], rows))
    parts.append(t["occlusion_how"].format(split=split))
    rows = [[t["all_classes"] if name == "all" else names[name]]
            + [occlusion_cell(a["occlusion"][r]) if r in a["occlusion"] else "-" for r in regions]
            for name, a in by_class.items()]
    parts.append(table([t["class"]] + [region_words[r] for r in regions], rows))
    parts.append(t["what_it_uses"].format(clears=sal["clears"]))
    parts.append("\n".join("- " + region_sentence(t, lang, name, answer) for name, answer in by_class.items()))
    if "inside_outside_ratio" in sal:
        parts.append(t["inside"].format(ratio=sal["inside_outside_ratio"], base=sal.get("inside_outside_baseline", 1.0)))
    rho = sal.get("randomisation_rank_correlation")
    if rho is not None:
        parts.append(t["random_ok" if rho < 0.5 else "random_bad"].format(rho=rho))
    return parts


def second_start_sentences(t, layers):
    """How firm the readings are: per layer, how many filters keep their kind when the ascent starts from other
    noise (filter_viz.py climbs twice), and which layers agree too little for their counts to be read filter by
    filter. Nothing for a record without the second start."""
    again = [(name, rec["second_start"]) for name, rec in layers if "second_start" in rec]
    if not again:
        return []
    items = t["list_sep"].join(t["second_item"].format(same=r["same"], n=r["filters"], layer=name) + (
        t["second_kappa"].format(kappa=r["kappa"]) if r["kappa"] is not None else "") for name, r in again)
    out = [t["second_start"].format(seed=again[0][1]["seed"], items=items)]
    loose = [(name, r) for name, r in again if r["kappa"] is not None and r["kappa"] < FIRM]
    if loose:
        counts = t["list_sep"].join(t["second_counts"].format(layer=name, s=r["counts"]["stripes"],
                                                              l=r["counts"]["lattice"], b=r["counts"]["blob"])
                                    for name, r in loose)
        out.append(t["not_firm"].format(layers=t["list_sep"].join(f"`{name}`" for name, _ in loose), firm=FIRM,
                                        counts=counts))
    else:
        out.append(t["all_firm"].format(firm=FIRM))
    return out


def filters_section(t, lang, filt, out_dir, faces=True):
    layers = [(name, filt["layers"][name]) for name in filt.get("layer_order", [])]
    if not layers:   # a record from before filter_viz.py read three layers: run it again
        return [t["missing"].format(cmd=COMMANDS["filters"])]
    parts = [figure(filt["figure"], out_dir, t["filters_fig"].format(steps=filt["steps"], n=filt.get("shown_per_layer", 24)),
                    lang)]
    check = filt.get("pattern_check")
    if check:
        parts.append(t["patterns_check"].format(n=check["n"], right=check["right"]))
    rows = []
    for name, rec in layers:
        c, live = rec["counts"], len(rec["filters"]) - rec["counts"]["dead"]
        share = rec.get("period_rf_median")
        rows.append([f"`{name}`", f"{rec['receptive_field']}", f"{live}", t["stripes_cell"].format(
                     s=c["stripes"], h=c["horizontal"], v=c["vertical"], d=c["diagonal"]), f"{c['lattice']}",
                     f"{c['blob']}", f"{c['dead']}",
                     t["period_cell"].format(px=share * rec["receptive_field"], share=share) if share else "-"])
    parts.append(table(t["filters_header"], rows))
    for name, rec in layers:
        c, live = rec["counts"], len(rec["filters"]) - rec["counts"]["dead"]
        share = rec.get("period_rf_median")
        period = t["layer_period"].format(px=share * rec["receptive_field"], share=share) if share else ""
        parts.append(t["layer_reading"].format(layer=name, rf=rec["receptive_field"], live=live, s=c["stripes"],
                                               l=c["lattice"], b=c["blob"], period=period))
    over = [(name, rec, [p for p in rec.get("patterns", {}).values() if p.get("period")]) for name, rec in layers]
    over = [(name, rec, len(ps), sum(p["period"] > rec["receptive_field"] for p in ps)) for name, rec, ps in over]
    if any(k for *_, k in over):
        parts.append(t["over_field"].format(items=t["list_sep"].join(
            t["over_item"].format(k=k, n=n, layer=name, rf=rec["receptive_field"]) for name, rec, n, k in over if k)))
    parts += second_start_sentences(t, layers)
    (first, a), (last, z) = layers[0], layers[-1]
    if len(layers) > 1 and a.get("period_rf_median") and z.get("period_rf_median"):
        blob = lambda counts: counts["blob"] / max(counts["stripes"] + counts["lattice"] + counts["blob"], 1)  # noqa: E731
        second = t["depth_second"].format(a=blob(a["second_start"]["counts"]), z=blob(z["second_start"]["counts"])) \
            if "second_start" in a and "second_start" in z else ""
        parts.append(t["with_depth"].format(first=first, last=last, rf_a=a["receptive_field"], rf_z=z["receptive_field"],
                                            periods=t["list_sep"].join(f"{r['period_rf_median'] * r['receptive_field']:.1f}"
                                                                       for _, r in layers if r.get("period_rf_median")),
                                            fractions=t["list_sep"].join(f"{r['period_rf_median']:.0%}"
                                                                         for _, r in layers if r.get("period_rf_median")),
                                            b_a=blob(a["counts"]), b_z=blob(z["counts"]), second=second))
    image = filt.get("image")
    if filt.get("activations_figure") and image:
        names = CLASS_WORDS[lang]
        if faces:
            parts.append(figure(filt["activations_figure"], out_dir, t["activations"].format(
                layer=image.get("layer", filt["layer"]), split=split_word(lang, image["split"], image.get("usage")),
                index=image["index"], true=names.get(image["true"], FIGURE_WORDS[lang]["unlabelled"]),
                pred=names[image["predicted"]]), lang))
            if image.get("peak_regions"):
                parts.append(activation_sentence(t, lang, image))
        else:
            parts.append(t["no_faces"].format(what=t["nf_activations"]))
    return parts


def activation_sentence(t, lang, image):
    """Which of the shown face's regions each output map fires on most, counted, and the strongest maps'."""
    regions = REGION_WORDS[lang]
    peaks, strength = image["peak_regions"], image.get("filter_peaks", image["filter_means"])
    top_cell = max(strength)
    active = [f for f, r in enumerate(peaks) if r is not None and strength[f] > ACTIVE * top_cell]
    counts = t["list_sep"].join(t["count_item"].format(region=regions[r], k=sum(peaks[f] == r for f in active))
                                for r in ("brows and eyes", "nose", "mouth", "rest"))
    top = sorted(active, key=lambda f: -strength[f])[:5]
    return t["activation_regions"].format(active=len(active), n=len(peaks), share=ACTIVE, counts=counts, top=t["list_sep"].join(
        t["map_region"].format(f=f, region=regions[peaks[f]]) for f in top))


def provenance(t, lang, records):
    first = next(r for r in records.values() if r and "environment" in r)
    env = first["environment"]
    lines = []
    for name in ("cnn", "dnn", "dnn_same"):
        rec = records.get(name)
        if rec:
            usage = rec["data"].get("usage")
            rows = t["list_sep"].join(f"{split_word(lang, k, usage)} {v:,}" for k, v in rec["data"]["rows"].items() if v)
            source = t["builtin"] if rec["data"]["source"] == "synthetic" else f"`{rec['data']['source']}`"
            lines.append(f"- {t['data']}" + t["of_run"].format(name=rec["name"]) + t["rows"].format(source=source, rows=rows)
                         + t["semi"] + f"{t['seed']} {rec['config']['seed']}")
            d = rec.get("distribution") or {"strategy": "default", "replicas": 1}   # older records: one device
            lines.append(f"- {t['devices']}" + t["of_run"].format(name=rec["name"]) + (t["one_device"] if d["replicas"] == 1 else
                                                                   t["replicas"].format(n=d["replicas"], strategy=d["strategy"])))
    lines.append(f"- {t['steps']}" + t["colon"])
    for rec in records.values():
        if rec:
            lines.append(f"  - `{rec['environment']['command']}`" + t["colon"] + t["seconds"].format(s=rec["wall_seconds"]))
    backend = [f"{name} {env[key]}" for key, name in (("tensorflow", "TensorFlow"), ("jax", "JAX")) if key in env]
    versions = [f"Python {env['python']}", *backend, f"Keras {env['keras']}",
                f"NumPy {env['numpy']}", f"scikit-learn {env['scikit-learn']}"]
    lines.append(f"- {t['versions']}{t['colon']}" + t["list_sep"].join(versions))
    machine = re.sub(r", (\d+) cores?$", lambda m: t["cores"].format(n=m.group(1)), env["machine"])
    lines.append(f"- {t['machine']}{t['colon']}{machine}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the report

def build_report(models_dir, figures_dir, out, lang="en", collaborators="", faces=True, made_by="make report"):
    t = TEXT[lang]
    out_dir = os.path.dirname(os.path.abspath(out))
    records = {k: read(os.path.join(models_dir, f)) for k, f in RECORDS.items()}
    cnn, dnn = records["cnn"], records["dnn"]
    source = cnn["data"]["source"] if cnn else (dnn["data"]["source"] if dnn else None)
    doc = [f"# {t['title']}", t["synthetic_note"].format(made_by=made_by) if source in (None, "synthetic") else
           t["real_note"].format(source=source, made_by=made_by)]
    sections = [
        ("q1", ["cnn"], lambda: model_section(t, lang, cnn, figures_dir, out_dir, cnn_architecture(t, cnn))),
        ("q2", ["dnn", "cnn", "dnn_same"], lambda: model_section(t, lang, dnn, figures_dir, out_dir, t["dnn_arch"].format(
            widths=t["list_sep"].join(map(str, dnn.get("widths", []))))) + (
            comparison(t, lang, cnn, dnn, records["dnn_same"], figures_dir, models_dir, out_dir) if cnn else [])),
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
            # A record kept in the repository (a shipped model's) is named by its path there.
            files = [records[n].get("record_path") or
                     os.path.relpath(os.path.join(models_dir, RECORDS[n]), out_dir).replace(os.sep, "/") for n in used]
            doc.append(source_line(t, files, [records[n] for n in used]))
        else:
            doc.append(t["missing"].format(cmd=COMMANDS[needs[0]]))
    if any(records.values()):
        doc.append(f"## {t['prov']}")
        doc.append(provenance(t, lang, records))
    if lang != "en" and re.search(rf"\]\([^)]*(?<!\.{re.escape(lang)})\.png\)", "\n".join(doc)):
        doc.insert(2, t["figure_lang"])   # a figure had to be shown in English: say so once, at the top
    text = "\n\n".join(p for p in doc if p) + "\n"
    if lang == "zh-TW":
        text = spaced(text)
    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return text


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models-dir", default="models", help="where the run records are (default: %(default)s)")
    cli.add_figures_arg(p, "the figures are that the report links")
    p.add_argument("--out", default="report.md", help="the report to write; the .html beside it (default: %(default)s)")
    p.add_argument("--lang", choices=sorted(TEXT), default="en",
                   help="language of the headings and sentences (default: %(default)s)")
    p.add_argument("--collaborators", default="",
                   help="names for each question's \"Collaborators:\" line (default: blank, to fill in)")
    p.add_argument("--made-by", default="make report",
                   help="the command the report says made it (default: %(default)s)")
    p.add_argument("--no-faces", action="store_true",
                   help="leave out every figure that shows a face (the per-face saliency maps and the activation "
                        "maps), e.g. to publish a report on data that is not yours to share")
    args = p.parse_args(argv)
    text = build_report(args.models_dir, args.figures_dir, args.out, args.lang, args.collaborators, not args.no_faces,
                        args.made_by)
    dirty = [n for n, f in RECORDS.items() if (read(os.path.join(args.models_dir, f)) or {}).get(
        "environment", {}).get("git_dirty")]
    if dirty:
        print(f"make_report.py: note: {', '.join(dirty)} came from a tree with uncommitted changes, and the report says "
              "so; for a report to hand in, commit and make it again", file=sys.stderr)
    html_path = os.path.splitext(args.out)[0] + ".html"
    write_html(text, args.out, html_path, args.lang)
    print(f"wrote {args.out} ({len(text.splitlines())} lines) and {html_path}")
    return text


if __name__ == "__main__":
    sys.exit(cli.run(main))
