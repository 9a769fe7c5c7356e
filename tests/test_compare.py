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
    out = compare.main(["--model", path, path, "--data", "synthetic", "--split", "test"])
    assert out["difference"] == 0 and out["interval"] == [0.0, 0.0] and out["n"] == 700


def test_the_ensemble_size_fit_forecasts_where_many_members_level_off():
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "docs"))
    import ensemble_size
    assert np.allclose(ensemble_size.inverse_k_fit([1, 2, 3, 4], [0.7 - 0.02 / k for k in (1, 2, 3, 4)]), (0.7, 0.02))
    # Exchangeable members: each sees every face's evidence plus its own noise, and five of them gain 2-5
    # points over one, as the shipped CNNs do. The fit on five lands within 0.008 of what 65 reach.
    rng = np.random.default_rng(0)
    n, classes = 4000, 7
    y = rng.integers(0, classes, n)
    for signal, noise in ((1.0, 0.5), (1.5, 0.6)):
        evidence = rng.normal(0, 1, (n, classes)) + signal * np.eye(classes)[y]

        def member():
            logits = evidence + rng.normal(0, noise, (n, classes))
            e = np.exp(logits - logits.max(1, keepdims=True))
            return e / e.sum(1, keepdims=True)
        five = [member() for _ in range(5)]
        rows = ensemble_size.size_curve(five, y)
        # The k = 1 row is the members' mean accuracy, the k = 5 row the five together.
        assert np.isclose(rows[0][2], np.mean([np.mean(p.argmax(1) == y) for p in five]))
        assert np.isclose(rows[-1][2], np.mean(sum(five).argmax(1) == y)) and rows[-1][1] == 1
        assert 0.02 < rows[-1][2] - rows[0][2] < 0.06 and rows[-1][5] < rows[0][5]
        limit, _ = ensemble_size.inverse_k_fit([r[0] for r in rows], [r[2] for r in rows])
        many = np.mean(sum(five + [member() for _ in range(60)]).argmax(1) == y)
        assert abs(limit - many) < 0.008, (signal, noise, limit, many)
