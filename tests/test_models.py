"""The two models: the reference CNN exactly, and a DNN solved to the same size."""

import numpy as np
import pytest

from ferlib.models import augmentation_summary, build_cnn, build_dnn, dnn_param_count, dnn_widths


def test_cnn_is_the_reference_architecture():
    m = build_cnn()
    assert m.count_params() == 1_696_583
    assert sum(int(w.numpy().size) for w in m.non_trainable_weights) == 1_344
    convs = [l for l in m.layers if l.__class__.__name__ == "Conv2D"]
    assert [l.filters for l in convs] == [32] * 3 + [64] * 3 + [128] * 3
    assert convs[5].name == "conv2d_6"                       # the layer the reference visualised
    assert m.get_layer("flatten").output.shape[-1] == 4608   # 6 x 6 x 128
    assert m.output.shape[-1] == 7 and m.layers[-1].dtype_policy.compute_dtype == "float32"


def test_augmentation_adds_no_parameters():
    assert build_cnn(augment=False).count_params() == build_cnn(augment=True).count_params()
    assert build_cnn(erase=0.5).count_params() == 1_696_583


def test_random_erasing_blots_one_rectangle_in_its_share_of_training_images_only():
    model = build_cnn(erase=0.5)
    assert augmentation_summary(model) == "mirror, shift 0.1, erase 0.5"
    augment = model.get_layer("augment")
    # A flat gray face is unchanged by mirror and shift (nearest fill), so every changed pixel is erasing's.
    x = np.full((400, 48, 48, 1), 128.0, "float32")
    np.testing.assert_array_equal(np.asarray(augment(x, training=False)), x)
    changed = np.asarray(augment(x, training=True))[..., 0] != 128
    hit = changed.any(axis=(1, 2))
    assert 0.4 < hit.mean() < 0.6
    for c in changed[hit]:
        rows, cols = np.flatnonzero(c.any(1)), np.flatnonzero(c.any(0))
        box = c[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert box.mean() > 0.95                      # one filled rectangle (noise may hit 128 by chance)
        assert 0.01 <= box.size / c.size <= 0.35      # 2-33% of the face


@pytest.mark.parametrize("target", [100_000, 1_696_583, 5_000_000])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_dnn_width_solver_hits_target_within_0_1_percent(target, depth):
    widths = dnn_widths(target, depth)
    assert len(widths) == depth and min(widths) >= 1
    assert abs(dnn_param_count(widths) - target) <= 0.001 * target


def test_dnn_matches_the_cnn_size_and_is_plain_dense():
    cnn = build_cnn().count_params()
    dnn = build_dnn(cnn)
    assert abs(dnn.count_params() - cnn) <= 0.001 * cnn
    assert dnn.count_params() == dnn_param_count(dnn_widths(cnn))
    kinds = {l.__class__.__name__ for l in dnn.layers}
    assert "Conv2D" not in kinds and "Dense" in kinds
