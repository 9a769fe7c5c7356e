"""The two models: the reference CNN exactly, and a DNN solved to the same size."""

import pytest

from ferlib.models import build_cnn, build_dnn, dnn_param_count, dnn_widths


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
