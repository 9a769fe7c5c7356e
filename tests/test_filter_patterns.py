"""filter_viz's reading of ascent images, on images of known kind; its receptive fields, against the gradient."""

import math

import numpy as np
import pytest

import filter_viz


def shares_right(n=300, seed=1):
    """{"all" and each kind: share read right} of n known patterns, and the first few misread: [(truth, reading)].
    Seed 1: the run's own check (pattern_check) uses seed 0, so this is a second draw."""
    images, truths = filter_viz.known_patterns(n, seed)
    readings = [filter_viz.read_pattern(image) for image in images]
    right = [filter_viz.read_right(r, t) for r, t in zip(readings, truths)]
    shares = {kind: np.mean([ok for ok, t in zip(right, truths) if t["kind"] == kind]) for kind in filter_viz.KINDS}
    return {"all": np.mean(right), **shares}, [(t, r) for ok, r, t in zip(right, readings, truths) if not ok][:5]


def passes(shares):
    return shares["all"] >= 0.95 and min(shares[k] for k in filter_viz.KINDS) >= 0.9


def test_images_of_known_kind_are_read_right():
    shares, wrong = shares_right()   # measured: 300 of 300
    assert passes(shares), (shares, wrong)


@pytest.mark.parametrize("constant, value", [
    ("SAME_DIRECTION", 180),   # every lattice read as stripes
    ("REPEATS", 0),            # a pair of blobs read as a repeating pattern
    ("STANDS_OUT", 3),         # noise read as a pattern
])
def test_the_check_fails_a_broken_reading(monkeypatch, constant, value):
    monkeypatch.setattr(filter_viz, constant, value)
    shares, _ = shares_right(150)
    assert not passes(shares), shares


def test_orientation_and_period_are_those_of_the_image_as_shown():
    rows, cols = np.mgrid[0:48, 0:48]
    k = 2 * np.pi / (6 * math.sqrt(2))   # period 6 across diagonal stripes
    cases = {0: np.sin(2 * np.pi * rows / 6), 45: np.sin(k * (rows + cols)),   # "/": rows + cols constant
             90: np.sin(2 * np.pi * cols / 6), 135: np.sin(k * (rows - cols))}
    for angle, image in cases.items():
        reading = filter_viz.read_pattern(image)
        assert reading["kind"] == "stripes" and reading["period"] == pytest.approx(6, rel=0.05), (angle, reading)
        assert reading["orientation"] == pytest.approx(angle, abs=3), (angle, reading)
    assert [filter_viz.orientation_word(a) for a in (0, 179, 45, 90, 135, 160)] == [
        "horizontal", "horizontal", "diagonal", "vertical", "diagonal", "horizontal"]


def test_receptive_fields_are_the_footprint_of_one_units_gradient():
    import keras
    import tensorflow as tf
    from ferlib.models import build_cnn, conv_layers
    model = build_cnn(augment=False)
    fields = {l.name: filter_viz.receptive_field(model, l.name) for l in conv_layers(model)}
    assert fields == {"conv2d_1": 3, "conv2d_2": 5, "conv2d_3": 7, "conv2d_4": 12, "conv2d_5": 16, "conv2d_6": 20,
                      "conv2d_7": 30, "conv2d_8": 38, "conv2d_9": 46}
    # Brute force: the input pixels that one middle unit's gradient reaches. Positive kernels and inputs keep
    # every ReLU on; a max pool passes the gradient to one pixel of four, so four random images' footprints
    # are pooled.
    # The same layers on a 64x64 input: at 48x48 the image's edge would cut conv2d_9's 46 pixels.
    # Measured: every one of the nine fields is the footprint's exact side, and 96-100% of it is reached.
    x = inputs = keras.Input((64, 64, 1))
    outputs = {}
    for layer in model.layers[1:model.layers.index(model.get_layer("conv2d_9")) + 1]:
        if layer in conv_layers(model):
            layer.kernel.assign(np.abs(layer.kernel.numpy()))
        x = outputs[layer.name] = layer(x)
    faces = tf.constant(np.random.default_rng(0).uniform(1, 255, (4, 64, 64, 1)), tf.float32)
    for name in fields:
        cut = keras.Model(inputs, outputs[name])
        with tf.GradientTape() as tape:
            tape.watch(faces)
            maps = cut(faces, training=False)
            unit = tf.reduce_sum(maps[:, maps.shape[1] // 2, maps.shape[2] // 2, 0])
        reached = np.abs(tape.gradient(unit, faces).numpy()).max(axis=(0, 3)) > 0
        rows, cols = np.nonzero(reached)
        assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (fields[name],) * 2, name


def test_a_second_start_counts_the_filters_that_keep_their_kind_and_their_agreement_beyond_chance():
    def record(kinds):   # a layer record as layer_record writes it; None: a dead filter
        return {"patterns": {f: {"kind": k} for f, k in enumerate(kinds) if k},
                "counts": {k: list(kinds).count(k) for k in filter_viz.KINDS}}
    first = record(["stripes", "stripes", "lattice", "blob", "blob", None])
    same = filter_viz.second_start(first, record(["stripes", "stripes", "lattice", "blob", "blob", "blob"]))
    assert (same["filters"], same["same"], same["kappa"]) == (5, 5, 1.0)   # filter 5 was dead in the first start
    # Every filter changes kind: worse than chance, whatever each start's counts are.
    swapped = filter_viz.second_start(first, record(["lattice", "blob", "blob", "stripes", "stripes", None]))
    assert swapped["same"] == 0 and swapped["kappa"] < 0
    assert swapped["counts"] == {"stripes": 2, "lattice": 1, "blob": 2}
    # One kind in both starts: kappa has nothing to measure, and is left out rather than called 0 or 1.
    assert filter_viz.second_start(record(["blob"] * 3), record(["blob"] * 3))["kappa"] is None


def test_the_mean_patch_is_centred_on_what_the_filter_fires_on_in_the_faces_where_it_fires_most():
    rng = np.random.default_rng(0)
    x = rng.integers(60, 120, (200, 48, 48)).astype(np.uint8)
    acts = np.zeros((200, 24, 24, 2), np.float32)   # a stride-2 layer: cell (i, j) covers pixels 2i..2i+1
    for n in range(200):
        i, j = rng.integers(3, 21, 2)
        acts[n, i, j, 0] = 1 + n                      # the last faces fire hardest
        if n >= 150:
            x[n, 2 * i:2 * i + 2, 2 * j:2 * j + 2] = 255   # what the filter finds, under its strongest cell
        else:
            x[n, 40:42, 40:42] = 255                   # the weaker faces have it elsewhere
    patch = filter_viz.mean_top_patch(acts, x, 0, field=7, n=50)
    assert patch.shape == (7, 7)
    bright = np.zeros((7, 7), bool)
    bright[2:4, 2:4] = True
    assert patch[bright].min() == 255 and patch[~bright].max() < 130
    # Taken from the 100 strongest faces, half of them the weaker ones, the spot is half as bright.
    assert filter_viz.mean_top_patch(acts, x, 0, field=7, n=100)[bright].mean() < 200


@pytest.mark.parametrize("draw, shape, word", [
    (lambda yy, xx: (yy > 0) * 100.0, "line", "horizontal"),                        # dark above, light below
    (lambda yy, xx: 100 - 80 * (np.abs(xx) < 2), "line", "vertical"),               # a dark vertical band
    (lambda yy, xx: (yy < -xx) * 100.0, "line", "diagonal"),                        # an edge along "/"
    (lambda yy, xx: 100 - 80 * np.exp(-(yy ** 2 + xx ** 2) / 8), "dark spot", None),   # a pupil
    (lambda yy, xx: 50 + 80 * np.exp(-(yy ** 2 + xx ** 2) / 8), "bright spot", None),
])
def test_mean_patches_of_known_shape_are_read_right(draw, shape, word):
    yy, xx = np.mgrid[-10:11, -10:11].astype(float)
    noise = np.random.default_rng(0).normal(0, 5, yy.shape)
    reading = filter_viz.read_patch(draw(yy, xx) + noise)
    assert reading["shape"] == shape, reading
    assert (reading["orientation"] is None) == (word is None)
    if word:
        assert filter_viz.orientation_word(reading["orientation"]) == reading["direction"] == word, reading


def test_a_patch_lines_angle_is_read_as_shown():
    yy, xx = np.mgrid[-10:11, -10:11].astype(float)   # rows go down the image as shown
    assert abs(filter_viz.read_patch((yy < -xx) * 100.0)["orientation"] - 45) < 5     # "/"
    assert abs(filter_viz.read_patch((yy < xx) * 100.0)["orientation"] - 135) < 5     # "\"


def test_a_patch_of_noise_reads_as_no_shape():
    assert filter_viz.read_patch(np.random.default_rng(1).normal(100, 20, (21, 21)))["shape"] is None
