"""What every script's command line shares: common flags and clean errors."""

import argparse
import os
import sys

from ferlib import TTA_VIEWS, UserError


def parser(description):
    """An argparse parser whose --help shows the script's docstring and defaults."""
    return argparse.ArgumentParser(description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_data_args(p, trainer=False):
    p.add_argument("--data", default=None,
                   help="FER2013 as fer2013.csv (emotion,pixels,Usage), train.csv (label,feature), "
                        "either gzipped, or a folder of class-named image folders; 'synthetic' for the "
                        "built-in faces. Default: data/fer2013.csv, then data/train.csv, then synthetic.")
    if trainer:
        p.add_argument("--split-seed", type=int, default=0,
                       help="draws the 10%% validation split of a file without a Usage column (HW3's train.csv, "
                            "image folders without val/); the run record states it, and every script that "
                            "scores the model reads it from there (default: %(default)s)")
    else:
        p.add_argument("--split-seed", type=int, default=None,
                       help="the validation split of a file without a Usage column: by default the one the "
                            "model's run record (MODEL.json) names, else 0; a value that disagrees with the "
                            "record is refused")


def add_seed_arg(p, what):
    p.add_argument("--seed", type=int, default=0, help=f"random seed of {what} (default: %(default)s)")


def add_model_arg(p, default="models/cnn.keras", several=False):
    if several:   # an ensemble: the mean of the models' class probabilities (ferlib.models.ensemble_probs)
        p.add_argument("--model", nargs="+", default=[default],
                       help="saved .keras model(s); several predict as an ensemble, the mean of their class "
                            "probabilities (default: %(default)s)")
    else:
        p.add_argument("--model", default=default, help="a saved .keras model (default: %(default)s)")


def add_split_arg(p, what, choices=("val", "test", "train")):
    p.add_argument("--split", choices=choices, default=None,
                   help=f"split {what} (default: test when the data has a labelled test split, else val)")


def add_figures_arg(p, where="the figures go"):
    p.add_argument("--figures-dir", default="figures", help=f"where {where} (default: %(default)s)")


def add_tta_arg(p):
    p.add_argument("--tta", type=int, nargs="?", const=2, default=1, choices=TTA_VIEWS, metavar="VIEWS",
                   help="average each prediction over test-time views: 2 (also plain --tta) the image and its "
                        "mirror; 10 also the four 2-pixel corner shifts of both; 18 all nine shifts; "
                        "1 = off (default: %(default)s)")


def run(main, argv=None):
    """Call main(argv) and return the exit status: 0; 2 with one line on stderr for a user's mistake
    (UserError); 1 with one line for the machine's state (OSError: a full disk, an unwritable folder)."""
    prog = os.path.basename(sys.argv[0])
    try:
        main(argv)
        return 0
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:   # a full disk, a folder that cannot be written: the machine's state, not the input's
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"{prog}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
