"""Read the expression of every face in your own photos, or live from a webcam, with the kit's CNN.

    python faces.py photo.jpg                        # -> photo.expressions.png beside it
    python faces.py a.jpg b.png --out results/ --saliency
    python faces.py group.jpg --model pretrained/cnn_fer2013.keras pretrained/ensemble/*.keras --tta
    python faces.py photo.jpg --json                  # per face: box, five landmarks, the 7 probabilities
    python faces.py --camera 0                        # live, where a camera and a display exist (needs OpenCV)

Faces are found by MTCNN (Zhang et al. 2016; the `mtcnn` package, which ships its weights: nothing is
downloaded). Its five landmarks frame each face as FER2013 frames its crops: the face turned so the eyes
are level, scaled so they are ALIGN_DISTANCE px apart and moved so their midpoint sits at ALIGN_EYES in
the 48x48 crop, in grayscale. Those two numbers are where MTCNN finds the eyes on FER2013's own faces:
`python docs/face_alignment.py --data data/fer2013.csv` runs it on 600 PublicTest faces upscaled 4x
and finds 500, the medians of their eye centres at (24.0, 18.6) and 17.5 px apart (quartiles 15.7-19.0).
A photo larger than MAX_SIDE px is shrunk for the detector (its boxes are scaled back), not refused.

Each input gets PHOTO.expressions.png (PHOTO.expressions.zh-TW.png with --lang zh-TW): the photo with every face boxed and labelled with its most likely
expression, and per face its 48x48 crop (with --saliency also its gradient map, saliency.py's own) and the
seven probabilities. A file that is not an image stops with one line (exit 2); a photo without a face says
"no face found" (exit 0).
"""

import functools
import json
import os
import sys
import time

import numpy as np

from ferlib import CLASS_NAMES, ROOT, SIZE, UserError, cli
from ferlib.outputs import check_writable, localized, pyplot, save_figure
from ferlib.words import FIGURE_WORDS, class_words

DEFAULT_MODEL = os.path.join(ROOT, "pretrained", "cnn_fer2013.keras")
ALIGN_EYES = (24.0, 18.6)   # px in the 48x48 crop: the eyes' midpoint (docs/face_alignment.py)
ALIGN_DISTANCE = 17.5       # px between the eyes
MIN_CONFIDENCE = 0.9        # MTCNN's score below which a detection is not taken for a face
MAX_SIDE = 1600             # px: a larger photo is shrunk for the detector
ZOOM = 4                    # the crop is cut at 4x and shrunk with an antialiasing filter: no aliasing
SHOWN = 8                   # faces drawn with their probabilities in the figure (all are boxed)
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def read_photo(path, decode=True):
    """The photo as an RGB uint8 array, or a UserError naming the file; decode=False reads only its header."""
    from PIL import Image, UnidentifiedImageError
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB")) if decode else None
    except (UnidentifiedImageError, OSError) as e:
        raise UserError(f"{path}: not an image this kit can read ({e.__class__.__name__})") from None


@functools.cache
def detector():
    from ferlib import tf_setup  # noqa: F401  (TensorFlow quiet, as the other scripts set it up)
    from mtcnn import MTCNN
    return MTCNN(device="CPU:0")


def find_faces(photo):
    """[{"box": [x, y, w, h], "confidence", "landmarks": {name: [x, y]}}] in the photo's pixels, largest first."""
    from PIL import Image
    scale = min(1.0, MAX_SIDE / max(photo.shape[:2]))
    small = photo if scale == 1 else np.asarray(Image.fromarray(photo).resize(
        (round(photo.shape[1] * scale), round(photo.shape[0] * scale)), Image.BILINEAR))
    faces = []
    for found in detector().detect_faces(small):
        if found["confidence"] >= MIN_CONFIDENCE:
            faces.append({"box": [round(float(v) / scale) for v in found["box"]],
                          "confidence": round(float(found["confidence"]), 4),
                          "landmarks": {k: [round(float(v) / scale, 1) for v in found["keypoints"][k]]
                                        for k in LANDMARKS}})
    return sorted(faces, key=lambda f: -f["box"][2] * f["box"][3])


def aligned_crop(photo, landmarks):
    """The face as a 48x48 grayscale FER2013 crop: eyes level, ALIGN_DISTANCE apart, their midpoint at ALIGN_EYES."""
    from PIL import Image
    left, right = (np.asarray(landmarks[k], float) for k in ("left_eye", "right_eye"))
    angle = np.arctan2(*(right - left)[::-1])
    scale = ZOOM * ALIGN_DISTANCE / max(np.linalg.norm(right - left), 1e-6)
    middle, target = (left + right) / 2, ZOOM * np.asarray(ALIGN_EYES)
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # PIL maps each output pixel back into the photo: p = R(angle) (o - target) / scale + middle
    a, b, d, e = cos, -sin, sin, cos
    c, f = middle[0] - a * target[0] - b * target[1], middle[1] - d * target[0] - e * target[1]
    gray = Image.fromarray(photo).convert("L")
    big = gray.transform((ZOOM * SIZE, ZOOM * SIZE), Image.AFFINE, (a, b, c, d, e, f), resample=Image.BICUBIC)
    return np.asarray(big.resize((SIZE, SIZE), Image.LANCZOS))


def read_expressions(models, crops, tta=1):
    """(N,7) class probabilities of the crops: the models' mean, each over its test-time views."""
    from ferlib.models import ensemble_probs
    return ensemble_probs(models, np.asarray(crops, np.uint8), tta=tta)


def draw(photo, faces, probs, crops, maps, lang, dest):
    """The photo, every face boxed and numbered with its top expression; per face its crop (and map) and bars."""
    plt = pyplot()
    w, names = FIGURE_WORDS[lang], class_words(lang)
    shown = min(len(faces), SHOWN)
    cols = 3 if maps is not None else 2
    fig = plt.figure(figsize=(6.5, max(3.2, 0.85 * shown + 0.5)), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.25, 1])
    ax = left.subplots()
    ax.imshow(photo)
    for k, (face, p) in enumerate(zip(faces, probs), 1):
        x, y, bw, bh = face["box"]
        ax.add_patch(plt.Rectangle((x, y), bw, bh, fill=False, color="yellow", lw=1.5))
        ax.text(x, y - 4, f"{k} {names[p.argmax()]} {p.max():.2f}", color="black", fontsize=8, va="bottom",
                bbox={"facecolor": "yellow", "edgecolor": "none", "pad": 1})
    ax.set_axis_off()
    slots = max(shown, 2)   # a lone face's row keeps a readable height
    rows = right.subplots(slots, cols, squeeze=False, gridspec_kw={"width_ratios": [1] * (cols - 1) + [2.2]})
    for row in rows[shown:]:
        for a in row:
            a.set_axis_off()
    for k in range(shown):
        crop_ax, bar_ax = rows[k][0], rows[k][-1]
        crop_ax.imshow(crops[k], cmap="gray", vmin=0, vmax=255)
        crop_ax.set_ylabel(str(k + 1), rotation=0, fontsize=8, labelpad=8)
        if maps is not None:
            rows[k][1].imshow(crops[k], cmap="gray", vmin=0, vmax=255)
            rows[k][1].imshow(maps[k], cmap="inferno", alpha=0.6, vmin=0, vmax=1)
        for a in rows[k][:-1]:
            a.set_xticks([]), a.set_yticks([])
        bar_ax.barh(range(len(CLASS_NAMES)), probs[k], color=["C3" if c == probs[k].argmax() else "C0"
                                                              for c in range(len(CLASS_NAMES))])
        bar_ax.set_xlim(0, 1)
        bar_ax.set_yticks(range(len(CLASS_NAMES)), names, fontsize=8)
        bar_ax.invert_yaxis()
        bar_ax.tick_params(axis="x", labelsize=8, labelbottom=k == shown - 1)
    if shown:
        rows[0][0].set_title(w["faces_crop"], fontsize=8)
        if maps is not None:
            rows[0][1].set_title(w["faces_map"], fontsize=8)
        rows[0][-1].set_title(w["faces_probs"], fontsize=8)
    if len(faces) > shown:
        right.suptitle(w["faces_more"].format(shown=shown, n=len(faces)), fontsize=8)
    save_figure(fig, dest)


def annotated_path(photo_path, out_dir, lang="en"):
    """PHOTO.expressions.png beside the photo or in out_dir (PHOTO.expressions.zh-TW.png in Chinese)."""
    stem = os.path.splitext(os.path.basename(photo_path))[0]
    return localized(os.path.join(out_dir or os.path.dirname(os.path.abspath(photo_path)), f"{stem}.expressions.png"),
                     lang)


def read_photo_faces(path, models, args):
    """One photo: its faces, crops, probabilities (and maps); the annotated figure written unless --json."""
    photo = read_photo(path)
    faces = find_faces(photo)
    if not faces:
        print(f"{path}: no face found")
        return {"photo": path, "faces": []}
    crops = [aligned_crop(photo, f["landmarks"]) for f in faces]
    probs = read_expressions(models, crops, args.tta)
    maps = None
    if args.saliency:
        from saliency import normalise, saliency_maps
        maps = normalise(saliency_maps(models[0], np.asarray(crops), probs.argmax(1).astype(np.int32), "vanilla"))
    for face, p in zip(faces, probs):
        face.update(expression=CLASS_NAMES[int(p.argmax())],
                    probabilities={c: round(float(v), 4) for c, v in zip(CLASS_NAMES, p)})
    result = {"photo": path, "faces": faces}
    if not args.json:
        dest = annotated_path(path, args.out, args.lang)
        draw(photo, faces, probs, crops, maps, args.lang, dest)
        result["figure"] = dest
        print(f"{path}: {len(faces)} face{'s' * (len(faces) != 1)}: "
              + ", ".join(f"{f['expression']} {max(f['probabilities'].values()):.2f}" for f in faces) + f"; wrote {dest}")
    return result


def camera(index, models, args):
    """Live: every frame's faces boxed and labelled, with the frames per second, until q or Esc."""
    try:
        import cv2
    except ImportError:
        raise UserError("--camera needs OpenCV: pip install opencv-python (into .venv)") from None
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32")):
        raise UserError("--camera: no display to show the frames on")
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise UserError(f"--camera {index}: no camera there")
    names, shown, t0 = class_words(args.lang), 0, time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        faces = find_faces(rgb)
        if faces:
            probs = read_expressions(models, [aligned_crop(rgb, f["landmarks"]) for f in faces], args.tta)
            for f, p in zip(faces, probs):
                x, y, w, h = f["box"]
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 255), 2)
                cv2.putText(frame, f"{names[p.argmax()]} {p.max():.2f}", (x, max(y - 6, 12)),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2)
        shown += 1
        cv2.putText(frame, f"{shown / (time.perf_counter() - t0):.1f} fps", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 255), 2)
        cv2.imshow("faces.py (q to quit)", frame)
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            break
    capture.release()
    cv2.destroyAllWindows()


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="photos to read (jpg, png, ... any size)")
    p.add_argument("--model", nargs="+", default=[DEFAULT_MODEL],
                   help="saved .keras model(s); several read as an ensemble (default: the shipped CNN)")
    cli.add_tta_arg(p)
    p.add_argument("--out", default=None, help="folder for the annotated images (default: beside each photo)")
    p.add_argument("--saliency", action="store_true", help="also each face's gradient map (saliency.py's)")
    p.add_argument("--json", action="store_true",
                   help="print per face the box, the five landmarks and the probabilities as JSON; no image")
    p.add_argument("--camera", type=int, metavar="N", help="read webcam N live instead of photos")
    p.add_argument("--lang", choices=("en", "zh-TW"), default="en", help="the figure's language (default: %(default)s)")
    args = p.parse_args(argv)
    if not args.photos and args.camera is None:
        p.error("give one or more photos, or --camera N")
    if args.out and not args.json:
        check_writable(args.out)
    for path in args.photos:   # every file checked before the models load
        read_photo(path, decode=False)
    from ferlib.models import load_model
    models = [load_model(path) for path in args.model]
    if args.camera is not None:
        return camera(args.camera, models, args)
    results = [read_photo_faces(path, models, args) for path in args.photos]
    if args.json:
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    sys.exit(cli.run(main))
