"""Benchmark: loading FER2013 with ferlib.data against the usual way, in one run.

The usual way (what most HW3 code does): pandas.read_csv, then per row
`np.array(row.split(), dtype="float32")`, stacked. A faster variant of it
(uint8 per row) is timed too, so the ratio is not against a strawman only.
ferlib parses every pixel of the file in one C call; its cached reload
reads an .npz.

Uses the CSV the scripts find by default (data/fer2013.csv, ...; a data
folder of images does not count) when present, else writes a synthetic file
of the Training + PublicTest size (32,298 rows) to a temp folder.

    python bench/data_load.py
"""

import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ferlib import default_data_path  # noqa: E402
from ferlib.data import read_csv, write_csv  # noqa: E402
from ferlib.synthetic import synthetic_faces  # noqa: E402



def naive(path, dtype):
    df = pd.read_csv(path)
    col = "pixels" if "pixels" in df else "feature"
    x = np.stack([np.array(row.split(), dtype=dtype) for row in df[col]]).reshape(-1, 48, 48)
    return x


def timed(f, *a):
    t = time.perf_counter()
    out = f(*a)
    return time.perf_counter() - t, out


def main():
    tmp = tempfile.mkdtemp()
    os.environ["FERKIT_CACHE"] = os.path.join(tmp, "cache")
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))   # where data/ is
    path = default_data_path()
    if path is None or os.path.isdir(path):
        path = os.path.join(tmp, "fer2013_like.csv.gz")
        x, y, _ = synthetic_faces(32298, seed=0)
        write_csv(path, x, y, "kaggle", usage=np.where(np.arange(len(y)) < 28709, "Training", "PublicTest"))
    t_naive, ref = timed(naive, path, "float32")
    t_naive_u8, _ = timed(naive, path, "uint8")
    t_fast, (x, *_) = timed(read_csv, path, False)
    read_csv(path)                                   # writes the cache
    t_cached, (xc, *_) = timed(read_csv, path)
    assert np.array_equal(x, ref.astype(np.uint8)) and np.array_equal(x, xc), "results differ"
    print(f"file: {path} ({len(x):,} rows)")
    print(f"naive pandas + per-row split (float32): {t_naive:6.2f} s")
    print(f"naive pandas + per-row split (uint8):   {t_naive_u8:6.2f} s")
    print(f"ferlib.data.read_csv, no cache:         {t_fast:6.2f} s")
    print(f"ferlib.data.read_csv, cached reload:    {t_cached:6.3f} s")
    print(f"SUMMARY data_load: {t_naive / t_fast:.1f}x faster than the usual way "
          f"({t_naive_u8 / t_fast:.1f}x than its uint8 variant); cached reload {t_cached:.3f} s "
          f"({t_naive / t_cached:.0f}x)")


if __name__ == "__main__":
    main()
