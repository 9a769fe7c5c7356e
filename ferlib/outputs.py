"""Writing results so that a failing run never damages what an earlier one wrote.

Every file goes to a temporary name in the same folder first and is renamed
over the destination only when complete (a rename is atomic on one file
system).
"""

import contextlib
import errno
import functools
import importlib
import json
import logging
import os
import platform
import shlex
import subprocess
import time
import sys

import numpy as np

from ferlib import UserError


@contextlib.contextmanager
def atomic_path(dest):
    """Yield a temporary path beside dest (same extension); rename it to dest on success."""
    folder, base = os.path.split(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(base)
    tmp = os.path.join(folder, f".{stem}.tmp{os.getpid()}{ext}")
    _remove_orphans(folder, stem, ext)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_together(writes):
    """The outputs of one step, all renamed into place at the end, or none.

    writes: [(destination, writer)]; each writer(temporary path) writes its file. A full disk or an
    unwritable folder met while writing any of them leaves every earlier output as it was.
    """
    with contextlib.ExitStack() as stack:
        for dest, write in writes:
            write(stack.enter_context(atomic_path(dest)))


def check_writable(folder):
    """folder, or the nearest folder above it that exists, can be written: checked before a step's work.

    Nothing is created here, so a step refused later for another reason leaves no trace.
    """
    path = os.path.abspath(folder)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise UserError(f"{folder}: cannot write there ({path} is a file, not a folder)")
    if not os.access(path, os.W_OK):   # the machine's state, not a mistake in the input: exit 1 (cli.run)
        raise PermissionError(errno.EACCES, "cannot write there (no write permission, or a read-only disk)", folder)


def _remove_orphans(folder, stem, ext):
    """Temporary files of dest that a killed process left behind (their PID is no longer running)."""
    prefix = f".{stem}.tmp"
    for name in os.listdir(folder):
        pid = name[len(prefix):-len(ext) or None] if name.startswith(prefix) and name.endswith(ext) else ""
        if pid.isdigit() and not _running(int(pid)):
            try:
                os.remove(os.path.join(folder, name))
            except OSError:
                pass


def _running(pid):
    if os.name == "nt":   # there os.kill(pid, 0) would end the process, not probe it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # another user's process, or a system that cannot tell: leave its file alone
        return True
    return True


def analysis_paths(model_path, figures_dir, what):
    """Where an analysis of model_path writes: (figure prefix, JSON beside the model).

    models/cnn.keras + "confusion" -> ("figures/cnn_confusion", "models/cnn.confusion.json")
    """
    stem = os.path.splitext(os.path.basename(model_path))[0]
    return (os.path.join(figures_dir, f"{stem}_{what}"),
            os.path.join(os.path.dirname(model_path) or ".", f"{stem}.{what}.json"))


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def save_json(obj, dest):
    with atomic_path(dest) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, default=_jsonable)
            f.write("\n")


def load_json(path):
    with open(path) as f:
        return json.load(f)


# Figures are printed in a report: at most PAGE_WIDTH inches wide at DPI, no text under MIN_FONT points.
PAGE_WIDTH, DPI, MIN_FONT = 6.5, 200, 8


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (scripts run on machines with no screen), 8-9 pt text.

    Latin text is set in DejaVu Sans as usual; Chinese characters fall back, glyph by glyph, to the
    CJK font that cjk_font() finds.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cjk = cjk_font()
    # The CJK font mplfonts ships has one weight: bold Chinese titles are set regular, which matplotlib
    # would announce on stderr once per figure run ("Failed to find font weight bold").
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8,
                         "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10,
                         "font.family": ["DejaVu Sans"] + ([cjk] if cjk else [])})
    return plt


# Fonts with Traditional Chinese glyphs, by family name, in order of preference: Noto/Source Han
# (Linux), PingFang and Heiti (macOS), JhengHei (Windows); then the Noto Sans CJK SC that the mplfonts
# package (requirements.txt) installs, which covers Traditional characters too.
CJK_FAMILIES = ("Noto Sans CJK TC", "Noto Sans TC", "Source Han Sans TC", "Source Han Sans TW", "PingFang TC",
                "Heiti TC", "Microsoft JhengHei", "Noto Sans CJK JP", "Noto Sans CJK SC", "Source Han Sans SC",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei")


@functools.cache
def cjk_font():
    """The family name of a font that draws Traditional Chinese, registered with matplotlib; None if none."""
    import glob
    from matplotlib import font_manager
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    try:
        import mplfonts
    except ImportError:
        return None
    for path in sorted(glob.glob(os.path.join(os.path.dirname(mplfonts.__file__), "fonts", "NotoSansCJK*.otf"))):
        font_manager.fontManager.addfont(path)
        return font_manager.FontProperties(fname=path).get_name()
    return None


def figure_languages():
    """The languages figures are drawn in: English, and Traditional Chinese when a CJK font is at hand."""
    return ("en", "zh-TW") if cjk_font() else ("en",)


def localized(path, lang):
    """A figure's file in lang: figures/x.png in English, figures/x.zh-TW.png in Traditional Chinese."""
    stem, ext = os.path.splitext(path)
    return path if lang == "en" else f"{stem}.{lang}{ext}"


def figure_paths(path):
    """(language, file) for each language the figure is drawn in."""
    return [(lang, localized(path, lang)) for lang in figure_languages()]


def smallest_font(fig):
    """The smallest size (pt) of any visible, non-empty text in the figure."""
    from matplotlib.text import Text
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) if sizes else None


def save_figure(fig, dest, dpi=DPI):
    """Save at print resolution, its smallest font size stored in the PNG ("Smallest font (pt)") for checks."""
    import matplotlib.pyplot as plt
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", pad_inches=0.03,
                    metadata={"Smallest font (pt)": f"{smallest_font(fig)}"})
    plt.close(fig)


def finish_record(record, t0, script, argv):
    """Stamp a run's record with its command, wall time and provenance, just before it is saved."""
    argv = sys.argv[1:] if argv is None else list(argv)
    record["wall_seconds"] = round(time.perf_counter() - t0, 2)
    record["peak_rss_mib"] = peak_rss_mib()
    record["environment"] = environment()
    record["environment"]["command"] = shlex.join(["python", os.path.basename(script)] + [str(a) for a in argv])
    record["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return record


def peak_rss_mib():
    """This process's peak resident memory so far (Linux and macOS report it in different units)."""
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2 ** 20 if sys.platform == "darwin" else 2 ** 10), 1)


@functools.cache
def git_state():
    """(short commit, dirty) of the kit's checkout, read once per process: a run's record names the code the
    process started with, not a commit made while it trained. Training reads it at start (train.setup)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=here, timeout=5).stdout.strip()
        # Tracked files changed since that commit, the kit's own outputs (figures, reports) aside:
        # the run's code or data lookup is not exactly the commit's.
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                     ":(top,exclude)figures", ":(top,exclude)report*", ":(top,exclude)docs/fer2013"],
                                    capture_output=True, text=True, timeout=5, cwd=here).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return commit, dirty


def environment():
    """Library versions, machine and git commit: the provenance every record carries."""
    import keras
    import sklearn

    from ferlib.machine import cpu_name, gpus
    commit, dirty = git_state()
    backend = keras.backend.backend()
    gpu_names = gpus()
    return {
        "python": platform.python_version(), backend: importlib.import_module(backend).__version__,
        "keras": keras.__version__,
        "numpy": np.__version__, "scikit-learn": sklearn.__version__,
        "machine": f"{cpu_name()}, {os.cpu_count()} cores" + (f", GPUs: {', '.join(gpu_names)}" if gpu_names else ""),
        "git_commit": commit, "git_dirty": dirty,
    }

