"""What do a conv layer's filters respond to? Gradient-ascent images (report question 5).

Starting from gray noise, each image is changed step by step in the
direction that raises the mean activation of one filter (the keras-io recipe:
normalised gradient, borders ignored). All requested filters of the layer run
as one batch, image i driving filter i, through one compiled step of a model
cut at the target layer: one pass costs about what one filter's would, so a
whole layer takes seconds, not minutes.

Regularisation, so the images are readable at 48x48: each step sees the
batch shifted by a random jitter of up to 2 pixels (patterns must hold up
under translation, which kills the checkerboard high frequencies), and every
10 steps the images get a light 3x3 blur. We chose jitter + blur over total
variation because they need no weight to tune.

The ascent climbs each filter's response through a leaky ReLU (slope 0.01
below 0) instead of its real ReLU, whose gradient is exactly 0 wherever the
filter is off: an image that starts there would never move. A filter whose
activation still stays 0 from start to end (a dead ReLU) is flagged and drawn
blank rather than as noise.

Writes figures/<model>_filters_<layer>.png, models/<model>.filters.json,
and with --image N, figures/<model>_activations_<layer>.png: the layer's
output maps for face N of the split.

    python filter_viz.py                              # conv2d_6, all filters, 190 steps
    python filter_viz.py --layer conv2d_9 --filters 0 1 2 3 --steps 300
    python filter_viz.py --image 0                    # also: what the layer outputs for face 0
"""

import math
import sys
import time
from functools import partial

import numpy as np

from ferlib import CLASS_NAMES, cli
from ferlib.data import UserError, load_fer2013
from ferlib.models import conv_layers, load_model, predict_probs
from ferlib.outputs import (analysis_paths, check_writable, figure_paths, finish_record, pyplot, save_figure,
                            save_json, write_together)
from ferlib.words import CLASS_WORDS, FIGURE_WORDS, SPLIT_WORDS

STEP_SIZE = 32.0     # pixels (0-255 scale) per step, after normalising the gradient RMS to 1
JITTER = 2           # pixels
BLUR_EVERY = 10      # steps
BORDER = 2           # activation border ignored (padding artefacts)
DEAD = 1e-6          # a filter whose mean activation never exceeds this is dead
LEAK = 0.01          # slope the ascent gives the filter's ReLU below 0 (see the module docstring)
# Start noise: uniform 128 +- AMP. Loud enough that a filter firing on flat gray
# does not start near its maximum, so the start-to-end gain measures the ascent.
AMP = 64


def layer_model(model, layer_name):
    """The model cut at layer_name (a conv layer), or a UserError listing the conv layers."""
    import keras
    convs = [l.name for l in conv_layers(model)]
    if not convs:
        raise UserError(f"{model.name}: has no conv layers to visualise (a DNN?); use a CNN model")
    if layer_name not in convs:
        raise UserError(f"no conv layer {layer_name!r}; this model's conv layers: {', '.join(convs)}")
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)


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


def patterns(images):
    """What each ascent image shows, read from its 2-D power spectrum (mean removed, borders dropped).

    period: the wavelength (pixels) of the strongest spatial frequency;
    anisotropy: how concentrated the power is in one orientation (0 = the same
    in every direction, 1 = one direction only), as the length of the
    power-weighted mean of exp(2i x angle); orientation: that direction, the
    stripes' own angle in degrees (0 = horizontal stripes). A pattern with
    anisotropy >= ORIENTED is "stripes", else "dots" (lattices of dots or
    short dashes, and blobs, which have power in several directions).
    """
    out = []
    for img in images:
        a = img[BORDER:-BORDER, BORDER:-BORDER].astype(np.float64)
        a = (a - a.mean()) * np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
        power = np.abs(np.fft.fftshift(np.fft.fft2(a))) ** 2
        fy, fx = np.meshgrid(*(np.fft.fftshift(np.fft.fftfreq(k)) for k in a.shape), indexing="ij")
        radius = np.hypot(fx, fy)
        power[radius < 1.5 / a.shape[0]] = 0   # the mean and the window's own lowest frequencies
        angle = np.arctan2(fy, fx)              # direction of the wave vector: across the stripes
        total = power.sum() + 1e-12
        vector = (power * np.exp(2j * angle)).sum() / total
        peak = np.unravel_index(power.argmax(), power.shape)
        out.append({"period": float(1 / max(radius[peak], 1e-6)), "anisotropy": float(abs(vector)),
                    "orientation": float((np.degrees(np.angle(vector) / 2) + 90) % 180)})
    return out


ORIENTED = 0.8   # continuous stripes measure 0.9+, lattices of dots or short dashes 0.4-0.7


def pattern_counts(stats):
    """Counts the report states: stripes by orientation and dots, each by period (fine < 4 px <= coarse)."""
    counts = {"stripes": 0, "dots": 0, "horizontal": 0, "vertical": 0, "diagonal": 0, "fine": 0, "coarse": 0}
    for s in stats:
        if s["anisotropy"] >= ORIENTED:
            counts["stripes"] += 1
            o = s["orientation"]
            counts["horizontal" if min(o, 180 - o) < 22.5 else "vertical" if abs(o - 90) < 22.5 else "diagonal"] += 1
        else:
            counts["dots"] += 1
        counts["fine" if s["period"] < 4 else "coarse"] += 1
    return counts


def plot_filters(images, filters, final, dead, layer, steps, lang, dest, cols=8):
    """The images in order of the activation they reach, strongest first, `cols` wide; dead filters last."""
    plt = pyplot()
    w = FIGURE_WORDS[lang]
    order = np.lexsort((-final, dead))
    rows = math.ceil(len(filters) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5, 0.86 * rows + 0.45), squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for k, i in enumerate(order):
        ax = axes.ravel()[k]
        if dead[i]:
            ax.text(0.5, 0.5, w["dead"], ha="center", va="center", color="firebrick", fontsize=8, transform=ax.transAxes)
        else:
            lo, hi = np.percentile(images[i], [1, 99])   # contrast stretch: the pattern, not the offset
            ax.imshow(images[i], cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-3))
        ax.set_title(f"#{filters[i]}", fontsize=8, pad=2)
    fig.suptitle(w["filters_title"].format(layer=layer, steps=steps))
    save_figure(fig, dest)


def plot_activations(face, maps, layer, image, lang, dest, cols=8):
    """The face, then every output map of the layer on one shared colour scale; image is the record's entry."""
    plt = pyplot()
    w, words = FIGURE_WORDS[lang], CLASS_WORDS[lang]
    n = maps.shape[-1] + 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5, 0.86 * rows + 0.5), squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(face, cmap="gray", vmin=0, vmax=255)
    axes[0, 0].set_title(w["face"], fontsize=8, pad=2)
    top = max(float(maps.max()), 1e-6)
    for k in range(maps.shape[-1]):
        ax = axes.ravel()[k + 1]
        im = ax.imshow(maps[..., k], cmap="viridis", vmin=0, vmax=top)
        ax.set_title(f"#{k}", fontsize=8, pad=2)
    fig.suptitle(w["activations_title"].format(
        layer=layer, split=SPLIT_WORDS[lang][image["split"]], index=image["index"],
        true=words.get(image["true"], w["unlabelled"]), predicted=words[image["predicted"]]))
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01, label=w["activation_scale"])
    save_figure(fig, dest)


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_model_arg(p)
    p.add_argument("--layer", default="conv2d_6",
                   help="conv layer to visualise (default: %(default)s, the reference report's choice: "
                        "the last conv of the second block)")
    p.add_argument("--filters", type=int, nargs="+", help="filter indices (default: all of the layer)")
    p.add_argument("--steps", type=int, default=190, help="gradient-ascent steps (default: %(default)s)")
    p.add_argument("--image", type=int, help="also plot the layer's output maps for face N of the split")
    cli.add_split_arg(p, "--image picks from")
    cli.add_data_args(p)
    cli.add_figures_arg(p, "the filter and activation images go")
    args = p.parse_args(argv)
    check_writable(args.figures_dir)   # before the work, not after it
    t0 = time.perf_counter()

    model = load_model(args.model)
    cut = layer_model(model, args.layer)
    n_filters = cut.output.shape[-1]
    filters = np.arange(n_filters) if args.filters is None else np.array(args.filters)
    if filters.min() < 0 or filters.max() >= n_filters:
        raise UserError(f"--filters: {args.layer} has filters 0-{n_filters - 1}")
    if args.steps < 1:
        raise UserError("--steps must be at least 1")
    if args.image is not None:   # checked before anything is computed or written
        data = load_fer2013(args.data, seed=args.seed)
        split = args.split or data.held_out_split()
        x, y = data.split(split)
        if not 0 <= args.image < len(x):
            raise UserError(f"--image {args.image}: the {split} split has {len(x)} faces")

    images, start, final = ascend(cut, filters, args.steps, args.seed)
    dead = np.maximum(start, final) <= DEAD
    stats = patterns(images[~dead])
    fig_prefix, json_path = analysis_paths(args.model, args.figures_dir, "filters")
    record = {
        "model": args.model, "layer": args.layer, "steps": args.steps, "filters": filters.tolist(),
        "start_activation": start.tolist(), "final_activation": final.tolist(),
        "dead": filters[dead].tolist(), "figure": f"{fig_prefix}_{args.layer}.png",
        "median_gain": float(np.median(final[~dead] / np.maximum(start[~dead], DEAD))) if (~dead).any() else 0.0,
        "patterns": dict(zip(filters[~dead].tolist(), stats)), "pattern_counts": pattern_counts(stats),
    }
    writes = [(path, partial(plot_filters, images, filters, final, dead, args.layer, args.steps, lang))
              for lang, path in figure_paths(record["figure"])]
    if args.image is not None:
        face = x[args.image]
        # float32: under mixed precision the layer outputs bfloat16, which matplotlib cannot scale
        maps = np.asarray(cut(face[None, :, :, None].astype(np.float32), training=False), dtype=np.float32)[0]
        pred = int(predict_probs(model, face[None]).argmax(1)[0])
        truth = CLASS_NAMES[y[args.image]] if y[args.image] >= 0 else "unlabelled"
        record.update(activations_figure=f"{fig_prefix.replace('_filters', '_activations')}_{args.layer}.png",
                      image={"split": split, "index": args.image, "true": truth, "predicted": CLASS_NAMES[pred]})
        writes += [(path, partial(plot_activations, face, maps, args.layer, record["image"], lang))
                   for lang, path in figure_paths(record["activations_figure"])]
    write_together(writes + [(json_path, partial(save_json, finish_record(record, t0, __file__, argv)))])
    c = record["pattern_counts"]
    print(f"{args.layer}: {len(filters)} filters, {int(dead.sum())} dead; {c['stripes']} stripes "
          f"({c['horizontal']} horizontal, {c['vertical']} vertical, {c['diagonal']} diagonal), {c['dots']} dots; "
          f"{c['fine']} fine (period < 4 px), {c['coarse']} coarse; wrote {record['figure']} and {json_path}")
    return record


if __name__ == "__main__":
    sys.exit(cli.run(main))
