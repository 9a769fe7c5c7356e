"""Question 4's regions and reading: boxes placed on the face's parts, a class read against all faces (the centre
bias cancels), and the region named only where hiding it costs a measurable amount."""

import numpy as np
import pytest

import saliency
from ferlib.data import load_synthetic
from ferlib.regions import REGIONS, fitted_regions, mean_face_landmarks


def drawn_face(eye_row=17, eyes=(15, 32), mouth_row=38):
    """A mean face as FER2013's looks: mid-gray, dark hair in the corners, two dark eyes and a dark mouth."""
    face = np.full((48, 48), 150.0)
    face[:8, :5] = face[:8, -5:] = 60            # corners darker than any part: the search must skip them
    yy, xx = np.mgrid[0:48, 0:48]
    for col in eyes:   # darkest at the centre
        face -= 80 * np.clip(1 - np.sqrt(((yy - eye_row) / 2.5) ** 2 + ((xx - col) / 4) ** 2), 0, None)
    face[mouth_row - 1:mouth_row + 2, 15:33] -= [[30], [50], [30]]
    return face


@pytest.mark.parametrize("shift", [-2, 0, 2])
def test_the_boxes_sit_on_the_mean_face_s_parts(shift):
    face = drawn_face(17 + shift, (15, 32), 38 + shift)
    assert mean_face_landmarks(face) == (17 + shift, 15, 32, 38 + shift)
    regions = fitted_regions(face)
    assert regions[17 + shift, 15] == regions[17 + shift, 32] == REGIONS.index("eyes")
    assert regions[38 + shift, 23] == REGIONS.index("mouth")
    assert regions[17 + shift - 6, 23] == REGIONS.index("brows")        # above the eyes
    assert regions[17 + shift, 23] == REGIONS.index("brows")            # and between them
    assert regions[28 + shift, 23] == REGIONS.index("nose")
    assert regions[17 + shift, 2] == regions[40, 2] == REGIONS.index("rest")   # no full-width bands


def test_the_built_in_faces_parts_follow_the_face():
    regions = load_synthetic().regions["val"][:100]
    rows = np.arange(48)[None, :, None]
    centre = {r: ((regions == REGIONS.index(r)) * rows).sum((1, 2)) / (regions == REGIONS.index(r)).sum((1, 2))
              for r in ("brows", "eyes", "nose", "mouth")}
    assert (centre["brows"] < centre["eyes"]).all() and (centre["eyes"] < centre["nose"]).all()
    assert (centre["nose"] < centre["mouth"]).all()
    assert len({r.tobytes() for r in regions}) == len(regions)   # pose and size differ from face to face


def maps_with(regions, boost):
    """Gaussian-centred maps (the bias every map has), each face's `boost` {face index: region} made brighter."""
    n = len(regions)
    yy, xx = np.mgrid[0:48, 0:48] - 23.5
    maps = np.broadcast_to(np.exp(-(xx ** 2 + yy ** 2) / (2 * 16 ** 2)), (n, 48, 48)).copy()
    maps *= np.random.default_rng(0).lognormal(0, 0.2, maps.shape)
    for i, region in boost.items():
        maps[i] *= 1 + 2 * (regions[i] == REGIONS.index(region))
    return maps


def test_maps_that_only_favour_the_middle_of_the_image_favour_no_region_for_any_class():
    # Every map is brighter in the middle (where the nose is) whatever the class: read against all faces, every
    # class draws within 3% of what any face draws, in every region.
    regions = np.broadcast_to(fitted_regions(drawn_face()), (300, 48, 48))
    scores = saliency.region_scores(maps_with(regions, {}), regions)
    assert scores[:, REGIONS.index("nose")].mean() > 1.5            # the bias is there...
    for c in range(3):                                               # ...and cancels
        rel = saliency.relative_saliency(scores, np.arange(100 * c, 100 * c + 100))
        assert all(abs(r["ratio"] - 1) < 0.03 for r in rel.values()), rel


def test_a_class_whose_maps_light_the_mouth_draws_more_there_and_the_others_less():
    regions = np.broadcast_to(fitted_regions(drawn_face()), (300, 48, 48))
    scores = saliency.region_scores(maps_with(regions, {i: "mouth" for i in range(100)}), regions)   # class 0 only
    assert saliency.relative_saliency(scores, np.arange(100))["mouth"]["lo"] > 1.2
    assert saliency.agreement(saliency.relative_saliency(scores, np.arange(100, 200)), "mouth") == "less"


def test_the_costliest_region_is_the_largest_drop_whose_interval_clears_zero():
    occ = {"eyes": {"prob": 0.09, "prob_lo": -0.01}, "mouth": {"prob": 0.05, "prob_lo": 0.02},
           "nose": {"prob": 0.03, "prob_lo": 0.01}}
    assert saliency.costliest(occ) == ("mouth", ["nose"])   # the eyes' larger drop could be 0; the nose's
    assert saliency.costliest({**occ, "nose": {"prob": 0.01, "prob_lo": 0.005}}) == ("mouth", [])   # reaches in
    assert saliency.costliest({"eyes": {"prob": 0.01, "prob_lo": -0.01}}) == (None, [])
    # Against the rest of the image: a part that costs no more per pixel than the background is not named.
    rest = {"rest": {"prob": 0.018, "prob_lo": 0.015}}
    assert saliency.costliest({**rest, "eyes": {"prob": 0.017, "prob_lo": 0.004}}) == (None, [])
    assert saliency.costliest({**rest, **occ}) == ("mouth", [])   # the nose, [0.01, ...], is no longer measurable


def test_a_wrong_answer_that_rests_on_the_mouth_is_traced_to_the_mouth():
    import keras
    from ferlib import CLASS_NAMES
    regions = fitted_regions(drawn_face())
    mouth = (regions == REGIONS.index("mouth")).ravel()
    # A model that answers Sad for a bright mouth (its logit: 0.1 x the mouth's mean gray) and Fear otherwise.
    sad, fear = CLASS_NAMES.index("Sad"), CLASS_NAMES.index("Fear")
    weights, bias = np.zeros((48 * 48, 7), np.float32), np.full(7, -50, np.float32)
    weights[mouth, sad], bias[sad], bias[fear] = 0.1 / mouth.sum(), 0, 19
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    model.layers[-1].set_weights([weights, bias])
    rng = np.random.default_rng(0)
    x = rng.integers(100, 150, (48, 48, 48)).astype(np.uint8)
    x[:30][:, regions == REGIONS.index("mouth")] = 255          # 30 Fear faces with a bright mouth: taken for Sad
    y = np.full(48, fear)
    y[40:] = CLASS_NAMES.index("Angry")                          # 8 Angry faces taken for Fear: too few to read
    prob, right, answer_prob, answer = saliency.occlusion_drops(model, x, y, regions, np.rint(x.mean(0)))
    area = np.broadcast_to(np.array([(regions == r).sum() for r in range(len(REGIONS))], float), prob.shape)
    cues = saliency.confusion_cues(answer_prob, y, answer, area)
    assert list(cues) == ["Fear>Sad"] and cues["Fear>Sad"]["n"] == 30
    assert cues["Fear>Sad"]["cue"] == "mouth" and cues["Fear>Sad"]["close"] == []
    assert cues["Fear>Sad"]["occlusion"]["mouth"]["prob_lo"] > 0.05


def test_a_few_faces_with_a_weak_lean_are_not_read_as_drawing_more():
    regions = np.broadcast_to(fitted_regions(drawn_face()), (208, 48, 48))
    rng = np.random.default_rng(3)
    maps = maps_with(regions, {})
    maps[:8] *= 1 + rng.normal(0.05, 0.4, (8, 1, 1)) * (regions[:8] == REGIONS.index("mouth"))
    maps = np.clip(maps, 0, None) * rng.lognormal(0, 0.5, maps.shape)
    rel = saliency.relative_saliency(saliency.region_scores(maps, regions), np.arange(8))
    assert saliency.agreement(rel, "mouth") != "more"
