"""make_report.py: every number in report.md is one a run recorded; the words live in templates that say the same
in both languages; gaps say which command fills them; the body stays short; the figures fit a printed page."""

import glob
import json
import os
import re
import shutil

import jinja2
import numpy as np
import pytest
from jinja2 import meta, nodes
from PIL import Image

import confusion
import make_report
from conftest import run_script
from ferlib.outputs import figure_languages

BODY_WORDS = 1500   # the five answers, without the appendix, tables and captions


def report(analysed, tmp_path, *args, models=None, figures=None, name="r.md"):
    return make_report.main(["--models-dir", str(models or analysed["models"]),
                             "--figures-dir", str(figures or analysed["figures"]), "--out", str(tmp_path / name), *args])


def copied_models(analysed, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(analysed["models"], models)
    return models


def body_words(text):
    """Words of the five questions' prose: no appendix, tables, headings, figures or captions."""
    body = text[text.index("## 1."):text.index("## Appendix")]
    lines = [l for l in body.splitlines() if l.strip() and not l.startswith(("|", "![", "#"))
             and not (l.startswith("*") and not l.startswith("**"))]
    return len(" ".join(lines).split())


def test_report_numbers_come_from_the_records_and_links_resolve(analysed, tmp_path):
    text = report(analysed, tmp_path, "--collaborators", "B01 Lin")
    assert (tmp_path / "r.md").read_text() == text
    assert "built-in synthetic faces" in text.splitlines()[2]
    for kind in ("cnn", "dnn"):
        for split, e in analysed[kind]["evaluation"].items():
            lo, hi = make_report.wilson(e["accuracy"], e["n"])
            assert f"| {make_report.split_word('en', split)} | {e['accuracy']:.4f} [{lo:.3f}, {hi:.3f}] |" in text
    assert f"{analysed['cnn']['params']['total']:,} parameters" in text
    gap = 100 * (analysed["cnn"]["evaluation"]["val"]["accuracy"] - analysed["dnn"]["evaluation"]["val"]["accuracy"])
    assert f"{gap:.1f} points below the CNN" in text
    conf = analysed["confusion"]
    top = conf["most_confused"][0]
    assert f"The CNN confuses {top['true']} with {top['predicted']} ({100 * top['rate']:.0f}% [" in text
    assert f"accuracy is {conf['accuracy_plain']:.4f}" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 8 and all((tmp_path / link).exists() for link in links), links
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## Appendix", "### A4.", "### Provenance"):
        assert heading in text
    assert text.count("**Collaborators:** B01 Lin") == 5 and text.count("**Answer.**") == 5
    assert "train_cnn.py" in text and analysed["cnn"]["environment"]["tensorflow"] in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)   # no date: regenerating unchanged runs changes nothing
    assert "\n\n\n" not in text and not re.search(r"\|\n\n\|", text)   # no table cut in two by a blank line


def test_each_answer_comes_first_and_the_body_stays_short(analysed, tmp_path):
    text = report(analysed, tmp_path)
    for q in range(1, 6):
        section = text[text.index(f"## {q}."):]
        first = [l for l in section.splitlines()[1:] if l.strip() and not l.startswith("**Collaborators")][0]
        assert first.startswith("**Answer.**"), (q, first)
    assert 150 < body_words(text) <= BODY_WORDS


def test_both_languages_render_from_one_context_and_use_the_same_fields(analysed, tmp_path):
    env = make_report.environment("en", str(tmp_path), False)
    used = {}
    for lang in ("en", "zh-TW"):
        source = env.loader.get_source(env, f"report.{lang}.md")[0]
        tree = env.parse(source)
        chains = set()
        for node in tree.find_all(nodes.Getattr):   # q4.agree, q1.splits.val ...: each field the template says
            parts, inner = [node.attr], node.node
            while isinstance(inner, nodes.Getattr):
                parts.append(inner.attr)
                inner = inner.node
            if isinstance(inner, nodes.Name):
                chains.add(".".join([inner.name] + parts[::-1]))
        used[lang] = (meta.find_undeclared_variables(tree), chains)
    assert used["en"][0] == used["zh-TW"][0]
    assert used["en"][1] - used["zh-TW"][1] == set() and used["zh-TW"][1] - used["en"][1] == set()
    context = make_report.build_context(str(analysed["models"]), str(analysed["figures"]), str(tmp_path))
    for lang in ("en", "zh-TW"):
        assert len(make_report.render(context, lang, str(tmp_path))) > 3000
    with pytest.raises(jinja2.UndefinedError):   # a field the context lacks is an error, not a blank
        make_report.environment("en", str(tmp_path), False).from_string("{{ q9.nothing }}").render(**context)


def test_html_report_embeds_every_figure_and_prints_alone(analysed, tmp_path):
    text = report(analysed, tmp_path)
    page = (tmp_path / "r.html").read_text()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) == len(re.findall(r"!\[", text)) >= 8
    assert all(s.startswith("data:image/png;base64,") for s in sources)   # one file, nothing to fetch
    assert page.count("<table>") >= 8
    assert "<h2>3. Which expressions are confused" in page and "@page" in page


def test_no_faces_leaves_out_every_figure_of_a_face_and_says_where(analysed, tmp_path):
    text = report(analysed, tmp_path, "--no-faces")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    faces = ("cnn_confused", "cnn_saliency.", "cnn_activations")
    assert not [l for l in links if any(f in l for f in faces)], links
    # Question 5's patches are means over many faces, no one face: they stay.
    assert any(l.endswith("cnn_filters_selective.png") for l in links) and text.count("*Left out here:") == 3


def test_a_model_that_did_not_learn_is_reported_as_such_and_no_conclusion_is_drawn(analysed, tmp_path):
    models = copied_models(analysed, tmp_path)
    dnn = json.loads((models / "dnn.json").read_text())
    majority = max(dnn["data"]["class_counts"]["val"]) / sum(dnn["data"]["class_counts"]["val"])
    dnn["evaluation"]["val"]["accuracy"] = majority          # what a model that always answers Happy scores
    dnn["evaluation"]["train"]["loss"] = 1.90
    (models / "dnn.json").write_text(json.dumps(dnn))
    assert not make_report.learned(dnn) and make_report.learned(analysed["cnn"])
    text = report(analysed, tmp_path, models=models)
    assert "**The DNN did not learn:**" in text and "where the parameters go" not in text
    zh = report(analysed, tmp_path, "--lang", "zh-TW", models=models, name="z.md")
    assert "**DNN 沒有學到東西：**" in zh and "參數用在哪裡" not in zh


def test_zh_tw_sets_fer2013s_split_names_apart_from_the_chinese_around_them(analysed, tmp_path):
    # Records of a file with a Usage column: the splits are named PublicTest etc. inside Chinese sentences.
    models = copied_models(analysed, tmp_path)
    for path in models.glob("*.json"):
        record = json.loads(path.read_text())
        if isinstance(record.get("data"), dict):
            record["data"]["usage"] = True
        path.write_text(json.dumps(record))
    text = report(analysed, tmp_path, "--lang", "zh-TW", models=models)
    assert "在 PublicTest 上" in text and "PrivateTest" in text
    assert not re.search(r"[\u4e00-\u9fff][A-Za-z0-9]|[A-Za-z0-9][\u4e00-\u9fff]", text)


def test_an_accuracy_measured_apart_from_the_training_run_is_reconciled_with_it(analysed, tmp_path):
    # The training run measured on another machine, whose bfloat16 rounding gave two more faces right.
    models = copied_models(analysed, tmp_path)
    cnn = json.loads((models / "cnn.json").read_text())
    conf = analysed["confusion"]
    cnn["evaluation"]["test"]["accuracy"] = conf["accuracy_plain"] + 2 / conf["n"]
    (models / "cnn.json").write_text(json.dumps(cnn))
    text = report(analysed, tmp_path, models=models)
    assert (f"Its training run recorded {cnn['evaluation']['test']['accuracy']:.4f} on the same faces: 2 face(s) go "
            f"the other way here") in text


def test_zh_tw_says_everything_in_chinese_with_its_own_figures(analysed, tmp_path):
    text = report(analysed, tmp_path, "--lang", "zh-TW")
    prose = re.sub(r"`[^`]*`", "", text)                              # code: commands, layer names, paths
    prose = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", prose)                # figure links
    prose = re.sub(r"^\|.*$", "", prose, flags=re.M)                  # tables: Keras' names, numbers
    prose = re.sub(r"^- .*$", "", prose, flags=re.M)                  # provenance: the commands run
    names = r"(?:Adam|SGD|Nesterov|AdamW|ReLU|softmax|Flatten|dropout|Wilson|Adebayo|Bau|Teotia|Cohen's|" \
            r"Spearman|macro-F1|F1|epoch|mixed_bfloat16|float32|make report|data/README\.md|CNN|DNN|logit|" \
            r"Collaborators|FER2013)"
    english = re.findall(r"[A-Za-z]{3,}(?:[\s,]+[A-Za-z]{3,}){2,}", re.sub(names, "", prose))
    assert not english, english[:5]
    assert "測試集" in text and "生氣" in text and text.count("**答：**") == 5
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all(link.endswith(".zh-TW.png") for link in links), links


def test_zh_tw_report_without_chinese_figures_shows_the_english_ones(analysed, tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    for path in glob.glob(str(analysed["figures"] / "*.png")):
        if ".zh-TW." not in path:
            shutil.copy(path, figures)
    text = report(analysed, tmp_path, "--lang", "zh-TW", figures=figures, name="zh.md")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 8 and all((tmp_path / link).exists() for link in links)
    assert any(not link.endswith(".zh-TW.png") for link in links)


def test_missing_runs_give_the_command_not_a_crash(trained, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(trained["models"] / "cnn.json", models / "cnn.json")
    text = make_report.main(["--models-dir", str(models), "--figures-dir", str(trained["figures"]),
                             "--out", str(tmp_path / "r.md"), "--lang", "zh-TW"])
    assert "CNN：架構" in text
    assert "`python train_dnn.py`" in text and "`python confusion.py`" in text
    assert "`python filter_viz.py --index 0`" in text
    empty = make_report.main(["--models-dir", str(tmp_path / "none"), "--out", str(tmp_path / "e.md")])
    assert empty.count("Not run yet") == 5 and os.path.exists(tmp_path / "e.md")


def test_a_model_that_confuses_nothing_is_reported_as_such_not_as_zero_percent_pairs(analysed, tmp_path):
    models = copied_models(analysed, tmp_path)
    y = np.repeat(np.arange(7), 3)
    perfect = {**analysed["confusion"], **confusion.confusion_report(y, y)}
    (models / "cnn.confusion.json").write_text(json.dumps(perfect))
    assert perfect["most_confused"] == [] and perfect["sentence"] == "none"
    text = report(analysed, tmp_path, models=models)
    section = text[text.index("## 3."):text.index("## 4.")]
    assert "confuses no pair of classes" in section and " 0% of" not in section
    wrong = y.copy()
    wrong[0] = 4   # one Angry face called Sad
    rep = confusion.confusion_report(y, wrong)
    assert [(p["true"], p["predicted"], p["count"]) for p in rep["most_confused"]] == [("Angry", "Sad", 1)]


def test_every_figure_fits_a_printed_page(analysed, tmp_path):
    report(analysed, tmp_path)
    report(analysed, tmp_path, "--lang", "zh-TW", name="z.md")
    figures = glob.glob(str(analysed["figures"] / "*.png"))
    names = {os.path.basename(f) for f in figures}
    english = {"cnn_history.png", "dnn_history.png", "cnn_confusion.png", "cnn_confused.png", "cnn_saliency.png",
               "cnn_saliency_mean.png", "cnn_filters.png", "cnn_filters_selective.png",
               "cnn_activations_conv2d_6.png", "cnn_dnn_accuracy.png"}
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
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        a, b = ({"accuracy": rng.binomial(n, p) / n, "n": n} for p, n in ((0.68, 400), (0.45, 400)))
        d = make_report.accuracy_difference(a, b)
        covered += d["lo"] <= 0.23 <= d["hi"]
    assert 0.93 <= covered / 2000 <= 0.97


def test_the_filters_kinds_are_said_only_for_a_layer_whose_readings_hold_from_a_second_start(analysed, tmp_path):
    models = copied_models(analysed, tmp_path)
    filt = json.loads((models / "cnn.filters.json").read_text())
    for name, layer in filt["layers"].items():
        layer["second_start"]["kappa"], layer["firm"] = (0.8, True) if name == "conv2d_6" else (0.3, False)
    (models / "cnn.filters.json").write_text(json.dumps(filt))
    text = report(analysed, tmp_path, models=models)
    a5 = text[text.index("### A5."):]
    assert "The reading holds from a second start (Cohen's κ ≥ 0.6) only in `conv2d_6` (" in a5
    for layer in filt["layers"].values():
        layer["second_start"]["kappa"], layer["firm"] = 0.3, False
    (models / "cnn.filters.json").write_text(json.dumps(filt))
    assert "stripes/lattice/blob reading is left out" in report(analysed, tmp_path, models=models)


def test_the_mean_over_seeds_has_an_interval_that_covers_the_truth_and_other_recipes_are_left_out():
    from ferlib.shipped import same_recipe
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        _, lo, hi, _ = make_report.mean_interval(list(rng.normal(0.68, 0.002, size=4)))
        covered += lo <= 0.68 <= hi
    assert 0.93 <= covered / 2000 <= 0.97
    shipped = {"seed": 1, "name": "cnn_fer2013", "lr": 0.001, "epochs": 100}
    assert same_recipe(shipped, {**shipped, "seed": 5, "name": "cnn_seed5", "swa": 0.0})
    assert not same_recipe(shipped, {**shipped, "seed": 5, "lr": 0.002})
    rec = {"evaluation": {"val": {"accuracy": 0.681, "n": 3589}},
           "seed_runs": [{"seed": s, "best": b} for s, b in ((1, 0.681), (2, 0.679), (3, 0.680))]}
    spread = make_report.seed_spread(rec)
    assert spread["k"] == 3 and spread["mean"] == pytest.approx(0.68) and spread["sd"] < spread["binomial_sd"]


def test_a_filter_favours_an_expression_only_where_its_strongest_faces_beat_the_base_rate():
    base = {"Angry": 140, "Disgust": 15, "Fear": 140, "Happy": 250, "Sad": 170, "Surprise": 110, "Neutral": 175}
    smiles = {**{c: 3 for c in base}, "Happy": 82}                       # 82 of 100 against 25% of all
    fav = make_report.favoured_class(smiles, base)
    assert fav["name"] == "Happy" and fav["n"] == 100 and fav["lo"] > fav["all"] == 0.25
    blind = {c: round(k / 10) for c, k in base.items()}                 # the base rate, give or take rounding
    assert make_report.favoured_class(blind, base) is None
    assert make_report.favoured_class(None, base) is None               # unlabelled faces
    # Above the base rate with its interval, but not twice it: not called a preference
    assert make_report.favoured_class({**{c: 100 for c in base}, "Happy": 400}, base) is None   # 40% [37%, 43%]
