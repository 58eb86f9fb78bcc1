"""The deck's four models: parameter totals, layer names, shapes, graph mode, .keras round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_keras import inference, models
from sr_keras.interpolation import imresize
from sr_keras.layers import BicubicUpsample, PadToMinimumSize, PadToMultiple, ResizeToMatch

SLIDE_TOTALS = {
    "srcnn": 20_483,
    "srresnet": 449_731,
    "srresnet_lite": 39_875,
    "sr_autoencoder": 1_848_067,
}


def test_registry_lists_the_deck_models_then_the_sub_pixel_ones():
    assert models.available_models() == [*SLIDE_TOTALS, "espcn", "edsr_baseline", "rfdn"]
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


# --- RFDN (issue 16): residual feature distillation with local spatial attention -----------

#: From the official layout (github njulj/RFDN), counted by hand beside ``models.RFDN``; the
#: AIM 2020 efficient SR report gives 0.433M at x4.
RFDN_TOTALS = {2: 417_212, 3: 423_977, 4: 433_448}


def _randomised(model, seed=0):
    """Non-trivial weights everywhere (a zero-initialised residual end would hide errors)."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.normal(0, 0.05, w.shape).astype(np.float32) for w in model.get_weights()]
    )
    return model


@pytest.mark.parametrize("scale", list(RFDN_TOTALS))
def test_rfdn_parameters_match_the_official_layout(scale):
    model = models.build("rfdn", scale)
    assert model.count_params() == RFDN_TOTALS[scale]
    table = models.layer_table("rfdn", scale)
    assert table.iloc[-1]["Parameters"] == RFDN_TOTALS[scale]
    assert table.iloc[:-1]["Parameters"].sum() == RFDN_TOTALS[scale]
    assert models.MODELS["rfdn"].parameters == models.build("rfdn", 4).count_params()


def test_rfdn_layers_follow_the_official_code():
    model = models.build("rfdn", 4)
    assert model.get_layer("rfdb1_c1_d").kernel_size == (1, 1)
    assert model.get_layer("rfdb1_c1_d").filters == 25
    assert model.get_layer("rfdb1_c1_d_lrelu").negative_slope == pytest.approx(0.05)
    assert model.get_layer("rfdb1_c3_r").filters == 50
    assert model.get_layer("rfdb1_c5").kernel_size == (1, 1)
    conv2 = model.get_layer("rfdb1_esa_conv2")
    assert (conv2.strides, conv2.padding, conv2.filters) == ((2, 2), "valid", 12)
    pool = model.get_layer("rfdb1_esa_max_pool")
    assert (pool.pool_size, pool.strides, pool.padding) == ((7, 7), (3, 3), "valid")
    assert model.get_layer("rfdb1_esa_conv4").activation.__name__ == "sigmoid"
    assert isinstance(model.get_layer("rfdb4"), keras.layers.Multiply)
    assert model.get_layer("fuse").input.shape[-1] == 200
    assert model.get_layer("upsampler_conv1").filters == 3 * 16  # one x4 shuffle, not two x2
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


@pytest.mark.parametrize(("height", "width"), [(13, 17), (12, 12), (1, 1), (15, 40)])
def test_rfdn_takes_any_size_including_tiny_ones(height, width):
    model = models.build("rfdn", 3, global_residual=True)
    lr = np.random.default_rng(0).random((2, height, width, 3), dtype=np.float32)
    assert model(lr).shape == (2, 3 * height, 3 * width, 3)


def test_resize_to_match_is_pytorch_bilinear_without_align_corners():
    def torch_bilinear_axis(size_in, size_out):  # F.interpolate's source index and weight
        source = np.maximum((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0)
        low = np.floor(source).astype(int)
        weights = np.zeros((size_out, size_in))
        weights[np.arange(size_out), low] += 1 - (source - low)
        weights[np.arange(size_out), np.minimum(low + 1, size_in - 1)] += source - low
        return weights

    small = np.random.default_rng(1).random((1, 3, 5, 2), dtype=np.float32)
    resized = ResizeToMatch()([small, np.zeros((1, 20, 27, 1), np.float32)]).numpy()
    expected = np.einsum(
        "yi,xj,nijc->nyxc", torch_bilinear_axis(3, 20), torch_bilinear_axis(5, 27), small
    )
    np.testing.assert_allclose(resized, expected, atol=1e-6)


def test_pad_to_minimum_size_mirrors_small_inputs_only():
    image = np.random.default_rng(4).random((1, 4, 20, 3), dtype=np.float32)
    padded = PadToMinimumSize(15)(image).numpy()
    np.testing.assert_array_equal(
        padded, np.pad(image, ((0, 0), (0, 11), (0, 0), (0, 0)), "symmetric")
    )


def test_rfdn_keras_round_trip_gives_identical_outputs(tmp_path):
    model = _randomised(models.build("rfdn", 3, global_residual=True))
    path = tmp_path / "rfdn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode stays True
    lr = np.random.default_rng(2).random((1, 13, 17, 3), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(lr, verbose=0), loaded.predict(lr, verbose=0))


def test_rfdn_mixed_bfloat16_is_close_to_its_float32_twin():
    # bfloat16 keeps 8 significant bits (relative step 2**-8 = 0.004): measured max 3.1e-3,
    # mean 5e-4 on outputs of magnitude up to 1.7 (random weights); tolerance about 3x that.
    float32 = _randomised(models.build("rfdn", 3, global_residual=True))
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        bfloat16 = models.build("rfdn", 3, global_residual=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    bfloat16.set_weights(float32.get_weights())
    assert bfloat16.get_layer("rfdb1_esa_upsample").compute_dtype == "bfloat16"
    assert bfloat16.get_layer("upsampler_conv1").compute_dtype == "float32"
    lr = np.random.default_rng(3).random((1, 13, 17, 3), dtype=np.float32)
    expected, actual = np.asarray(float32(lr)), np.asarray(bfloat16(lr))
    assert actual.dtype == np.float32
    assert np.abs(actual - expected).max() <= 1e-2
    assert np.abs(actual - expected).mean() <= 2e-3


@pytest.mark.parametrize(("shape", "tile"), [((120, 144), 64), ((300, 340), 256)])
def test_rfdn_tiled_is_close_to_untiled_on_a_photo(make_photo, shape, tile):
    # Not bit-identical: ESA's stride-2 conv and 7x7 stride-3 pool start at each tile's corner
    # (origins on multiples of tile_multiple = 6 keep the whole image's grid) and its bilinear
    # ratio back to full size depends on the tile's size. Measured with these weights, overlap
    # 32: max 3.3e-3 (tile 64) and 3.9e-3 (tile 256, the default); at most 5.4e-3 over four
    # seeds. Tolerance: two 8-bit levels, and a mean far below one.
    keras.utils.set_random_seed(0)
    function = inference.model_function(models.build("rfdn", 4))
    image = make_photo(0, shape).astype(np.float32) / 255
    whole = inference.predict_tiled(function, image, 4, tile=0)
    multiple = models.MODELS["rfdn"].tile_multiple
    tiled = inference.predict_tiled(function, image, 4, tile, overlap=32, multiple=multiple)
    assert tiled.shape == whole.shape == (4 * shape[0], 4 * shape[1], 3)
    assert np.abs(tiled - whole).max() <= 2 / 255
    assert np.abs(tiled - whole).mean() <= 5e-4
