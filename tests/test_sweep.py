"""sweep.py on a local two-node Ray cluster (a head and one added node, 1 CPU each): trials equal the trainer's
own runs, a trial killed inside an epoch is retried and ends as if never killed, a rerun trains nothing.

A real network between machines is not tested: both nodes run on this one.
"""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, script_command, small_faces_csv
from ferlib import UserError

pytestmark = pytest.mark.xdist_group("ray")   # one cluster at a time: each node holds one of the two cores

import keras  # noqa: E402


def flags(tmp_path):
    return ["--data", small_faces_csv(str(tmp_path)), "--epochs", "2", "--batch-size", "64",
            "--figures-dir", str(tmp_path / "figures"), "--logs-dir", str(tmp_path / "logs")]


class KillInsideSecondEpoch(keras.callbacks.Callback):
    """SIGKILL the trial's worker after the second epoch's first batch, once (a marker file remembers)."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 0 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster():
    from ray import cloudpickle
    from ray.cluster_utils import Cluster
    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the workers cannot import this test module
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    yield c
    c.shutdown()


def alone(tmp_path, seeds, common):
    """train_dnn.py run by itself for each seed, with one compute thread as each 1-CPU trial has: {seed: weights}."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    procs = {s: subprocess.Popen(script_command("train_dnn.py", *common, "--seed", s, "--name", f"alone{s}",
                                                "--models-dir", tmp_path / "alone"), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in seeds}
    for p in procs.values():
        assert p.wait(timeout=600) == 0, p.stderr.read()
    return {s: weights(tmp_path / "alone" / f"alone{s}.keras") for s in seeds}


def weights(path):
    from ferlib.models import load_model
    return load_model(str(path)).get_weights()


@pytest.mark.long   # about 50 s: a Ray cluster and three trainer runs
def test_a_sweep_runs_each_trial_as_the_trainer_alone_and_a_rerun_trains_nothing(tmp_path, cluster, capsys):
    import sweep
    common = flags(tmp_path)
    argv = ["dnn", "--seed", "0", "1", *common, "--models-dir", str(tmp_path / "models"), "--address", cluster.address]
    rows = sweep.main(argv)
    (row,) = rows
    assert row["seeds"] == 2 and row["trials"] == "dnn_seed0 dnn_seed1"
    reference = alone(tmp_path, [0, 1], common)
    for seed in (0, 1):
        got = weights(tmp_path / "models" / f"dnn_seed{seed}.keras")
        assert all(np.array_equal(a, b) for a, b in zip(got, reference[seed])), f"seed {seed} differs"
        assert os.listdir(tmp_path / "logs" / f"dnn_seed{seed}")   # TensorBoard's event files
    table = (tmp_path / "models" / "sweep_dnn.md").read_text()
    assert "| all | 2 |" in table and "--seed 0 1" in table

    stamps = {p: os.path.getmtime(p) for p in (tmp_path / "models").glob("dnn_seed*.keras")}
    capsys.readouterr()
    assert sweep.main(argv) == rows
    assert "2 finished before, 0 to run" in capsys.readouterr().err
    assert {p: os.path.getmtime(p) for p in stamps} == stamps


@pytest.mark.long   # a minute or more: make test runs it where CI=true
def test_a_trial_killed_inside_an_epoch_is_retried_and_ends_as_if_never_killed(tmp_path, cluster):
    import sweep
    common = flags(tmp_path)
    marker = tmp_path / "killed"
    sweep.main(["dnn", "--seed", "0", *common, "--models-dir", str(tmp_path / "models"), "--address", cluster.address],
               trial_callbacks=[KillInsideSecondEpoch(str(marker))])
    assert marker.exists()
    assert "resuming from" in (tmp_path / "models" / "dnn.log").read_text()
    got = weights(tmp_path / "models" / "dnn.keras")
    assert all(np.array_equal(a, b) for a, b in zip(got, alone(tmp_path, [0], common)[0]))


def test_the_grid_varies_flags_of_several_values_and_passes_a_list_flag_whole(tmp_path, monkeypatch):
    import sweep
    monkeypatch.chdir(tmp_path)   # paths are read from where the user stands, then given as the kit's own
    teachers = [os.path.join(ROOT, "pretrained", "a.keras"), os.path.join(ROOT, "pretrained", "b.keras")]
    args = sweep.parse_args(["cnn", "--seed", "0", "1", "--teacher", *teachers, "--data", "faces.csv",
                             "--models-dir", os.path.join(ROOT, "models"), "--name", "kd"])
    points = sweep.trials(args)
    assert [name for name, _, _ in points] == ["kd_seed0", "kd_seed1"]
    assert [varied for _, _, varied in points] == [{"--seed": "0"}, {"--seed": "1"}]
    assert points[1][1] == ["--seed", "1", "--teacher", "pretrained/a.keras", "pretrained/b.keras",
                            "--data", str(tmp_path / "faces.csv"), "--name", "kd_seed1", "--models-dir", "models"]
    files = sweep.trials(sweep.parse_args(["dnn", "--data", "faces/a.csv", "other/b.csv.gz", "--name", "d"]))
    assert [name for name, _, _ in files] == ["d_dataa", "d_datab"]   # a file's name, not its folders
    with pytest.raises(UserError):   # two files of one name would write one trial's outputs twice
        sweep.trials(sweep.parse_args(["dnn", "--data", "faces/a.csv", "other/a.csv", "--name", "d"]))
