"""Load FER2013 in every form people have it, and split it the same way everywhere.

Forms (`--data PATH`), see docs/DESIGN: Kaggle `emotion,pixels,Usage`, ML2017
HW3 `label,feature` (train) and `id,feature` (test, no labels), any of these
gzipped, and folders of class-named image subfolders (optionally under
train/ val/ test/). Without --data: the first of ferlib.DEFAULT_DATA that
exists, else the built-in synthetic set.

Parsing is the slow part of FER2013 (270 MB of decimal text), so the file is
read in 4 MB pieces, gunzipped by a helper thread while the main one parses
the piece before, and each piece's pixels go through one `np.fromstring`
call; only when that finds a problem do we walk the rows one by one to name
the bad line. The parsed arrays are cached as an uncompressed .npz keyed on
the file's path, size and mtime, so the second load is a memory copy.
"""

import gzip
import hashlib
import itertools
import os
import queue
import sys
import threading
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

from ferlib import CLASS_NAMES, DEFAULT_DATA, SIZE, UserError, default_data_path  # noqa: F401 (UserError: ferlib.data.UserError too)
from ferlib.outputs import atomic_path
from ferlib.synthetic import LABEL_NOISE, fer2013_shares, noisy_labels, synthetic_faces

NPIX = SIZE * SIZE
VAL_FRACTION = 0.1   # the validation share of files without a Usage column
PIECE = 1 << 22   # bytes a CSV is read in: 1, 4 and 8 MB timed within noise (bench/README.md)
USAGE_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLITS = ("train", "val", "test")
# The built-in set: a fixed data seed, so every script and every --seed sees
# the same faces. Sizes keep a CPU run of the whole report within minutes.
SYNTHETIC_SEED = 2013
SYNTHETIC_SIZES = {"train": 2800, "val": 700, "test": 700}
SYNTHETIC_LABEL_NOISE = LABEL_NOISE
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".tif", ".tiff")
FOLDER_SPLITS = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "publictest": "val", "test": "test", "privatetest": "test"}


def _shown(field):
    """A data field as a message quotes it: decoded, and cut to 30 characters (a whole row is no help)."""
    text = field.decode("utf-8", "replace") if isinstance(field, bytes) else str(field)
    return repr(text if len(text) <= 30 else text[:30] + "...")


class DataError(UserError):
    def __init__(self, path, problem, line=None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")


@dataclass
class FERData:
    """Images (N,48,48) uint8 and labels (N,) int64 per split; labels are -1 when unknown."""
    source: str
    splits: dict
    masks: dict = field(default_factory=dict)    # synthetic only: expression pixels
    regions: dict = field(default_factory=dict)  # synthetic only: each face's parts (ferlib.regions.REGIONS)
    clean_labels: dict = field(default_factory=dict)   # synthetic only: the labels before label noise
    ids: np.ndarray | None = None                 # `id,feature` test files
    usage: bool = False                           # splits from Kaggle's Usage column (Training, PublicTest...)
    split_info: dict = field(default_factory=dict)   # how val was drawn: what run records and scripts compare

    def counts(self):
        return {k: int(len(v[1])) for k, v in self.splits.items()}

    def labelled(self, name):
        """(x, y) of a split that must have labels, else a UserError naming the file."""
        if self.ids is not None:
            raise UserError(f"{self.source}: has no labels (an id,feature test file); use a labelled file")
        x, y = self.split(name)
        if len(y) == 0:
            raise UserError(f"{self.source}: the {name} split is empty (splits here: "
                            f"{', '.join(f'{k} {v}' for k, v in self.counts().items())})")
        if y.min() < 0:
            raise UserError(f"{self.source}: has no labels (an id,feature test file); use a labelled file")
        return x, y

    def held_out_split(self):
        """Where analyses measure: the test split when it has labelled rows, else val."""
        _, y = self.split("test")
        return "test" if len(y) and y.min() >= 0 else "val"

    def split(self, name):
        if name == "all":
            xs, ys = zip(*self.splits.values())
            return np.concatenate(xs), np.concatenate(ys)
        if name not in self.splits:   # e.g. the train split of a test-only file
            return np.zeros((0, SIZE, SIZE), np.uint8), np.zeros(0, np.int64)
        return self.splits[name]


# ---------------------------------------------------------------- public API

def load_fer2013(path=None, split_seed=0, val_fraction=VAL_FRACTION):
    """Load `path` (or the default lookup, said on stderr) into train/val/test splits.

    split_seed draws the validation split of files without a Usage column, and only that: the
    weights' seed is the trainer's own, so runs of several seeds hold out the same faces.
    """
    if path is None:
        path = default_data_path()
        if path is None:
            print(f"data: no --data given and none of {', '.join(DEFAULT_DATA)}: using the built-in synthetic "
                  "faces. For real results put FER2013 in data/ (see data/README.md).", file=sys.stderr)
            return load_synthetic()
        print(f"data: using {path}", file=sys.stderr)
    if path == "synthetic":
        return load_synthetic()
    if not os.path.exists(path):
        raise DataError(path, "no such file or directory")
    if os.path.isdir(path):
        return _load_folders(path, split_seed, val_fraction)
    x, y, usage, ids = read_csv(path)
    if ids is not None:   # HW3 test file: nothing to split
        return FERData(path, {"test": (x, y)}, ids=ids, split_info={"by": "none"})
    if usage is not None:
        return FERData(path, {s: (x[usage == s], y[usage == s]) for s in SPLITS}, usage=True,
                       split_info={"by": "usage", "val_hash": index_hash(np.flatnonzero(usage == "val"))})
    splits, info = _split_labelled(x, y, split_seed, val_fraction)
    return FERData(path, splits, split_info=info)


def load_synthetic():
    """The built-in set: fixed train/val/test faces in FER2013's class shares, with expression masks."""
    splits, masks, regions, clean = {}, {}, {}, {}
    for i, (name, k) in enumerate(SYNTHETIC_SIZES.items()):
        seed = [SYNTHETIC_SEED, i]
        x, clean[name], masks[name], regions[name] = synthetic_faces(k, seed, fer2013_shares(), parts=True)
        splits[name] = (x, noisy_labels(clean[name], SYNTHETIC_LABEL_NOISE, seed))
    return FERData("synthetic", splits, masks, regions, clean_labels=clean, split_info={"by": "built-in"})


def split_indices(y, seed=0, val_fraction=0.1):
    """Seeded, stratified (train, val) index arrays: the same for the same labels and seed."""
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(y))
    if len(y) < 2:   # nothing to hold out: all of it trains
        return idx, idx[:0]
    n_val = max(int(round(val_fraction * len(y))), 1)
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and n_val >= len(counts) else None
    return train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)


def index_hash(indices):
    """A short fingerprint of which rows a split holds: two records with the same one hold out the same faces."""
    return hashlib.sha256(np.asarray(indices, np.int64).tobytes()).hexdigest()[:12]


def _split_labelled(x, y, seed, val_fraction):
    """The train and val splits of a file without a Usage column, and how val was drawn (split_info)."""
    tr, va = split_indices(y, seed, val_fraction)
    tr, va = np.sort(tr), np.sort(va)
    empty = (x[:0], y[:0])
    info = {"by": "seed", "seed": int(seed), "fraction": float(val_fraction), "val_hash": index_hash(va)}
    return {"train": (x[tr], y[tr]), "val": (x[va], y[va]), "test": empty}, info


# ---------------------------------------------------------------- CSV forms

def read_csv(path, cache=True):
    """Parse a FER2013 CSV (or .csv.gz): (images, labels, usage-split or None, ids or None)."""
    st = os.stat(path)
    cache_file = _cache_path(path, st) if cache else None
    if cache_file and os.path.exists(cache_file):
        with np.load(cache_file) as z:
            get = lambda k: z[k] if k in z.files else None  # noqa: E731
            return z["x"], z["y"], get("usage"), get("ids")
    out = _parse_csv(path)
    if cache_file:
        _save_npz(cache_file, **{k: v for k, v in zip(("x", "y", "usage", "ids"), out) if v is not None})
    return out


def _cache_path(path, st):
    root = os.environ.get("FERKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ferkit")
    key = hashlib.sha1(f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}|v1".encode()).hexdigest()[:16]
    return os.path.join(root, f"{os.path.basename(path)}.{key}.npz")


def _save_npz(dest, **arrays):
    """Atomic: a concurrent reader sees the old file or the whole new one."""
    try:
        with atomic_path(dest) as tmp:
            np.savez(tmp, **arrays)
    except OSError:
        pass  # a cache we cannot write is only a slower next load


def _pieces(path):
    """The file's bytes in pieces, gunzipped if .gz, read by a helper thread.

    zlib and file reads let go of the GIL, so decompressing the next piece
    overlaps parsing this one (gunzip took ~1 of the 5 s of a first load).
    """
    q, stop = queue.SimpleQueue(), threading.Event()

    def read():
        try:
            with open(path, "rb") as f:
                z = zlib.decompressobj(wbits=31) if path.endswith(".gz") else None
                while not stop.is_set() and (block := f.read(PIECE)):
                    while z and block:                   # a .gz may hold several members
                        if z.eof:
                            z = zlib.decompressobj(wbits=31)
                        q.put(z.decompress(block))
                        block = z.unused_data
                    if block:
                        q.put(block)
                if z and not z.eof and not stop.is_set():
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
            q.put(None)
        except (OSError, EOFError, zlib.error) as e:
            q.put(e)

    threading.Thread(target=read, daemon=True).start()
    try:
        while (piece := q.get()) is not None:
            if isinstance(piece, Exception):
                raise DataError(path, f"cannot read: {piece}")
            yield piece
    finally:
        stop.set()   # the caller gave up (a bad header): read no further


def _line_blocks(path):
    """(text, its lines) for whole lines of the file, a few MB at a time; a blank last line is dropped."""
    carry = b""
    for piece in _pieces(path):
        piece = carry + piece
        cut = piece.rfind(b"\n") + 1
        carry = piece[cut:]
        if cut:
            text = piece[:cut - 1]
            yield text, text.split(b"\n")
    if carry.strip():
        yield carry, [carry]


def _parse_csv(path):
    blocks = _line_blocks(path)
    text, lines = next(blocks, (b"", [b""]))
    if not lines[0].strip():
        raise DataError(path, "empty file", 1)
    form, ncol = _csv_form(path, lines[0])
    rows, numbers = [], []
    for text, block in itertools.chain([(text[len(lines[0]) + 1:], lines[1:])], blocks):
        rows += block
        # Fast path while rows are well formed: every number of the block in one C call.
        if numbers is not None and block:
            got = _block_numbers(text, block, ncol)
            if got is None:
                numbers = None
            else:
                numbers.append(got)   # (first column int64, pixels uint8)
    if not rows:
        raise DataError(path, "no data rows after the header", 1)
    x = None
    if numbers is not None:
        ids = np.concatenate([first for first, _ in numbers])
        x = np.concatenate([pix for _, pix in numbers]).reshape(-1, SIZE, SIZE)
    if x is None:   # slow path: tolerant of spacing and quotes, names the first bad line
        ids, x = _parse_rows(path, rows, ncol, form)
    usage = _parse_usage(path, rows) if ncol == 3 else None
    if form == "test":   # ids name the rows of a submission: each once, none negative
        negative = np.flatnonzero(ids < 0)
        if len(negative):
            raise DataError(path, f"id {ids[negative[0]]} is negative", negative[0] + 2)
        _, first_seen = np.unique(ids, return_index=True)
        repeated = np.setdiff1d(np.arange(len(ids)), first_seen)
        if len(repeated):
            raise DataError(path, f"id {ids[repeated[0]]} appears twice", repeated[0] + 2)
        return x, np.full(len(rows), -1, np.int64), usage, ids
    bad = np.flatnonzero((ids < 0) | (ids > 6))
    if len(bad):
        raise DataError(path, f"label {ids[bad[0]]} is not a class 0-6 ({', '.join(CLASS_NAMES)})", bad[0] + 2)
    return x, ids, usage, None


def _csv_form(path, line):
    """(form, column count) from the header line, or a DataError."""
    header = [h.strip().strip(b'"').decode("utf-8", "replace").lower() for h in line.rstrip(b"\r").split(b",")]
    header[0] = header[0].lstrip("\ufeff")
    forms = {("emotion", "pixels", "usage"): "kaggle", ("emotion", "pixels"): "kaggle",
             ("label", "feature"): "train", ("id", "feature"): "test"}
    form = forms.get(tuple(header))
    if form is None:
        expected = "expected emotion,pixels,Usage (Kaggle), label,feature (HW3 train) or id,feature (HW3 test)"
        shown = ",".join(header)
        if not shown.isprintable():   # binary: a compressed file without .gz, an image, a model
            raise DataError(path, f"not a CSV text file (its first bytes are binary); {expected}", 1)
        shown = shown if len(shown) <= 60 else shown[:60] + "..."
        raise DataError(path, f"unknown header {shown!r}: {expected}", 1)
    return form, len(header)


def _block_numbers(text, rows, ncol):
    """(first column int64 (rows,), pixels uint8 (rows, 2304)) of text, whose lines are rows; None if a row is
    not plain or a number is out of range (the slow path then names it).

    Plain: single spaces, no quotes, the right column count. Commas and the
    Usage words are blanked so that np.fromstring reads the label and the
    pixels of every row in one call. Read as int64, so no number of a FER2013
    file wraps; pixels are checked and narrowed block by block.
    """
    if not all(r.count(b" ") == NPIX - 1 and r.count(b",") == ncol - 1 for r in rows):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fromstring warns and stops on junk; the size check catches it
        try:
            flat = np.fromstring(text.translate(_BLANK), dtype=np.int64, sep=" ")
        except ValueError:   # numpy >= 2.3 raises on junk instead
            return None
    if flat.size != len(rows) * (NPIX + 1):
        return None
    flat = flat.reshape(len(rows), NPIX + 1)
    first, pix = flat[:, 0], flat[:, 1:]
    if pix.min() < 0 or pix.max() > 255 or np.abs(first).max() >= 2 ** 62:   # 2**62: past it, int64 saturates
        return None
    return first.copy(), pix.astype(np.uint8)


# Bytes that separate numbers in a CSV row: comma, CR, quote, and the letters of
# the Usage words (which sit after the last comma and are read separately).
_SEPARATORS = b',\r"' + bytes(sorted(set(b"TrainingPublicTestPrivate")))
_BLANK = bytes.maketrans(_SEPARATORS, b" " * len(_SEPARATORS))


def _parse_usage(path, rows):
    usage = np.empty(len(rows), "U5")
    for i, r in enumerate(rows):
        word = r[r.rindex(b",") + 1:].strip().strip(b'"').decode("utf-8", "replace")
        if word not in USAGE_SPLIT:
            raise DataError(path, f"Usage {_shown(word)} is not one of Training, PublicTest, PrivateTest", i + 2)
        usage[i] = USAGE_SPLIT[word]
    return usage


def _parse_rows(path, rows, ncol, form):
    """Row by row, for files the fast path does not take or that hold an error."""
    what = "id" if form == "test" else "label"
    first = np.empty(len(rows), np.int64)
    x = np.empty((len(rows), NPIX), np.uint8)
    for i, r in enumerate(rows):
        line = i + 2
        fields = r.rstrip(b"\r").split(b",")
        if len(fields) != ncol:
            raise DataError(path, f"{len(fields)} comma-separated columns, expected {ncol}", line)
        f0 = fields[0].strip().strip(b'"')
        if not f0.lstrip(b"-").isdigit():
            raise DataError(path, f"{what} {_shown(f0)} is not an integer", line)
        if len(f0.lstrip(b"-")) > 18:   # beyond int64: no FER2013 label or id is that long
            raise DataError(path, f"{what} {f0.decode()[:30]} is too large", line)
        first[i] = int(f0)
        tokens = fields[1].strip().strip(b'"').split()
        for t in tokens:
            if not t.isdigit():
                raise DataError(path, f"pixel {_shown(t)} is not an integer 0-255", line)
            if int(t) > 255:
                raise DataError(path, f"pixel {t.decode()[:30]} is out of range 0-255", line)
        if len(tokens) != NPIX:
            raise DataError(path, f"{len(tokens)} pixels, expected {NPIX} (48x48)", line)
        x[i] = np.array(tokens, np.int32)
    return first, x.reshape(-1, SIZE, SIZE)


# ---------------------------------------------------------------- image folders

def _class_of(name):
    n = name.lower()
    for c, cname in enumerate(CLASS_NAMES):
        if n == cname.lower() or n == str(c) or (len(n) >= 3 and cname.lower().startswith(n)):
            return c
    return {"surprised": 5, "happiness": 3, "sadness": 4, "anger": 0, "fearful": 2, "disgusted": 1}.get(n)


def _subdirs(path):
    return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))


def _load_folders(path, seed, val_fraction):
    subs = _subdirs(path)
    split_dirs = {FOLDER_SPLITS[s.lower()]: s for s in subs if s.lower() in FOLDER_SPLITS}
    if split_dirs:
        parts = {name: _read_class_folders(os.path.join(path, d)) for name, d in split_dirs.items()}
        if "val" not in parts and "train" in parts:  # Kaggle image release: train/ and test/ only
            x, y = parts["train"]
            sp, info = _split_labelled(x, y, seed, val_fraction)
            parts["train"], parts["val"] = sp["train"], sp["val"]
        else:
            info = {"by": "folders"}
        empty = (np.zeros((0, SIZE, SIZE), np.uint8), np.zeros(0, np.int64))
        return FERData(path, {s: parts.get(s, empty) for s in SPLITS}, split_info=info)
    x, y = _read_class_folders(path)
    splits, info = _split_labelled(x, y, seed, val_fraction)
    return FERData(path, splits, split_info=info)


def _read_class_folders(path):
    from PIL import Image, UnidentifiedImageError
    classes = [(d, _class_of(d)) for d in _subdirs(path)]
    classes = [(d, c) for d, c in classes if c is not None]
    if not classes:
        raise DataError(path, "no class subfolders (expected angry/ disgust/ fear/ happy/ sad/ surprise/ "
                              "neutral/, optionally under train/ val/ test/)")
    xs, ys = [], []
    for d, c in classes:
        folder = os.path.join(path, d)
        for name in sorted(os.listdir(folder)):
            if not name.lower().endswith(IMAGE_EXTS):
                continue
            f = os.path.join(folder, name)
            try:
                with Image.open(f) as im:
                    im = im.convert("L")
                    if im.size != (SIZE, SIZE):
                        im = im.resize((SIZE, SIZE), Image.BILINEAR)
                    xs.append(np.asarray(im, np.uint8))
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f, f"unreadable image ({e.__class__.__name__})") from None
            ys.append(c)
    if not xs:
        raise DataError(path, "class subfolders hold no images (png/jpg)")
    return np.stack(xs), np.array(ys, np.int64)


# ---------------------------------------------------------------- writers (tests, tools)

def write_csv(path, x, y=None, form="kaggle", usage=None, ids=None):
    """Write images in one of the CSV forms (gzipped when path ends in .gz)."""
    pix = [" ".join(map(str, img.ravel().tolist())) for img in x]
    if form == "kaggle":
        rows = ["emotion,pixels,Usage"] + [f"{int(l)},{p},{u}" for l, p, u in zip(y, pix, usage)]
    elif form == "train":
        rows = ["label,feature"] + [f"{int(l)},{p}" for l, p in zip(y, pix)]
    else:
        ids = np.arange(len(x)) if ids is None else ids
        rows = ["id,feature"] + [f"{int(i)},{p}" for i, p in zip(ids, pix)]
    data = ("\n".join(rows) + "\n").encode()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
