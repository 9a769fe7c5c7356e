"""make_report.py: every number in report.md is one a run recorded; gaps say which command fills them."""

import os
import re
import shutil

import numpy as np

import confusion
import filter_viz
import make_report
import saliency


def _analyse(trained):
    model = str(trained["models"] / "cnn.keras")
    figs = ["--figures-dir", str(trained["figures"]), "--data", "synthetic"]
    confusion.main(["--model", model] + figs)
    saliency.main(["--model", model, "--mean-limit", "140"] + figs)
    filter_viz.main(["--model", model, "--steps", "10", "--filters", "0", "1", "2", "3", "--image", "0"] + figs)


def test_report_numbers_come_from_the_records_and_links_resolve(trained, tmp_path):
    _analyse(trained)
    out = tmp_path / "report.md"
    text = make_report.main(["--models-dir", str(trained["models"]), "--figures-dir", str(trained["figures"]),
                             "--out", str(out)])
    assert out.read_text() == text
    assert "built-in synthetic faces" in text.splitlines()[2]
    for kind in ("cnn", "dnn"):
        for split, e in trained[kind]["evaluation"].items():
            assert f"| {split} | {e['accuracy']:.4f} |" in text
    assert f"{trained['cnn']['params']['total']:,}" in text and f"{trained['dnn']['params']['total']:,}" in text
    gap = 100 * (trained["cnn"]["evaluation"]["val"]["accuracy"] - trained["dnn"]["evaluation"]["val"]["accuracy"])
    assert f"{gap:.1f} points below" in text
    import json
    conf = json.loads((trained["models"] / "cnn.confusion.json").read_text())
    assert conf["sentence"] in text and f"{conf['accuracy_plain']:.4f}" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 7
    for link in links:
        assert (out.parent / link).exists(), link
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## Provenance"):
        assert heading in text
    assert "train_cnn.py" in text and trained["cnn"]["environment"]["tensorflow"] in text


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


def test_training_sentence_states_the_runs_own_recipe():
    rec = {"epochs": 3, "best_epoch": 2, "precision": "float32", "train_seconds": 9.0,
           "train_images_per_second": 100.0, "seconds_per_epoch": 3.0, "augmentation": "mirror, shift 0.1",
           "config": {"batch_size": 64, "lr": 0.01, "optimizer": "sgd", "weight_decay": 0.1,
                      "label_smoothing": 0.0, "mixup": 0.2, "augment": True}}
    text = make_report.training_text(make_report.TEXT["en"], rec)
    assert "SGD (Nesterov momentum 0.9) at peak learning rate 0.01" in text and "weight decay 0.1," in text
    assert "mixup 0.2, augmentation on (mirror, shift 0.1)" in text
    rec["config"].update(optimizer="adam", augment=False)
    text = make_report.training_text(make_report.TEXT["zh-TW"], rec)
    assert "Adam 最高學習率 0.01" in text and "資料增強 關閉" in text


def test_a_model_that_confuses_nothing_is_reported_as_such_not_as_zero_percent_pairs(tmp_path):
    y = np.repeat(np.arange(7), 3)
    perfect = {**confusion.confusion_report(y, y), "figure": str(tmp_path / "c.png"), "split": "val", "n": len(y),
               "accuracy_plain": 1.0, "accuracy_tta": 1.0}
    assert perfect["most_confused"] == [] and perfect["sentence"] == "none"
    text = "\n".join(make_report.confusion_section(make_report.TEXT["en"], perfect, str(tmp_path)))
    assert "No image of the val split is misclassified" in text and "0%" not in text and "worst" not in text
    wrong = y.copy()
    wrong[0] = 4   # one Angry face called Sad
    rep = confusion.confusion_report(y, wrong)
    assert [(p["true"], p["predicted"], p["count"]) for p in rep["most_confused"]] == [("Angry", "Sad", 1)]
    assert rep["sentence"] == "Angry -> Sad 33%"
