"""ferlib: the small helper package the FER2013 kit's scripts share.

This file imports nothing but the standard library, so the Makefile can ask
it where the data is (`python3 -m ferlib`) before any package is installed.
"""

import os

CLASS_NAMES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
SIZE = 48   # FER2013 faces are SIZE x SIZE grayscale
TTA_VIEWS = (1, 2, 10, 18)   # test-time views predict.py and confusion.py offer (ferlib.models.view_shifts)
# Reduce-on-plateau (--plateau) as the best published single FER2013 CNN ran it (Khaireddin & Chen 2021: SGD
# with Nesterov momentum, the rate times 0.75 after 5 epochs without a better validation accuracy).
PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.75, 5

# Where the scripts look for FER2013 when no --data is given, in this order;
# without any of them they use the built-in synthetic faces.
DEFAULT_DATA = ("data/fer2013.csv", "data/fer2013.csv.gz", "data/train.csv", "data/train.csv.gz", "data/fer2013")


class UserError(Exception):
    """A mistake the user can fix (bad file, bad flag, full disk): one line, exit 2, no traceback."""


def default_data_path():
    """The first of DEFAULT_DATA that exists (relative to the working folder), or None."""
    return next((p for p in DEFAULT_DATA if os.path.exists(p)), None)
