"""What do the conv filters respond to? Gradient-ascent images, read and measured (report question 5).

Starting from gray noise, each image is changed step by step in the
direction that raises the mean activation of one filter (the keras-io recipe:
normalised gradient, borders ignored). All filters of a layer run as one
batch, image i driving filter i, through one compiled step of a model cut at
the layer: one pass costs about what one filter's would. By default three
layers are shown side by side, the last conv of each block (conv2d_3,
conv2d_6, conv2d_9), so the figure shows how the patterns grow with depth.

Regularisation, so the images are readable at 48x48: each step sees the
batch shifted by a random jitter of up to 2 pixels (patterns must hold up
under translation, which kills the checkerboard high frequencies), and every
10 steps the images get a light 3x3 blur. We chose jitter + blur over total
variation because they need no weight to tune.

The ascent climbs each filter's response through a leaky ReLU (slope 0.01
below 0) instead of its real ReLU, whose gradient is exactly 0 wherever the
filter is off: an image that starts there would never move. A filter whose
activation still stays 0 from start to end (a dead ReLU) is flagged and left
out of the figure.

Each image is then read from its 2-D spectrum (read_pattern): a wave counts
when its spectral peak stands out and the wave repeats across the image.
Waves in one direction are stripes (horizontal, vertical or diagonal), in
two or more a lattice (dots, checks, crossed stripes, dashes in a grid); an
image with none is a blob (a few spots, nothing that repeats). The strongest
wave's period, in pixels, is also given as a share of the layer's receptive
field, the input square one unit sees, computed from the kernel sizes and
strides (receptive_field). Every run checks the reading on images of known
kind (pattern_check) and records the share it reads right.

A reading is only as firm as the ascent that made the image: a climb from
other noise can end on another pattern, and in deep layers often does. So
every layer is climbed again from a second start (the next seed) and read
again; the record gives, per layer, how many live filters keep their kind
and Cohen's kappa (the agreement beyond what the two starts' counts alone
would give by chance), and the second start's counts. The figure shows the
first start.

What the filters respond to in faces is measured apart from the ascent, by
network dissection (dissect): where on the split's faces each filter's
strongest activations fall, region by region (ferlib.regions), against the
same layer with re-drawn weights.

Writes figures/<model>_filters.png (the strongest live filters of each
layer, each tile titled with its index and reading), figures/<model>_selective.png
(each layer's most region-selective filters: the ascent image, the mean of the
face patches that drive it most in PATCH_FACES faces, and where its strongest
activations fall over the mean face; no single face is shown), models/<model>.filters.json, and with --index N,
figures/<model>_activations_<layer>.png: the output maps of
--activation-layer for face N of the split.

    python filter_viz.py                              # conv2d_3, conv2d_6, conv2d_9, all filters, 190 steps
    python filter_viz.py --layers conv2d_9 --filters 0 1 2 3 --steps 300
    python filter_viz.py --index 0                    # also: what conv2d_6 outputs for face 0
"""

import argparse
import math
import sys
import time
from functools import partial

import numpy as np

from ferlib import CLASS_NAMES, cli
from ferlib.data import UserError
from ferlib.records import load_for_models
from ferlib.models import conv_layers, load_model, predict_probs, randomised
from ferlib.outputs import (PAGE_WIDTH, analysis_paths, check_writable, figure_paths, finish_record, pyplot,
                            save_figure, save_json, write_together)
from ferlib.regions import REGIONS, face_regions, follows_faces
from ferlib.words import CLASS_WORDS, FIGURE_WORDS, REGION_WORDS, spaced, split_word

LAYERS = ["conv2d_3", "conv2d_6", "conv2d_9"]   # the last conv of each block of the reference CNN
STEP_SIZE = 32.0     # pixels (0-255 scale) per step, after normalising the gradient RMS to 1
JITTER = 2           # pixels
BLUR_EVERY = 10      # steps
BORDER = 2           # activation border ignored (padding artefacts)
DEAD = 1e-6          # a filter whose mean activation never exceeds this is dead
LEAK = 0.01          # slope the ascent gives the filter's ReLU below 0 (see the module docstring)
# Start noise: uniform 128 +- AMP. Loud enough that a filter firing on flat gray
# does not start near its maximum, so the start-to-end gain measures the ascent.
AMP = 64

# Reading an image (periodic_waves, read_pattern). On 3,000 known_patterns (seeds 0-9) the strongest peak of
# stripes stands out 220-281 times, of lattices 35-175; their waves cover 3.3-104 and 5.8-58 cells. Of the
# blob images, 6 in 1,000 pass both bars (three spots that sit on a triangle, as in a lattice).
MARGIN = 6           # pixels cut from each edge: the ascent leaves a frame about this wide
PAD = 64             # FFT size: the 36-pixel middle zero-padded, for finer frequency steps
LONGEST = 24         # px: a longer wave is shading, not a pattern (1.5 repeats of the middle)
STANDS_OUT = 30      # x the mean power of the spectrum (periods up to LONGEST)
REPEATS = 3          # period x period cells (stripes of period 16 px cover 3.3)
SECOND = 0.25        # share of the strongest wave's power (half its amplitude) a wave needs to make a lattice
SAME_DIRECTION = 20  # degrees: waves closer in direction are one orientation
SHOWN = (4, 6)       # tiles per layer in the figure: columns, rows
FIRM = 0.6           # Cohen's kappa of the two starts' readings from which a layer's readings are shown and said
                     # (Landis & Koch 1977: above 0.6 'substantial' agreement)


def layer_model(model, layer_name):
    """The model cut at layer_name (a conv layer), or a UserError listing the conv layers."""
    import keras
    convs = [l.name for l in conv_layers(model)]
    if not convs:
        raise UserError(f"{model.name}: has no conv layers to visualise (a DNN?); use a CNN model")
    if layer_name not in convs:
        raise UserError(f"no conv layer {layer_name!r}; this model's conv layers: {', '.join(convs)}")
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)


def receptive_field(model, layer_name):
    """The side, in input pixels, of the square that one unit of layer_name sees.

    Walks the layers up to it: a k x k kernel (conv or pooling) widens the field by k - 1 times the
    distance, in input pixels, between neighbouring units, and a stride multiplies that distance.
    Rows only: the kit's kernels and strides are square.
    """
    size, step = 1, 1
    for layer in model.layers:
        config = layer.get_config()
        kernel = config.get("kernel_size") or config.get("pool_size")
        if kernel:
            size += (kernel[0] - 1) * config.get("dilation_rate", (1,))[0] * step
            step *= (config.get("strides") or kernel)[0]
        if layer.name == layer_name:
            return size
    raise UserError(f"no layer {layer_name!r} in {model.name}")


def initial_images(filters, seed):
    """Gray plus small noise; image for filter f depends only on (seed, f), not on the batch."""
    return np.stack([128 + np.random.default_rng([seed, f]).uniform(-AMP, AMP, (48, 48, 1)) for f in filters]
                    ).astype(np.float32)
def ascend(cut, filters, steps, seed=0, progress=True):
    """Gradient ascent for all filters at once. Returns (images (F,48,48), start act, final act)."""
    import keras
    import tensorflow as tf
    filters = np.asarray(filters)
    onehot = tf.one_hot(filters, cut.output.shape[-1])            # (F, C): image i -> filter i
    shifts = np.random.default_rng(seed).integers(-JITTER, JITTER + 1, (steps, 2))
    blur = tf.constant(np.outer([1, 2, 1], [1, 2, 1])[:, :, None, None] / 16, tf.float32)

    def mean_of_filter(maps):
        a = tf.cast(maps, tf.float32)[:, BORDER:-BORDER, BORDER:-BORDER, :]
        return tf.reduce_sum(tf.reduce_mean(a, axis=(1, 2)) * onehot, axis=1)   # (F,)

    def activation(x):
        return mean_of_filter(cut(x, training=False))

    conv = cut.layers[-1]   # its ReLU is replaced by a leaky one for the climb (module docstring)
    below = keras.Model(cut.inputs[0], conv.input)

    def preactivation(x):
        h = below(x, training=False)
        pre = conv.convolution_op(h, tf.cast(conv.kernel, h.dtype)) + tf.cast(conv.bias, h.dtype)
        return mean_of_filter(tf.nn.leaky_relu(pre, LEAK))

    @tf.function
    def step(x, shift, do_blur):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(preactivation(tf.roll(x, shift, axis=(1, 2))))
        g = tape.gradient(total, x)
        g /= tf.sqrt(tf.reduce_mean(g * g, axis=(1, 2, 3), keepdims=True)) + 1e-8
        x = x + STEP_SIZE * g   # unclipped, as keras-io: the figure stretches contrast anyway
        if do_blur:
            x = tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "SYMMETRIC"), blur, 1, "VALID")
        return x

    x = tf.constant(initial_images(filters, seed))
    start = activation(x).numpy()
    bar = keras.utils.Progbar(steps, unit_name="step") if progress else None
    for i in range(steps):
        x = step(x, tf.constant(shifts[i], tf.int32), tf.constant((i + 1) % BLUR_EVERY == 0))
        if bar:
            bar.update(i + 1)
    return x.numpy()[..., 0], start, activation(x).numpy()


# ---------------------------------------------------------------- reading an image

# Frequencies (cycles per pixel) of the PAD x PAD spectrum, 0 in the middle: fy down the rows, fx along the columns.
FY, FX = np.meshgrid(*2 * [np.fft.fftshift(np.fft.fftfreq(PAD))], indexing="ij")
NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
KINDS = ("stripes", "lattice", "blob")


def periodic_waves(image):
    """The waves that repeat across the image, strongest first: [(power, fy, fx)], in cycles per pixel.

    Candidates are the local maxima of the power spectrum of the image's middle (MARGIN cut, mean
    removed, Hann window) at periods up to LONGEST, one of each +-frequency pair. The strongest must
    stand out: STANDS_OUT times the spectrum's mean power (noise and smooth shading do not). And a wave
    counts only if it repeats: the image band-passed around its frequency has its energy spread over
    at least REPEATS cells of one period squared (the participation ratio over the period squared).
    Two or three blobs make a spectral peak too, but their wave sits on the blobs alone. Peaks under
    SECOND of the strongest wave's power are not looked at.
    """
    a = np.asarray(image, np.float64)[MARGIN:-MARGIN, MARGIN:-MARGIN]
    n = len(a)
    window = np.outer(np.hanning(n), np.hanning(n))
    power = np.abs(np.fft.fftshift(np.fft.fft2((a - np.average(a, weights=window)) * window, (PAD, PAD)))) ** 2
    spectrum = np.fft.fftshift(np.fft.fft2(a - a.mean(), (PAD, PAD)))   # no window: the waves must reach the edges
    band = np.hypot(FY, FX) >= 1 / LONGEST
    peaks = band & ((FY > 0) | (FY == 0) & (FX > 0)) & np.all(
        [power >= np.roll(power, d, axis=(0, 1)) for d in NEIGHBOURS], axis=0)
    waves = []
    for y, x in sorted(zip(*np.nonzero(peaks)), key=lambda yx: -power[yx]):
        if power[y, x] < (SECOND * waves[0][0] if waves else STANDS_OUT * power[band].mean()):
            break
        near = np.hypot(FY - FY[y, x], FX - FX[y, x]) < 1 / n   # the peak's centre of mass: finer than the grid
        fy, fx = np.average(FY[near], weights=power[near]), np.average(FX[near], weights=power[near])
        passband = np.exp(-((FY - fy) ** 2 + (FX - fx) ** 2) * n * n / 2)   # 1 / n wide: one frequency step
        wave = np.abs(np.fft.ifft2(np.fft.ifftshift(spectrum * passband)))
        energy = wave[2:n - 2, 2:n - 2] ** 2   # 2 px in: the band-pass rings at the edges of the middle
        if energy.sum() ** 2 / (energy ** 2).sum() * (fy * fy + fx * fx) >= REPEATS:
            waves.append((power[y, x], fy, fx))
    return waves


def read_pattern(image):
    """{"kind", "period", "orientation"}: what an ascent image shows, from its repeating waves.

    kind: "stripes" when every wave that repeats (periodic_waves) runs in the strongest one's direction,
    within SAME_DIRECTION degrees (stripes' harmonics run in theirs), "lattice" when some run in another,
    "blob" when none repeats. period: the strongest wave's, in pixels (None for a blob). orientation, for
    stripes only: their angle in degrees counterclockwise from horizontal as the image is shown
    (0 = running left-right, 45 = "/", 90 = up-down, 135 = "\\").
    """
    waves = periodic_waves(image)
    if not waves:
        return {"kind": "blob", "period": None, "orientation": None}
    # A wave vector points across its stripes: (fy, fx) = (1, 0), changing down the rows, is horizontal stripes.
    angles = [round(math.degrees(math.atan2(fx, fy)), 1) % 180 for _, fy, fx in waves]
    one = all(min(abs(a - angles[0]), 180 - abs(a - angles[0])) <= SAME_DIRECTION for a in angles)
    period = round(1 / math.hypot(waves[0][1], waves[0][2]), 2)
    return {"kind": "stripes", "period": period, "orientation": angles[0]} if one else \
        {"kind": "lattice", "period": period, "orientation": None}


def orientation_word(degrees):
    """The word for an orientation (read_pattern's degrees): horizontal, vertical or diagonal, whichever of
    0, 90 and 45 or 135 degrees is nearest."""
    return "horizontal" if min(degrees, 180 - degrees) < 22.5 else "vertical" if abs(degrees - 90) < 22.5 \
        else "diagonal"


def known_patterns(n=300, seed=0):
    """n 48x48 images of known kind, a third of each, and what each is: [{"kind", "period", "orientation"}].

    Stripes: gratings at 0, 45, 90 and 135 degrees, then at any angle at least 5 degrees from where
    the orientation word changes; periods 3-16 px. Lattices, in turn: square and hexagonal lattices of
    dots, checkerboards, crossed gratings (40-140 degrees apart), dashes in rows; spacings 4-14 px.
    Blobs: 1, 2 or 3 Gaussian spots, bright or dark, 1.5-6 px wide, anywhere in the middle 32x32. Each
    at a random position, scaled to a peak of 1, plus Gaussian noise of 0.1.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:48, 0:48].astype(np.float64)

    def wave(angle, period, at):   # a cosine grating whose stripes run at angle (read_pattern's degrees)
        t = math.radians(angle)
        return np.cos(2 * np.pi / period * (-math.sin(t) * (cols - at[1]) - math.cos(t) * (rows - at[0])))

    images, truths = [], []
    for i in range(n):
        kind, k, at, angle = KINDS[i % 3], i // 3, rng.uniform(0, 48, 2), rng.uniform(0, 180)
        truth = {"kind": kind, "period": None, "orientation": None}
        if kind == "stripes":
            angle = 45 * (k % 4) + (rng.uniform(-17.5, 17.5) if k >= 4 else 0)
            truth.update(period=rng.uniform(3, 16), orientation=angle % 180)
            image = wave(angle, truth["period"], at)
        elif kind == "lattice":
            p, q, second, weight = *rng.uniform(4, 12, 2), angle + rng.uniform(40, 140), rng.uniform(0.7, 1)
            image = (lambda: np.exp(2 * (wave(angle, p, at) + wave(angle + 90, p, at))),           # square dots
                     lambda: np.exp(1.5 * sum(wave(angle + a, p, at) for a in (0, 60, 120))),    # hexagonal dots
                     lambda: np.sign(wave(angle, p + 2, at) * wave(angle + 90, p + 2, at)),      # checkerboard
                     lambda: wave(angle, p, at) + weight * wave(second, q, at),                 # crossed gratings
                     lambda: np.maximum(wave(angle, p, at), 0) * np.maximum(wave(angle + 90, q, at), 0) ** 2,
                     )[k % 5]()   # the last: dashes in rows
        else:
            image = sum(rng.choice([-1, 1]) * np.exp(-((rows - y) ** 2 + (cols - x) ** 2) / (2 * s * s))
                        for y, x, s in zip(*rng.uniform(8, 40, (2, k % 3 + 1)), rng.uniform(1.5, 6, k % 3 + 1)))
        image = image - image.mean()
        images.append(image / np.abs(image).max() + rng.normal(0, 0.1, (48, 48)))
        truths.append(truth)
    return np.stack(images), truths


def read_right(reading, truth):
    """Whether a reading matches a known pattern: its kind; for stripes also the orientation word and the
    period within 15%."""
    if reading["kind"] != truth["kind"]:
        return False
    return truth["kind"] != "stripes" or (
        orientation_word(reading["orientation"]) == orientation_word(truth["orientation"])
        and abs(reading["period"] / truth["period"] - 1) <= 0.15)


def pattern_check(n=300, seed=0):
    """{"n", "right"}: the share of n known_patterns that read_pattern reads right (read_right)."""
    images, truths = known_patterns(n, seed)
    return {"n": n, "right": round(float(np.mean([read_right(read_pattern(i), t) for i, t in zip(images, truths)])), 3)}


# ---------------------------------------------------------------- the record and the figures

def layer_record(filters, start, final, images, steps, field):
    """One layer's entry in the run record: each live filter's reading, and the counts the report states."""
    dead = np.maximum(start, final) <= DEAD
    patterns = {}
    for f, image in zip(filters[~dead].tolist(), images[~dead]):
        p = read_pattern(image)
        patterns[f] = {"kind": p["kind"], "period": p["period"],
                       "period_rf": None if p["period"] is None else round(p["period"] / field, 3),
                       "orientation": p["orientation"],
                       "orientation_word": None if p["orientation"] is None else orientation_word(p["orientation"])}
    kinds = [p["kind"] for p in patterns.values()]
    words = [p["orientation_word"] for p in patterns.values()]
    shares = [p["period_rf"] for p in patterns.values() if p["period_rf"] is not None]
    return {
        "receptive_field": field, "steps": steps, "filters": filters.tolist(), "dead": filters[dead].tolist(),
        "start_activation": start.tolist(), "final_activation": final.tolist(),
        "median_gain": float(np.median(final[~dead] / np.maximum(start[~dead], DEAD))) if (~dead).any() else 0.0,
        "patterns": patterns,
        "counts": {**{k: kinds.count(k) for k in KINDS},
                   **{w: words.count(w) for w in ("horizontal", "vertical", "diagonal")}, "dead": int(dead.sum())},
        "period_rf_median": float(np.median(shares)) if shares else None,
    }


def second_start(first, second):
    """How a layer's reading holds up from another start: over the filters live in both records, how many
    keep their kind, Cohen's kappa of the two readings (None where it is undefined: both starts read one
    kind only), and the second start's counts."""
    from sklearn.metrics import cohen_kappa_score
    both = [f for f in first["patterns"] if f in second["patterns"]]
    a = [first["patterns"][f]["kind"] for f in both]
    b = [second["patterns"][f]["kind"] for f in both]
    kappa = float(cohen_kappa_score(a, b, labels=list(KINDS))) if len(set(a) | set(b)) > 1 else None
    return {"filters": len(both), "same": sum(x == y for x, y in zip(a, b)),
            "kappa": None if kappa is None or not math.isfinite(kappa) else round(kappa, 3),
            "counts": second["counts"]}


def tile_title(f, p):
    """A tile's title: the filter's index, then its reading, e.g. "#12" over "S-h 6" (stripes, horizontal,
    period 6 px), "L 5" (lattice), "B" (blob)."""
    if p["kind"] == "blob":
        return f"#{f}\nB"
    kind = "L" if p["kind"] == "lattice" else "S-" + p["orientation_word"][0]
    return f"#{f}\n{kind} {p['period']:.0f}"


def plot_filters(shown, steps, lang, dest):
    """The layers side by side, each a block of its strongest live filters, strongest first, row by row
    (SHOWN: columns, rows), each tile titled with its index, and with its reading (tile_title) in a layer whose
    readings hold from a second start (firm).

    shown: [(layer, images, its record entry)]. A tile's contrast is stretched over its middle, the part
    read_pattern reads: the frame the ascent leaves there saturates instead of flattening the pattern.
    """
    plt = pyplot()
    w = FIGURE_WORDS[lang]
    cols, rows = SHOWN
    fig = plt.figure(figsize=(PAGE_WIDTH, 0.78 * rows + 1.1), layout="constrained")
    for block, (layer, images, rec) in zip(np.atleast_1d(fig.subfigures(1, len(shown), wspace=0.03)), shown):
        axes = block.subplots(rows, cols, squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        live = [k for k in np.argsort(-np.asarray(rec["final_activation"]), kind="stable")
                if rec["filters"][k] in rec["patterns"]]
        for ax, k in zip(axes.ravel(), live):
            lo, hi = np.percentile(images[k][MARGIN:-MARGIN, MARGIN:-MARGIN], [1, 99])
            ax.imshow(images[k], cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-3))
            f = rec["filters"][k]
            ax.set_title(tile_title(f, rec["patterns"][f]) if rec.get("firm") else f"#{f}", fontsize=8, pad=2,
                         linespacing=1.0)
        block.suptitle(w["filters_layer"].format(layer=layer, field=rec["receptive_field"])
                       + ("\n" + w["filters_counts"].format(**rec["counts"]) if rec.get("firm") else ""), fontsize=8)
    fig.suptitle(w["filters_grid_title"].format(steps=steps, n=cols * rows))
    if any(rec.get("firm") for _, _, rec in shown):
        fig.supxlabel(w["filters_legend"], fontsize=8)
    save_figure(fig, dest)


def plot_activations(face, maps, layer, image, lang, dest, cols=13):
    """The face, then every output map of the layer on one shared colour scale; image is the record's entry."""
    plt = pyplot()
    w, words = FIGURE_WORDS[lang], CLASS_WORDS[lang]
    n = maps.shape[-1] + 1
    rows = math.ceil(n / cols)
    # 13 columns: the 64 maps of conv2d_6 and the face in 5 rows, a third of a printed page
    fig, axes = plt.subplots(rows, cols, figsize=(6.5, 0.62 * rows + 0.6), squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(face, cmap="gray", vmin=0, vmax=255)
    axes[0, 0].set_title(w["face"], fontsize=8, pad=2)
    top = max(float(maps.max()), 1e-6)
    for k in range(maps.shape[-1]):
        ax = axes.ravel()[k + 1]
        im = ax.imshow(maps[..., k], cmap="viridis", vmin=0, vmax=top)
        ax.set_title(f"#{k}", fontsize=8, pad=2)
    fig.suptitle(spaced(w["activations_title"].format(
        layer=layer, split=split_word(lang, image["split"], image.get("usage")), index=image["index"],
        true=words.get(image["true"], w["unlabelled"]), predicted=words[image["predicted"]])))
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01, label=w["activation_scale"])
    save_figure(fig, dest)


# ---------------------------------------------------------------- what the filters respond to in faces
#
# Network dissection (Bau et al., CVPR 2017) on the face's regions, as Teotia et al. (IJCV 2022) apply it to
# face models: each filter's activations over the split's faces are cut at their top TOP_SHARE (over all
# faces and positions together), and we ask where those top activations fall. The regions are boxes much
# larger than an activation spot, so NetDissect's IoU would be small for every filter; the measure is the
# lift instead: the share of a filter's top activations inside a region over the region's share of the
# image (1 = no preference). A filter is selective for a region where its lift is above 1 and above the
# BAR-th percentile of the lifts of the same layer's filters with re-drawn weights: those see the same faces
# with nothing learned, so what they reach is the region's place and the image's own light and dark alone (with the
# faces' outline and background, most of them fire off the face's parts). In a deep layer a unit sees most of the face,
# so where it fires says where its field is centred, not which part inside the field drives it.

TOP_SHARE = 0.01       # NetDissect cuts at 0.005 on maps of 112 px and more; a 12x12 map has too few cells
REDRAWN = 3            # draws of the network's weights that give the bars (96-384 re-drawn filters per layer)
BAR = 99               # percentile of the re-drawn filters' lifts a filter must pass: with 5 regions, a re-drawn
                       # filter is called selective about 5% of the time (the max instead would rise with the
                       # layer's width: 1 in 96 for conv2d_3, 1 in 384 for conv2d_9)
DISSECT_FACES = 1000   # the split's first faces that are dissected: enough for 1% of them to be 14,000+ cells
SHOWN_SELECTIVE = 3    # the figure's most selective filters per layer (three panels each, readable in print)
PATCH_FACES = 100      # faces whose strongest patch for a filter is averaged: what drives it, no one face shown


def activations(cut, x, batch=128):
    """A layer's output maps (N,h,w,F) float32 for uint8 faces (N,48,48)."""
    return np.concatenate([np.asarray(cut(x[i:i + batch, :, :, None].astype(np.float32), training=False),
                                      np.float32) for i in range(0, len(x), batch)])


def region_fractions(regions, size):
    """(N or 1, size, size, R): each map cell's share of pixels in each region; regions (N,48,48) or (48,48)."""
    regions = np.asarray(regions)
    regions = regions[None] if regions.ndim == 2 else regions
    step = regions.shape[1] // size
    onehot = (regions[..., None] == np.arange(len(REGIONS))).astype(np.float32)
    return onehot.reshape(len(regions), size, step, size, step, len(REGIONS)).mean((2, 4))


def region_lifts(acts, fractions):
    """(F, R) lifts: the share of each filter's top-TOP_SHARE activations inside each region over the region's
    share of the image; NaN for a filter that never fires."""
    n_filters = acts.shape[-1]
    flat = acts.reshape(-1, n_filters)
    threshold = np.quantile(flat, 1 - TOP_SHARE, axis=0)
    top = (acts > threshold).astype(np.float32)
    if fractions.shape[0] == 1:
        inside = np.einsum("hwf,hwr->fr", top.sum(0), fractions[0])
    else:
        inside = np.einsum("nhwf,nhwr->fr", top, fractions)
    count = top.sum((0, 1, 2))
    area = np.broadcast_to(fractions, acts.shape[:3] + (len(REGIONS),)).mean((0, 1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[:, None] > 0, inside / count[:, None] / area, np.nan)


def dissect(acts, redrawn, x, regions):
    """One layer's dissection: acts are the trained layer's activations on faces x, redrawn the same layer cut
    from copies with re-drawn weights. Per filter its lifts; per region the bar (BAR-th percentile of the
    re-drawn lifts, at least 1) and the re-drawn filters' median lift; each filter's region (the one it passes
    the bar by most)."""
    fractions = region_fractions(regions, acts.shape[1])
    lifts = {"trained": region_lifts(acts, fractions),
             "redrawn": np.concatenate([region_lifts(activations(cut, x), fractions) for cut in redrawn])}
    bar = np.maximum(np.nanpercentile(lifts["redrawn"], BAR, axis=0), 1.0)
    over = lifts["trained"] / bar
    selective = {}
    for f, row in enumerate(over):
        if np.isfinite(row).any() and np.nanmax(row) > 1:
            selective[f] = REGIONS[int(np.nanargmax(row))]
    regions_of = list(selective.values())
    return {"top_share": TOP_SHARE, "faces": int(len(x)), "bar_percentile": BAR, "redrawn_filters": len(lifts["redrawn"]),
            "bar": dict(zip(REGIONS, bar.round(3).tolist())),
            "redrawn_median": dict(zip(REGIONS, np.nanmedian(lifts["redrawn"], axis=0).round(3).tolist())),
            "lift": {f: dict(zip(REGIONS, np.round(row, 3).tolist())) for f, row in enumerate(lifts["trained"])},
            "selective": selective,
            "counts": {**{r: regions_of.count(r) for r in REGIONS}, "none": len(over) - len(selective)}}


def most_selective(entry, n=SHOWN_SELECTIVE):
    """A layer's n filters that pass their region's bar by the most: [(filter, region, lift)]."""
    d = entry["dissection"]
    ranked = sorted(d["selective"].items(), key=lambda fr: -d["lift"][fr[0]][fr[1]] / d["bar"][fr[1]])
    return [(f, r, d["lift"][f][r]) for f, r in ranked[:n]]


def strongest_faces(acts, f, n=PATCH_FACES):
    """The n faces where filter f's strongest cell is strongest (strongest first), and that cell in each (flat)."""
    a = acts[..., f].reshape(len(acts), -1)
    faces = np.argsort(-a.max(1), kind="stable")[:n]
    return faces, a[faces].argmax(1)


def mean_top_patch(acts, x, f, field, n=PATCH_FACES):
    """The mean of the face patches (field x field px, edge-padded) around filter f's strongest cell in each of
    the n faces where that cell is strongest: what in a face drives the filter, with no one face shown."""
    faces, cells = strongest_faces(acts, f, n)
    step = x.shape[1] // acts.shape[1]
    size = min(field, x.shape[1])
    pad = size // 2 + 1
    padded = np.pad(x[faces].astype(np.float32), ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    patches = []
    for k, cell in enumerate(cells):
        top, left = (int(round((c + 0.5) * step - size / 2)) + pad for c in divmod(int(cell), acts.shape[2]))
        patches.append(padded[k, top:top + size, left:left + size])
    return np.mean(patches, 0)


def class_counts(labels):
    """{class name: faces} of labelled faces; None where any face is unlabelled (-1)."""
    labels = np.asarray(labels)
    if (labels < 0).any():
        return None
    return dict(zip(CLASS_NAMES, np.bincount(labels, minlength=len(CLASS_NAMES)).tolist()))


def where_it_fires(acts, f, size=48):
    """The share of filter f's top activations at each pixel (size x size), over the faces of acts."""
    acts = acts[..., f]
    top = acts > np.quantile(acts, 1 - TOP_SHARE)
    step = size // acts.shape[1]
    return np.repeat(np.repeat(top.mean(0), step, 0), step, 1)


COHERENT = 0.5         # structure-tensor coherence from which a mean patch reads as a line: its main direction
                       # carries 3x the gradient energy of the other (1: one direction only)
SPOT = 1.0             # centre-minus-ring contrast, in the patch's sds, above which it reads as a spot


def read_patch(patch):
    """{"shape", "orientation", "direction"}: what a filter's mean face patch shows. shape "line" (an edge or a
    band; its orientation in read_pattern's degrees and its orientation_word) where its gradients share one
    direction (coherence >= COHERENT);
    else "dark spot" or "bright spot" where its centre differs from its border by SPOT sds or more; else None."""
    p = np.asarray(patch, np.float64)
    sd = p.std()
    if sd < 1e-6:
        return {"shape": None, "orientation": None, "direction": None}
    gy, gx = np.gradient(p)
    jxx, jyy, jxy = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    coherence = np.hypot(jxx - jyy, 2 * jxy) / max(jxx + jyy, 1e-12)
    if coherence >= COHERENT:
        across = np.degrees(0.5 * np.arctan2(2 * jxy, jxx - jyy))   # the gradient's direction, rows going down
        along = float((-(across + 90)) % 180)   # the line's own angle, as shown
        return {"shape": "line", "orientation": along, "direction": orientation_word(along)}
    yy, xx = np.mgrid[:p.shape[0], :p.shape[1]] - (np.array(p.shape)[:, None, None] - 1) / 2
    r = np.hypot(yy, xx) / p.shape[0]
    contrast = (p[r <= 0.25].mean() - p[r >= 0.4].mean()) / sd
    shape = "dark spot" if contrast <= -SPOT else "bright spot" if contrast >= SPOT else None
    return {"shape": shape, "orientation": None, "direction": None}


def plot_selective(rows, mean_face, region_map, patch_faces, lang, dest):
    """Per layer (a row), its most selective filters, three panels each: the ascent image, the mean patch that
    drives the filter most (contrast stretched), and where its top activations fall over the split's mean face.

    rows: [(layer, field, [(filter, region, lift, ascent image, mean patch, heat map)])]."""
    plt = pyplot()
    w = FIGURE_WORDS[lang]
    cols = 3 * max(len(r[2]) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(PAGE_WIDTH - 0.1, 1.0 * len(rows) + 0.5), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for row, (layer, field, shown) in enumerate(rows):
        axes[row, 0].text(-0.15, 0.5, f"{layer}\n{field} px", transform=axes[row, 0].transAxes, ha="right",
                          va="center", fontsize=8)
        for k, (f, region, lift, image, patch, heat) in enumerate(shown):
            ascent, mean_patch, where = axes[row, 3 * k:3 * k + 3]
            lo, hi = np.percentile(image[MARGIN:-MARGIN, MARGIN:-MARGIN], [1, 99])
            ascent.imshow(image, cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-3))
            ascent.set_title(f"#{f} {REGION_WORDS[lang][region]} {lift:.1f}×", fontsize=8, pad=2, loc="left")
            mean_patch.imshow(patch, cmap="gray", vmin=patch.min(), vmax=max(patch.max(), patch.min() + 1e-3))
            where.imshow(mean_face, cmap="gray", vmin=0, vmax=255)
            where.imshow(heat, cmap="inferno", alpha=0.65)
            if region_map is not None:
                where.contour(region_map, levels=np.arange(len(REGIONS)) + 0.5, colors="white", linewidths=0.4)
    fig.suptitle(w["selective_title"])
    fig.supxlabel(w["selective_panels"].format(faces=patch_faces), fontsize=8)
    save_figure(fig, dest)


def peak_regions(maps, regions):
    """For each output map (H,W,F) of one face: the face region under its strongest cell (ferlib.regions.REGIONS;
    None for a map that is 0 everywhere). regions: the face's (48,48) region map."""
    step = regions.shape[0] // maps.shape[0]
    where = regions[step // 2::step, step // 2::step]          # the region under each map cell's centre
    flat = maps.reshape(-1, maps.shape[-1])
    return [REGIONS[int(where.ravel()[flat[:, f].argmax()])] if flat[:, f].max() > 0 else None
            for f in range(maps.shape[-1])]


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p)
    # The older spelling of --layers, kept hidden
    p.add_argument("--layer", nargs="+", dest="layers", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--layers", nargs="+", default=LAYERS, metavar="LAYER",
                   help=f"conv layers to visualise, side by side (default: {' '.join(LAYERS)}, the last conv of "
                        "each block; the reference report showed conv2d_6 alone)")
    p.add_argument("--filters", type=int, nargs="+", help="filter indices, the same in every layer (default: all)")
    p.add_argument("--steps", type=int, default=190, help="gradient-ascent steps (default: %(default)s)")
    p.add_argument("--index", type=int, metavar="N",
                   help="also plot the output maps of --activation-layer for face N of the split (its index there)")
    # The older spelling of --index, kept hidden
    p.add_argument("--image", type=int, dest="index", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--activation-layer", default="conv2d_6",
                   help="the conv layer whose output maps --index plots (default: %(default)s)")
    cli.add_split_arg(p, "the faces are dissected in and --index picks from")
    cli.add_data_args(p)
    cli.add_seed_arg(p, "the ascent's start images (the second start takes SEED + 1)")
    cli.add_figures_arg(p, "the filter and activation images go")
    args = p.parse_args(argv)
    check_writable(args.figures_dir)   # before the work, not after it
    t0 = time.perf_counter()

    # Every flag is checked before anything is computed or written.
    model = load_model(args.model)
    cuts = {layer: layer_model(model, layer) for layer in args.layers}
    filters = {}
    for layer, cut in cuts.items():
        n_filters = cut.output.shape[-1]
        filters[layer] = np.arange(n_filters) if args.filters is None else np.array(args.filters)
        if filters[layer].min() < 0 or filters[layer].max() >= n_filters:
            raise UserError(f"--filters: {layer} has filters 0-{n_filters - 1}")
    if args.steps < 1:
        raise UserError("--steps must be at least 1")
    data = load_for_models([args.model], args.data, args.split_seed)
    split = args.split or data.held_out_split()
    x, y = data.split(split)
    if not len(x):
        raise UserError(f"{data.source}: its {split} split has no faces to dissect the filters on; pick another "
                        "with --split")
    if args.index is not None:
        maps_of = layer_model(model, args.activation_layer)
        if not 0 <= args.index < len(x):
            raise UserError(f"--index {args.index}: the {split} split has {len(x)} faces")
    dissected, labels = x[:DISSECT_FACES], y[:DISSECT_FACES]
    regions = face_regions(data, split, len(dissected))
    redrawn = [randomised(model, seed) for seed in range(REDRAWN)]

    layers, shown, selective = {}, [], []
    for layer, cut in cuts.items():
        started = time.perf_counter()
        field = receptive_field(model, layer)
        images, start, final = ascend(cut, filters[layer], args.steps, args.seed, progress=sys.stderr.isatty())
        layers[layer] = layer_record(filters[layer], start, final, images, args.steps, field)
        images2, start2, final2 = ascend(cut, filters[layer], args.steps, args.seed + 1, progress=sys.stderr.isatty())
        layers[layer]["second_start"] = {"seed": args.seed + 1, **second_start(
            layers[layer], layer_record(filters[layer], start2, final2, images2, args.steps, field))}
        layers[layer]["firm"] = (layers[layer]["second_start"]["kappa"] or 0) >= FIRM
        layers[layer]["ascent_seconds"] = round(time.perf_counter() - started, 1)
        acts = activations(cut, dissected)
        layers[layer]["dissection"] = dissect(acts, [layer_model(m, layer) for m in redrawn], dissected, regions)
        rec = layers[layer]
        chosen = [(f, r, lift, images[rec["filters"].index(f)], mean_top_patch(acts, dissected, f, field),
                   where_it_fires(acts, f)) for f, r, lift in most_selective(rec) if f in rec["filters"]]
        # The classes of the faces it fires on most, against all dissected faces': a filter that favours an
        # expression (make_report.py tests the share against the base rate)
        rec["shown_selective"] = [{"filter": f, "region": r, "lift": lift, "patch": read_patch(patch),
                                   "classes": class_counts(labels[strongest_faces(acts, f)[0]])}
                                  for f, r, lift, _, patch, _ in chosen]
        selective.append((layer, field, chosen))
        shown.append((layer, images, rec))
    fig_prefix, json_path = analysis_paths(args.model, args.figures_dir, "filters")
    record = {
        "model": args.model, "figure": f"{fig_prefix}.png", "layer_order": list(cuts), "layers": layers,
        "pattern_check": pattern_check(),
        # make_report.py reads these two until it reads the layers: the activation maps' layer, the steps
        "layer": args.activation_layer, "steps": args.steps, "shown_per_layer": SHOWN[0] * SHOWN[1],
    }
    writes = [(path, partial(plot_filters, shown, args.steps, lang)) for lang, path in figure_paths(record["figure"])]
    record.update(split=split, usage=data.usage, data_split=data.split_info, regions_follow_faces=follows_faces(data),
                  patch_faces=min(PATCH_FACES, len(dissected)), dissected_classes=class_counts(labels),
                  selective_figure=f"{fig_prefix}_selective.png" if any(r[2] for r in selective) else None)
    if record["selective_figure"]:
        region_map = None if follows_faces(data) else regions[0]
        writes += [(path, partial(plot_selective, selective, dissected.mean(0), region_map,
                                   record["patch_faces"], lang))
                   for lang, path in figure_paths(record["selective_figure"])]
    if args.index is not None:
        face = x[args.index]
        # float32: under mixed precision the layer outputs bfloat16, which matplotlib cannot scale
        maps = np.asarray(maps_of(face[None, :, :, None].astype(np.float32), training=False), dtype=np.float32)[0]
        pred = int(predict_probs(model, face[None]).argmax(1)[0])
        truth = CLASS_NAMES[y[args.index]] if y[args.index] >= 0 else "unlabelled"
        record.update(activations_figure=f"{fig_prefix.replace('_filters', '_activations')}_{args.activation_layer}.png",
                      image={"split": split, "usage": data.usage, "index": args.index, "true": truth,
                             "predicted": CLASS_NAMES[pred], "layer": args.activation_layer,
                             "filter_means": maps.mean(axis=(0, 1)).tolist(), "filter_peaks": maps.max(axis=(0, 1)).tolist(),
                             "peak_regions": peak_regions(maps, face_regions(data, split)[args.index])})
        writes += [(path, partial(plot_activations, face, maps, args.activation_layer, record["image"], lang))
                   for lang, path in figure_paths(record["activations_figure"])]
    write_together(writes + [(json_path, partial(save_json, finish_record(record, t0, __file__, argv)))])
    for layer, rec in layers.items():
        c, share = rec["counts"], rec["period_rf_median"]
        print(f"{layer} (receptive field {rec['receptive_field']} px): {len(rec['filters'])} filters, "
              f"{c['dead']} dead; {c['stripes']} stripes ({c['horizontal']} horizontal, {c['vertical']} vertical, "
              f"{c['diagonal']} diagonal), {c['lattice']} lattices, {c['blob']} blobs"
              + (f"; median period {share:.2f} of the field" if share is not None else ""))
        again = rec["second_start"]
        print(f"  from a second start: {again['same']} of {again['filters']} keep their kind"
              + (f" (Cohen's kappa {again['kappa']:.2f})" if again["kappa"] is not None else ""))
        d = rec["dissection"]
        print(f"  selective (over {d['faces']} {split} faces, against re-drawn weights): "
              + ", ".join(f"{r} {d['counts'][r]}" for r in REGIONS) + f", none {d['counts']['none']}")
    check = record["pattern_check"]
    print(f"known patterns read right: {check['right']:.0%} of {check['n']}; wrote {record['figure']} and {json_path}")
    return record


if __name__ == "__main__":
    sys.exit(cli.run(main))
