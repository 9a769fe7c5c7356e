"""The built-in synthetic face set: procedural 48x48 faces with 7 expressions.

Why it exists: the kit must run end to end (tests, the committed example
report) on a machine with no FER2013. So the faces are drawn the way real
expressions differ, from facial action units (brows raised / lowered / drawn
together / oblique, eyes wide / narrowed, mouth smile / frown / open O /
stretched / pressed, nose wrinkle, raised upper lip), on a random identity
(face shape, size, position, rotation, skin, hair, background, lighting),
then blurred and noised. Nothing about the label lives in a fixed pixel or in
the brightness: position jitter and rotation move every cue around, which is
what makes the set easy for a CNN and hard for a DNN on raw pixels.

The set is made to be about as hard as FER2013, and hard in the same places:

- class shares follow FER2013's training set (Happy 25%, Neutral 17%, Sad
  17%, Fear 14%, Angry 14%, Surprise 11%, Disgust 1.5%), with a floor of 6%
  so that every class has at least 40 faces in a 700-face split;
- each face's expression is a blend of its class and the class FER2013
  confuses it with (Disgust~Angry, Fear~Surprise or Fear~Sad, Sad~Neutral),
  at a random blend weight and a random strength from neutral: a Disgust face
  may look more like Angry than like Disgust, as real ones do;
- a share of labels (LABEL_NOISE) is wrong, as FER2013's are: flipped to the
  class's confusable partner or, for Happy, to any other class.

Every image also comes with a mask of the pixels that carry the expression
(brows, eyes, mouth, nose wrinkle): the saliency tests check that the CNN
looks there.

Everything is vectorised over the batch in float32, so a few thousand faces
take a fraction of a second.
"""

import numpy as np

from ferlib import CLASS_NAMES, SIZE

# FER2013's training shares, Angry ... Neutral (28,709 faces), and the floor that keeps
# every class at 40+ faces in a 700-face validation split.
FER2013_SHARES = np.array([3995, 436, 4097, 7215, 4830, 3171, 4965]) / 28709
SHARE_FLOOR = 0.06
LABEL_NOISE = 0.05
# The class each one is confused with, and how far a face may blend towards it (weight
# drawn from U(0, max)): past 0.5 it looks more like the partner than like its own class.
# Fear blends towards Surprise or Sad. Happy, the easiest class in FER2013, has none.
_PARTNERS = {0: (1,), 1: (0,), 2: (5, 4), 3: (), 4: (6,), 5: (2,), 6: (4,)}
_BLEND_MAX = np.array([0.35, 0.25, 0.6, 0.0, 0.55, 0.45, 0.45], dtype=np.float32)

# Action-unit parameters per class, in face pixels (scale 1). Neutral is the
# rest pose; a face of class c with strength r gets neutral + r * (c - neutral).
#   brow: up (+) / down (-) of both brows     tilt: inner ends up (+) / down (-)
#   pinch: inner ends drawn together           eye: eye opening, x neutral
#   curve: mouth corners up (+) / down (-)     width: mouth width
#   open_w, open_h: open mouth (O, stretched)  lip: raised upper lip (snarl)
#   wrinkle: nose wrinkle lines                ink: lip darkness (pressed lips)
_AU = ["brow", "tilt", "pinch", "eye", "curve", "width", "open_w", "open_h", "lip", "wrinkle", "ink"]
_CLASS_AU = np.array([
    #  brow tilt pinch eye  curve width open_w open_h lip wrinkle ink
    [-3.0, -3.0, 1.8, 0.55, -0.8, 7.0, 0.0, 0.0, 0.0, 0.0, 1.00],  # 0 Angry: lowered, together, pressed
    [-1.4, -0.3, 0.5, 0.55, -1.2, 9.0, 4.0, 2.0, 3.0, 1.0, 0.70],  # 1 Disgust: lowered, wrinkle, lip up
    [3.0, 2.6, 1.2, 1.80, -0.5, 13.0, 6.0, 2.2, 0.0, 0.0, 0.65],   # 2 Fear: raised+oblique, stretched
    [0.5, 0.0, 0.0, 0.60, 4.0, 13.0, 3.0, 1.0, 0.0, 0.0, 0.75],    # 3 Happy: smile, cheeks narrow eyes
    [0.0, 3.0, 0.6, 0.75, -3.2, 9.0, 0.0, 0.0, 0.0, 0.0, 0.70],    # 4 Sad: oblique brows, frown
    [4.5, 0.4, 0.0, 1.90, 0.0, 4.0, 4.2, 5.5, 0.0, 0.0, 0.50],     # 5 Surprise: raised, wide, open O
    [0.0, 0.0, 0.0, 1.00, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.65],     # 6 Neutral: rest pose
], dtype=np.float32)
_NEUTRAL = _CLASS_AU[6]
# Per-image wobble of every action unit, same for all classes: real faces are
# never exactly the rest pose, and this keeps the classes from being clean.
_AU_JITTER = np.array([0.45, 0.4, 0.25, 0.12, 0.4, 0.9, 0.3, 0.25, 0.1, 0.1, 0.08], dtype=np.float32)


_ZERO, _ONE = np.float32(0), np.float32(1)


def planted_pairs():
    """[(class, partner, most a face may blend towards it)]: the confusions the generator builds in."""
    return [(CLASS_NAMES[c], CLASS_NAMES[p], float(_BLEND_MAX[c])) for c, partners in _PARTNERS.items()
            for p in partners]


# Which action units draw which part (ferlib.regions.REGIONS index): brows 1, eyes 2, nose 3, mouth 4.
_AU_PART = np.array([1, 1, 1, 2, 4, 4, 4, 4, 4, 3, 4])


def expression_parts(share=0.85):
    """{class: part} for the classes whose expression the generator draws in one part of the face.

    A class qualifies when at least `share` of its change from the rest pose lies in one part by two
    measures: its action units, each over its per-face wobble (how far the change stands out), and
    the pixels of a full-strength face rendered against the neutral one (how much of the image it changes).
    """
    from ferlib.regions import REGIONS
    wobble = ((_CLASS_AU - _NEUTRAL) / _AU_JITTER) ** 2
    ident = np.array([[(lo + hi) / 2 for lo, hi in _IDENTITY.values()]] * len(CLASS_NAMES), np.float32)
    for quiet in ("noise", "light_gain"):
        ident[:, list(_IDENTITY).index(quiet)] = 0
    images, _, parts = _render(_CLASS_AU.copy(), ident, np.random.default_rng(0))
    change = (images.astype(np.float64) - images[CLASS_NAMES.index("Neutral")]) ** 2
    out = {}
    for c, name in enumerate(CLASS_NAMES):
        by_units = np.bincount(_AU_PART, wobble[c], minlength=len(REGIONS))
        by_pixels = np.bincount(parts[c].ravel(), change[c].ravel(), minlength=len(REGIONS))
        if by_units.sum() == 0:
            continue
        for r in range(1, len(REGIONS)):
            if by_units[r] >= share * by_units.sum() and by_pixels[r] >= share * by_pixels.sum():
                out[name] = REGIONS[r]
    return out


def _soft(d):
    """1 inside (d < 0), 0 outside, one-pixel anti-aliased edge."""
    d = np.float32(0.5) - d
    return np.clip(d, _ZERO, _ONE, out=d)


def _norm(x, y):
    return np.sqrt(x * x + y * y)  # np.hypot is 10x slower here


def fer2013_shares(floor=SHARE_FLOOR):
    """FER2013's class shares, each raised to at least `floor` (the others scaled down to make room)."""
    low = FER2013_SHARES < floor
    shares = FER2013_SHARES.copy()
    shares[low] = floor
    shares[~low] *= (1 - floor * low.sum()) / FER2013_SHARES[~low].sum()
    return shares


def class_counts(n, shares=None):
    """n split over the classes by `shares` (default: equal), rounded so that the counts sum to n."""
    shares = np.full(len(CLASS_NAMES), 1 / len(CLASS_NAMES)) if shares is None else np.asarray(shares)
    counts = np.floor(n * shares).astype(int)
    rest = n * shares - counts
    counts[np.argsort(-rest, kind="stable")[:n - counts.sum()]] += 1   # largest remainders first
    return counts


def synthetic_faces(n, seed=0, shares=None, label_noise=0.0, strength=(0.35, 1.0), parts=False):
    """Return (images uint8 (n,48,48), labels int64 (n,), masks bool (n,48,48)), and with parts=True
    also each face's parts (uint8 (n,48,48): an index into ferlib.regions.REGIONS per pixel).

    Class counts follow `shares` (default: equal), shuffled. A share
    `label_noise` of the labels is then flipped (see the module docstring),
    drawn from a stream of its own: the same seed with label_noise=0 gives the
    same images with their true labels. Same arguments give identical bytes.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(CLASS_NAMES)), class_counts(n, shares))).astype(np.int64)
    # Expression: the class's action units blended towards its partner's, at a random strength, plus wobble.
    partner = np.array([rng.choice(_PARTNERS[c]) if _PARTNERS[c] else c for c in labels])
    blend = (rng.uniform(0, 1, (n, 1)) * _BLEND_MAX[labels][:, None]).astype(np.float32)
    target = (1 - blend) * _CLASS_AU[labels] + blend * _CLASS_AU[partner]
    r = rng.uniform(*strength, (n, 1)).astype(np.float32)
    au = _NEUTRAL + r * (target - _NEUTRAL)
    au += rng.normal(0, 1, au.shape).astype(np.float32) * _AU_JITTER
    # Identity, pose and camera: one row of scalars per image.
    ident = np.stack([rng.uniform(lo, hi, n) for lo, hi in _IDENTITY.values()], 1).astype(np.float32)
    images = np.empty((n, SIZE, SIZE), np.uint8)
    masks = np.empty((n, SIZE, SIZE), bool)
    regions = np.empty((n, SIZE, SIZE), np.uint8)
    # Render in chunks: small temporaries stay in cache and are not re-faulted
    # from the OS on every operation (3x faster than one big batch).
    for i in range(0, n, 256):
        images[i:i + 256], masks[i:i + 256], regions[i:i + 256] = _render(au[i:i + 256], ident[i:i + 256], rng)
    out = images, noisy_labels(labels, label_noise, seed), masks
    return out + (regions,) if parts else out


def noisy_labels(labels, rate, seed):
    """A share `rate` of labels flipped: to the class's confusable partner, or (Happy) to any other class."""
    if not rate:
        return labels
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])   # a stream apart from the images'
    flip = np.flatnonzero(rng.random(len(labels)) < rate)
    out = labels.copy()
    for i in flip:
        c = labels[i]
        others = _PARTNERS[c] or tuple(k for k in range(len(CLASS_NAMES)) if k != c)
        out[i] = rng.choice(others)
    return out


# Identity, pose and camera ranges (uniform), in pixels unless stated.
_IDENTITY = {
    "cx": (18, 30), "cy": (19, 31), "scale": (1.15, 1.4), "tilt_deg": (-12, 12),
    "face_a": (12.5, 15.5), "face_b": (16.5, 19.5), "hairline": (-19, -10),
    "skin": (120, 205), "background": (15, 235), "hair_tone": (15, 90),
    "contrast": (0.8, 0.95), "light_dir": (0, 2 * np.pi), "light_gain": (0, 0.35), "noise": (2, 7),
}


def _render(au, ident, rng):
    f32 = np.float32
    brow, tilt, pinch, eye, curve, width, open_w, open_h, lip, wrinkle, ink = (
        au[:, i, None, None] for i in range(len(_AU)))
    eye = np.maximum(eye, f32(0.3))
    (cx, cy, scale, tilt_deg, face_a, face_b, hairline, skin, background, hair_tone,
     contrast, light_dir, light_gain, noise) = (ident[:, i, None, None] for i in range(len(_IDENTITY)))

    # Face coordinates: u right, v down, origin at the face centre, unscaled.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(f32)
    dx, dy = xx[None] - cx, yy[None] - cy
    theta = np.deg2rad(tilt_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    fu = (dx * cos + dy * sin) / scale
    fv = (-dx * sin + dy * cos) / scale
    au_ = np.abs(fu)                     # faces are symmetric: draw one side

    # Head, hair and background.
    head = _soft((_norm(fu / face_a, fv / face_b) - 1) * face_a)
    hair = _soft(fv - hairline) * _soft((_norm(fu / (face_a + 2), fv / (face_b + 2)) - 1) * face_a)
    img = background + head * (skin - background)
    img = img + hair * (hair_tone - img)

    # Features, as darkness ("ink") in [0, 1]; their union is the mask.
    # Brows: a thick segment from the inner to the outer end, per side.
    bi_u, bo_u = 2.4 - pinch * 0.6, 9.0
    bi_v = -7.5 - brow - tilt
    bo_v = -7.5 - brow + tilt * 0.4
    su, sv = bo_u - bi_u, bo_v - bi_v
    t = np.clip(((au_ - bi_u) * su + (fv - bi_v) * sv) / (su * su + sv * sv), _ZERO, _ONE)
    brows = _soft(_norm(au_ - bi_u - t * su, fv - bi_v - t * sv) - 1.5)
    # Eyes: dark ellipses whose height is the eye opening.
    eyes = _soft((_norm((au_ - 5.5) / 2.6, (fv + 3.0) / (1.3 * eye)) - 1) * 2.0 * eye)
    # Mouth: a lip line (curved: smile / frown; arched: raised upper lip) and
    # an opening (O for surprise, stretched for fear, a gap for disgust).
    mouth_v = 8.5 + 0.5 * open_h
    half_w = width / 2
    x2 = np.minimum((fu / np.maximum(half_w, f32(1))) ** 2, _ONE)
    line_v = mouth_v - curve * x2 - lip * 1.6 * (1 - x2)
    lips = _soft(np.abs(fv - line_v) - 1.0 - 0.3 * ink) * _soft(au_ - half_w) * ink
    open_w, open_h = np.maximum(open_w, f32(0.3)), np.maximum(open_h, f32(0.3))
    opening = _soft((_norm(fu / open_w, (fv - mouth_v) / open_h) - 1) * np.minimum(open_w, open_h))
    mouth = np.maximum(lips, opening * (open_h > 0.5))
    # Nose: a soft shade for everyone, wrinkle lines for disgust.
    nose = _soft(_norm(fu / 1.3, (fv - 3.0) / 2.2) - 1) * f32(0.35)
    wrinkles = (_soft(np.abs(fv + 0.2) - 0.45) + _soft(np.abs(fv - 1.6) - 0.45)) \
        * _soft(np.abs(au_ - 3.0) - 1.3) * np.clip(wrinkle, _ZERO, _ONE)
    features = np.maximum.reduce([brows, eyes, mouth, wrinkles])
    img = img - (np.maximum(features, nose) * head) * contrast * img

    # Camera: lighting gradient, blur, noise (uniform with unit variance: 3x
    # cheaper to draw than a normal, and nobody can tell at this size).
    img = img * (1 + light_gain * ((xx - 24) * np.cos(light_dir) + (yy - 24) * np.sin(light_dir)) / 24)
    img = _blur(img)
    img += (rng.random(img.shape, dtype=f32) - f32(0.5)) * f32(12 ** 0.5) * noise
    images = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return images, _dilate(features * head > 0.2), _parts(fu, fv)


# Each part's box in face units (u right, v down from the face centre), spanning where _render draws that
# part's features at any strength: the brows (inner ends from v -13.9 raised to 0 lowered, between the eyes
# when drawn together) above the eyes (down to v -0.5 wide open, out to |u| 8.1); the nose shade and
# wrinkles; the mouth from a smile's corners (v 3.8) to the bottom of a wide-open O (v 16.8). Where two
# parts meet, the boundary goes where the fainter one (the nose shade) fades.
EYES_V, EYES_U = (-5.5, -0.5), (2.8, 9.0)
PART_BOXES = {1: (-14.0, EYES_V[0], 12.0), 3: (-0.5, 3.8, 4.5), 4: (3.8, 17.0, 9.0)}   # region: (v from, v to, |u| to)


def _parts(fu, fv):
    """Each pixel's part of its own face (ferlib.regions.REGIONS order; 0 = the rest), following pose and scale:
    brows 1 (above the eyes, and between them), eyes 2, nose 3, mouth 4."""
    parts = np.zeros(fu.shape, np.uint8)
    for region, (top, bottom, half) in PART_BOXES.items():
        parts[(fv >= top) & (fv < bottom) & (np.abs(fu) <= half)] = region
    eye_rows = (fv >= EYES_V[0]) & (fv < EYES_V[1])
    parts[eye_rows & (np.abs(fu) < EYES_U[0])] = 1
    parts[eye_rows & (np.abs(fu) >= EYES_U[0]) & (np.abs(fu) <= EYES_U[1])] = 2
    return parts


def _blur(img):
    """[1 2 1]/4 separable blur with edge padding: a camera that is not a pinhole."""
    p = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
    p = (p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]) / 4
    return (p[:, :, :-2] + 2 * p[:, :, 1:-1] + p[:, :, 2:]) / 4


def _dilate(mask):
    """Grow a boolean mask by one pixel (3x3), so blurred feature edges count."""
    p = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros_like(mask)
    for dy in range(3):
        for dx in range(3):
            out |= p[:, dy:dy + SIZE, dx:dx + SIZE]
    return out
