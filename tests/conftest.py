"""Shared fixtures. Tests use only generated data (the built-in synthetic set)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """The parse cache goes to a per-test folder, never the user's ~/.cache."""
    monkeypatch.setenv("FERKIT_CACHE", str(tmp_path / "cache"))


def run_script(script, *args, cwd=None):
    """Run one of the kit's scripts as a user would; return the CompletedProcess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=600)

# The CNN most tests analyse: trained once per test run on the synthetic set.
# Batch 16 at lr 3e-3 without augmentation learns the set fastest (measured
# here: val 0.994 and 0.996 after 7 epochs for seeds 0 and 1, about 2 minutes
# on 2 cores). No weight decay, as when the thresholds below were measured: the
# CNN's default 0.1 was chosen for 100 FER2013 epochs, not for 7 at this lr
# (with it, filter ascent's share of 10x gains fell from 0.86 to 0.78 here).
QUICK_CNN = ["--data", "synthetic", "--epochs", "7", "--batch-size", "16", "--lr", "3e-3", "--no-augment",
             "--weight-decay", "0"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """{'dir', 'models', 'figures', 'cnn': record, 'dnn': record} of quick synthetic runs."""
    import train_cnn
    import train_dnn
    root = tmp_path_factory.mktemp("run")
    dirs = ["--models-dir", str(root / "models"), "--figures-dir", str(root / "figures")]
    cnn = train_cnn.main(QUICK_CNN + dirs)
    dnn = train_dnn.main(QUICK_CNN + dirs)
    return {"dir": root, "models": root / "models", "figures": root / "figures", "cnn": cnn, "dnn": dnn}
