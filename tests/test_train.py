"""The shared fit loop: records, resume, and a failing run that damages nothing."""

import json
import os
import re
import signal
import subprocess

import keras
import numpy as np
import pandas as pd
import pytest

import train_cnn
import train_dnn
from conftest import SMALL_SPLITS, run_script, run_together, script_command, small_faces_csv
from ferlib.data import UserError, write_csv
from ferlib.synthetic import synthetic_faces


class Killed(Exception):
    pass


class KillAfter(keras.callbacks.Callback):
    """Dies at the end of epoch k (0-based), after the backup was written: an interruption."""
    def __init__(self, k):
        super().__init__()
        self.k = k

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.k:
            raise Killed()


def _args(tmp_path, name, *extra):
    return ["--data", small_faces_csv(tmp_path), "--limit", "192", "--batch-size", "64", "--epochs", "3",
            "--name", name, "--models-dir", str(tmp_path / "models"),
            "--figures-dir", str(tmp_path / "figures"), "--precision", "float32", *extra]


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    # Random erasing on top of the default augmentation, so every random layer's draws are covered.
    whole = train_cnn.main(_args(tmp_path, "whole", "--erase", "0.5"))
    with pytest.raises(Killed):
        train_cnn.main(_args(tmp_path, "resumed", "--erase", "0.5"), callbacks=[KillAfter(0)])
    assert os.path.isdir(tmp_path / "models" / "resumed.resume")
    assert not (tmp_path / "models" / "resumed.keras").exists()
    resumed = train_cnn.main(_args(tmp_path, "resumed", "--erase", "0.5"))
    assert resumed["augmentation"] == "mirror, shift 0.1, erase 0.5"
    assert not os.path.exists(tmp_path / "models" / "resumed.resume")   # removed on success
    # The record names each start's commit, the first one's as the run's.
    assert len(whole["environment"]["starts"]) == 1 and len(resumed["environment"]["starts"]) == 2
    assert resumed["environment"]["git_commit"] == resumed["environment"]["starts"][0]["git_commit"]
    hist = pd.read_csv(tmp_path / "models" / "resumed.history.csv")
    assert hist["epoch"].tolist() == [1, 2, 3]                            # no gap, no duplicate
    assert resumed["epochs"] == whole["epochs"] == 3
    # Its times are the whole run's, the killed process's epoch included.
    assert (hist["seconds"] > 0).all()
    assert resumed["train_seconds"] == pytest.approx(hist["seconds"].sum(), abs=0.01)
    a = keras.saving.load_model(tmp_path / "models" / "whole.keras").get_weights()
    b = keras.saving.load_model(tmp_path / "models" / "resumed.keras").get_weights()
    # Same batches, same dropout and augmentation draws: equal up to float
    # summation order (tolerance 1e-4 relative).
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    whole_hist = pd.read_csv(tmp_path / "models" / "whole.history.csv")
    np.testing.assert_allclose(hist["loss"], whole_hist["loss"], rtol=1e-4)


def test_a_run_interrupted_under_an_older_kit_resumes_after_an_upgrade_that_added_a_flag(tmp_path, capsys):
    off = ["--epochs", "2", "--weight-decay", "0"]   # the DNN's default is 0.3 now; the older kit had none
    with pytest.raises(Killed):
        train_dnn.main(_args(tmp_path, "old", *off), callbacks=[KillAfter(0)])
    stamp = tmp_path / "models" / "old.resume" / "settings.json"
    settings = json.loads(stamp.read_text())
    del settings["weight_decay"]   # the older kit had no --weight-decay
    stamp.write_text(json.dumps(settings))
    capsys.readouterr()
    with pytest.raises(UserError, match=r"other settings \(--weight-decay off -> 0.3\); give the settings left"):
        train_dnn.main(_args(tmp_path, "old", "--epochs", "2"))   # the new default must not slip in
    with pytest.raises(Killed):   # the upgraded kit, the flag off as it was: the same run
        train_dnn.main(_args(tmp_path, "old", *off), callbacks=[KillAfter(1)])
    assert "resuming from" in capsys.readouterr().err
    stamp.write_text(json.dumps(settings))
    with pytest.raises(UserError, match=r"half-done run with other settings \(--weight-decay off -> 0.1\).*--restart"):
        train_dnn.main(_args(tmp_path, "old", "--epochs", "2", "--weight-decay", "0.1"))   # on: another run
    assert (tmp_path / "models" / "old.resume" / "history.csv").exists()                # nothing deleted
    train_dnn.main(_args(tmp_path, "old", "--epochs", "2", "--weight-decay", "0.1", "--restart"))
    assert "discarding" in capsys.readouterr().err


class RatesSeen(keras.callbacks.Callback):
    """Records the Dropout rates in force at each epoch's first step."""
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.seen.append([l.rate for l in self.model.layers if isinstance(l, keras.layers.Dropout)])


def test_dropout_warms_up_and_the_saved_model_has_the_reference_rates(tmp_path):
    seen = RatesSeen()
    train_cnn.main(_args(tmp_path, "warm", "--dropout-warmup", "2"), callbacks=[seen])
    full = [0.25, 0.25, 0.25, 0.5, 0.5]
    assert seen.seen == [[0.0] * 5, [r / 2 for r in full], full]
    saved = keras.saving.load_model(tmp_path / "models" / "warm.keras")
    assert [l.rate for l in saved.layers if isinstance(l, keras.layers.Dropout)] == full
    assert not any("Fused" in type(l).__name__ for l in saved.layers)   # stock Keras layers only


def test_run_record_has_what_the_report_needs(tmp_path):
    rec = train_dnn.main(_args(tmp_path, "dnn", "--epochs", "2"))
    on_disk = json.loads((tmp_path / "models" / "dnn.json").read_text())
    assert on_disk["evaluation"] == rec["evaluation"]
    assert set(rec["evaluation"]) == {"train", "val", "test"}
    assert rec["data"]["source"] == small_faces_csv(tmp_path) and rec["data"]["train_rows_used"] == 192
    assert rec["data"]["rows"] == {"train": SMALL_SPLITS["Training"], "val": SMALL_SPLITS["PublicTest"],
                                   "test": SMALL_SPLITS["PrivateTest"]}
    assert abs(rec["params"]["total"] - 1_696_583) <= 1697
    assert rec["epochs"] == 2 and rec["train_images_per_second"] > 0 and rec["precision"] == "float32"
    assert rec["config"]["lr"] == 1e-3 and rec["environment"]["tensorflow"]
    assert rec["augmentation"] == ""   # the DNN's default
    assert (tmp_path / "figures" / "dnn_history.png").stat().st_size > 10_000
    hist = pd.read_csv(tmp_path / "models" / "dnn.history.csv")
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(hist.columns)


def test_the_record_names_the_commit_the_run_started_with_not_one_made_while_it_trained(tmp_path, monkeypatch):
    import ferlib.outputs
    import ferlib.train
    ferlib.outputs.git_state.cache_clear()
    at_start = ferlib.outputs.git_state()
    ferlib.outputs.git_state.cache_clear()
    real_setup = ferlib.train.setup

    def setup_then_commit(args):   # from here on, git answers as if a new, dirty commit had been made
        strategy = real_setup(args)
        monkeypatch.setattr(ferlib.outputs.subprocess, "run",
                            lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout="f00dcafe\n M ferlib/x.py\n"))
        return strategy

    monkeypatch.setattr(ferlib.train, "setup", setup_then_commit)
    rec = train_dnn.main(_args(tmp_path, "dnn", "--epochs", "1"))
    ferlib.outputs.git_state.cache_clear()
    assert (rec["environment"]["git_commit"], rec["environment"]["git_dirty"]) == at_start != ("f00dcafe", True)


def test_plateau_rule_is_keras_reduce_lr_on_plateau():
    from ferlib.callbacks import PLATEAU_FACTOR, PLATEAU_MIN_DELTA, PLATEAU_PATIENCE, plateau_lr
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    keras_rule = keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE,
                                                   min_delta=PLATEAU_MIN_DELTA, mode="max", min_lr=0)
    keras_rule.set_model(model)
    keras_rule.on_train_begin()
    rng = np.random.default_rng(0)
    values = np.round(np.minimum.accumulate(rng.uniform(0.5, 0.7, 60))[::-1] + rng.normal(0, 0.01, 60), 4)
    rates = []
    for epoch, value in enumerate(values):
        keras_rule.on_epoch_end(epoch, {"val_accuracy": value})
        rates.append(float(model.optimizer.learning_rate))
    ours = [plateau_lr(0.01, values[:epoch + 1]) for epoch in range(len(values))]
    np.testing.assert_allclose(ours, rates, rtol=1e-6)
    assert len(set(rates)) > 3   # the sequence does stall, several times


def test_a_plateau_run_lowers_its_rate_when_validation_stalls_and_resumes_on_the_same_rates(tmp_path):
    # A rate so small the weights barely move: validation accuracy stalls from the first epoch.
    flags = ("--plateau", "--lr", "1e-7", "--epochs", "9")
    train_dnn.main(_args(tmp_path, "whole", *flags))
    with pytest.raises(Killed):
        train_dnn.main(_args(tmp_path, "resumed", *flags), callbacks=[KillAfter(6)])
    train_dnn.main(_args(tmp_path, "resumed", *flags))
    whole, resumed = (pd.read_csv(tmp_path / "models" / f"{n}.history.csv") for n in ("whole", "resumed"))
    from ferlib.callbacks import plateau_lr
    expected = [plateau_lr(1e-7, whole["val_accuracy"][:e]) for e in range(9)]
    np.testing.assert_allclose(whole["learning_rate"], expected, rtol=1e-5)
    assert whole["learning_rate"].iloc[-1] < 1e-7   # it was lowered
    np.testing.assert_allclose(resumed["learning_rate"], whole["learning_rate"], rtol=1e-6)
    a, b = (keras.saving.load_model(tmp_path / "models" / f"{n}.keras").get_weights() for n in ("whole", "resumed"))
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)


def test_a_warmed_up_run_rises_linearly_to_its_peak_then_follows_the_cosine(tmp_path):
    train_dnn.main(_args(tmp_path, "warm", "--epochs", "5", "--lr", "0.003", "--lr-warmup", "2"))
    rates = pd.read_csv(tmp_path / "models" / "warm.history.csv")["learning_rate"]
    cosine = [0.5 * 0.003 * (1 + np.cos(np.pi * e / 3)) for e in range(3)]
    np.testing.assert_allclose(rates, [0.001, 0.002, *cosine], rtol=1e-5)   # peak at epoch 3, 0.003


def test_label_smoothing_is_smoothed_crossentropy_of_the_labels(tmp_path):
    from ferlib.losses import SparseSmoothedCrossentropy
    y = np.array([0, 3, 6, 3])
    p = keras.ops.softmax(np.random.default_rng(0).normal(size=(4, 7)).astype("float32"))
    ours = float(SparseSmoothedCrossentropy(0.1)(y, p))
    keras_one_hot = float(keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(np.eye(7)[y], p))
    plain = float(keras.losses.SparseCategoricalCrossentropy()(y, p))
    assert ours == pytest.approx(keras_one_hot, rel=1e-6) and abs(ours - plain) > 0.01
    # Through the trainer; the DNN is saved compiled, so its loss must load back.
    rec = train_dnn.main(_args(tmp_path, "ls", "--epochs", "1", "--label-smoothing", "0.1"))
    assert rec["config"]["label_smoothing"] == 0.1
    saved = keras.saving.load_model(tmp_path / "models" / "ls.keras")
    assert saved.loss.label_smoothing == 0.1


def test_mixup_blends_labels_as_it_blends_pixels_and_resumes_the_same_draws():
    from ferlib.batches import Batches
    y = np.arange(64) % 7
    x = np.repeat((y * 30).astype(np.uint8)[:, None, None], 48, 1).repeat(48, 2)   # gray level = 30 x class
    first = list(Batches(x, y, 16, seed=3, mixup=0.4)._epoch())
    for xb, yb in first:
        assert yb.shape == (16, 7) and np.allclose(yb.sum(1), 1)
        # Each image's gray level is its label weights' mean class x 30, to the uint8 rounding.
        np.testing.assert_allclose(xb[:, 0, 0, 0], yb @ (np.arange(7) * 30), atol=0.5 + 1e-3)
    assert 0.2 < np.mean([(yb.max(1) < 0.99).mean() for _, yb in first])   # blends, not copies
    again = Batches(x, y, 16, seed=3, mixup=0.4)
    again.set_epoch(5)
    again.set_epoch(0)   # a resumed run: the same epoch, the same blends
    for (a, b), (c, d) in zip(first, again._epoch()):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_mixup_run_scores_validation_on_labels_and_saves_a_model_that_loads(tmp_path):
    rec = train_dnn.main(_args(tmp_path, "mix", "--epochs", "2", "--mixup", "0.2"))
    saved = keras.saving.load_model(tmp_path / "models" / "mix.keras")   # compiled, with our loss and metric
    from ferlib.data import load_fer2013
    x, y = load_fer2013(small_faces_csv(tmp_path)).split("val")
    _, acc = saved.evaluate(x[..., None], y, verbose=0)
    assert acc == pytest.approx(rec["evaluation"]["val"]["accuracy"], abs=1e-6)
    # ... and that is accuracy against the labels, though training saw class weights.
    assert acc == pytest.approx(np.mean(saved.predict(x[..., None], verbose=0).argmax(1) == y), abs=1e-6)


def test_optimizer_flag_picks_adam_or_sgd_with_nesterov_momentum():
    import argparse
    from ferlib.train import make_optimizer
    sgd = make_optimizer(argparse.Namespace(optimizer="sgd", lr=0.01, weight_decay=0.0, ema=0.0))
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    assert float(sgd.learning_rate) == pytest.approx(0.01) and sgd.weight_decay is None
    adam = make_optimizer(argparse.Namespace(optimizer="adam", lr=0.001, weight_decay=0.1, ema=0.999))
    assert isinstance(adam, keras.optimizers.Adam) and adam.weight_decay == 0.1
    assert adam.use_ema and adam.ema_momentum == 0.999 and not sgd.use_ema


def test_weight_decay_shrinks_kernels_only(tmp_path):
    """One step with zero gradients: each kernel shrinks by lr * decay; biases and batch norm stay."""
    import argparse
    from ferlib.models import build_cnn
    from ferlib.train import make_optimizer
    model = build_cnn(augment=False)
    before = {w.path: np.asarray(w) for w in model.trainable_weights}
    opt = make_optimizer(argparse.Namespace(optimizer="adam", lr=0.01, weight_decay=0.5, ema=0.0))
    opt.apply_gradients([(np.zeros(w.shape, "float32"), w) for w in model.trainable_weights])
    for w in model.trainable_weights:
        factor = 1 - 0.01 * 0.5 if w.name == "kernel" else 1.0
        np.testing.assert_allclose(np.asarray(w), before[w.path] * factor, rtol=1e-6, err_msg=w.path)
    assert sum(w.name == "kernel" for w in model.trainable_weights) == 12   # 9 conv + 3 dense


def test_failing_runs_leave_the_existing_model_untouched(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    model = models / "cnn.keras"
    model.write_bytes(b"the model from yesterday")
    bad = tmp_path / "bad.csv"
    bad.write_text("label,feature\n3,1 2 3\n")
    with pytest.raises(UserError, match="--erase"):   # the DNN trains without augmentation by default
        train_dnn.main(_args(tmp_path, "dnn", "--erase", "0.5"))
    with pytest.raises(UserError, match="--mixup"):
        train_dnn.main(_args(tmp_path, "dnn", "--mixup", "-1"))
    with pytest.raises(UserError, match="bad.csv:2"):
        train_cnn.main(["--data", str(bad), "--models-dir", str(models), "--dry-run"])
    # A NaN loss: an absurd learning rate on float32.
    with pytest.raises(UserError, match="NaN"):
        train_cnn.main(_args(tmp_path, "cnn", "--lr", "1e12", "--epochs", "2", "--no-augment"))
    assert model.read_bytes() == b"the model from yesterday"
    assert not (models / "cnn.resume").exists()


def test_unlabelled_test_file_is_refused_for_training(tmp_path):
    x, _, _ = synthetic_faces(20)
    path = str(tmp_path / "test.csv")
    write_csv(path, x, form="test")
    with pytest.raises(UserError, match="no labels"):
        train_cnn.main(["--data", path, "--dry-run", "--models-dir", str(tmp_path)])


class KillAtTrainEnd(keras.callbacks.Callback):
    """Dies after the last epoch, once Keras' BackupAndRestore has removed its state."""
    def on_train_end(self, logs=None):
        raise Killed()


class BatchesSeen(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.n = 0

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1


def test_a_run_killed_after_its_last_epoch_is_saved_by_the_rerun_not_retrained(tmp_path):
    with pytest.raises(Killed):
        train_dnn.main(_args(tmp_path, "late", "--epochs", "2"), callbacks=[KillAtTrainEnd()])
    assert not (tmp_path / "models" / "late.keras").exists()
    seen = BatchesSeen()
    rec = train_dnn.main(_args(tmp_path, "late", "--epochs", "2"), callbacks=[seen])
    assert seen.n == 0 and rec["epochs"] == 2                      # evaluated and saved, not trained again
    train_dnn.main(_args(tmp_path, "whole", "--epochs", "2"))
    late, whole = (keras.saving.load_model(tmp_path / "models" / f"{name}.keras") for name in ("late", "whole"))
    # The optimizer's state (Adam's moments, the step count) too: the saved file is the uninterrupted run's.
    a, b = (m.get_weights() + [v.numpy() for v in m.optimizer.variables] for m in (late, whole))
    assert len(a) == len(b) > len(late.get_weights()) + 2
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)


def _trainer_command(*args):
    return script_command(os.path.join("tests", "run_trainer.py"), *args)


def run_trainer(*args):
    """tests/run_trainer.py: a trainer mirrored over logical CPUs, or killed at a named point."""
    return run_together([_trainer_command(*args)])[0]


def small_run(tmp_path):
    """A 3-epoch run on all of faces.csv, for the scripts as subprocesses (killed, mirrored, refused)."""
    return ["--data", small_faces_csv(tmp_path), "--batch-size", "64", "--epochs", "3", "--precision", "float32"]


# Where each kill lands, and what the rerun of the same command says.
KILL_POINTS = {"epoch": "resuming from", "backup": "resuming from the one before it", "best": "resuming from",
               "final": "training had finished; evaluating and saving"}


@pytest.mark.long   # a minute or more: make test runs it where CI=true
def test_a_run_killed_at_any_point_loses_at_most_the_epoch_in_progress(tmp_path):
    where = lambda name: ["--models-dir", tmp_path / name, "--figures-dir", tmp_path / name / "figures"]
    run = small_run(tmp_path)
    whole, *killed = run_together([_trainer_command("train_dnn.py", *run, *where("whole"))] +
                                  [_trainer_command("--kill-at", point, "train_dnn.py", *run, *where(point))
                                   for point in KILL_POINTS])
    assert whole.returncode == 0, whole.stderr[-2000:]
    for point, r in zip(KILL_POINTS, killed):
        assert r.returncode == -signal.SIGKILL, (point, r.stderr[-2000:])
        assert not (tmp_path / point / "dnn.keras").exists(), point
    reruns = run_together([_trainer_command("train_dnn.py", *run, *where(point)) for point in KILL_POINTS])
    expected = keras.saving.load_model(tmp_path / "whole" / "dnn.keras").get_weights()
    for (point, says), rerun in zip(KILL_POINTS.items(), reruns):
        assert rerun.returncode == 0 and says in rerun.stderr, (point, rerun.stderr[-2000:])
        models = tmp_path / point
        assert pd.read_csv(models / "dnn.history.csv")["epoch"].tolist() == [1, 2, 3], point
        for u, v in zip(expected, keras.saving.load_model(models / "dnn.keras").get_weights()):
            np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5, err_msg=point)
        # Nothing else is left: no resume folder, no temporary file of the killed process.
        assert sorted(os.listdir(models)) == ["dnn.history.csv", "dnn.json", "dnn.keras", "dnn.lock", "figures"], point


def test_a_damaged_resume_folder_is_mended_in_one_line_per_repair(tmp_path):
    with pytest.raises(Killed):
        train_dnn.main(_args(tmp_path, "d", "--epochs", "3"), callbacks=[KillAfter(1)])
    resume = tmp_path / "models" / "d.resume"
    with open(resume / "history.csv", "a") as f:
        f.write("2,0.5")                                                # a torn log line
    (resume / "best.keras").write_bytes(b"PK\x03\x04 half a zip")      # a torn best checkpoint
    backup = resume / "backup"
    (backup / "training_metadata.json").write_text('{"epo')             # a torn backup
    r = run_script("train_dnn.py", *_args(tmp_path, "d", "--epochs", "3"))
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [l for l in r.stderr.splitlines() if str(resume) in l]
    assert any("cut to its last whole line" in l for l in lines)
    assert any("resuming from the one before it" in l for l in lines)
    assert any("best.keras is damaged and is dropped" in l for l in lines)
    assert pd.read_csv(tmp_path / "models" / "d.history.csv")["epoch"].tolist() == [1, 2, 3]


def _tree_digest(root):
    import hashlib
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def test_a_dry_run_touches_no_model_figure_or_resume_folder(tmp_path, monkeypatch):
    with pytest.raises(Killed):   # a half-done run and a finished one, as a user has them
        train_dnn.main(_args(tmp_path, "dnn", "--epochs", "2"), callbacks=[KillAfter(0)])
    train_dnn.main(_args(tmp_path, "done", "--epochs", "1"))
    before = _tree_digest(tmp_path)
    monkeypatch.chdir(tmp_path)   # the default models/ and figures/ are here too
    rec = train_dnn.main(["--data", "synthetic", "--dry-run", "--name", "dnn"])
    rec2 = train_dnn.main(_args(tmp_path, "dnn", "--dry-run", "--batch-size", "32"))
    assert _tree_digest(tmp_path) == before
    assert rec["epochs"] == rec2["epochs"] == 1


def test_a_second_run_of_the_same_name_is_refused_in_one_line(tmp_path):
    import fcntl
    models = tmp_path / "models"
    models.mkdir()
    with open(models / "cnn.lock", "a") as held:   # a run of that name is training
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = run_script("train_dnn.py", *_args(tmp_path, "cnn", "--epochs", "1"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1 and "another run named 'cnn' is training" in errors[0], r.stderr[-800:]
    train_dnn.main(_args(tmp_path, "cnn", "--epochs", "1"))   # released (here: closed) -> runs


def test_a_weight_average_run_resumes_exactly_and_saves_the_average(tmp_path):
    # The backup is written with the average swapped in: a resumed run must swap the raw weights
    # back before it trains, or it would go on from the average.
    # The DNN: the swap is the optimizer's, whatever the model, and the DNN trains in seconds.
    ema = ["--ema", "0.9"]
    whole = train_dnn.main(_args(tmp_path, "whole", *ema))
    with pytest.raises(Killed):
        train_dnn.main(_args(tmp_path, "resumed", *ema), callbacks=[KillAfter(0)])
    train_dnn.main(_args(tmp_path, "resumed", *ema))
    raw = train_dnn.main(_args(tmp_path, "raw"))
    history = lambda name: pd.read_csv(tmp_path / "models" / f"{name}.history.csv")
    for column in ("loss", "val_loss"):   # the training after the kill, and the average it validates
        np.testing.assert_allclose(history("resumed")[column], history("whole")[column], rtol=1e-4)
    load = lambda name: keras.saving.load_model(tmp_path / "models" / f"{name}.keras").get_weights()
    for u, v in zip(load("whole"), load("resumed")):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    # The same training draws without the average: the saved weights differ.
    assert max(np.abs(u - v).max() for u, v in zip(load("whole"), load("raw"))) > 1e-3
    assert whole["config"]["ema"] == 0.9 and raw["config"]["ema"] == 0.0


class KeepTrainable(keras.callbacks.Callback):
    """Each epoch's trainable weights at its end, by layer name."""
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append({l.name: [w.numpy().copy() for w in l.trainable_weights]
                            for l in self.model.layers if l.trainable_weights})


@pytest.mark.long   # about 50 s; test_a_weight_average_run_resumes_exactly_and_saves_the_average is the quick check
def test_weight_averaging_saves_the_mean_of_the_last_epochs_and_resumes_exactly(tmp_path):
    flags = ("--epochs", "4", "--swa", "0.5")
    seen = KeepTrainable()
    whole = train_cnn.main(_args(tmp_path, "whole", *flags), callbacks=[seen])
    with pytest.raises(Killed):   # after epoch 3, the first averaged one
        train_cnn.main(_args(tmp_path, "resumed", *flags), callbacks=[KillAfter(2)])
    resumed = train_cnn.main(_args(tmp_path, "resumed", *flags))
    assert whole["swa_epochs"] == resumed["swa_epochs"] == [3, 4]
    saved = keras.saving.load_model(tmp_path / "models" / "whole.keras")
    for name, (last, before) in ((n, (seen.epochs[3][n], seen.epochs[2][n])) for n in seen.epochs[3]):
        for w, a, b in zip(saved.get_layer(name).trainable_weights, last, before):
            np.testing.assert_allclose(w.numpy(), (a + b) / 2, rtol=1e-5, atol=1e-6)
    assert not np.allclose(seen.epochs[3]["logits"][0], seen.epochs[2]["logits"][0])   # two different epochs
    # The rate: the cosine up to the averaged epochs, then held where they start.
    rates = pd.read_csv(tmp_path / "models" / "whole.history.csv")["learning_rate"]
    np.testing.assert_allclose(rates, [1e-3, 0.5 * 1e-3 * (1 + np.cos(np.pi / 4)), 0.5e-3, 0.5e-3], rtol=1e-5)
    # The kill fell between two averaged epochs: the resumed run saves the same average, statistics included.
    again = keras.saving.load_model(tmp_path / "models" / "resumed.keras")
    for u, v in zip(saved.get_weights(), again.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    assert resumed["evaluation"]["val"]["accuracy"] == pytest.approx(whole["evaluation"]["val"]["accuracy"])


@pytest.mark.parametrize("fused", [False, True])
def test_batch_norm_statistics_recomputed_are_the_mean_of_each_training_batchs(fused):
    from ferlib.fused_bn import FusedBatchNormalization
    from ferlib.train import recompute_batch_norm
    norm = (FusedBatchNormalization if fused else keras.layers.BatchNormalization)(momentum=0.99)
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255), norm])
    x = np.random.default_rng(0).integers(0, 256, (100, 48, 48), dtype=np.uint8)
    x[:25] //= 4   # batches of different brightness: the first batch's statistics are not the mean's
    recompute_batch_norm(model, x, batch_size=25)
    batches = (x / 255).reshape(4, -1)
    np.testing.assert_allclose(norm.moving_mean.numpy(), [batches.mean()], rtol=1e-4)
    np.testing.assert_allclose(norm.moving_variance.numpy(), [batches.var(1).mean()], rtol=1e-3)
    assert norm.momentum == 0.99   # the layer's own momentum back for any later training


def test_distillation_loss_is_hintons():
    from ferlib.losses import DistillationLoss
    rng = np.random.default_rng(0)
    softmax = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
    student_logits, teacher_logits = rng.normal(size=(5, 7)) * 3, rng.normal(size=(5, 7)) * 3
    y, T, share = np.array([0, 3, 6, 3, 1]), 4.0, 0.9
    teacher, student = softmax(teacher_logits / T), softmax(student_logits / T)
    expected = np.mean((1 - share) * -np.log(softmax(student_logits)[np.arange(5), y])
                       + share * T ** 2 * (teacher * np.log(teacher / student)).sum(1))
    y_true = np.concatenate([np.eye(7)[y], teacher], 1).astype("float32")
    p = softmax(student_logits).astype("float32")
    assert float(DistillationLoss(T, share)(y_true, p)) == pytest.approx(expected, rel=1e-4)
    # Labels alone (validation): plain cross-entropy.
    plain = float(keras.losses.SparseCategoricalCrossentropy()(y, p))
    assert float(DistillationLoss(T, share)(y, p)) == pytest.approx(plain, rel=1e-5)


def test_a_student_learns_what_its_teacher_says_not_the_labels(tmp_path):
    # A teacher that calls every face the class rarest in the labels; a student with all its loss on the
    # teacher learns to say that class too, although its file has the true labels. Without a teacher, not.
    from ferlib.data import load_fer2013
    x, y = load_fer2013(small_faces_csv(tmp_path)).split("train")
    rare = int(np.bincount(y[:192], minlength=7).argmin())
    teacher = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(7, kernel_initializer="zeros",
                                                   bias_initializer=keras.initializers.Constant(np.eye(7)[rare] * 5)),
                                keras.layers.Activation("softmax")])
    teacher.save(tmp_path / "teacher.keras")
    flags = ("--epochs", "6", "--batch-size", "16", "--weight-decay", "0")
    student = train_dnn.main(_args(tmp_path, "student", *flags, "--teacher", str(tmp_path / "teacher.keras"),
                                   "--distill", "1"))
    alone = train_dnn.main(_args(tmp_path, "alone", *flags))
    assert student["config"]["temperature"] == 4.0 and alone["config"]["teacher"] is None
    says_rare = lambda name: np.mean(keras.saving.load_model(tmp_path / "models" / f"{name}.keras").predict(
        x[:192, ..., None], verbose=0).argmax(1) == rare)
    assert says_rare("student") > 0.9 and says_rare("alone") < 0.5


@pytest.mark.parametrize("flags,words", [(["--lr", "-1"], "--lr must be above 0"),
                                         (["--weight-decay", "-1"], "--weight-decay must be 0 or more"),
                                         (["--label-smoothing", "5"], "--label-smoothing takes a share"),
                                         (["--limit", "0"], "--limit must be at least 1"),
                                         (["--limit", "-1"], "--limit must be at least 1"),
                                         (["--dense-dropout", "1.5"], "--dense-dropout takes a rate"),
                                         (["--depth", "0"], "--depth must be at least 1"),
                                         (["--ema", "1"], "--ema takes a momentum"),
                                         (["--swa", "1"], "--swa takes a share"),
                                         (["--swa", "0.25", "--plateau"], "does not go with --plateau"),
                                         (["--lr-warmup", "3"], "--lr-warmup takes 0 (off) up to --epochs - 1"),
                                         (["--lr-warmup", "1", "--plateau"], "not --plateau"),
                                         (["--temperature", "2"], "give the teacher models"),
                                         (["--teacher", "t.keras", "--distill", "2"], "--distill takes a share")])
def test_flags_out_of_range_are_refused_before_anything_runs(tmp_path, flags, words):
    with pytest.raises(UserError, match=re.escape(words)):
        train_dnn.main(_args(tmp_path, "dnn") + flags)
    assert not (tmp_path / "models").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a 2 MB tmpfs (needs mount rights: root, as on the kit's CI)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield disk
    subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_full_disk_ends_in_one_line_and_leaves_the_earlier_outputs_as_they_were(tmp_path, small_disk):
    args = _args(tmp_path, "dnn", "--epochs", "1", "--figures-dir", str(small_disk))
    train_dnn.main(args)                                        # an earlier run's outputs
    before = {**_tree_digest(tmp_path / "models"), **_tree_digest(small_disk)}
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)             # the disk fills up
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    r = run_script("train_dnn.py", *args, "--seed", "1")         # a new run writes its figure there
    # The machine's state, not the user's input: exit 1, one line.
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    errors = [l for l in r.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1 and "No space left on device" in errors[0], r.stderr[-2000:]
    filler.unlink()
    after = {**_tree_digest(tmp_path / "models"), **_tree_digest(small_disk)}
    # The model, history and record are the earlier run's: none of the new outputs landed alone.
    assert {k: v for k, v in after.items() if not k.startswith("dnn.resume")} == before
    assert "dnn.resume/last.weights.h5" in after   # with space freed, the rerun saves without training again
    assert not [n for n in os.listdir(small_disk) if ".tmp" in n]


@pytest.mark.parametrize("script,flag", [("train_dnn", "--figures-dir"), ("train_dnn", "--models-dir"),
                                         ("confusion", "--figures-dir")])
def test_an_output_folder_that_cannot_be_made_is_refused_before_any_work(tmp_path, script, flag, capsys):
    import confusion
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    main, args = {"train_dnn": (train_dnn.main, _args(tmp_path, "dnn")),
                  "confusion": (confusion.main, ["--data", "synthetic"])}[script]
    with pytest.raises(UserError, match="cannot write there"):
        main(args + [flag, str(blocker / "out")])
    assert "parameters" not in capsys.readouterr().err   # refused before training started
