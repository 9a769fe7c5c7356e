"""faces.py: every face in a photo found where it is, cut as FER2013 crops its faces, read, and drawn;
bad files in one line. On matplotlib's own sample photo of Grace Hopper (no FER2013 face)."""

import json
import os

import matplotlib
import numpy as np
import pytest
from PIL import Image

import faces
from conftest import run_script

HOPPER = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
HOPPER_FACE = (165, 140, 355, 335)   # her face, hairline to chin, read off the photo by hand: x0, y0, x1, y1


def iou(box, other):
    """Intersection over union of an (x, y, w, h) box and an (x0, y0, x1, y1) one."""
    x, y, w, h = box
    ix = max(0, min(x + w, other[2]) - max(x, other[0]))
    iy = max(0, min(y + h, other[3]) - max(y, other[1]))
    inter = ix * iy
    return inter / (w * h + (other[2] - other[0]) * (other[3] - other[1]) - inter)


@pytest.fixture(scope="module")
def hopper():
    photo = faces.read_photo(HOPPER)
    return photo, faces.find_faces(photo)


def test_the_one_face_in_the_photo_is_found_where_it_is(hopper):
    _, found = hopper
    assert len(found) == 1 and iou(found[0]["box"], HOPPER_FACE) > 0.6, found
    eyes = found[0]["landmarks"]
    assert eyes["left_eye"][0] < eyes["right_eye"][0]   # the eye on the photo's left first


def test_a_face_pasted_into_a_larger_photo_is_found_there_and_cut_and_read_as_the_same_face(hopper, tmp_path):
    photo, (face,) = hopper
    scale, offset = 0.6, np.array([410, 250])
    small = np.asarray(Image.fromarray(photo).resize((round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                                                     Image.LANCZOS))
    canvas = np.full((1000, 1300, 3), 200, np.uint8)
    canvas[offset[1]:offset[1] + small.shape[0], offset[0]:offset[0] + small.shape[1]] = small
    found = faces.find_faces(canvas)
    assert len(found) == 1
    where = [(v - o) / scale for v, o in zip(found[0]["box"][:2], offset)] + [v / scale for v in found[0]["box"][2:]]
    assert iou(where, HOPPER_FACE) > 0.6, (found, where)
    # Cut as the script cuts it (the detector's landmarks on the canvas), and by hand (the photo's landmarks moved
    # where the paste put them): the same crop up to the detector's pixel or two (a shift that moves the edges of
    # her glasses: 14 gray levels on average, measured), and the same reading.
    by_hand = {k: list(np.asarray(v) * scale + offset) for k, v in face["landmarks"].items()}
    crops = [faces.aligned_crop(canvas, found[0]["landmarks"]), faces.aligned_crop(canvas, by_hand)]
    assert np.abs(crops[0].astype(int) - crops[1]).mean() < 25
    from ferlib.models import load_model
    probs = faces.read_expressions([load_model(faces.DEFAULT_MODEL)], crops)
    assert probs[0].argmax() == probs[1].argmax() and np.abs(probs[0] - probs[1]).max() < 0.15, probs


def test_the_crop_is_framed_as_fer2013_frames_its_faces(hopper):
    # Found again on the crop (upscaled 4x, as docs/face_alignment.py finds them on FER2013's faces), the eyes are
    # level, ALIGN_DISTANCE apart, their midpoint at ALIGN_EYES: within a pixel of a 48x48 crop.
    photo, (face,) = hopper
    crop = faces.aligned_crop(photo, face["landmarks"])
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    big = np.asarray(Image.fromarray(crop).resize((192, 192), Image.BICUBIC).convert("RGB"))
    (again,) = faces.find_faces(big)
    left, right = (np.asarray(again["landmarks"][k]) / 4 for k in ("left_eye", "right_eye"))
    assert np.abs((left + right) / 2 - faces.ALIGN_EYES).max() < 1.0, (left, right)
    assert abs(np.linalg.norm(right - left) - faces.ALIGN_DISTANCE) < 1.0 and abs(right[1] - left[1]) < 1.0


def test_the_script_writes_the_annotated_photo_and_json(tmp_path, capsys):
    out = faces.main([HOPPER, "--out", str(tmp_path), "--saliency"])
    assert len(out) == 1 and len(out[0]["faces"]) == 1
    assert out[0]["faces"][0]["expression"] in faces.CLASS_NAMES
    assert abs(sum(out[0]["faces"][0]["probabilities"].values()) - 1) < 1e-3
    with Image.open(tmp_path / "grace_hopper.expressions.png") as im:
        assert im.width / im.info["dpi"][0] <= 6.55 and float(im.info["Smallest font (pt)"]) >= 8
    capsys.readouterr()
    faces.main([HOPPER, "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert set(printed[0]["faces"][0]["landmarks"]) == set(faces.LANDMARKS)


def test_a_photo_without_a_face_says_so_and_a_file_that_is_not_an_image_is_one_line(tmp_path):
    blank, text = tmp_path / "wall.png", tmp_path / "notes.jpg"
    Image.fromarray(np.full((480, 640, 3), 180, np.uint8)).save(blank)
    text.write_text("not a photo")
    r = run_script("faces.py", blank)
    assert r.returncode == 0 and f"{blank}: no face found" in r.stdout, r.stdout + r.stderr[-1500:]
    for path, words in ((text, "not an image"), (tmp_path / "missing.jpg", "no such file")):
        r = run_script("faces.py", path)
        errors = [l for l in r.stderr.splitlines() if "error:" in l]
        assert r.returncode == 2 and "Traceback" not in r.stderr and len(errors) == 1 and words in errors[0], r.stderr
