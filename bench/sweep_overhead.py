"""What sweep.py costs over running the same trainings directly, in one run.

direct   train_dnn.py run from the shell, once per seed, one after the other
sweep    python sweep.py dnn --seed ... : Ray started inside the process, one
         trial per seed, each holding --cpus-per-trial cores

Both sides train the same built-in-face DNN runs (the sweep's trials are the
trainer's own function). Printed: wall seconds of each command; the overhead of
a one-trial sweep over its direct run (Ray's start, a worker process that
imports TensorFlow, the table); and two seeds swept side by side, one core
each, against the two direct runs one after the other with both cores.

    python bench/sweep_overhead.py              # ~3 min on 2 cores
    python bench/sweep_overhead.py --epochs 10
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(args):
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args()
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--data", "synthetic", "--epochs", str(args.epochs), "--figures-dir", f"{tmp}/figures",
                  "--logs-dir", f"{tmp}/logs"]
        direct = [timed(["train_dnn.py", *common, "--seed", str(s), "--name", f"d{s}", "--models-dir", f"{tmp}/d"])
                  for s in (0, 1)]
        one = timed(["sweep.py", "dnn", "--seed", "0", *common, "--models-dir", f"{tmp}/s1",
                     "--cpus-per-trial", str(cores)])
        two = timed(["sweep.py", "dnn", "--seed", "0", "1", *common, "--models-dir", f"{tmp}/s2",
                     "--cpus-per-trial", str(cores // 2 or 1)])
    print(f"direct train_dnn.py, seed 0: {direct[0]:.1f} s; seed 1: {direct[1]:.1f} s")
    print(f"sweep.py, seed 0, {cores} cores: {one:.1f} s (overhead {one - direct[0]:+.1f} s)")
    print(f"sweep.py, seeds 0 1, {cores // 2 or 1} core(s) each, side by side: {two:.1f} s "
          f"against {sum(direct):.1f} s one after the other")
    print(f"SUMMARY sweep_overhead: {one - direct[0]:+.1f} s per trial over a direct run; two seeds side by side "
          f"take {two / sum(direct):.2f}x the time of two direct runs in a row ({args.epochs} epochs each)")


if __name__ == "__main__":
    main()
