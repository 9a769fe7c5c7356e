"""make_report.py: every number in report.md is one a run recorded; gaps say which command fills them;
both languages say everything; the figures fit a printed page."""

import glob
import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

import confusion
import make_report
from conftest import run_script
from ferlib.outputs import figure_languages


def test_report_numbers_come_from_the_records_and_links_resolve(analysed, tmp_path):
    trained = analysed
    out = tmp_path / "report.md"
    text = make_report.main(["--models-dir", str(trained["models"]), "--figures-dir", str(trained["figures"]),
                             "--out", str(out), "--collaborators", "B01 Lin"])
    assert out.read_text() == text
    assert "built-in synthetic faces" in text.splitlines()[2]
    words = make_report.split_word
    for kind in ("cnn", "dnn"):
        for split, e in trained[kind]["evaluation"].items():
            lo, hi = make_report.wilson(e["accuracy"], e["n"])
            assert f"| {words('en', split)} | {e['accuracy']:.4f} [{lo:.3f}, {hi:.3f}] |" in text
    assert f"{trained['cnn']['params']['total']:,}" in text and f"{trained['dnn']['params']['total']:,}" in text
    gap = 100 * (trained["cnn"]["evaluation"]["val"]["accuracy"] - trained["dnn"]["evaluation"]["val"]["accuracy"])
    assert f"{gap:.1f} points below" in text
    conf = json.loads((trained["models"] / "cnn.confusion.json").read_text())
    assert conf["sentence"] in text and f"{conf['accuracy_plain']:.4f}" in text and conf["split"] == "test"
    assert "The CNN's training run measured" not in text   # one machine: one number
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 8
    for link in links:
        assert (out.parent / link).exists(), link
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## Provenance"):
        assert heading in text
    assert text.count("**Collaborators:** B01 Lin") == 5
    assert text.count("*Numbers from `") == 5 and "cnn.saliency.json" in text
    assert "train_cnn.py" in text and trained["cnn"]["environment"]["tensorflow"] in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)   # no date: regenerating unchanged runs changes nothing


def test_html_report_embeds_every_figure_and_prints_alone(analysed, tmp_path):
    trained = analysed
    out = tmp_path / "report.md"
    text = make_report.main(["--models-dir", str(trained["models"]), "--figures-dir", str(trained["figures"]),
                             "--out", str(out)])
    page = (tmp_path / "report.html").read_text()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) == len(re.findall(r"!\[", text)) >= 8
    assert all(s.startswith("data:image/png;base64,") for s in sources)   # one file, nothing to fetch
    assert page.count("<table>") >= 6
    assert "<h2>3. Which expressions are confused" in page and "@page" in page


def test_a_model_that_did_not_learn_is_reported_as_such_and_no_conclusion_is_drawn(analysed, tmp_path):
    trained = analysed
    models = tmp_path / "models"
    shutil.copytree(trained["models"], models)
    dnn = json.loads((models / "dnn.json").read_text())
    majority = max(dnn["data"]["class_counts"]["val"]) / sum(dnn["data"]["class_counts"]["val"])
    dnn["evaluation"]["val"]["accuracy"] = majority          # what a model that always answers Happy scores
    dnn["evaluation"]["train"]["loss"] = 1.90
    (models / "dnn.json").write_text(json.dumps(dnn))
    assert not make_report.learned(dnn) and make_report.learned(trained["cnn"])
    text = make_report.main(["--models-dir", str(models), "--figures-dir", str(trained["figures"]),
                             "--out", str(tmp_path / "r.md")])
    assert "**The DNN did not learn:**" in text and "what convolution buys" not in text
    zh = make_report.main(["--models-dir", str(models), "--figures-dir", str(trained["figures"]),
                           "--out", str(tmp_path / "z.md"), "--lang", "zh-TW"])
    assert "**DNN 沒有學起來：**" in zh and "差距來自卷積本身" not in zh


def test_zh_tw_sets_fer2013s_split_names_apart_from_the_chinese_around_them(analysed, tmp_path):
    # Records of a file with a Usage column: the splits are named PublicTest etc. inside Chinese sentences.
    models = tmp_path / "models"
    shutil.copytree(analysed["models"], models)
    for path in models.glob("*.json"):
        record = json.loads(path.read_text())
        if isinstance(record.get("data"), dict):
            record["data"]["usage"] = True
        for part in [record] + record.get("images", []):   # the analyses' records and their faces
            if "split" in part:
                part["usage"] = True
        path.write_text(json.dumps(record))
    text = make_report.main(["--models-dir", str(models), "--figures-dir", str(analysed["figures"]),
                             "--out", str(tmp_path / "zh.md"), "--lang", "zh-TW"])
    assert "PublicTest" in text and "在 PrivateTest（" in text
    assert not re.search(r"[\u4e00-\u9fff][A-Za-z0-9]|[A-Za-z0-9][\u4e00-\u9fff]", text)


def test_an_accuracy_measured_apart_from_the_training_run_is_reconciled_with_it(analysed, tmp_path):
    # The training run measured on another machine, whose bfloat16 rounding gave two more faces right.
    models = tmp_path / "models"
    shutil.copytree(analysed["models"], models)
    cnn = json.loads((models / "cnn.json").read_text())
    conf = json.loads((models / "cnn.confusion.json").read_text())
    cnn["evaluation"]["test"]["accuracy"] = conf["accuracy_plain"] + 2 / conf["n"]
    (models / "cnn.json").write_text(json.dumps(cnn))
    text = make_report.main(["--models-dir", str(models), "--figures-dir", str(analysed["figures"]),
                             "--out", str(tmp_path / "r.md")])
    right = round(cnn["evaluation"]["test"]["accuracy"] * conf["n"])
    assert (f"The CNN's training run measured {cnn['evaluation']['test']['accuracy']:.4f} on the same faces "
            f"({right:,} right, 2 more than here); sections 1 and 2 use that number. The model computes in "
            f"{cnn['precision']}") in text


def test_both_languages_have_the_same_keys_and_zh_tw_has_no_english_sentence(analysed, tmp_path):
    trained = analysed
    en, zh = make_report.TEXT["en"], make_report.TEXT["zh-TW"]
    assert set(en) == set(zh)
    assert all(type(en[k]) is type(zh[k]) for k in en)
    text = make_report.main(["--models-dir", str(trained["models"]), "--figures-dir", str(trained["figures"]),
                             "--out", str(tmp_path / "zh.md"), "--lang", "zh-TW"])
    prose = re.sub(r"`[^`]*`", "", text)                              # code: commands, layer names, paths
    prose = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", prose)                # figure links (their alt text)
    prose = re.sub(r"^\| `.*$", "", prose, flags=re.M)                # layer-table rows: Keras' names
    prose = re.sub(r"^  - .*$", "", prose, flags=re.M)                # provenance: the commands run
    names = r"(?:Adam|SGD|Nesterov|AdamW|ReLU|softmax|Flatten|batch norm(?:alization)?|max pooling|dropout|" \
            r"batch size|weight decay|decoupled|label smoothing|mixup|cosine|Wilson|Grad-CAM|SmoothGrad|Adebayo|" \
            r"precision|recall|macro-F1|F1|TTA|epoch|train|mirror, shift|Python|TensorFlow|Keras|NumPy|" \
            r"scikit-learn|AMD EPYC|git commit|saliency map|Saliency map|vanilla|smoothgrad|gradcam|" \
            r"mixed_bfloat16|mixed_float16|float32|make report|data/README\.md|synthetic|cores?|Dense|Conv2D|" \
            r"Dropout|MaxPooling2D|Sequential|Rescaling|Activation|BatchNormalization)"
    leftover = re.sub(names, "", prose)
    english = re.findall(r"[A-Za-z]{3,}(?:[\s,]+[A-Za-z]{3,}){2,}", leftover)   # three English words in a row
    assert not english, english[:5]
    assert "合作者" in text and "測試集" in text and "生氣" in text
    # Its figures are the Traditional Chinese ones; the English fallback's note is not needed.
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all(link.endswith(".zh-TW.png") for link in links), links
    assert make_report.TEXT["zh-TW"]["figure_lang"] not in text


def test_zh_tw_report_without_chinese_figures_shows_the_english_ones_and_says_so_once(analysed, tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    for path in glob.glob(str(analysed["figures"] / "*.png")):
        if ".zh-TW." not in path:
            shutil.copy(path, figures)
    text = make_report.main(["--models-dir", str(analysed["models"]), "--figures-dir", str(figures),
                             "--out", str(tmp_path / "zh.md"), "--lang", "zh-TW"])
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 8 and all((tmp_path / link).exists() for link in links)
    # (make_report draws its own comparison figure in Chinese: only the others fall back)
    assert any(not link.endswith(".zh-TW.png") for link in links)
    assert text.count(make_report.TEXT["zh-TW"]["figure_lang"]) == 1


def test_missing_runs_give_the_command_not_a_crash(trained, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(trained["models"] / "cnn.json", models / "cnn.json")
    text = make_report.main(["--models-dir", str(models), "--figures-dir", str(trained["figures"]),
                             "--out", str(tmp_path / "r.md"), "--lang", "zh-TW"])
    assert "CNN：模型架構" in text
    assert "`python train_dnn.py`" in text and "`python confusion.py`" in text
    assert "`python filter_viz.py --image 0`" in text
    empty = make_report.main(["--models-dir", str(tmp_path / "none"), "--out", str(tmp_path / "e.md")])
    assert empty.count("python ") >= 5 and os.path.exists(tmp_path / "e.md")


def test_recipe_sentence_states_the_runs_own_recipe():
    rec = {"epochs": 3, "best_epoch": 2, "precision": "float32", "train_seconds": 9.0,
           "train_images_per_second": 100.0, "seconds_per_epoch": 3.0, "augmentation": "mirror, shift 0.1",
           "layers": [["dropout_1", "Dropout", "7", 0, "rate 0.5"]], "data": {"usage": True},
           "config": {"batch_size": 64, "lr": 0.01, "optimizer": "sgd", "weight_decay": 0.1, "dropout_warmup": 5,
                      "label_smoothing": 0.0, "mixup": 0.2, "augment": True}}
    text = make_report.recipe(make_report.TEXT["en"], rec, "en")
    assert "SGD with Nesterov momentum 0.9 at a peak learning rate of 0.01 decayed to 0 along a cosine" in text
    assert "decoupled weight decay 0.1 (as in AdamW), mixup 0.2; augmentation: mirror, shift 0.1" in text
    assert "label smoothing" not in text and "dropout raised from 0 to its full rates over the first 5 epochs" in text
    assert "9 s of training, the PublicTest evaluation after each epoch included; 100 images/s in the training " \
           "steps alone" in text
    assert not re.search("averag|distil|plateau|without a better", text)
    rec["config"].update(optimizer="adam", augment=False)
    rec["layers"] = []
    text = make_report.recipe(make_report.TEXT["zh-TW"], rec, "zh-TW")
    assert "使用 Adam，學習率最高 0.01" in text and "資料增強：無" in text and "dropout" not in text
    # A run of another schedule, averaged weights or teachers says so, not "a cosine".
    rec["config"].update(plateau=True, ema=0.999, teacher=["a.keras", "b.keras"], distill=0.9, temperature=4.0)
    text = make_report.recipe(make_report.TEXT["en"], rec, "en")
    assert "at a learning rate of 0.01, multiplied by 0.75 after every 5 epochs without a better PublicTest " \
           "accuracy" in text and "cosine" not in text
    assert "moving average of the weights (momentum 0.999)" in text
    assert "distilled from 2 trained CNNs: the match to their mean probabilities at temperature 4.0 is 90% " \
           "of the loss" in text
    zh = make_report.recipe(make_report.TEXT["zh-TW"], rec, "zh-TW")
    assert "連續 5 個 epoch PublicTest準確率沒有提升就乘以 0.75" in zh and "以 2 個已訓練的 CNN" in zh
    rec["config"].update(plateau=False, ema=0.0, teacher=None, swa=0.25)
    rec["swa_epochs"] = [76, 100]
    text = make_report.recipe(make_report.TEXT["en"], rec, "en")
    assert "the mean of those at the end of epochs 76-100 (stochastic weight averaging" in text
    assert "along a cosine" in text and "distil" not in text
    rec["config"].update(swa=0.0, lr_warmup=9)
    text = make_report.recipe(make_report.TEXT["en"], rec, "en")
    assert "at a learning rate raised linearly to a peak of 0.01 over the first 9 epochs, then decayed to 0 " \
           "along a cosine" in text
    assert "學習率在前 9 個 epoch 線性升到最高值 0.01" in make_report.recipe(make_report.TEXT["zh-TW"], rec, "zh-TW")


def test_a_dnn_without_dropout_is_said_to_lack_what_the_cnn_has_and_legends_space_latin_words():
    cnn = {"epochs": 100, "augmentation": "mirror", "layers": [["dropout_1", "Dropout", "7", 0, "rate 0.5"]],
           "config": {"batch_size": 128, "lr": 0.001, "optimizer": "adam", "weight_decay": 0.3}}
    dnn = {**cnn, "layers": [["dense_1", "Dense", "628", 1447540, "relu"]]}
    assert make_report.recipe_differences(make_report.TEXT["en"], dnn, cnn) == "no dropout (the CNN has it)"
    assert make_report.recipe_differences(make_report.TEXT["zh-TW"], dnn, cnn) == "無 dropout（CNN 有）"
    assert make_report.recipe_differences(make_report.TEXT["zh-TW"], cnn, cnn) == ""
    label = make_report.curve_label
    assert label("zh-TW", "model_validation", "CNN", "PublicTest") == "CNN PublicTest"
    assert label("zh-TW", "model_train", "CNN", "訓練（資料增強）") == "CNN 訓練（資料增強）"
    assert label("zh-TW", "model_validation", "DNN（自身訓練設定）", "PublicTest") == "DNN（自身訓練設定）PublicTest"
    assert label("en", "model_validation", "DNN (own recipe)", "PublicTest") == "DNN (own recipe) PublicTest"


def test_a_model_that_confuses_nothing_is_reported_as_such_not_as_zero_percent_pairs(tmp_path):
    y = np.repeat(np.arange(7), 3)
    perfect = {**confusion.confusion_report(y, y), "figure": str(tmp_path / "c.png"), "split": "val", "n": len(y),
               "accuracy_plain": 1.0, "accuracy_tta": 1.0}
    assert perfect["most_confused"] == [] and perfect["sentence"] == "none"
    text = "\n".join(make_report.confusion_section(make_report.TEXT["en"], "en", perfect, None, str(tmp_path)))
    assert "No face of the validation split is misclassified" in text and "0%" not in text
    wrong = y.copy()
    wrong[0] = 4   # one Angry face called Sad
    rep = confusion.confusion_report(y, wrong)
    assert [(p["true"], p["predicted"], p["count"]) for p in rep["most_confused"]] == [("Angry", "Sad", 1)]
    assert rep["sentence"] == "Angry -> Sad 33%"


def test_every_figure_fits_a_printed_page(analysed, tmp_path):
    trained = analysed
    make_report.main(["--models-dir", str(trained["models"]), "--figures-dir", str(trained["figures"]),
                      "--out", str(tmp_path / "r.md")])
    make_report.main(["--models-dir", str(trained["models"]), "--figures-dir", str(trained["figures"]),
                      "--out", str(tmp_path / "z.md"), "--lang", "zh-TW"])
    figures = glob.glob(str(trained["figures"] / "*.png"))
    names = {os.path.basename(f) for f in figures}
    english = {"cnn_history.png", "dnn_history.png", "cnn_confusion.png", "cnn_confused.png", "cnn_saliency.png",
               "cnn_saliency_mean.png", "cnn_filters.png", "cnn_activations_conv2d_6.png",
               "cnn_dnn_accuracy.png"}
    assert english <= names
    # requirements.txt installs a CJK font, so every figure is drawn in Traditional Chinese as well.
    assert figure_languages() == ("en", "zh-TW")
    assert {n.replace(".png", ".zh-TW.png") for n in english} <= names
    for path in figures:
        with Image.open(path) as im:
            dpi = im.info["dpi"][0]
            assert dpi >= 199, (path, dpi)                                       # 200 dpi, stored rounded
            assert im.width / dpi <= 6.5 + 0.05, (path, im.width / dpi)           # at most 6.5 inches wide
            assert float(im.info["Smallest font (pt)"]) >= 8, (path, im.info)     # readable when printed


def test_a_damaged_record_is_named_in_one_line(trained, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained["models"], models)
    (models / "cnn.json").write_text('{"name": "cnn", "kind')   # cut short
    r = run_script("make_report.py", "--models-dir", models, "--out", tmp_path / "r.md")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-1500:]
    errors = [l for l in r.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1 and "cnn.json: damaged run record" in errors[0], errors
    assert not (tmp_path / "r.md").exists()


def test_the_interval_of_a_difference_of_accuracies_covers_the_truth_95_times_in_100():
    # Q2's "the DNN's drop minus the CNN's": four accuracies, two added and two taken away.
    rng = np.random.default_rng(0)
    truth, n = {"st": 0.45, "cv": 0.68, "sv": 0.43, "ct": 0.86}, {"st": 2000, "cv": 400, "sv": 400, "ct": 2000}
    target = truth["st"] + truth["cv"] - truth["sv"] - truth["ct"]
    covered = 0
    for _ in range(2000):
        e = {k: {"accuracy": rng.binomial(n[k], p) / n[k], "n": n[k]} for k, p in truth.items()}
        _, lo, hi = make_report.accuracy_difference([e["st"], e["cv"]], [e["sv"], e["ct"]])
        covered += lo <= target <= hi
    assert 0.93 <= covered / 2000 <= 0.97


def test_a_layer_whose_readings_change_with_the_start_is_said_to_give_a_rough_split_only():
    def layer(same, kappa):
        return {"second_start": {"seed": 1, "filters": 10, "same": same, "kappa": kappa,
                                 "counts": {"stripes": 3, "lattice": 3, "blob": 4}}}
    for lang in ("en", "zh-TW"):
        t = make_report.TEXT[lang]
        firm = make_report.second_start_sentences(t, [("conv2d_3", layer(10, 1.0)), ("conv2d_9", layer(9, None))])
        assert firm[-1] == t["all_firm"].format(firm=make_report.FIRM) and "conv2d_3" in firm[0]
        loose = make_report.second_start_sentences(t, [("conv2d_3", layer(10, 1.0)), ("conv2d_9", layer(5, 0.27))])
        assert len(loose) == 2 and "conv2d_9" in loose[1] and "3 / 3 / 4" in loose[1].replace("／", " / ") \
            and "conv2d_3" not in loose[1]
        assert make_report.second_start_sentences(t, [("conv2d_3", {})]) == []   # a record from one start


def test_where_a_class_s_misses_go_is_given_as_a_share_not_called_most():
    # Fear (true row 2) is missed 10 times: 4 to Sad, 3 to Neutral, 3 to Angry: Sad leads with 40%, not "most".
    y = np.array([2] * 20 + [4] * 20)
    pred = np.array([2] * 10 + [4] * 4 + [6] * 3 + [0] * 3 + [4] * 20)
    rep = {**confusion.confusion_report(y, pred), "figure": "c.png", "split": "val", "n": len(y),
           "accuracy_plain": 0.75, "accuracy_tta": 0.75}
    for lang, want in (("en", "Of the Fear faces it misses, 40% go to Sad, more than to any other class."),
                       ("zh-TW", "未被正確辨識的恐懼表情中，有 40% 被誤判為難過")):
        text = "\n".join(make_report.confusion_section(make_report.TEXT[lang], lang, rep, None, "."))
        assert want in text and "most of the" not in text
    # Sad is answered too often: 4 of its 24 answers are wrong, all Fear faces (100% of those).
    assert "and 100% of those are Fear faces" in "\n".join(
        make_report.confusion_section(make_report.TEXT["en"], "en", rep, None, "."))


def test_a_bright_spot_the_measurement_does_not_back_is_named_with_its_region_s_ratio():
    cell = {"ratio": 0.82, "lo": 0.81, "hi": 0.83}
    occ = {r: {"prob": 0.01, "prob_lo": -0.01, "prob_hi": 0.02} for r in ("rest", "brows and eyes", "nose", "mouth")}
    answer = {"n": 467, "named": [], "looked_at_only": [], "brightest": "brows and eyes", "occlusion": occ,
              "saliency": {r: cell for r in occ}}
    en = make_report.region_sentence(make_report.TEXT["en"], "en", "Angry", answer)
    assert "brightest in the brows and eyes" in en and "0.82x the baseline [0.81, 0.83]" in en
    assert "最亮處落在眉毛與眼睛" in make_report.region_sentence(make_report.TEXT["zh-TW"], "zh-TW", "Angry", answer)
    # Where the measurement names the region, or for all classes (no map of them in the figure), nothing is added.
    assert "brightest" not in make_report.region_sentence(make_report.TEXT["en"], "en", "all", answer)
    named = {**answer, "named": ["brows and eyes"]}
    assert "brightest" not in make_report.region_sentence(make_report.TEXT["en"], "en", "Angry", named)


def test_why_convolution_counts_the_shared_and_the_per_pixel_parameters():
    cnn = {"params": {"total": 1000}, "layers": [["c1", "Conv2D", "48x48x8", 80, ""], ["c2", "Conv2D", "", 120, ""],
                                                  ["d", "Dense", "7", 800, ""]],
           "evaluation": {"train": {"accuracy": 0.86}, "val": {"accuracy": 0.68}}}
    dnn = {"params": {"total": 2000}, "layers": [["flatten", "Flatten", "2304", 0, ""],
                                                  ["dense_1", "Dense", "10", 2305 * 10, "relu"]],
           "evaluation": {"train": {"accuracy": 0.65, "loss": 1.0}, "val": {"accuracy": 0.45}}, "augmentation": None,
           "epochs": 60, "config": {"batch_size": 128, "lr": 0.001}}
    same = {**dnn, "augmentation": "mirror, shift 0.1", "epochs": 100,
            "evaluation": {"train": {"accuracy": 0.44, "loss": 1.4}, "val": {"accuracy": 0.43}}}
    text = make_report.why_convolution(make_report.TEXT["en"], cnn, dnn, same)
    assert "the 2 conv layers together hold 200 parameters (20% of the CNN's)" in text
    assert "each of the 2,304 pixels its own weight into each of its 10 units (23,050 parameters" in text
    assert "fits its clean training faces to 0.4400, against 0.6500" in text
    # Where the shifts did not make the DNN fit worse, the second sentence is not said.
    better = {**same, "evaluation": {"train": {"accuracy": 0.70, "loss": 0.9}, "val": {"accuracy": 0.43}}}
    assert "bear this out" not in make_report.why_convolution(make_report.TEXT["en"], cnn, dnn, better)


def test_the_mean_over_seeds_has_an_interval_that_covers_the_truth_and_other_recipes_are_left_out():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        _, lo, hi, _ = make_report.mean_interval(list(rng.normal(0.68, 0.002, size=4)))
        covered += lo <= 0.68 <= hi
    assert 0.93 <= covered / 2000 <= 0.97
    # docs/fer2013/make.py pools only runs whose recipe matches the shipped CNN's.
    import importlib.util
    spec = importlib.util.spec_from_file_location("fer2013_make", os.path.join(os.path.dirname(__file__), "..", "docs",
                                                                                "fer2013", "make.py"))
    fer2013_make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fer2013_make)
    shipped = {"seed": 1, "name": "cnn_fer2013", "lr": 0.001, "epochs": 100}
    assert fer2013_make.same_recipe(shipped, {**shipped, "seed": 5, "name": "cnn_seed5", "swa": 0.0})
    assert not fer2013_make.same_recipe(shipped, {**shipped, "seed": 5, "lr": 0.002})
    # The report says the seeds' mean, and that the faces outweigh a 0.001 seed-to-seed spread.
    rec = {"best_epoch": 9, "epochs": 10, "data": {"usage": True}, "chosen_from_runs": 3,
           "evaluation": {"train": {"accuracy": 0.8, "n": 1000}, "val": {"accuracy": 0.681, "n": 3589}},
           "evaluation_last_epoch": {}, "seed_runs": [{"seed": s, "best": b, "last": b - 0.002}
                                                      for s, b in ((1, 0.681), (2, 0.679), (3, 0.680))]}
    text = make_report.accuracy_table(make_report.TEXT["en"], rec, "en")
    assert "The 3 runs of this recipe whose records ship in `pretrained/` (seeds 1, 2, 3" in text
    assert "score 0.6800 [0.6775, 0.6825] on PublicTest at their best epoch and 0.6780" in text
    assert "the faces, not the seed, make most" in text
    assert "種子 1、2、3" in make_report.accuracy_table(make_report.TEXT["zh-TW"], rec, "zh-TW")
