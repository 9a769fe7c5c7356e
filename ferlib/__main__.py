"""`python -m ferlib`: what the Makefile asks before anything is installed (standard library only).

    python -m ferlib                          the data file the scripts use by default (empty: built-in faces)
    python -m ferlib stamp FILE TRAINER ARGS  write FILE with the training code's fingerprint and ARGS, only
                                              when that differs from what FILE holds: make retrains when it does
"""

import os
import sys

from ferlib import default_data_path, training_code_fingerprint

if sys.argv[1:2] == ["stamp"]:
    dest, trainer, *args = sys.argv[2:]
    text = f"{training_code_fingerprint(trainer)} {' '.join(args)}\n"
    try:
        with open(dest) as f:
            same = f.read() == text
    except OSError:
        same = False
    if not same:
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        with open(dest + ".tmp", "w") as f:
            f.write(text)
        os.replace(dest + ".tmp", dest)
else:
    print(default_data_path() or "")
