"""Shared fixtures. Tests use only generated data (the built-in synthetic set)."""

import functools
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# TensorFlow set up as the scripts set it up (quiet, oneDNN on x86), before any test module imports keras,
# so a result computed here and one from a script run agree.
from ferlib import tf_setup  # noqa: F401,E402


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """The parse cache goes to a per-test folder, never the user's ~/.cache."""
    monkeypatch.setenv("FERKIT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def _float32_policy():
    """Each test starts and ends with Keras' default float32 policy: a trainer run in-process (here or in a
    session fixture) sets its own (mixed_bfloat16 on a CPU with bf16), and a later test on the same worker would
    otherwise compute in bfloat16."""
    import keras
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


SMALL_SPLITS = {"Training": 256, "PublicTest": 64, "PrivateTest": 64}


@functools.cache
def _built_in_faces():
    from ferlib.data import load_synthetic
    return load_synthetic()


def small_faces_csv(folder):
    """folder/faces.csv: the first built-in faces of each split as a Kaggle-form FER2013 file (SMALL_SPLITS rows),
    for runs that test the fit loop, not learning: scoring the built-in set's 700-face val and test splits
    would take most of such a run's time."""
    import numpy as np
    from ferlib.data import USAGE_SPLIT, write_csv
    path = os.path.join(folder, "faces.csv")
    if not os.path.exists(path):
        xs, ys, usage = [], [], []
        for name, n in SMALL_SPLITS.items():
            x, y = _built_in_faces().split(USAGE_SPLIT[name])
            xs.append(x[:n])
            ys.append(y[:n])
            usage += [name] * n
        os.makedirs(folder, exist_ok=True)
        write_csv(path, np.concatenate(xs), np.concatenate(ys), usage=usage)
    return path


def run_script(script, *args, cwd=None, env=None):
    """Run one of the kit's scripts as a user would; return the CompletedProcess."""
    env = dict(env or os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(script_command(script, *args), capture_output=True, text=True, cwd=cwd or ROOT, env=env,
                          timeout=600)


def script_command(script, *args):
    """The command line that runs one of the kit's scripts (or a test helper) with this Python."""
    return [sys.executable, os.path.join(ROOT, script), *map(str, args)]


def run_together(commands):
    """Run the commands side by side (most of each is starting Python and TensorFlow); their results."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for c in commands]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the marks
def pytest_collection_modifyitems(items):
    """Every test that uses the quick trained models joins xdist group "trained": make test's two workers
    (--dist loadgroup) run them all on one, which trains the models once; the other takes the rest."""
    for item in items:
        if "trained" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("trained"))


# The models most tests analyse: trained once per test run (per worker, see above) on the synthetic set.
# Batch 16 at lr 3e-3 without augmentation and without weight decay learns the
# CNN fastest (the thresholds in the tests were measured with these flags, see
# each test). The DNN needs a lower rate: at 3e-3 it stays at the majority class;
# and, like the report's (Makefile), no weight decay over so few epochs.
QUICK_CNN = ["--data", "synthetic", "--epochs", "7", "--batch-size", "16", "--lr", "3e-3", "--no-augment",
             "--weight-decay", "0"]
QUICK_DNN = ["--data", "synthetic", "--epochs", "15", "--batch-size", "32", "--lr", "1e-3", "--weight-decay", "0"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """{'dir', 'models', 'figures', 'cnn': record, 'dnn': record} of quick synthetic runs."""
    import train_cnn
    import train_dnn
    root = tmp_path_factory.mktemp("run")
    dirs = ["--models-dir", str(root / "models"), "--figures-dir", str(root / "figures")]
    cnn = train_cnn.main(QUICK_CNN + dirs)
    dnn = train_dnn.main(QUICK_DNN + dirs)
    return {"dir": root, "models": root / "models", "figures": root / "figures", "cnn": cnn, "dnn": dnn}


@pytest.fixture(scope="session")
def analysed(trained):
    """trained, after `make report`'s three analyses of its CNN (fewer steps and faces): their records
    under 'confusion', 'saliency' and 'filters', their figures and JSON beside the models."""
    import confusion
    import filter_viz
    import saliency
    model = str(trained["models"] / "cnn.keras")
    common = ["--model", model, "--figures-dir", str(trained["figures"]), "--data", "synthetic"]
    return {**trained, "confusion": confusion.main(common),
            "saliency": saliency.main(common),
            "filters": filter_viz.main(common + ["--steps", "10", "--image", "0"])}
