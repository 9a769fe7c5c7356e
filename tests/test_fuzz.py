"""Generated malformed data files through the loader every script uses: each one loads correctly or
ends in the one-line UserError (exit 2 in a script); nothing else, no hang.

make test runs FUZZ_CSV_CASES CSV files and FUZZ_FOLDER_CASES image folders; `pytest -m slow
tests/test_fuzz.py` runs 10,000 CSV files and prints the counts.
"""

import gzip
import io
import os
import zlib
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ferlib import SIZE, UserError
from ferlib.data import load_fer2013

FUZZ_CSV_CASES, FUZZ_FOLDER_CASES, SLOW_CSV_CASES = 2000, 300, 10_000
PIXELS = SIZE * SIZE

# The three CSV forms users have: Kaggle's, the homework's train file and its test file.
FORMS = {"kaggle": ["emotion", "pixels", "Usage"], "train": ["label", "feature"], "test": ["id", "feature"]}
USAGES = ["Training", "PublicTest", "PrivateTest"]
TOKENS = ["", " ", "-1", "0", "6", "7", "255", "256", "-0", "+3", " 3", "3 ", "1.5", "1e3", "0x10", "NaN", "nan",
          "inf", "-inf", "abc", "３", "4294967299", "4294967301", "99999999999", "99999999999999999999999",
          "Training", "PublicTest", '"3"', "3;4", "\t"]
FIELD_MUTATIONS = ["token_in_label", "token_in_pixel", "fewer_pixels", "more_pixels", "comma_pixels",
                   "drop_field", "extra_field", "blank_line", "space_line", "duplicate_header", "other_header",
                   "swap_columns", "quote_field", "empty_row"]
BYTE_MUTATIONS = ["bom", "crlf", "cut", "garbage", "nul", "latin1", "gzip", "cut_gzip", "zlib_junk"]


@st.composite
def damaged_csv(draw):
    """(bytes, file suffix, the rows it should load when undamaged or None)."""
    form = draw(st.sampled_from(sorted(FORMS)))
    header = list(FORMS[form])
    n = draw(st.integers(1, 6))
    rows, expect = [], []
    for i in range(n):
        first = str(i) if form == "test" else str(draw(st.integers(0, 6)))
        value = draw(st.integers(0, 255))
        row = [first, " ".join([str(value)] * PIXELS)]
        if form == "kaggle":
            row.append(draw(st.sampled_from(USAGES)))
        rows.append(row)
        expect.append((int(first), value))
    lines = [header] + rows
    mutations = draw(st.lists(st.sampled_from(FIELD_MUTATIONS), max_size=3))
    for m in mutations:
        r = draw(st.integers(1, len(lines) - 1)) if len(lines) > 1 else 0
        row = lines[r]
        if m == "token_in_label" and row:
            row[0] = draw(st.sampled_from(TOKENS))
        elif m == "token_in_pixel" and len(row) > 1:
            px = row[1].split(" ")
            px[draw(st.integers(0, len(px) - 1))] = draw(st.sampled_from(TOKENS))
            row[1] = " ".join(px)
        elif m in ("fewer_pixels", "more_pixels") and len(row) > 1:
            px = row[1].split(" ")
            k = draw(st.integers(1, PIXELS))
            row[1] = " ".join(px[:-k] if m == "fewer_pixels" else px + ["0"] * k)
        elif m == "comma_pixels" and len(row) > 1:
            row[1] = row[1].replace(" ", draw(st.sampled_from([",", "\t", "  ", ";"])), draw(st.integers(1, 3)))
        elif m == "drop_field" and row:
            del row[draw(st.integers(0, len(row) - 1))]
        elif m == "extra_field":
            row.append(draw(st.sampled_from(TOKENS)))
        elif m == "blank_line":
            lines.insert(r, [])
        elif m == "space_line":
            lines.insert(r, ["   "])
        elif m == "duplicate_header":
            lines.insert(r, list(header))
        elif m == "other_header":
            lines[0] = draw(st.sampled_from([["a", "b"], ["emotion", "pixels"], ["label"], ["id", "pixels", "x"],
                                             ["Emotion", "Pixels", "Usage"], ["feature", "label"]]))
        elif m == "swap_columns":
            lines = [list(reversed(l)) for l in lines]
        elif m == "quote_field" and row:
            i = draw(st.integers(0, len(row) - 1))
            row[i] = f'"{row[i]}"' if draw(st.booleans()) else f'"{row[i]}'
        elif m == "empty_row":
            lines.insert(r, [""] * len(header))
    data = ("\n".join(",".join(l) for l in lines) + ("\n" if draw(st.booleans()) else "")).encode()
    suffix = ".csv"
    damage = draw(st.lists(st.sampled_from(BYTE_MUTATIONS), max_size=2))
    for m in damage:
        if m == "bom":
            data = b"\xef\xbb\xbf" + data
        elif m == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif m == "cut":
            data = data[:draw(st.integers(0, len(data)))]
        elif m == "garbage":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif m == "nul":
            data = data.replace(b",", b"\0", 1)
        elif m == "latin1":
            data = data.replace(b"emotion", "émotion".encode("latin-1"), 1)
        elif m in ("gzip", "cut_gzip"):
            data = gzip.compress(data, mtime=0)
            suffix = ".csv.gz"
            if m == "cut_gzip":
                data = data[:draw(st.integers(0, len(data) - 1))]
        elif m == "zlib_junk":
            data = zlib.compress(data)   # compressed, but not gzip
    return data, suffix, (form, expect) if not mutations and not damage else None


def _check(data, form_expect):
    """A load that succeeded holds well-formed arrays; an undamaged file holds exactly its rows."""
    for name, (x, y) in data.splits.items():
        assert x.dtype == np.uint8 and x.shape[1:] == (SIZE, SIZE) and len(x) == len(y), name
        assert ((y >= -1) & (y <= 6)).all(), name
    if form_expect:
        form, expect = form_expect
        x, y = data.split("all")
        assert len(x) == len(expect)
        if form == "test":
            assert sorted(data.ids.tolist()) == [e[0] for e in expect]
        else:
            got = sorted(zip(y.tolist(), x[:, 0, 0].tolist()))
            assert got == sorted(expect)


def _load_or_refuse(path, data, suffix, form_expect):
    """"loaded" or "refused"; anything else (another exception, a bad array) fails the test."""
    path = f"{path}{suffix}"
    with open(path, "wb") as f:
        f.write(data)
    try:
        loaded = load_fer2013(path)
    except UserError as e:
        message = str(e)
        assert "\n" not in message and path in message, message
        assert form_expect is None, f"an undamaged file was refused: {message}"
        assert len(message) < 400, message   # a binary header is not echoed back whole
        return "refused"
    finally:
        os.remove(path)
    _check(loaded, form_expect)
    return "loaded"


def _fuzz_csv(tmp_path, cases, seeded):
    counts = Counter()

    @settings(max_examples=cases, deadline=None, derandomize=seeded, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=damaged_csv())
    def one(case):
        counts[_load_or_refuse(tmp_path / f"case{sum(counts.values())}", *case)] += 1

    one()
    print(f"fuzzed CSV files: {sum(counts.values())} ({counts['loaded']} loaded, {counts['refused']} refused)")
    assert sum(counts.values()) >= cases and counts["loaded"] and counts["refused"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FERKIT_CACHE", str(tmp_path / "cache"))


def test_malformed_csv_files_load_or_are_refused_in_one_line(tmp_path):
    _fuzz_csv(tmp_path, FUZZ_CSV_CASES, seeded=True)   # the same cases every run: CI stays reproducible


@pytest.mark.slow
def test_many_malformed_csv_files_load_or_are_refused_in_one_line(tmp_path, capsys):
    with capsys.disabled():   # the count goes to the log
        _fuzz_csv(tmp_path, SLOW_CSV_CASES, seeded=False)


IMAGE_FILES = ["png", "jpg", "bmp", "gif", "txt", "garbage_png", "empty_png", "cut_png"]


@st.composite
def damaged_folder(draw):
    """A class-folder tree: [(relative path, bytes)]."""
    split = draw(st.sampled_from(["", "train/", "test/", "val/", "Training/"]))
    files = []
    for k in range(draw(st.integers(0, 5))):
        cls = draw(st.sampled_from(["angry", "happy", "sad", "Neutral", "cats", "0", "3", "9"]))
        kind = draw(st.sampled_from(IMAGE_FILES))
        w, h = draw(st.integers(1, 80)), draw(st.integers(1, 80))
        mode = draw(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16"]))
        if kind in ("png", "jpg", "bmp", "gif", "cut_png"):
            buf = io.BytesIO()
            fmt = {"jpg": "JPEG", "bmp": "BMP", "gif": "GIF"}.get(kind, "PNG")
            im = Image.new(mode, (w, h))
            if fmt != "PNG" and mode not in ("L", "RGB"):   # PNG holds every mode; the others fewer
                im = im.convert("RGB")
            im.save(buf, fmt)
            data = buf.getvalue()
            if kind == "cut_png":
                data = data[:draw(st.integers(0, len(data) - 1))]
            ext = "png" if kind == "cut_png" else kind
        elif kind == "txt":
            data, ext = b"notes", "txt"
        elif kind == "empty_png":
            data, ext = b"", "png"
        else:
            data, ext = draw(st.binary(max_size=200)), "png"
        files.append((f"{split}{cls}/f{k}.{ext}", data))
    return files


def test_malformed_image_folders_load_or_are_refused_in_one_line(tmp_path):
    counts = Counter()

    @settings(max_examples=FUZZ_FOLDER_CASES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(files=damaged_folder())
    def one(files):
        root = tmp_path / f"folder{sum(counts.values())}"
        (root / "x").mkdir(parents=True)   # at least a folder, even with no files
        for rel, data in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        try:
            loaded = load_fer2013(str(root))
        except UserError as e:
            assert "\n" not in str(e) and str(root) in str(e), str(e)
            counts["refused"] += 1
            return
        _check(loaded, None)
        counts["loaded"] += 1

    one()
    assert sum(counts.values()) >= FUZZ_FOLDER_CASES and counts["loaded"] and counts["refused"]
