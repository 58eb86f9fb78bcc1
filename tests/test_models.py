"""The deck's four models: parameter totals, layer names, shapes, graph mode, .keras round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_keras import models
from sr_keras.layers import BicubicUpsample

SLIDE_TOTALS = {
    "srcnn": 20_483,
    "srresnet": 449_731,
    "srresnet_lite": 39_875,
    "sr_autoencoder": 1_848_067,
}


def test_registry_lists_the_four_models():
    assert models.available_models() == list(SLIDE_TOTALS)


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


def test_interpolation_block_is_bicubic_of_the_input():
    model = models.build("srcnn", 3)
    lr = np.random.default_rng(1).random((1, 8, 9, 3), dtype=np.float32)
    x1 = keras.Model(model.input, model.get_layer("X1").output)(lr)
    expected = tf.image.resize(lr, (24, 27), method="bicubic")
    np.testing.assert_allclose(x1, expected, atol=1e-6)


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
