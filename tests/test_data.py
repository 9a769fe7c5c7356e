"""ferlib.data: every FER2013 form round-trips, splits follow the contract, bad input is named."""

import gzip
import os

import numpy as np
import pytest
from PIL import Image

from conftest import run_script
from ferlib import CLASS_NAMES
from ferlib.data import DataError, load_fer2013, read_csv, split_indices, write_csv
from ferlib.synthetic import synthetic_faces


@pytest.fixture(scope="module")
def faces():
    x, y, _ = synthetic_faces(70, seed=1)
    return x, y


def test_kaggle_csv_round_trips_with_usage_splits(tmp_path, faces):
    x, y = faces
    usage = np.array(["Training"] * 50 + ["PublicTest"] * 12 + ["PrivateTest"] * 8)
    for name in ("fer2013.csv", "fer2013.csv.gz"):
        path = str(tmp_path / name)
        write_csv(path, x, y, "kaggle", usage=usage)
        d = load_fer2013(path)
        np.testing.assert_array_equal(d.split("train")[0], x[:50])
        np.testing.assert_array_equal(d.split("train")[1], y[:50])
        np.testing.assert_array_equal(d.split("val")[0], x[50:62])
        np.testing.assert_array_equal(d.split("test")[1], y[62:])
        assert d.split("train")[0].dtype == np.uint8 and d.split("train")[0].shape[1:] == (48, 48)


def test_pieces_cut_anywhere_and_multi_member_gzip_read_the_same(tmp_path, faces, monkeypatch):
    # The reader cuts the file into pieces: cut mid-line, mid-number, mid-CRLF
    # and across gzip members, it must still give every row exactly.
    import ferlib.data
    x, y = faces
    usage = np.array(["Training"] * 50 + ["PublicTest"] * 20)
    path = tmp_path / "f.csv"
    write_csv(str(path), x, y, "kaggle", usage=usage)
    text = path.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(text)
    half = len(text) // 2
    (tmp_path / "f.csv.gz").write_bytes(gzip.compress(text[:half]) + gzip.compress(text[half:]))
    monkeypatch.setattr(ferlib.data, "PIECE", 997)   # prime: boundaries fall everywhere
    for name in ("f.csv", "f.csv.gz"):
        got_x, got_y, got_usage, _ = read_csv(str(tmp_path / name), cache=False)
        np.testing.assert_array_equal(got_x, x)
        np.testing.assert_array_equal(got_y, y)
        assert list(got_usage) == ["train"] * 50 + ["val"] * 20
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(text)[:-100])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: cannot read: compressed file ended"):
        read_csv(str(tmp_path / "cut.csv.gz"), cache=False)


def test_missing_usage_rows_make_an_empty_split(tmp_path, faces):
    x, y = faces
    path = str(tmp_path / "train_only.csv")
    write_csv(path, x, y, "kaggle", usage=["Training"] * len(y))
    d = load_fer2013(path)
    assert d.counts() == {"train": 70, "val": 0, "test": 0}


def test_hw3_train_and_test_forms_round_trip(tmp_path, faces):
    x, y = faces
    path = str(tmp_path / "train.csv")
    write_csv(path, x, y, "train")
    d = load_fer2013(path, split_seed=3)
    xs, ys = d.split("all")
    order = np.lexsort((ys, xs.reshape(len(xs), -1).sum(1)))
    ref = np.lexsort((y, x.reshape(len(x), -1).sum(1)))
    np.testing.assert_array_equal(xs[order], x[ref])
    test = str(tmp_path / "test.csv.gz")
    write_csv(test, x, form="test", ids=np.arange(100, 170))
    d = load_fer2013(test)
    np.testing.assert_array_equal(d.split("test")[0], x)
    assert (d.split("test")[1] == -1).all()
    np.testing.assert_array_equal(d.ids, np.arange(100, 170))


def _write_folders(root, x, y):
    for i, (img, label) in enumerate(zip(x, y)):
        folder = root / CLASS_NAMES[label].lower()
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:04d}.png")


def test_image_folders_round_trip_flat_and_split(tmp_path, faces):
    x, y = faces
    _write_folders(tmp_path / "flat", x, y)
    d = load_fer2013(str(tmp_path / "flat"))
    xs, ys = d.split("all")
    assert len(ys) == 70 and d.counts()["val"] == 7
    # images come back bit-exact, each with its label
    lookup = {img.tobytes(): label for img, label in zip(x, y)}
    assert all(lookup[img.tobytes()] == label for img, label in zip(xs, ys))

    _write_folders(tmp_path / "split" / "train", x[:40], y[:40])
    _write_folders(tmp_path / "split" / "val", x[40:55], y[40:55])
    _write_folders(tmp_path / "split" / "test", x[55:], y[55:])
    d = load_fer2013(str(tmp_path / "split"))
    assert d.counts() == {"train": 40, "val": 15, "test": 15}
    assert {img.tobytes() for img in d.split("test")[0]} == {img.tobytes() for img in x[55:]}


def test_image_folders_of_any_size_become_48x48_gray(tmp_path):
    folder = tmp_path / "imgs" / "happy"
    folder.mkdir(parents=True)
    Image.new("RGB", (96, 80), (200, 10, 10)).save(folder / "a.jpg")
    Image.new("RGB", (96, 80), (200, 10, 10)).save(folder / "b.jpg")
    d = load_fer2013(str(tmp_path / "imgs"))
    xs, ys = d.split("all")
    assert xs.shape == (2, 48, 48) and set(ys) == {3}


def test_split_is_seeded_stratified_and_disjoint():
    y = np.repeat(np.arange(7), [40, 10, 40, 80, 50, 30, 60])
    a_tr, a_va = split_indices(y, seed=5)
    b_tr, b_va = split_indices(y, seed=5)
    c_tr, c_va = split_indices(y, seed=6)
    np.testing.assert_array_equal(a_va, b_va)
    assert set(a_va) != set(c_va)
    assert not set(a_tr) & set(a_va) and len(a_tr) + len(a_va) == len(y)
    assert len(a_va) == round(0.1 * len(y))
    # stratified: each class's share of val is within one image of its share overall
    for c, n in enumerate(np.bincount(y)):
        assert abs((y[a_va] == c).sum() - 0.1 * n) <= 1


def test_cache_reload_is_identical_and_follows_the_file(tmp_path, faces):
    x, y = faces
    path = str(tmp_path / "train.csv")
    write_csv(path, x, y, "train")
    first = read_csv(path)
    assert os.listdir(os.environ["FERKIT_CACHE"])
    again = read_csv(path)
    np.testing.assert_array_equal(first[0], again[0])
    write_csv(path, x[:10], y[:10], "train")   # changed file: the cache must not answer
    os.utime(path, ns=(1, 1))
    assert len(read_csv(path)[0]) == 10


PIX = " ".join(["128"] * 2304)
BAD_INPUTS = {
    # name: (file content or None for missing, expected words in the message)
    "missing": (None, "no such file"),
    "empty": ("", "empty file"),
    "header": ("a,b,c\n1,2,3\n", "unknown header"),
    "count": ("emotion,pixels,Usage\n0," + " ".join(["1"] * 2000) + ",Training\n", "2000 pixels, expected 2304"),
    "nonint": ("label,feature\n3," + PIX[:-3] + "1.5\n", "'1.5' is not an integer"),
    "range": ("label,feature\n3," + PIX + "\n2," + PIX[:-3] + "300\n", "out of range"),
    "label": ("label,feature\n3," + PIX + "\n9," + PIX + "\n", "label 9 is not a class"),
    "no_rows": ("emotion,pixels,Usage\n", "no data rows"),
    # Numbers past 32 bits are read whole, never wrapped (4294967299 = 2**32 + 3, which int32 reads as 3).
    "huge_label": ("label,feature\n3," + PIX + "\n4294967299," + PIX + "\n", "label 4294967299 is not a class"),
    "huge_pixel": ("label,feature\n3," + PIX[:-3] + "4294967301\n", "pixel 4294967301 is out of range"),
}
LINE = {"count": 2, "nonint": 2, "range": 3, "label": 3, "header": 1, "empty": 1, "huge_label": 3, "huge_pixel": 2}


def test_bad_inputs_give_one_line_error_and_exit_2(tmp_path, capsys):
    # Also image folders: an unreadable image, and a folder with no class subfolders.
    import train_cnn
    from ferlib import cli
    (tmp_path / "broken" / "sad").mkdir(parents=True)
    (tmp_path / "broken" / "sad" / "x.png").write_bytes(b"not a png")
    (tmp_path / "noclass" / "cats").mkdir(parents=True)
    cases = {"unreadable": (str(tmp_path / "broken"), "unreadable image"),
             "noclass": (str(tmp_path / "noclass"), "no class subfolders")}
    for name, (content, words) in BAD_INPUTS.items():
        path = tmp_path / f"{name}.csv"
        if content is not None:
            path.write_text(content)
        cases[name] = (str(path), words)
    # Each case as the script's own entry point runs it (cli.run: the exit status and the one line)...
    for name, (path, words) in cases.items():
        status = cli.run(train_cnn.main, ["--data", path, "--dry-run", "--models-dir", str(tmp_path / "m")])
        err = capsys.readouterr().err
        last = [l for l in err.splitlines() if ": error: " in l]
        assert status == 2, (name, err[-2000:])
        assert "Traceback" not in err, name
        assert len(last) == 1 and words in last[0], (name, last)
        where = f"{path}:{LINE[name]}:" if name in LINE else path
        assert where in last[0], (name, last)
    # ...and one of them as a user runs it, in a fresh interpreter.
    path, words = cases["count"]
    r = run_script("train_cnn.py", "--data", path, "--dry-run", "--models-dir", tmp_path / "m")
    last = [l for l in r.stderr.splitlines() if l.startswith("train_cnn.py: error:")]
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(last) == 1 and words in last[0], r.stderr[-2000:]
    assert not (tmp_path / "m" / "cnn.keras").exists()


def test_gzip_bad_input_names_the_file(tmp_path):
    path = tmp_path / "bad.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("label,feature\n3," + " ".join(["7"] * 2303) + "\n")
    with pytest.raises(DataError, match=r"bad\.csv\.gz:2: 2303 pixels"):
        load_fer2013(str(path))


def test_default_lookup_falls_back_to_synthetic(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    d = load_fer2013()
    assert d.source == "synthetic" and d.counts()["train"] > 0
    assert "synthetic" in capsys.readouterr().err
    (tmp_path / "data").mkdir()
    x, y, _ = synthetic_faces(30, seed=2)
    write_csv(str(tmp_path / "data" / "train.csv"), x, y, "train")
    assert load_fer2013().source == "data/train.csv"


def test_long_ids_pass_through_whole(tmp_path, faces):
    x, _ = faces
    ids = np.array([99999999999, 5, 4294967301] + list(range(10, 77)), np.int64)
    path = str(tmp_path / "test.csv")
    write_csv(path, x, form="test", ids=ids)
    d = load_fer2013(path)
    np.testing.assert_array_equal(d.ids, ids)


def test_test_file_ids_must_be_unique_and_not_negative(tmp_path, faces):
    x, _ = faces
    for ids, words in ((np.r_[0, 1, 2, 1, np.arange(4, 70)], r"dup\.csv:5: id 1 appears twice"),
                       (np.r_[0, -3, np.arange(2, 70)], r"neg\.csv:3: id -3 is negative")):
        path = str(tmp_path / ("dup.csv" if "twice" in words else "neg.csv"))
        write_csv(path, x, form="test", ids=ids)
        with pytest.raises(DataError, match=words):
            load_fer2013(path)
