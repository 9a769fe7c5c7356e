"""The shipped FER2013 models: they load with safe loading and are the kit's architectures."""

import glob
import json
import os

import keras
import numpy as np
import pytest

from conftest import ROOT
from ferlib.data import load_synthetic
from ferlib.models import build_cnn, predict_probs

PRETRAINED = os.path.join(ROOT, "pretrained")


@pytest.mark.parametrize("kind", ["cnn", "dnn"])
def test_shipped_model_loads_safely_and_is_the_reference_architecture(kind):
    path = os.path.join(PRETRAINED, f"{kind}_fer2013.keras")
    assert os.path.getsize(path) <= 8 * 2 ** 20
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    target = build_cnn(augment=False).count_params()
    if kind == "cnn":
        assert model.count_params() == target == 1_696_583
        assert [l.name for l in model.layers if isinstance(l, keras.layers.Conv2D)] == \
            [f"conv2d_{i}" for i in range(1, 10)]
    else:
        assert abs(model.count_params() - target) <= 0.001 * target
        assert not any(isinstance(l, keras.layers.Conv2D) for l in model.layers)
    record = json.load(open(os.path.join(PRETRAINED, f"{kind}_fer2013.json")))
    assert record["params"]["total"] == model.count_params() and record["data"]["rows"]["val"] == 3589
    assert os.path.exists(os.path.join(PRETRAINED, f"{kind}_fer2013.history.csv"))
    # It predicts: 7 probabilities per face that sum to 1.
    x, _ = load_synthetic().split("test")
    p = predict_probs(model, x[:16])
    assert p.shape == (16, 7) and np.allclose(p.sum(1), 1, atol=1e-3)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(PRETRAINED, "ensemble", "*.keras"))))
def test_ensemble_members_load_safely_and_are_the_reference_cnn(path):
    assert os.path.getsize(path) <= 8 * 2 ** 20
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    assert model.count_params() == 1_696_583
    record = json.load(open(path.replace(".keras", ".json")))
    assert record["kind"] == "cnn" and record["data"]["rows"]["val"] == 3589
    assert os.path.exists(path.replace(".keras", ".history.csv"))
    if "stored" in record:   # a compact copy (pretrained/compact.py): float32 compute, float16 values
        assert {l.dtype_policy.name for l in model.layers} == {"float32"}
        assert all(np.array_equal(w, w.astype(np.float16).astype(w.dtype)) for w in model.get_weights()
                   if w.dtype == np.float32)
        assert record["stored"]["labels_equal_to_float32_original"] >= 0.999


def _compact_script():
    import importlib.util
    spec = importlib.util.spec_from_file_location("compact", os.path.join(PRETRAINED, "compact.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compact_copies_only_a_model_that_keeps_its_labels_and_records_how(tmp_path, monkeypatch, capsys):
    compact = _compact_script()
    keras.utils.set_random_seed(0)
    model = build_cnn(augment=False)
    # An untrained net's probabilities are nearly equal, so float16 rounding flips more of its labels than a
    # trained one's (99.97% kept on FER2013): the bar is lowered here, and raised past 100% below.
    monkeypatch.setattr(compact, "MIN_AGREEMENT", 0.99)
    src, dest = tmp_path / "m.keras", tmp_path / "out" / "m_small.keras"
    model.save(src)
    json.dump({"name": "m", "kind": "cnn"}, open(tmp_path / "m.json", "w"))
    compact.main([str(src), str(dest), "--data", "synthetic"])
    assert "val labels (both in float32)" in capsys.readouterr().out
    record = json.load(open(tmp_path / "out" / "m_small.json"))
    assert record["name"] == "m" and record["stored"]["compute"] == "float32"
    assert 0.99 <= record["stored"]["labels_equal_to_float32_original"] <= 1
    assert keras.saving.load_model(dest, safe_mode=True).count_params() == 1_696_583
    # A copy that would change too many labels is not written.
    monkeypatch.setattr(compact, "MIN_AGREEMENT", 1.01)
    with pytest.raises(compact.UserError, match="under 101.0%; not written"):
        compact.main([str(src), str(tmp_path / "refused.keras"), "--data", "synthetic"])
    assert not (tmp_path / "refused.keras").exists()


def _tree(folder):
    return {p: (os.path.getsize(p), os.stat(p).st_mtime_ns) for p in glob.glob(os.path.join(folder, "**"), recursive=True)
            if os.path.isfile(p)}


def test_the_shipped_runs_are_refused_on_faces_they_were_not_held_out_on(tmp_path):
    from conftest import small_faces_csv
    from ferlib import UserError, shipped
    from ferlib.data import load_fer2013
    cnn = json.load(open(os.path.join(PRETRAINED, "cnn_fer2013.json")))
    with pytest.raises(UserError, match="not on the built-in faces"):
        shipped.check_data(load_synthetic(), cnn)
    # A Kaggle-form file whose PublicTest rows are not FER2013's: another split, refused by name.
    with pytest.raises(UserError, match="faces.csv: its validation faces .* are not the ones the shipped models"):
        shipped.check_data(load_fer2013(small_faces_csv(tmp_path)), cnn)


def test_pretrained_mode_fills_models_and_figures_and_leaves_pretrained_as_it_was(tmp_path, monkeypatch):
    from conftest import small_faces_csv
    from ferlib import shipped
    monkeypatch.setattr(shipped, "check_data", lambda data, record: None)   # the test's faces stand in for FER2013
    before = _tree(PRETRAINED)
    shipped.install(small_faces_csv(tmp_path), str(tmp_path / "models"), str(tmp_path / "figures"))
    assert _tree(PRETRAINED) == before
    models = tmp_path / "models"
    for name in ("cnn", "dnn", "dnn_same_recipe"):
        record = json.loads((models / f"{name}.json").read_text())
        assert record["name"] == name and record["record_path"].startswith("pretrained/")
        assert (models / f"{name}.history.csv").exists() and (tmp_path / "figures" / f"{name}_history.png").exists()
    assert (models / "cnn.keras").read_bytes() == open(os.path.join(PRETRAINED, "cnn_fer2013.keras"), "rb").read()
    cnn = json.loads((models / "cnn.json").read_text())
    assert cnn["chosen_from_runs"] == 7 and [r["seed"] for r in cnn["seed_runs"]] == [1, 2, 3, 4, 5]
