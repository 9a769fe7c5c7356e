"""compare.py: the paired interval of two models' accuracy difference covers the truth as often as it says."""

import numpy as np

import compare


def test_the_paired_interval_covers_the_true_difference_95_times_in_100():
    # Two models right on most of the same faces, A 2 points better: the pairing is what makes the interval narrow.
    rng = np.random.default_rng(0)
    n, truth, covered, widths = 800, 0.02, 0, []
    for i in range(1000):
        shared = rng.random(n) < 0.60                        # right for both
        only_a = ~shared & (rng.random(n) < 0.07 / 0.40)     # P(only A right) = 0.07
        only_b = ~shared & ~only_a & (rng.random(n) < 0.05 / (0.40 - 0.07))   # P(only B right) = 0.05
        diff, lo, hi = compare.paired_difference(shared | only_a, shared | only_b, resamples=2000, seed=i)
        covered += lo <= truth <= hi
        widths.append(hi - lo)
    assert 0.93 <= covered / 1000 <= 0.97
    # Unpaired, accuracies of 0.67 and 0.65 on 800 faces give a 95% interval 0.093 wide for the difference;
    # paired, only the 12% of faces where the models disagree vary it: 0.048.
    assert 0.04 < np.median(widths) < 0.056


def test_a_model_against_itself_differs_by_nothing(tmp_path):
    from ferlib.fused_bn import portable
    from ferlib.models import build_cnn
    path = str(tmp_path / "cnn.keras")
    portable(build_cnn(augment=False)).save(path)
    out = compare.main([path, path, "--data", "synthetic", "--split", "test"])
    assert out["difference"] == 0 and out["interval"] == [0.0, 0.0] and out["n"] == 700
