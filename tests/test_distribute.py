"""tf.distribute: the trainers mirrored over several devices train the model one device does.

Two logical CPU devices stand in for two GPUs (tests/run_trainer.py --replicas 2). The DNN is
the model compared: it has no batch norm, dropout or augmentation, whose per-device batch
statistics and random draws differ from one device's by design.
"""

import json
import os

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import run_script, run_together
from test_train import _trainer_command, run_trainer, small_run

# Measured: the mirrored run's weights differ from one device's by at most 7e-7 (float sums in another order).
TOLERANCE = 1e-5


def _weights(folder):
    return keras.saving.load_model(folder / "dnn.keras").get_weights()


@pytest.mark.long   # a minute or more: make test runs it where CI=true
def test_two_mirrored_devices_train_the_weights_one_device_does_and_resume_after_a_kill(tmp_path):
    where = lambda name: ["--models-dir", tmp_path / name, "--figures-dir", tmp_path / name]
    run = small_run(tmp_path)
    one, two, killed = run_together([_trainer_command("train_dnn.py", *run, *where("one")),
                                     _trainer_command("--replicas", "2", "train_dnn.py", *run, *where("two")),
                                     _trainer_command("--replicas", "2", "--kill-at", "epoch", "train_dnn.py", *run,
                                                      *where("resumed"))])
    assert one.returncode == 0 and two.returncode == 0, (one.stderr[-1500:], two.stderr[-1500:])
    record = json.loads((tmp_path / "two" / "dnn.json").read_text())
    assert record["distribution"] == {"strategy": "MirroredStrategy", "replicas": 2}
    assert json.loads((tmp_path / "one" / "dnn.json").read_text())["distribution"]["replicas"] == 1
    for u, v in zip(_weights(tmp_path / "one"), _weights(tmp_path / "two")):
        np.testing.assert_allclose(u, v, atol=TOLERANCE)
    history = lambda name: pd.read_csv(tmp_path / name / "dnn.history.csv")
    np.testing.assert_allclose(history("two")["loss"], history("one")["loss"], rtol=1e-5)

    assert killed.returncode == -9, killed.stderr[-1500:]
    resumed = run_trainer("--replicas", "2", "train_dnn.py", *run, *where("resumed"))
    assert resumed.returncode == 0 and "resuming from" in resumed.stderr, resumed.stderr[-1500:]
    assert history("resumed")["epoch"].tolist() == [1, 2, 3]
    for u, v in zip(_weights(tmp_path / "two"), _weights(tmp_path / "resumed")):
        np.testing.assert_allclose(u, v, atol=TOLERANCE)


def test_several_machines_are_refused_in_one_line_before_anything_is_written(tmp_path):
    config = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}
    env = dict(os.environ, TF_CONFIG=json.dumps(config))
    r = run_script("train_dnn.py", *small_run(tmp_path), "--models-dir", tmp_path / "m", "--figures-dir", tmp_path / "f",
                   env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-1500:]
    errors = [l for l in r.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1 and "keras-team/keras#20585" in errors[0], errors
    assert not (tmp_path / "m").exists() and not (tmp_path / "f").exists()
