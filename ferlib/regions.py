"""The face's regions that questions 4 and 5 speak of: brows, eyes, nose, mouth, and the rest of the image.

"brows" is the band above the eyes together with the space between the eyes
(where drawn-together brows meet, the glabella): the brows of an angry or sad
face move there. On FER2013 the faces are aligned crops, so one map serves
every face of a split: its boxes are placed on the split's mean face, from the
eyes (the two darkest spots of the upper face) and the mouth (the darkest row
below them), so they sit on the face's parts and not on full-width bands. The
built-in synthetic faces move, turn and change size, so each face carries its
own parts, drawn by the generator in the face's own coordinates
(ferlib.synthetic.PART_BOXES). Either way a region map is an index into
REGIONS per pixel.
"""

import numpy as np

from ferlib import SIZE

REGIONS = ("rest", "brows", "eyes", "nose", "mouth")
# Half-sizes of the boxes around the landmarks found on a mean face, in pixels of a 48x48 crop: an eye is
# about 10 px wide and 5 high in FER2013's crops, the brows 4-9 px above the eye centres, the mouth 20 wide.
EYE_HALF = (3, 5)        # rows, columns
BROW_ROWS = (9, 4)       # from ey - 9 to ey - 4
MOUTH_HALF = (4, 10)
NOSE_HALF_WIDTH = 5


def mean_face_landmarks(mean_face):
    """(eye row, left eye column, right eye column, mouth row) on a 48x48 mean face.

    The eyes are the darkest 3x3-averaged spot in each half of rows 10-27, columns 8-39 (the crop's outer
    columns hold hair and background, often darker than an eye); the mouth the darkest row of the face's
    middle 13 columns from 12 rows below the eyes down. FER2013's crops are centred and upright, so these
    searches cannot mistake one part for another there.
    """
    from scipy.ndimage import uniform_filter
    m = uniform_filter(np.asarray(mean_face, np.float64), 3, mode="nearest")
    half = SIZE // 2
    upper = m[10:28]
    left = np.unravel_index(upper[:, 8:half].argmin(), upper[:, 8:half].shape)
    right = np.unravel_index(upper[:, half:SIZE - 8].argmin(), upper[:, half:SIZE - 8].shape)
    eye_row = int(round((left[0] + right[0]) / 2)) + 10
    left_col, right_col = int(left[1]) + 8, int(right[1]) + half
    centre = (left_col + right_col) // 2
    top = min(eye_row + 12, SIZE - 6)
    mouth_row = int(m[top:SIZE - 2, centre - 6:centre + 7].mean(1).argmin()) + top
    return eye_row, left_col, right_col, mouth_row


def fitted_regions(mean_face):
    """The region map (48,48) of an aligned crop, its boxes placed on the landmarks of the split's mean face."""
    ey, el, er, my = mean_face_landmarks(mean_face)
    centre = (el + er) // 2
    regions = np.zeros((SIZE, SIZE), np.uint8)

    def box(region, rows, cols):
        regions[max(rows[0], 0):min(rows[1], SIZE), max(cols[0], 0):min(cols[1], SIZE)] = region

    r = REGIONS.index
    box(r("nose"), (ey, my - MOUTH_HALF[0]), (centre - NOSE_HALF_WIDTH, centre + NOSE_HALF_WIDTH + 1))
    box(r("brows"), (ey - BROW_ROWS[0], ey - BROW_ROWS[1] + 1), (el - EYE_HALF[1] - 1, er + EYE_HALF[1] + 2))
    box(r("brows"), (ey - EYE_HALF[0], ey + EYE_HALF[0] + 1), (el + EYE_HALF[1] + 1, er - EYE_HALF[1]))
    for col in (el, er):
        box(r("eyes"), (ey - EYE_HALF[0], ey + EYE_HALF[0] + 1), (col - EYE_HALF[1], col + EYE_HALF[1] + 1))
    box(r("mouth"), (my - MOUTH_HALF[0], my + MOUTH_HALF[0] + 1), (centre - MOUTH_HALF[1], centre + MOUTH_HALF[1] + 1))
    return regions


def face_regions(data, split, n=None):
    """Region maps (n,48,48) of a split's first n faces: the generator's parts where the data has them, else
    the boxes fitted on those faces' mean face."""
    x, _ = data.split(split)
    n = len(x) if n is None else n
    if split in data.regions:
        return data.regions[split][:n]
    return np.broadcast_to(fitted_regions(x[:n].mean(0)), (n, SIZE, SIZE))


def follows_faces(data):
    """Whether the data's regions follow each face (the synthetic set) or are boxes fitted on the mean face."""
    return bool(data.regions)
