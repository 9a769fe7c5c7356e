"""The face's regions the report's saliency and occlusion answers speak of: brows and eyes, nose, mouth, the rest.

On FER2013 the faces are aligned crops, so one fixed box per part serves
every face. The built-in synthetic faces move, turn and change size, so each
face carries its own parts, drawn by the generator in the face's own
coordinates (ferlib.synthetic.PART_BOXES). Either way a region map is an
index into REGIONS per pixel.
"""

import numpy as np

from ferlib import SIZE

REGIONS = ("rest", "brows and eyes", "nose", "mouth")
# Boxes on an aligned 48x48 FER2013 crop (rows, then columns, end excluded): the brows and eyes
# sit in rows 10-24, the nose between the eyes' lower edge and the upper lip, the mouth below it.
FIXED_BOXES = {1: ((10, 25), (5, 43)), 2: ((25, 33), (16, 32)), 3: ((33, 46), (12, 36))}


def fixed_regions():
    """The region map (48,48) of an aligned crop."""
    regions = np.zeros((SIZE, SIZE), np.uint8)
    for region, ((top, bottom), (left, right)) in FIXED_BOXES.items():
        regions[top:bottom, left:right] = region
    return regions


def face_regions(data, split, n=None):
    """Region maps (n,48,48) of a split's first n faces: the generator's parts where the data has them."""
    x, _ = data.split(split)
    n = len(x) if n is None else n
    if split in data.regions:
        return data.regions[split][:n]
    return np.broadcast_to(fixed_regions(), (n, SIZE, SIZE))


def follows_faces(data):
    """Whether the data's regions follow each face (the synthetic set) or are fixed boxes."""
    return bool(data.regions)
