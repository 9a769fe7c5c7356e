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


def test_mirror_flips_left_and_right_only():
    # Every column distinct, and odd rows apart from even ones (a vertical flip swaps them): any output
    # is x itself or x with its columns reversed. Small integers, exact in bfloat16 too.
    rows, cols = np.mgrid[0:48, 0:48]
    x = (cols + 50 * (rows % 2)).astype("float32")[None, :, :, None].repeat(64, 0)
    mirror = build_cnn().get_layer("augment").get_layer("mirror")
    out = np.asarray(mirror(x, training=True))
    flipped = np.array([np.array_equal(o, x[0, :, ::-1]) for o in out])
    same = np.array([np.array_equal(o, x[0]) for o in out])
    assert (flipped | same).all() and 0.2 < flipped.mean() < 0.8
    np.testing.assert_array_equal(np.asarray(mirror(x, training=False)), x)


def test_mirror_tta_averages_with_the_width_flipped_face():
    import keras
    from ferlib.models import mirror_tta, predict_probs
    # Probabilities that tell left from right: softmax of (left-half mean, right-half mean, 0, ...).
    inputs = keras.Input((48, 48, 1))
    left = keras.ops.mean(inputs[:, :, :24], axis=(1, 2, 3))
    right = keras.ops.mean(inputs[:, :, 24:], axis=(1, 2, 3))
    logits = keras.ops.stack([left, right] + [keras.ops.zeros_like(left)] * 5, axis=1) / 50
    model = keras.Model(inputs, keras.ops.softmax(logits))
    x = np.zeros((3, 48, 48), np.uint8)
    x[:, :, :24] = 200                   # bright on the left
    p = predict_probs(model, x)
    assert (p[:, 0] > p[:, 1]).all()
    tta = mirror_tta(model, x, p)
    np.testing.assert_allclose(tta[:, 0], tta[:, 1], rtol=1e-5)   # mirrored: as bright on the right
    np.testing.assert_allclose(predict_probs(model, x, tta=2), tta, rtol=1e-6)


def test_fused_batch_norm_trains_as_keras_batch_norm():
    import keras
    from ferlib.fused_bn import FusedBatchNormalization
    x = np.random.default_rng(0).normal(3, 2, (8, 6, 6, 5)).astype("float32")
    fused, stock = FusedBatchNormalization(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    for layer in (fused, stock):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 2, 5))
        layer.beta.assign(np.linspace(-1, 1, 5))
    for _ in range(3):   # a few training steps: outputs and the moving statistics they update
        np.testing.assert_allclose(np.asarray(fused(x, training=True)), np.asarray(stock(x, training=True)),
                                   atol=1e-5)
    # The moving variance averages the biased batch variance, as Keras does, not the op's unbiased one
    # (n = 288 here: a missing n/(n-1) correction is off by 3.5e-3, far outside the tolerance).
    np.testing.assert_allclose(np.asarray(fused.moving_mean), np.asarray(stock.moving_mean), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fused.moving_variance), np.asarray(stock.moving_variance), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(fused(x, training=False)), np.asarray(stock(x, training=False)),
                               atol=1e-5)


def test_portable_model_has_stock_layers_and_the_same_weights_exactly():
    from ferlib.fused_bn import portable
    model = build_cnn()
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    clone = portable(model)
    assert not any("Fused" in type(l).__name__ for l in clone.layers)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)


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


@pytest.mark.parametrize("shape,outputs,words", [((64, 64, 1), 7, "takes 64x64x1 inputs and gives 7 outputs"),
                                                 ((48, 48, 3), 7, "takes 48x48x3 inputs"),
                                                 ((2304,), 7, "takes 2304 inputs"),
                                                 ((48, 48, 1), 10, "takes 48x48x1 inputs and gives 10 outputs")])
def test_a_model_of_other_inputs_or_classes_is_refused_in_one_line(tmp_path, shape, outputs, words):
    import keras
    from ferlib.data import UserError
    from ferlib.models import load_model
    inputs = keras.Input(shape)
    model = keras.Model(inputs, keras.layers.Dense(outputs, activation="softmax")(keras.layers.Flatten()(inputs)))
    path = str(tmp_path / "other.keras")
    model.save(path)
    with pytest.raises(UserError, match=f"other.keras: the model {words}"):
        load_model(path)


def test_an_empty_or_random_model_file_is_named_as_such(tmp_path):
    from ferlib.data import UserError
    from ferlib.models import load_model
    for name, content in (("empty.keras", b""), ("random.keras", bytes(range(256)) * 40)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UserError, match=f"{name}: not a Keras model file"):
            load_model(str(tmp_path / name))


def test_test_time_views_average_the_shifted_and_mirrored_faces():
    from ferlib.models import predict_probs, shifted
    x = np.zeros((1, 48, 48), np.uint8)
    x[0, 10, 20] = 255
    moved = shifted(x, 2, -2)
    assert moved[0, 12, 18] == 255 and moved.sum() == 255                   # 2 rows down, 2 columns left
    np.testing.assert_array_equal(shifted(np.full((1, 48, 48), 9, np.uint8), 2, 2), 9)   # edges repeated
    model = build_cnn(augment=False)
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48)).astype(np.uint8)
    views = [shifted(faces, dy, dx) for dy, dx in ((0, 0), (-2, -2), (-2, 2), (2, -2), (2, 2))]
    views += [v[:, :, ::-1] for v in views]
    expected = np.mean([predict_probs(model, np.ascontiguousarray(v)) for v in views], axis=0)
    np.testing.assert_allclose(predict_probs(model, faces, tta=10), expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(predict_probs(model, faces, tta=10), predict_probs(model, faces, tta=2))


def test_a_compact_copy_computes_in_float32_from_float16_values_in_a_deflated_file(tmp_path):
    import keras
    from ferlib.models import float32_copy, load_model, predict_probs, save_deflated
    keras.mixed_precision.set_global_policy("mixed_bfloat16")   # as the kit trains on a CPU with bf16
    try:
        model = build_cnn(augment=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    plain, compact = tmp_path / "plain.keras", tmp_path / "compact.keras"
    model.save(plain)
    save_deflated(float32_copy(model, half_weights=True), str(compact))
    assert compact.stat().st_size < 0.6 * plain.stat().st_size
    loaded = keras.saving.load_model(compact, compile=False, safe_mode=True)
    assert {l.dtype_policy.name for l in loaded.layers} == {"float32"}
    assert model.get_layer("conv2d_1").dtype_policy.name == "mixed_bfloat16"   # the original is left alone
    rounded = 0
    for w, v in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(v, w.astype(np.float16).astype(np.float32))
        rounded += int(np.sum(v != w))
    assert rounded > 0.9 * model.count_params() - 2_000   # the kernels' random values all moved (BN's 1s and 0s not)
    np.testing.assert_array_equal(float32_copy(model).get_weights()[0], model.get_weights()[0])
    # The same faces get the same probabilities up to float16's rounding of the weights.
    x = np.random.default_rng(0).integers(0, 256, (32, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(predict_probs(load_model(str(compact)), x), predict_probs(float32_copy(model), x),
                               atol=2e-3)
