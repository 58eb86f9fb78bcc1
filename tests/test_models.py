"""The deck's four models: parameter totals, layer names, shapes, graph mode, .keras round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_keras import models
from sr_keras.interpolation import imresize
from sr_keras.layers import BicubicUpsample, PadToMultiple

SLIDE_TOTALS = {
    "srcnn": 20_483,
    "srresnet": 449_731,
    "srresnet_lite": 39_875,
    "sr_autoencoder": 1_848_067,
}


def test_registry_lists_the_deck_models_then_the_sub_pixel_ones():
    assert models.available_models() == [*SLIDE_TOTALS, "espcn", "edsr_baseline"]
    assert models.DECK_MODELS == tuple(SLIDE_TOTALS)


@pytest.mark.parametrize("name", list(SLIDE_TOTALS))
def test_parameter_totals_match_the_slides(name):
    assert models.build(name, 4).count_params() == SLIDE_TOTALS[name]
    table = models.layer_table(name)
    assert table.iloc[-1]["Block"] == "Total"
    assert table.iloc[-1]["Parameters"] == SLIDE_TOTALS[name]
    assert table.iloc[:-1]["Parameters"].sum() == SLIDE_TOTALS[name]


@pytest.mark.parametrize("name", list(SLIDE_TOTALS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape_for_each_scale_and_odd_sizes(name, scale):
    model = models.build(name, scale)
    lr = np.random.default_rng(0).random((2, 7, 10, 3), dtype=np.float32)
    assert model(lr).shape == (2, 7 * scale, 10 * scale, 3)


def test_layer_names_follow_the_slide_blocks():
    srcnn = models.build("srcnn")
    assert [layer.name for layer in srcnn.layers] == ["lr", "X1", "X2", "X3", "X4", "X5", "X6"]
    assert isinstance(srcnn.get_layer("X1"), BicubicUpsample)
    assert srcnn.get_layer("X2").kernel_size == (9, 9)
    assert srcnn.get_layer("X4").kernel_size == (1, 1)
    assert srcnn.get_layer("X6").kernel_size == (5, 5)
    assert srcnn.get_layer("X6").activation.__name__ == "linear"
    assert srcnn.get_layer("X2").activation.__name__ == "relu"
    lite = models.build("srresnet_lite")
    assert lite.get_layer("X10").filters == 3 and lite.get_layer("X9").filters == 64
    autoencoder = models.build("sr_autoencoder")
    for block in ("encoder", "decoder", "X8", "X12", "X15"):
        autoencoder.get_layer(block)


def test_residual_block_is_conv_bn_relu_conv_bn_plus_skip():
    model = models.build("srresnet")
    names = [layer.name for layer in model.layers if layer.name.startswith("X3")]
    assert names == ["X3_conv1", "X3_bn1", "X3_relu", "X3_conv2", "X3_bn2", "X3"]
    assert isinstance(model.get_layer("X3"), keras.layers.Add)


@pytest.mark.parametrize("scale", [2, 4])
def test_interpolation_block_is_tensorflows_bicubic(scale):
    model = models.build("srcnn", scale)
    lr = np.random.default_rng(1).random((2, 8, 9, 3), dtype=np.float32)
    x1 = keras.Model(model.input, model.get_layer("X1").output)(lr)
    expected = tf.image.resize(lr, (8 * scale, 9 * scale), method="bicubic")
    np.testing.assert_allclose(x1, expected, atol=1e-6)


def test_interpolation_block_is_exact_bicubic_at_x3():
    # TensorFlow quantises the cubic kernel to 1/1024 steps, which is inexact for thirds: the
    # layer uses the exact weights, so it matches MATLAB's imresize away from the borders
    # (imresize mirrors the image there, TensorFlow renormalises) and TensorFlow to 1e-3.
    lr = np.random.default_rng(1).random((1, 8, 9, 3), dtype=np.float32)
    x1 = BicubicUpsample(3)(lr).numpy()[0]
    expected = imresize(lr[0], 3)
    np.testing.assert_allclose(x1[6:-6, 6:-6], expected[6:-6, 6:-6], atol=1e-6)
    tensorflow = tf.image.resize(lr, (24, 27), method="bicubic")[0]
    np.testing.assert_allclose(x1, tensorflow, atol=1e-3)


def test_interpolation_block_border_rule_and_single_pixel():
    # A constant image stays constant up to the border (renormalised weights), any size.
    for shape in [(1, 1, 1, 1), (1, 2, 5, 3)]:
        out = BicubicUpsample(4)(np.full(shape, 0.3, np.float32)).numpy()
        assert out.shape == (1, shape[1] * 4, shape[2] * 4, shape[3])
        np.testing.assert_allclose(out, 0.3, atol=1e-6)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (2, 7), (5, 8), (9, 3)])
def test_pad_to_multiple_mirrors_like_numpy_symmetric(height, width):
    image = np.random.default_rng(4).random((1, height, width, 3), dtype=np.float32)
    padded = PadToMultiple(4)(image).numpy()
    pads = ((0, 0), (0, -height % 4), (0, -width % 4), (0, 0))
    np.testing.assert_array_equal(padded, np.pad(image, pads, mode="symmetric"))


def test_no_lambda_layers():
    for name in SLIDE_TOTALS:
        assert not any(
            isinstance(layer, keras.layers.Lambda) for layer in models.build(name).layers
        )


@pytest.mark.parametrize("name", ["srresnet_lite", "sr_autoencoder"])
def test_keras_round_trip_gives_identical_outputs(name, tmp_path):
    model = models.build(name, 3, global_residual=True)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode stays True
    lr = np.random.default_rng(2).random((1, 9, 11, 3), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(lr, verbose=0), loaded.predict(lr, verbose=0))


def test_graph_mode_with_unknown_spatial_size():
    model = models.build("sr_autoencoder", 4)
    function = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
    )
    for shape in [(1, 6, 9, 3), (2, 13, 5, 3)]:
        out = function(tf.zeros(shape))
        assert out.shape == (shape[0], shape[1] * 4, shape[2] * 4, 3)
    predicted = model.predict(np.zeros((1, 5, 7, 3), np.float32), verbose=0)
    assert predicted.shape == (1, 20, 28, 3)


def test_global_residual_adds_the_interpolated_input_for_free():
    base = models.build("srcnn", 2)
    residual = models.build("srcnn", 2, global_residual=True)
    assert residual.count_params() == base.count_params()
    residual.set_weights(base.get_weights())
    lr = np.random.default_rng(3).random((1, 6, 8, 3), dtype=np.float32)
    x1 = tf.image.resize(lr, (12, 16), method="bicubic")
    np.testing.assert_allclose(residual(lr), base(lr) + x1, atol=1e-5)


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="name"):
        models.build("vdsr")
    with pytest.raises(ValueError, match="scale"):
        models.build("srcnn", 5)


# --- the sub-pixel family (issue 5): every convolution at LR resolution ---------------------

SUB_PIXEL_TOTALS = {  # published: EDSR baseline 1.37M (x2), 1.5M (x4)
    ("espcn", 2): 26_796,
    ("espcn", 3): 31_131,
    ("espcn", 4): 37_200,
    ("edsr_baseline", 2): 1_369_859,
    ("edsr_baseline", 3): 1_554_499,
    ("edsr_baseline", 4): 1_517_571,
}


@pytest.mark.parametrize(("name", "scale"), list(SUB_PIXEL_TOTALS))
def test_sub_pixel_models_parameters_and_shapes(name, scale):
    model = models.build(name, scale)
    assert model.count_params() == SUB_PIXEL_TOTALS[(name, scale)]
    lr = np.random.default_rng(4).random((2, 7, 10, 3), dtype=np.float32)
    assert model(lr).shape == (2, 7 * scale, 10 * scale, 3)
    assert models.layer_table(name, scale).iloc[-1]["Parameters"] == model.count_params()


def test_pixel_shuffle_matches_depth_to_space_and_reloads(tmp_path):
    from sr_keras.layers import PixelShuffle

    x = np.random.default_rng(5).random((2, 5, 7, 27), dtype=np.float32)
    np.testing.assert_array_equal(PixelShuffle(3)(x), tf.nn.depth_to_space(x, 3))
    model = models.build("edsr_baseline", 3, global_residual=True)
    path = tmp_path / "edsr.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    lr = np.random.default_rng(6).random((1, 9, 8, 3), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(lr, verbose=0), loaded.predict(lr, verbose=0))
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded.layers)


def test_edsr_blocks_have_no_batch_norm_and_scale_the_residual():
    model = models.build("edsr_baseline", 4)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert model.get_layer("block1_scale").factor == 0.1
    assert model.get_layer("head").output.shape[1] is None  # works at any LR size
