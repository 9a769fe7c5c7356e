"""Training on Keras' JAX backend (KERAS_BACKEND=jax), for GPU machines that have JAX and not TensorFlow.

Skipped where JAX is not installed (requirements.txt does not ask for it): `pip install jax` runs it.
"""

import importlib.util
import json
import os

import numpy as np
import pytest

from conftest import run_script

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")


def test_a_model_trained_on_jax_predicts_the_same_under_tensorflow(tmp_path):
    out = run_script("train_dnn.py", "--data", "synthetic", "--epochs", "2", "--limit", "512", "--precision",
                     "float32", "--models-dir", tmp_path, "--figures-dir", tmp_path, "--name", "dnn_jax",
                     env=dict(os.environ, KERAS_BACKEND="jax"))
    assert out.returncode == 0, out.stderr
    record = json.load(open(tmp_path / "dnn_jax.json"))
    assert "jax" in record["environment"] and "tensorflow" not in record["environment"]
    assert len(record["evaluation"]) == 3 and record["epochs"] == 2

    from ferlib.data import load_fer2013
    from ferlib.models import load_model, predict_probs
    x, y = load_fer2013("synthetic").split("val")
    acc = np.mean(predict_probs(load_model(str(tmp_path / "dnn_jax.keras")), x).argmax(1) == y)
    assert acc == pytest.approx(record["evaluation"]["val"]["accuracy"], abs=1e-9)
