"""Where does the model look? Saliency maps (report question 4).

For each chosen face, the gradient of its class score with respect to the
input pixels says which pixels would change the score most. Three methods:

  vanilla     |d logit / d pixel|, one backward pass for the whole batch
  smoothgrad  the same averaged over noisy copies of each face: less speckle
  gradcam     Grad-CAM on the last conv layer: coarse, but shows the regions

The score is the pre-softmax logit, not the probability: a confident
softmax saturates and its gradient vanishes exactly where the model is surest.

Each method is a few lines of GradientTape over a batch of faces, written
out here so that a reader sees exactly what is differentiated.

Writes figures/<model>_saliency.png (face, heat map, overlay per method, and
the thresholded "where it looks" mask), figures/<model>_saliency_mean.png
(mean map per class), and models/<model>.saliency.json. On the built-in
synthetic set it also measures how much of the saliency falls on the pixels
that carry the expression. For each confusion (a class taken for another,
on CUE_FACES faces or more) it measures which part of the face the wrong
answer rests on: hiding which region lowers that answer's probability most
(report question 3).

    python saliency.py                          # one correctly classified face per class
    python saliency.py --method gradcam --index 3 17 42
"""

import argparse
import itertools
import sys
import time
from functools import partial

import numpy as np

from ferlib import CLASS_NAMES, SIZE, cli
from ferlib.data import UserError
from ferlib.records import load_for_models
from ferlib.models import conv_layers, load_model, logits_model, predict_probs, randomised
from ferlib.outputs import (analysis_paths, check_writable, figure_paths, finish_record, pyplot, save_figure,
                            save_json, write_together)
from ferlib.regions import REGIONS, face_regions, follows_faces, mean_face_landmarks
from ferlib.words import FIGURE_WORDS, REGION_WORDS, class_words, spaced, split_word

METHODS = ("vanilla", "smoothgrad", "gradcam")
SMOOTH_SAMPLES, SMOOTH_NOISE = 16, 0.15 * 255   # SmoothGrad: copies per face, noise std in pixels
CHUNK = 256   # images per gradient pass: batched, but within memory for any split size


def vanilla_saliency(model, x, classes):
    """|d class logit / d pixel| for each face: (N,48,48), one backward pass per chunk of faces."""
    import tensorflow as tf
    score = logits_model(model)

    # Compiled once per call (the signature fits every chunk): 2.4x faster than eager here.
    @tf.function(input_signature=[tf.TensorSpec((None, SIZE, SIZE, 1)), tf.TensorSpec((None,), tf.int32)])
    def gradients(faces, labels):
        with tf.GradientTape() as tape:
            tape.watch(faces)
            logits = tf.cast(score(faces, training=False), tf.float32)
            total = tf.reduce_sum(logits * tf.one_hot(labels, len(CLASS_NAMES)))
        return tf.abs(tape.gradient(total, faces))

    return np.concatenate([gradients(x[i:i + CHUNK, :, :, None].astype(np.float32), classes[i:i + CHUNK])
                           .numpy()[..., 0] for i in range(0, len(x), CHUNK)])


def smoothgrad_saliency(model, x, classes, samples=SMOOTH_SAMPLES, seed=0):
    """Vanilla saliency averaged over `samples` noisy copies of each face (Smilkov et al. 2017)."""
    rng = np.random.default_rng(seed)
    noisy = x[None].astype(np.float32) + rng.normal(0, SMOOTH_NOISE, (samples,) + x.shape).astype(np.float32)
    maps = vanilla_saliency(model, noisy.reshape((-1,) + x.shape[1:]), np.tile(classes, samples))
    return maps.reshape((samples,) + x.shape).mean(0)


def gradcam(model, x, classes, layer=None):
    """Grad-CAM (Selvaraju et al. 2017): a conv layer's maps weighted by their mean gradient, ReLU, to 48x48.

    The layer defaults to the last conv layer; its maps and the logits come
    from one model, so the gradient flows through the very tensor shown.
    """
    import keras
    import tensorflow as tf
    both = keras.Model(model.inputs[0], [model.get_layer(layer or last_conv(model)).output,
                                         logits_model(model).outputs[0]])
    cams = []
    for i in range(0, len(x), CHUNK):
        faces = tf.constant(x[i:i + CHUNK, :, :, None], tf.float32)
        with tf.GradientTape() as tape:
            maps, logits = both(faces, training=False)
            total = tf.reduce_sum(tf.cast(logits, tf.float32) * tf.one_hot(classes[i:i + CHUNK], len(CLASS_NAMES)))
        weights = tf.reduce_mean(tf.cast(tape.gradient(total, maps), tf.float32), axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * tf.cast(maps, tf.float32), -1, keepdims=True))
        cams.append(tf.image.resize(cam, x.shape[1:3], "bilinear").numpy()[..., 0])
    return np.concatenate(cams)


def last_conv(model):
    """Grad-CAM's layer, or a UserError for a model without conv layers."""
    convs = conv_layers(model)
    if not convs:
        raise UserError(f"{model.name}: Grad-CAM needs a conv layer and this model has none "
                        "(a DNN?): use --method vanilla or smoothgrad")
    return convs[-1].name


def saliency_maps(model, x, classes, method, seed=0):
    """Maps (N,48,48) of one method for faces x (uint8 (N,48,48)) and the classes to explain."""
    classes = np.asarray(classes, np.int32)
    if method == "vanilla":
        return vanilla_saliency(model, x, classes)
    if method == "smoothgrad":
        return smoothgrad_saliency(model, x, classes, seed=seed)
    return gradcam(model, x, classes)


def normalise(maps):
    """Each map scaled to [0, 1] by its own maximum, for display and comparison."""
    m = maps.reshape(len(maps), -1)
    return (maps / np.maximum(m.max(1), 1e-12)[:, None, None]).astype(np.float32)


def pick_faces(y, pred):
    """Default faces: the first correctly classified one of each class (any one if none is), then the first
    misclassified face, if there is one: what the model looked at when it erred."""
    idx = []
    for c in range(len(CLASS_NAMES)):
        right = np.flatnonzero((y == c) & (pred == c))
        idx += list((right if len(right) else np.flatnonzero(y == c))[:1])
    wrong = np.flatnonzero(y != pred)
    return np.array(idx + list(wrong[:1]), int)


def plot_maps(x, y, pred, maps, methods, split, gradcam_layer, lang, dest):
    """One column per face: the face, then its map overlaid per method; one colour map, one colour bar."""
    plt = pyplot()
    w, names = FIGURE_WORDS[lang], class_words(lang)
    fig, axes = plt.subplots(1 + len(methods), len(x), figsize=(6.5, 0.72 * (1 + len(methods)) + 0.6),
                             squeeze=False, layout="constrained")
    for c in range(len(x)):
        axes[0, c].imshow(x[c], cmap="gray", vmin=0, vmax=255)
        wrong = y[c] != pred[c]
        axes[0, c].set_title(names[y[c]] + (f"\n→ {names[pred[c]]}" if wrong else f"\n{w['right']}"),
                             fontsize=8, color="firebrick" if wrong else "black")
        for r, m in enumerate(methods, 1):
            axes[r, c].imshow(x[c], cmap="gray", vmin=0, vmax=255)
            im = axes[r, c].imshow(maps[m][c], cmap="inferno", alpha=0.6, vmin=0, vmax=1)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel(w["face"], fontsize=8)
    for r, m in enumerate(methods, 1):
        axes[r, 0].set_ylabel(w[f"method_{m}"], fontsize=8)
    layer = w["gradcam_at"].format(layer=gradcam_layer) if gradcam_layer and "gradcam" in methods else ""
    fig.suptitle(w["saliency_title"].format(split=split, layer=layer))
    fig.colorbar(im, ax=axes[1:, :].ravel().tolist(), fraction=0.02, pad=0.01, label=w["saliency_scale"])
    save_figure(fig, dest)


def plot_relative_maps(relative, overall, counts, mean_face, region_share, split, lang, dest):
    """The mean face with the regions drawn on it, the mean map over all faces, then each class's mean map over
    all faces' mean map (relative_maps) on one shared log scale, red where the class draws more; regions outlined."""
    from matplotlib.colors import LogNorm
    plt = pyplot()
    w, names = FIGURE_WORDS[lang], class_words(lang)
    fig, axes = plt.subplots(2, 5, figsize=(6.5, 3.3), layout="constrained")
    axes = axes.ravel()
    # Colours that stand out from a red-blue map, from inferno and from a gray face.
    colours = {"brows": "gold", "eyes": "lime", "nose": "magenta", "mouth": "cyan"}

    def outline(ax, lw):
        # Where a part lies in at least half as many faces as at its most common place: on aligned crops its
        # box; on faces that move, the middle of where it goes (a small part may be under half the faces anywhere).
        for r, name in enumerate(REGIONS):
            if name in colours and region_share[r].max() > 0:
                ax.contour(region_share[r], levels=[region_share[r].max() / 2], colors=colours[name], linewidths=lw)

    axes[0].imshow(mean_face, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title(w["mean_face"], fontsize=8)
    axes[1].imshow(overall, cmap="inferno", vmin=0)
    axes[1].set_title(w["all_faces_map"], fontsize=8)
    for ax in axes[:2]:
        outline(ax, 1.0)
    handles = [plt.Line2D([], [], color=c, label=REGION_WORDS[lang][n]) for n, c in colours.items()]
    norm = LogNorm(vmin=0.5, vmax=2)
    for c, ax in enumerate(axes[2:9]):
        if relative[c] is None:
            ax.text(0.5, 0.5, w["no_faces"], ha="center", va="center", fontsize=8)
            ax.set_box_aspect(1)
        else:
            im = ax.imshow(np.clip(relative[c], 0.5, 2), cmap="RdBu_r", norm=norm)
            outline(ax, 0.8)
        ax.set_title(f"{names[c]} (n={counts[c]})", fontsize=8)
    axes[9].axis("off")
    axes[9].legend(handles=handles, loc="center", fontsize=8, frameon=False, handlelength=1.2)
    for ax in axes[:9]:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(spaced(w["relative_title"].format(split=split)))
    if any(m is not None for m in relative):
        bar = fig.colorbar(im, ax=axes[2:9].tolist(), fraction=0.03, pad=0.01, label=w["relative_scale"])
        bar.set_ticks([0.5, 0.71, 1, 1.41, 2], labels=["0.5", "0.7", "1", "1.4", "2"])
        bar.minorticks_off()
    save_figure(fig, dest)


# ---------------------------------------------------------------- where the CNN looks, measured
#
# Every map of this network, trained or not, is brighter near the middle of the image (where faces are, and
# where zero padding leaves the most paths), so a region's raw share of saliency says mostly where it sits.
# A class is read against all faces instead: its faces' mean map over all faces' mean map, region by region
# (what this class's faces draw beyond any face; the centre bias cancels), and what hiding each region
# costs its true class (the split's mean face pasted over it).

BOOTSTRAP = 1000      # resamples of the faces for every interval
CUE_FACES = 10        # faces a confusion needs for its cue to be measured: fewer give intervals wider than the drops


def region_scores(maps, regions):
    """(N, regions) saliency per pixel of each region over the map's mean per pixel (1 = no preference,
    whatever the region's area); NaN where a face has no pixel of the region."""
    flat = maps.reshape(len(maps), -1).astype(np.float64)
    where = np.broadcast_to(regions, maps.shape).reshape(len(maps), -1)
    mean = flat.mean(1) + 1e-12
    out = np.full((len(maps), len(REGIONS)), np.nan)
    for r in range(len(REGIONS)):
        inside = where == r
        area = inside.sum(1)
        out[:, r] = np.where(area > 0, (flat * inside).sum(1) / np.maximum(area, 1) / mean, np.nan)
    return out


def resamples(n, seed=0):
    """BOOTSTRAP resamples of n faces (row 0 is the faces themselves, for the point estimate)."""
    idx = np.random.default_rng(seed).integers(0, n, (BOOTSTRAP + 1, n))
    idx[0] = np.arange(n)
    return idx


def interval(values):
    """Point estimate (row 0) and 95% percentile interval (the other rows) of bootstrapped values (B+1, R)."""
    lo, hi = np.nanpercentile(values[1:], [2.5, 97.5], axis=0)
    return values[0], lo, hi


def relative_saliency(scores, rows, seed=0):
    """Per region: the mean score of the faces `rows` over the mean score of all faces (1: no more than any
    face draws there), with a 95% interval over resamples of those faces."""
    overall = np.nanmean(scores, 0)
    idx = rows[resamples(len(rows), seed)]
    with np.errstate(invalid="ignore"):
        ratio, lo, hi = interval(np.nanmean(scores[idx], axis=1) / overall)
    return {REGIONS[r]: {"ratio": float(ratio[r]), "lo": float(lo[r]), "hi": float(hi[r])}
            for r in range(len(REGIONS)) if np.isfinite(ratio[r])}


def relative_maps(maps, y):
    """Each class's mean map over all faces' mean map, per pixel, each map first divided by its own mean:
    the figure of what relative_saliency measures per region (None for a class without faces)."""
    norm = maps / (maps.mean((1, 2), keepdims=True) + 1e-12)
    overall = norm.mean(0) + 1e-12
    return [norm[y == c].mean(0) / overall if (y == c).any() else None for c in range(len(CLASS_NAMES))]


def occlusion_drops(model, x, y, regions, fill):
    """(N, R) drops, per 100 pixels of the region, of the true class's probability, of being right and of the
    probability of the model's own answer, when the region of each face is replaced by `fill` (the split's mean
    face); and (N,) the answers."""
    rows = np.arange(len(x))
    before = predict_probs(model, x)
    answer = before.argmax(1)
    p0, right0, a0 = before[rows, y], (answer == y).astype(np.float64), before[rows, answer]
    prob, right, answer_prob = (np.full((len(x), len(REGIONS)), np.nan) for _ in range(3))
    where = np.broadcast_to(regions, x.shape)
    for r in range(len(REGIONS)):
        inside = where == r
        area = inside.sum((1, 2))
        after = predict_probs(model, np.where(inside, fill, x).astype(np.uint8))
        per = np.where(area > 0, 100 / np.maximum(area, 1), np.nan)
        prob[:, r] = (p0 - after[rows, y]) * per
        right[:, r] = (right0 - (after.argmax(1) == y)) * per
        answer_prob[:, r] = (a0 - after[rows, answer]) * per
    return prob, right, answer_prob, answer


def occlusion_summary(prob, area, right=None, seed=0):
    """Per region: mean drops per 100 pixels with 95% bootstrap intervals (of the probability, and of being right
    where `right` is given), and the region's mean area."""
    idx = resamples(len(prob), seed)
    out = {}
    for key, drops in (("prob", prob), ("acc", right)):
        if drops is None:
            continue
        with np.errstate(invalid="ignore"):
            mean, lo, hi = interval(np.nanmean(drops[idx], axis=1))
        for r in range(len(REGIONS)):
            if np.isfinite(mean[r]):
                out.setdefault(REGIONS[r], {}).update({key: float(mean[r]), f"{key}_lo": float(lo[r]),
                                                       f"{key}_hi": float(hi[r]), "area": float(area[r])})
    return out


def costliest(occlusion):
    """The face part whose hiding costs the class the most probability per pixel, where that cost is measurable:
    its interval lies above 0 and above the mean cost of hiding the rest of the image (the control: a part that
    costs no more per pixel than the background is not what the score needs). None where no part is measurable;
    and the measurable parts whose cost reaches into its interval: not told apart from it."""
    floor = max(0.0, occlusion.get("rest", {}).get("prob", 0.0))
    costs = {r: o for r, o in occlusion.items() if o["prob_lo"] > floor and r != "rest"}
    if not costs:
        return None, []
    top = max(costs, key=lambda r: costs[r]["prob"])
    return top, [r for r, o in costs.items() if r != top and o["prob"] >= costs[top]["prob_lo"]]


def confusion_cues(answer_prob, y, answer, area, min_faces=CUE_FACES):
    """Why a class is taken for another: for each confusion (true, answered) of at least min_faces faces, how much
    hiding each region lowers the probability of the wrong answer, and the part that answer rests on most."""
    out = {}
    for a, b in itertools.permutations(range(len(CLASS_NAMES)), 2):
        rows = np.flatnonzero((y == a) & (answer == b))
        if len(rows) < min_faces:
            continue
        occ = occlusion_summary(answer_prob[rows], np.nanmean(area[rows], 0))
        cue, close = costliest(occ)
        out[f"{CLASS_NAMES[a]}>{CLASS_NAMES[b]}"] = {"true": CLASS_NAMES[a], "predicted": CLASS_NAMES[b],
                                                     "n": int(len(rows)), "occlusion": occ, "cue": cue, "close": close}
    return out


def agreement(relative, region):
    """Whether a class's map favours `region` beyond all faces: "more" (interval above 1), "less" (below 1),
    or "same" (the interval holds 1)."""
    r = relative[region]
    return "more" if r["lo"] > 1 else "less" if r["hi"] < 1 else "same"


def region_answers(maps, random_maps, regions, model, x, y, fill):
    """Q4's measurements per class ("all" first): occlusion cost per region and the costliest part; for all faces
    the maps' saliency per region (and the re-drawn network's); per class its saliency relative to all faces,
    whether that agrees with the costliest part, and the part its map favours most. And from the same occlusions,
    Q3's confusion cues (confusion_cues)."""
    scores = region_scores(maps, regions)
    prob, right, answer_prob, answer = occlusion_drops(model, x, y, regions, fill)
    where = np.broadcast_to(regions, x.shape)
    area = np.stack([(where == r).sum((1, 2)) for r in range(len(REGIONS))], 1).astype(np.float64)
    area = np.where(area > 0, area, np.nan)
    out = {}
    for c, name in [(None, "all")] + list(enumerate(CLASS_NAMES)):
        rows = np.flatnonzero(y == c) if c is not None else np.arange(len(y))
        if not len(rows):
            continue
        occ = occlusion_summary(prob[rows], np.nanmean(area[rows], 0), right[rows])
        top, close = costliest(occ)
        entry = {"n": int(len(rows)), "occlusion": occ, "costliest": top, "close": close}
        if c is None:
            entry["saliency"] = dict(zip(REGIONS, np.nanmean(scores, 0).round(3).tolist()))
            entry["saliency_redrawn"] = dict(zip(REGIONS, np.nanmean(region_scores(random_maps, regions), 0)
                                                 .round(3).tolist()))
        else:
            rel = relative_saliency(scores, rows)
            favoured = [r for r in rel if r != "rest" and rel[r]["lo"] > 1]
            entry.update(relative=rel, map_agrees=agreement(rel, top) if top else None,
                         favoured=max(favoured, key=lambda r: rel[r]["ratio"]) if favoured else None)
        out[name] = entry
    return out, confusion_cues(answer_prob, y, answer, area)


def inside_outside(maps, mask):
    """Mean saliency per pixel inside the masks over the mean per pixel outside them (1.0: no preference)."""
    inside = (maps * mask).sum((1, 2)) / mask.sum((1, 2))
    outside = (maps * ~mask).sum((1, 2)) / (~mask).sum((1, 2))
    return float(inside.mean() / outside.mean())


def rank_correlation(a, b):
    """Mean Spearman correlation of paired maps (ranks of their pixels)."""
    ranks = lambda m: m.reshape(len(m), -1).argsort(1).argsort(1).astype(np.float64)  # noqa: E731
    ra, rb = ranks(a), ranks(b)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    return float(np.mean((ra * rb).sum(1) / np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))))


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p)
    cli.add_data_args(p)
    cli.add_seed_arg(p, "SmoothGrad's noise")
    cli.add_split_arg(p, "the faces come from")
    p.add_argument("--method", choices=METHODS + ("all",), default="all",
                   help="saliency method of the per-face figure, or all three side by side (default: %(default)s); "
                        "the measurements use the gradient (vanilla) maps")
    # The older spelling, kept hidden
    p.add_argument("--indices", type=int, nargs="+", dest="index", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--index", type=int, nargs="+", metavar="N", help="faces to show, by index in the split "
                   "(default: one correctly classified face per class and one misclassified face)")
    p.add_argument("--mean-limit", type=int, default=None,
                   help="use only the split's first N faces for the mean maps and the measurements (default: all)")
    cli.add_figures_arg(p, "the saliency figures go")
    args = p.parse_args(argv)
    check_writable(args.figures_dir)   # before the work, not after it
    if args.mean_limit is not None and args.mean_limit < 1:
        raise UserError("--mean-limit must be at least 1")
    t0 = time.perf_counter()

    methods = list(METHODS) if args.method == "all" else [args.method]
    model = load_model(args.model)
    if "gradcam" in methods and not conv_layers(model):
        if args.method == "gradcam":
            last_conv(model)   # raises the clear error
        methods.remove("gradcam")
    data = load_for_models([args.model], args.data, args.split_seed)
    split = args.split or data.held_out_split()
    x, y = data.labelled(split)
    n = min(len(y), args.mean_limit or len(y))
    x, y = x[:n], y[:n]
    pred = predict_probs(model, x).argmax(1)
    if args.index:
        bad = [i for i in args.index if not 0 <= i < n]
        if bad:
            raise UserError(f"--indices {bad[0]} is outside the {split} split's first {n} faces")
        idx = np.array(args.index, int)
    else:
        idx = pick_faces(y, pred)

    # Every face of the split, each explained for its true class (not only the ones the model gets right:
    # what it looks at when it errs belongs to the answer too).
    maps = normalise(vanilla_saliency(model, x, y.astype(np.int32)))
    random_maps = normalise(vanilla_saliency(randomised(model), x, y.astype(np.int32)))
    regions = face_regions(data, split, n)
    mean_face = x.mean(0)
    by_class, cues = region_answers(maps, random_maps, regions, model, x, y, np.rint(mean_face))
    record = {"model": args.model, "data": data.source, "usage": data.usage, "split": split, "indices": idx.tolist(),
              "methods": methods, "n_mean": int(n), "gradcam_layer": last_conv(model) if "gradcam" in methods else None,
              "regions_follow_faces": follows_faces(data), "bootstrap": BOOTSTRAP,
              "region_boxes": None if follows_faces(data) else dict(zip(("eye_row", "left_eye", "right_eye", "mouth_row"),
                                                                        mean_face_landmarks(mean_face))),
              "by_class": by_class, "confusion_cues": cues, "cue_faces": CUE_FACES,
              # The sanity check (Adebayo et al.): maps of a model with re-drawn weights should not resemble these.
              "randomisation_rank_correlation": rank_correlation(maps, random_maps)}
    if split in data.masks:   # synthetic: the expression pixels are known
        mask = data.masks[split][:n]
        record["inside_outside_ratio"] = inside_outside(maps, mask)
        # ... and what the same network with re-drawn weights gives on the same pixels
        record["inside_outside_baseline"] = inside_outside(random_maps, mask)
    shown = {m: maps[idx] if m == "vanilla" else normalise(saliency_maps(model, x[idx], y[idx], m, args.seed))
             for m in methods}
    relative = relative_maps(maps, y)
    overall = (maps / (maps.mean((1, 2), keepdims=True) + 1e-12)).mean(0)
    counts = np.bincount(y, minlength=len(CLASS_NAMES))
    region_share = np.stack([(np.broadcast_to(regions, x.shape) == r).mean(0) for r in range(len(REGIONS))])

    fig_prefix, json_path = analysis_paths(args.model, args.figures_dir, "saliency")
    record["figure"], record["figure_mean"] = fig_prefix + ".png", fig_prefix + "_mean.png"
    writes = [(path, partial(plot_maps, x[idx], y[idx], pred[idx], shown, methods, split_word(lang, split, data.usage),
                             record["gradcam_layer"], lang)) for lang, path in figure_paths(record["figure"])]
    writes += [(path, partial(plot_relative_maps, relative, overall, counts, mean_face, region_share, split_word(lang, split, data.usage),
                              lang))
               for lang, path in figure_paths(record["figure_mean"])]
    write_together(writes + [(json_path, partial(save_json, finish_record(record, t0, __file__, argv)))])
    for name, answer in record["by_class"].items():
        occ, top = answer["occlusion"], answer["costliest"]
        print(f"{name:>8} ({answer['n']} faces): hiding costs " + ", ".join(
            f"{r} {o['prob']:.3f} [{o['prob_lo']:.3f}, {o['prob_hi']:.3f}]" for r, o in occ.items())
            + f" per 100 px; costliest: {top or 'none'}" + (f", its map: {answer['map_agrees']} than all faces there"
                                                            if answer.get("map_agrees") else ""))
    for cue in record["confusion_cues"].values():
        print(f"{cue['true']} taken for {cue['predicted']} ({cue['n']} faces): the wrong answer rests most on "
              + (f"the {cue['cue']}" if cue["cue"] else "no one part")
              + (f" (as much on the {', the '.join(cue['close'])})" if cue["close"] else ""))
    print(f"rank correlation with a randomised model {record['randomisation_rank_correlation']:.2f}"
          + (f"; expression pixels {record['inside_outside_ratio']:.1f}x the rest" if "inside_outside_ratio" in record
             else ""))
    print(f"wrote {record['figure']}, {record['figure_mean']} and {json_path}")
    return record


if __name__ == "__main__":
    sys.exit(cli.run(main))
