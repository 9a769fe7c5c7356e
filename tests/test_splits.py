"""Every number on the faces it names: one validation split per data file, read from the run record by every
script that scores a model; make retrains only when training changes; an evaluation writes no file."""

import os
import shutil
import subprocess
import sys
import time

import pytest

import compare
import confusion
import predict
import train_dnn
from conftest import ROOT
from ferlib import UserError
from ferlib.data import load_fer2013, write_csv
from ferlib.synthetic import synthetic_faces


@pytest.fixture(scope="module")
def hw3_runs(tmp_path_factory):
    """An HW3-form train.csv (label,feature: no Usage column) and two one-epoch DNNs trained on it: `seed3`
    at --seed 3 (split seed left at its default), `split5` at --split-seed 5."""
    root = tmp_path_factory.mktemp("hw3")
    x, y, _ = synthetic_faces(400, seed=7)
    path = str(root / "train.csv")
    write_csv(path, x, y, form="train")
    common = ["--data", path, "--epochs", "1", "--batch-size", "64", "--precision", "float32",
              "--models-dir", str(root / "models"), "--figures-dir", str(root / "figures")]
    runs = {"seed3": train_dnn.main(common + ["--seed", "3", "--name", "seed3"]),
            "split5": train_dnn.main(common + ["--split-seed", "5", "--name", "split5"])}
    return {"root": root, "data": path, "runs": runs, "common": common,
            "model": {n: str(root / "models" / f"{n}.keras") for n in runs}}


def test_the_split_seed_draws_the_validation_faces_and_the_weights_seed_does_not(hw3_runs):
    seed3, split5 = hw3_runs["runs"]["seed3"], hw3_runs["runs"]["split5"]
    assert seed3["data"]["split"] == load_fer2013(hw3_runs["data"], split_seed=0).split_info
    assert seed3["data"]["split"] != load_fer2013(hw3_runs["data"], split_seed=3).split_info
    assert split5["data"]["split"]["seed"] == 5
    assert split5["data"]["split"]["val_hash"] != seed3["data"]["split"]["val_hash"]


@pytest.mark.parametrize("name", ["seed3", "split5"])
def test_confusion_scores_a_model_on_exactly_its_own_validation_faces(hw3_runs, name, tmp_path):
    run = hw3_runs["runs"][name]
    report = confusion.main(["--model", hw3_runs["model"][name], "--data", hw3_runs["data"], "--split", "val",
                             "--figures-dir", str(tmp_path)])
    assert report["data_split"] == run["data"]["split"]
    # The same faces, so the same accuracy as the trainer measured on its held-out faces.
    assert report["n"] == run["evaluation"]["val"]["n"]
    assert report["accuracy_plain"] == pytest.approx(run["evaluation"]["val"]["accuracy"], abs=1e-9)


def test_a_split_seed_that_disagrees_with_the_record_is_refused(hw3_runs, tmp_path):
    with pytest.raises(UserError, match=r"--split-seed 0: .*split5.keras was held out on split seed 5"):
        confusion.main(["--model", hw3_runs["model"]["split5"], "--data", hw3_runs["data"], "--split-seed", "0",
                        "--figures-dir", str(tmp_path)])


def test_models_held_out_on_different_faces_are_refused_together(hw3_runs, tmp_path):
    a, b = hw3_runs["model"]["seed3"], hw3_runs["model"]["split5"]
    for run in (lambda: predict.main(["--model", a, b, "--data", hw3_runs["data"], "--split", "val"]),
                lambda: compare.main(["--model", a, b, "--data", hw3_runs["data"]]),
                lambda: confusion.main(["--model", a, b, "--data", hw3_runs["data"], "--figures-dir", str(tmp_path)])):
        with pytest.raises(UserError, match="seed3.keras and .*split5.keras were held out on different"):
            run()


def test_a_model_without_a_record_takes_the_default_split_and_says_so(hw3_runs, tmp_path, capsys):
    bare = tmp_path / "bare.keras"
    shutil.copy(hw3_runs["model"]["split5"], bare)
    res = predict.main(["--model", str(bare), "--data", hw3_runs["data"], "--split", "val"])
    assert "has no record of its validation split" in capsys.readouterr().err
    assert res["n"] == hw3_runs["runs"]["seed3"]["evaluation"]["val"]["n"]


def test_an_evaluation_writes_no_file_and_a_test_run_writes_the_submission(hw3_runs, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    res = predict.main(["--model", hw3_runs["model"]["split5"], "--data", hw3_runs["data"], "--split", "val"])
    assert res["accuracy"] is not None and res["out"] is None
    assert os.listdir(work) == []
    x, _, _ = synthetic_faces(20, seed=8)
    write_csv("test.csv", x, form="test")
    res = predict.main(["--model", hw3_runs["model"]["split5"], "--data", "test.csv"])
    assert res["out"] == "submission.csv" and sorted(os.listdir(work)) == ["submission.csv", "test.csv"]


def test_a_finished_run_is_reused_unless_its_settings_code_or_force_change(hw3_runs, capsys):
    model = hw3_runs["model"]["split5"]
    before = os.stat(model).st_mtime_ns
    again = train_dnn.main(hw3_runs["common"] + ["--split-seed", "5", "--name", "split5"])
    assert "reused" in capsys.readouterr().err
    assert os.stat(model).st_mtime_ns == before
    assert (again["date"], again["evaluation"]) == (hw3_runs["runs"]["split5"]["date"],
                                                    hw3_runs["runs"]["split5"]["evaluation"])
    other = train_dnn.main(hw3_runs["common"] + ["--split-seed", "5", "--name", "split5", "--depth", "2"])
    assert os.stat(model).st_mtime_ns != before and other["config"]["depth"] == 2
    before = os.stat(model).st_mtime_ns
    train_dnn.main(hw3_runs["common"] + ["--split-seed", "5", "--name", "split5", "--depth", "2", "--force"])
    assert os.stat(model).st_mtime_ns != before


MAKE_INPUTS = ("Makefile", "requirements.txt", "requirements-test.txt", "train_cnn.py", "train_dnn.py",
               "confusion.py", "saliency.py", "filter_viz.py", "make_report.py", "ferlib", "templates")


def _make_n(folder):
    r = subprocess.run(["make", "-n", "report", f"PYTHON={sys.executable}"], cwd=folder, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_make_retrains_when_training_code_changes_not_for_the_reports_words(tmp_path):
    for name in MAKE_INPUTS:
        src = os.path.join(ROOT, name)
        if os.path.isdir(src):
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif os.path.exists(src):
            shutil.copy(src, tmp_path / name)
    (tmp_path / ".venv").mkdir()
    assert "train_cnn.py" in _make_n(tmp_path)           # nothing trained yet
    # A finished `make report` a while ago: every input older than every output, each output older than now.
    t = time.time() - 1000
    for name in [os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs]:
        os.utime(name, (t, t))
    outputs = [".venv/.installed"] + [f"models/{n}.json" for n in ("cnn", "dnn", "dnn_same_recipe", "cnn.confusion",
                                                                  "cnn.saliency", "cnn.filters")]
    for i, name in enumerate(outputs + ["report.md"]):
        (tmp_path / name).write_text("{}")
        os.utime(tmp_path / name, (t + 10 + i, t + 10 + i))
    assert "Nothing to be done" in _make_n(tmp_path)
    for edit in ("ferlib/words.py", "make_report.py", "saliency.py"):   # the words, an analysis: no training
        with open(tmp_path / edit, "a") as f:
            f.write("\n# an edit\n")
        assert "train_" not in _make_n(tmp_path), edit
    os.utime(tmp_path / "ferlib/train.py")                 # a newer date, the same code: no training
    assert "train_" not in _make_n(tmp_path)
    with open(tmp_path / "ferlib/train.py", "a") as f:    # the training code changed: every model retrains
        f.write("\n# an edit\n")
    out = _make_n(tmp_path)
    assert "train_cnn.py" in out and out.count("train_dnn.py") == 2
