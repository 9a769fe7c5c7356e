"""The built-in synthetic faces: deterministic, balanced, learnable only with spatial features."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ferlib.data import load_synthetic
from ferlib.synthetic import synthetic_faces


def test_same_seed_same_bytes_other_seed_other_faces():
    a = synthetic_faces(200, seed=7)
    b = synthetic_faces(200, seed=7)
    c = synthetic_faces(200, seed=8)
    for u, v in zip(a, b):
        assert u.tobytes() == v.tobytes()
    assert a[0].tobytes() != c[0].tobytes()


def test_balanced_classes_and_masks_on_the_face():
    x, y, m = synthetic_faces(700, seed=0)
    assert x.dtype == np.uint8 and x.shape == (700, 48, 48)
    assert (np.bincount(y, minlength=7) == 100).all()
    area = m.mean(axis=(1, 2))
    assert (area > 0.02).all() and (area < 0.4).all()        # every face has expression pixels
    # the mask sits on the face, away from the border
    assert m[:, :3].sum() + m[:, -3:].sum() < 0.01 * m.sum()


def test_built_in_set_follows_fer2013_shares_with_a_floor_and_states_its_label_noise():
    from ferlib.data import SYNTHETIC_LABEL_NOISE
    from ferlib.synthetic import FER2013_SHARES, SHARE_FLOOR, fer2013_shares
    d = load_synthetic()
    shares = fer2013_shares()
    assert shares.sum() == pytest.approx(1) and shares.min() == pytest.approx(SHARE_FLOOR)
    assert np.argmax(shares) == 3 and np.argmin(shares) == 1                 # Happy most, Disgust least
    above = FER2013_SHARES >= SHARE_FLOOR                                    # the others keep their proportions
    np.testing.assert_allclose(shares[above] / shares[above].sum(), FER2013_SHARES[above] / FER2013_SHARES[above].sum())
    for split, (x, y) in d.splits.items():
        clean = d.clean_labels[split]
        counts = np.bincount(clean, minlength=7)
        np.testing.assert_allclose(counts / len(clean), shares, atol=1.5 / len(clean))
        if split != "train":
            assert counts.min() >= 40, (split, counts)
        flipped = y != clean
        assert abs(flipped.mean() - SYNTHETIC_LABEL_NOISE) < 0.025, (split, flipped.mean())
        # A flipped label goes to the class's confusable partner (Happy, which has none: anywhere).
        partners = {0: {1}, 1: {0}, 2: {5, 4}, 4: {6}, 5: {2}, 6: {4}}
        for true, noisy in zip(clean[flipped], y[flipped]):
            assert noisy in partners.get(true, set(range(7)) - {3}), (true, noisy)


def test_label_noise_changes_labels_only():
    a = synthetic_faces(300, seed=4, label_noise=0.0)
    b = synthetic_faces(300, seed=4, label_noise=0.2)
    assert a[0].tobytes() == b[0].tobytes() and a[2].tobytes() == b[2].tobytes()
    assert 0.12 < (a[1] != b[1]).mean() < 0.28


@pytest.fixture(scope="module")
def synthetic():
    return load_synthetic()


def _fit_score(x_tr, y_tr, x_va, y_va):
    clf = LogisticRegression(max_iter=500, C=0.01)   # converges in ~324 on raw pixels
    clf.fit(x_tr, y_tr)
    return clf.score(x_va, y_va)


def test_no_trivial_cue_raw_pixels_are_not_linearly_separable(synthetic):
    x_tr, y_tr = synthetic.split("train")
    x_va, y_va = synthetic.split("val")
    flat = lambda x: x.reshape(len(x), -1) / 255.0  # noqa: E731
    acc = _fit_score(flat(x_tr), y_tr, flat(x_va), y_va)
    assert acc < 0.6, acc   # the CNN of `make report` reaches 0.77-0.79 (docs/synthetic_calibration.md)
    # mean brightness alone says nothing about the class: no better than always answering the majority class
    majority = np.bincount(y_va).max() / len(y_va)
    bright = lambda x: x.reshape(len(x), -1).mean(1, keepdims=True) / 255.0  # noqa: E731
    assert _fit_score(bright(x_tr), y_tr, bright(x_va), y_va) < majority + 0.02


def test_classes_separable_from_the_expression_pixels(synthetic):
    # Where the expression ink is, relative to the face, separates the classes far
    # better than raw pixels: the label really is in the brows, eyes and mouth.
    def features(x, m):
        ys, xs = np.mgrid[0:48, 0:48]
        n = m.sum((1, 2))
        cy = (m * ys).sum((1, 2)) / n
        cx = (m * xs).sum((1, 2)) / n
        # histogram of mask pixels by vertical offset from the mask centre
        off = (ys[None] - cy[:, None, None])
        bins = [np.logical_and(m, (off >= lo) & (off < lo + 2)).sum((1, 2)) for lo in range(-20, 20, 2)]
        dark = [((x < np.median(x.reshape(len(x), -1), 1)[:, None, None] * 0.7) & m
                 & (off >= lo) & (off < lo + 3)).sum((1, 2)) for lo in range(-18, 18, 3)]
        return np.stack(bins + dark + [n, cx - 24], 1) / 50.0
    x_tr, y_tr = synthetic.split("train")
    x_va, y_va = synthetic.split("val")
    f_tr, f_va = features(x_tr, synthetic.masks["train"]), features(x_va, synthetic.masks["val"])
    clf = LogisticRegression(max_iter=2000)
    clf.fit(f_tr, y_tr)
    assert clf.score(f_va, y_va) > 0.7
