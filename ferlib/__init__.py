"""ferlib: the small helper package the FER2013 kit's scripts share.

This file imports nothing but the standard library, so the Makefile can ask
it where the data is (`python3 -m ferlib`) before any package is installed.
"""

import hashlib
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


# The files whose contents decide what a trainer computes (beside the trainer itself): an edit of any of
# them is a change to training. The report's words, the analyses and the figures' looks are not in it,
# so editing them retrains nothing (the Makefile's stamps and a trainer's reuse of a finished run).
TRAINING_CODE = ("ferlib/__init__.py", "ferlib/batches.py", "ferlib/callbacks.py", "ferlib/data.py",
                 "ferlib/fused_bn.py", "ferlib/losses.py", "ferlib/machine.py", "ferlib/models.py",
                 "ferlib/synthetic.py", "ferlib/tf_setup.py", "ferlib/train.py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def training_code_fingerprint(trainer):
    """A short hash of the trainer script's and TRAINING_CODE's contents (not their dates)."""
    h = hashlib.sha256()
    for rel in (os.path.basename(trainer),) + TRAINING_CODE:
        with open(os.path.join(ROOT, rel), "rb") as f:
            h.update(rel.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:12]


class UserError(Exception):
    """A mistake the user can fix (bad file, bad flag, full disk): one line, exit 2, no traceback."""


def default_data_path():
    """The first of DEFAULT_DATA that exists (relative to the working folder), or None."""
    return next((p for p in DEFAULT_DATA if os.path.exists(p)), None)
