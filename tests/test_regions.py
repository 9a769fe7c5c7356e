"""Question 4's reading: a region is named only where the maps favour it beyond what a map that knows
nothing of the face gives, on fixed boxes and on regions that move with each face."""

import numpy as np
import pytest

import saliency
from ferlib.data import load_synthetic
from ferlib.regions import REGIONS, fixed_regions


def named(maps, regions, random_maps=None):
    """The regions saliency.py would name for these maps (the re-drawn model's maps: flat noise by default)."""
    rng = np.random.default_rng(0)
    random_maps = rng.random(maps.shape) if random_maps is None else random_maps
    scores = saliency.region_scores(maps, regions)
    baselines = {k: saliency.region_scores(np.broadcast_to(m, maps.shape), regions)
                 for k, m in saliency.content_free_maps().items()}
    baselines["re-drawn weights"] = saliency.region_scores(random_maps, regions)
    return saliency.clears_baselines(saliency.against_baselines(scores, baselines))


def built_in_regions(n=300):
    return load_synthetic().regions["val"][:n]


@pytest.mark.parametrize("where", ["fixed", "each face's own"])
@pytest.mark.parametrize("kind", ["centred Gaussian", "dark border"])
def test_content_free_maps_name_no_region(kind, where):
    n = 300
    regions = np.broadcast_to(fixed_regions(), (n, 48, 48)) if where == "fixed" else built_in_regions(n)
    noise = np.random.default_rng(1).normal(1, 0.02, (n, 48, 48))   # faces differ a little, as real maps do
    maps = saliency.content_free_maps()[kind] * noise
    assert named(maps, regions) == []


@pytest.mark.parametrize("where", ["fixed", "each face's own"])
def test_a_map_on_the_mouth_names_the_mouth(where):
    # The positive control: the same logic must not be blind.
    n = 300
    regions = np.broadcast_to(fixed_regions(), (n, 48, 48)) if where == "fixed" else built_in_regions(n)
    mouth = np.broadcast_to(regions, (n, 48, 48)) == REGIONS.index("mouth")
    maps = saliency.content_free_maps()["centred Gaussian"] * (1 + 2 * mouth)
    assert named(maps, regions) == ["mouth"]


def test_a_few_faces_with_a_weak_preference_name_nothing():
    # 8 faces whose maps lean to the mouth by chance: the interval must not clear the baselines.
    rng = np.random.default_rng(3)
    regions = np.broadcast_to(fixed_regions(), (8, 48, 48))
    mouth = regions == REGIONS.index("mouth")
    maps = saliency.content_free_maps()["centred Gaussian"] * (1 + rng.normal(0.05, 0.4, (8, 1, 1)) * mouth)
    maps = np.clip(maps, 0, None) * rng.lognormal(0, 0.5, (8, 48, 48))
    assert "mouth" not in named(maps, regions)


def test_the_built_in_faces_parts_follow_the_face():
    # The generator's parts move with each face: a face's mouth region lies below its brows region.
    d = load_synthetic()
    regions = d.regions["val"][:100]
    rows = np.arange(48)[None, :, None]
    for part_above, part_below in (("brows and eyes", "nose"), ("nose", "mouth")):
        above = (regions == REGIONS.index(part_above))
        below = (regions == REGIONS.index(part_below))
        centre_above = (above * rows).sum((1, 2)) / above.sum((1, 2))
        centre_below = (below * rows).sum((1, 2)) / below.sum((1, 2))
        assert (centre_below > centre_above).all()
    # and differ between faces (pose and size), unlike FER2013's fixed boxes
    assert len({r.tobytes() for r in regions}) == len(regions)
