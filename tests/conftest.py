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
