"""PSNR / SSIM / MSE (NumPy callers and Keras metrics), cross-checked with scikit-image."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sr_keras import metrics
from sr_keras.interpolation import degrade, imresize

SKIMAGE_SSIM = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "data_range": 255,
}


def _bt601_y(image: np.ndarray) -> np.ndarray:
    """Independent BT.601 luma (MATLAB rgb2ycbcr) of an RGB uint8-range image, not rounded."""
    rgb = image.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


@pytest.fixture(scope="module")
def pair(make_photo):
    """(sr, hr): a 96x96 photo crop and its x4 bicubic reconstruction, both uint8."""
    hr = make_photo(0, (96, 96))
    sr = np.clip(np.round(imresize(degrade(hr, 4), output_shape=(96, 96))), 0, 255)
    return sr.astype(np.uint8), hr


def test_psnr_rgb_matches_skimage(pair):
    sr, hr = pair
    value = metrics.psnr(sr, hr)
    assert isinstance(value, float)
    assert value == pytest.approx(peak_signal_noise_ratio(hr, sr, data_range=255), abs=1e-4)
    assert 20 < value < 40


def test_psnr_with_crop_border(pair):
    sr, hr = pair
    expected = peak_signal_noise_ratio(hr[4:-4, 4:-4], sr[4:-4, 4:-4], data_range=255)
    assert metrics.psnr(sr, hr, crop_border=4) == pytest.approx(expected, abs=1e-4)
    assert metrics.psnr(sr, hr, crop_border=4) != pytest.approx(metrics.psnr(sr, hr), abs=1e-3)


def test_psnr_y_matches_numpy_bt601(pair):
    sr, hr = pair
    y_sr, y_hr = _bt601_y(sr)[4:-4, 4:-4], _bt601_y(hr)[4:-4, 4:-4]
    expected = peak_signal_noise_ratio(y_hr, y_sr, data_range=255)
    assert metrics.psnr(sr, hr, crop_border=4, test_y_channel=True) == pytest.approx(
        expected, abs=1e-4
    )


def test_ssim_rgb_matches_skimage(pair):
    sr, hr = pair
    expected = structural_similarity(hr, sr, channel_axis=-1, **SKIMAGE_SSIM)
    value = metrics.ssim(sr, hr)
    assert value == pytest.approx(expected, abs=1e-5)
    assert 0.5 < value < 0.99


def test_ssim_y_matches_skimage_on_numpy_bt601(pair):
    sr, hr = pair
    y_sr, y_hr = _bt601_y(sr)[4:-4, 4:-4], _bt601_y(hr)[4:-4, 4:-4]
    expected = structural_similarity(y_hr, y_sr, **SKIMAGE_SSIM)
    value = metrics.ssim(sr, hr, crop_border=4, test_y_channel=True)
    assert value == pytest.approx(expected, abs=1e-5)


def test_mse(pair):
    sr, hr = pair
    difference = sr.astype(np.float64) - hr
    assert metrics.mse(sr, hr) == pytest.approx(np.mean(difference**2), rel=1e-9)
    assert metrics.mse(sr, hr, crop_border=2) == pytest.approx(
        np.mean(difference[2:-2, 2:-2] ** 2), rel=1e-9
    )
    y_difference = _bt601_y(sr) - _bt601_y(hr)
    assert metrics.mse(sr, hr, test_y_channel=True) == pytest.approx(
        np.mean(y_difference**2), rel=1e-6
    )


def test_identical_images(pair):
    _, hr = pair
    assert metrics.psnr(hr, hr) == float("inf")
    assert metrics.psnr(hr, hr, crop_border=4, test_y_channel=True) == float("inf")
    assert metrics.ssim(hr, hr) == pytest.approx(1.0, abs=1e-6)
    assert metrics.mse(hr, hr) == 0.0


def test_batches_give_one_value_per_image(pair):
    sr, hr = pair
    values = metrics.psnr(np.stack([sr, hr]), np.stack([hr, hr]), crop_border=4)
    assert values.shape == (2,)
    assert values[0] == pytest.approx(metrics.psnr(sr, hr, crop_border=4), abs=1e-4)
    assert values[1] == float("inf")


def test_mismatched_shapes_raise(pair):
    sr, hr = pair
    for function in (metrics.psnr, metrics.ssim, metrics.mse):
        with pytest.raises(ValueError, match="same shape"):
            function(sr[:-1], hr)
    with pytest.raises(ValueError, match="crop_border"):
        metrics.psnr(sr, hr, crop_border=-1)
    with pytest.raises(ValueError, match="whole"):
        metrics.psnr(sr, hr, crop_border=48)


def test_rgb_to_y_white_and_black():
    image = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], dtype=np.uint8)
    luma = metrics.rgb_to_y(image).numpy()
    assert luma.shape == (1, 3, 1)
    np.testing.assert_allclose(luma[0, :, 0], [235.0, 16.0, 16.0 + 65.481], atol=1e-9)
    unit = metrics.rgb_to_y(image / 255.0, max_val=1.0).numpy()
    np.testing.assert_allclose(unit[0, :, 0] * 255.0, [235.0, 16.0, 16.0 + 65.481], atol=1e-9)


# --- Keras metrics --------------------------------------------------------------------------------


def test_keras_metrics_in_compile_match_numpy(make_photo):
    scale = 4
    hr = np.stack([make_photo(i, (48, 48)) for i in range(4)]).astype(np.float32) / 255.0
    lr = np.stack([degrade(make_photo(i, (48, 48)), scale) for i in range(4)])
    lr = lr.astype(np.float32) / 255.0
    model = keras.Sequential(
        [keras.Input((12, 12, 3)), keras.layers.UpSampling2D(scale, interpolation="bilinear")]
    )
    model.compile(
        loss="mse",
        metrics=[
            metrics.PSNR(crop_border=scale),
            metrics.SSIM(crop_border=scale),
            metrics.PSNR(crop_border=0, test_y_channel=False, name="psnr_rgb"),
        ],
    )
    result = model.evaluate(lr, hr, batch_size=3, verbose=0, return_dict=True)
    prediction = np.clip(model.predict(lr, verbose=0), 0.0, 1.0)
    expected_psnr = np.mean(metrics.psnr(prediction, hr, scale, True, max_val=1.0))
    expected_ssim = np.mean(metrics.ssim(prediction, hr, scale, True, max_val=1.0))
    expected_rgb = np.mean(metrics.psnr(prediction, hr, 0, False, max_val=1.0))
    assert result["psnr"] == pytest.approx(expected_psnr, abs=1e-3)
    assert result["ssim"] == pytest.approx(expected_ssim, abs=1e-4)
    assert result["psnr_rgb"] == pytest.approx(expected_rgb, abs=1e-3)
    assert 15 < result["psnr"] < 40
    assert result["psnr"] != pytest.approx(result["psnr_rgb"], abs=1e-2)


def test_keras_metric_state_and_config():
    metric = metrics.PSNR(crop_border=2, test_y_channel=False, max_val=255.0, name="p")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 5, a.shape), 0, 255).astype(np.float32)
    metric.update_state(a, b)
    expected = np.mean(metrics.psnr(a, b, crop_border=2, max_val=255.0))
    assert float(metric.result()) == pytest.approx(expected, abs=1e-3)
    metric.reset_state()
    assert float(metric.result()) == 0.0

    for cls, kwargs in ((metrics.PSNR, {"name": "p"}), (metrics.SSIM, {})):
        original = cls(crop_border=3, test_y_channel=False, max_val=255.0, **kwargs)
        config = original.get_config()
        assert config["crop_border"] == 3
        assert config["test_y_channel"] is False
        assert config["max_val"] == 255.0
        restored = cls.from_config(config)
        assert type(restored) is cls
        assert restored.get_config() == config
        assert restored.name == original.name
        # Through Keras' own serialization (registered names).
        again = keras.metrics.deserialize(keras.metrics.serialize(original))
        assert type(again) is cls and again.get_config() == config
    assert metrics.SSIM().name == "ssim" and metrics.PSNR().name == "psnr"
