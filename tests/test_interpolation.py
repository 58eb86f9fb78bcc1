"""Interpolation baselines, MATLAB imresize and the standard degradation.

Measured on this repository (CPU, TF 2.21, OpenCV 5.0):

* ``interpolate`` vs ``cv2.resize`` on float32: max abs difference <= 6e-5 (values 0..255).
* ``imresize`` upscale vs ``tf.image.resize(method="bicubic")``: equal to 4e-5 away from a border
  of ``2 * scale`` output pixels at x2 and x4; at x3 up to 0.14 because TF's ``ResizeBicubic``
  kernel reads a 1024-entry table (positions in thirds are not exact there); TF's
  ``antialias=True`` path (``ScaleAndTranslate``, exact kernel) matches to 2e-4 at x3. Within the
  border they differ by several grey levels (TF clamps, MATLAB mirrors).
* ``degrade`` vs ``round(tf.image.resize(hr, hr/s, "bicubic", antialias=True))`` on Set5: identical
  away from a 4-pixel LR border; over the whole image the mean absolute difference is
  0.005-0.033 (x2), 0.010-0.076 (x3), 0.016-0.115 (x4) grey levels (max 15, at the border only),
  and the bicubic-upscale Y-PSNR of the two LR versions differs by at most 0.0031 dB per image.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf

from sr_keras.images import read_image
from sr_keras.interpolation import (
    cubic_kernel,
    degrade,
    imresize,
    interpolate,
    modcrop,
    resampling_weights,
)
from sr_keras.metrics import psnr

DECK_INPUT = np.array([[10, 20], [30, 40]], dtype=np.uint8)
DECK_BILINEAR = [
    [10, 12.5, 17.5, 20],
    [15, 17.5, 22.5, 25],
    [25, 27.5, 32.5, 35],
    [30, 32.5, 37.5, 40],
]
DECK_BICUBIC = [
    [6.84, 10.16, 15.63, 18.95],
    [13.48, 16.80, 22.27, 25.59],
    [24.41, 27.73, 33.20, 36.52],
    [31.05, 34.38, 39.84, 43.16],
]
CV2_FLAGS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
}


def _tf_bicubic(image: np.ndarray, shape, antialias: bool = False) -> np.ndarray:
    resized = tf.image.resize(image[None].astype(np.float32), shape, "bicubic", antialias=antialias)
    return resized.numpy()[0].astype(np.float64)


# --- the deck's worked examples -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_deck_tables(dtype):
    image = DECK_INPUT.astype(dtype)
    np.testing.assert_allclose(interpolate(image, 2, "bilinear"), DECK_BILINEAR, atol=1e-4)
    # The deck prints two decimals (15.625 -> 15.63): agree to 0.01.
    np.testing.assert_allclose(interpolate(image, 2, "bicubic"), DECK_BICUBIC, atol=0.0051)
    np.testing.assert_array_equal(
        interpolate(image, 2, "nearest"), np.repeat(np.repeat(DECK_INPUT, 2, 0), 2, 1)
    )


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_nearest_is_pixel_repeat(scale):
    image = np.random.default_rng(scale).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    expected = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    np.testing.assert_array_equal(interpolate(image, scale, "nearest"), expected)


def test_default_method_is_bicubic():
    np.testing.assert_allclose(interpolate(DECK_INPUT, 2), DECK_BICUBIC, atol=0.0051)


def test_float_in_float_out_not_rounded():
    out32 = interpolate(DECK_INPUT.astype(np.float32), 2, "bilinear")
    assert out32.dtype == np.float32
    assert out32[0, 1] == pytest.approx(12.5)
    out64 = interpolate(DECK_INPUT / 255.0, 2, "bicubic")
    assert out64.dtype == np.float64
    assert out64[0, 0] == pytest.approx(6.84 / 255, abs=1e-4)  # neither rounded nor clipped
    # uint8 input gives floats, not rounded and not clipped (bicubic overshoots below 10).
    out8 = interpolate(DECK_INPUT, 2, "bicubic")
    assert out8.dtype == np.float64
    assert out8[0, 0] == pytest.approx(6.8359375)
    assert out8.max() == pytest.approx(43.1640625)


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
def test_channels_are_interpolated_independently(method):
    image = np.random.default_rng(1).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    color = interpolate(image, 3, method)
    assert color.shape == (18, 15, 3)
    for channel in range(3):
        gray = interpolate(image[:, :, channel], 3, method)
        assert gray.shape == (18, 15)
        np.testing.assert_allclose(color[:, :, channel], gray, atol=1e-9)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("channels", [None, 3])
def test_matches_opencv(method, scale, channels):
    rng = np.random.default_rng(10 * scale + (channels or 0))
    shape = (13, 17) if channels is None else (13, 17, channels)
    image = rng.uniform(0, 255, shape).astype(np.float32)
    expected = cv2.resize(image, (17 * scale, 13 * scale), interpolation=CV2_FLAGS[method])
    out = interpolate(image, scale, method)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-4 * 255, rtol=0)


def test_cubic_kernel_values():
    # Keys' kernel: 1 at 0, 0 at the integers, a-dependent in between, 0 beyond 2.
    np.testing.assert_allclose(cubic_kernel(np.array([0.0, 1.0, 2.0, 2.5])), [1, 0, 0, 0])
    np.testing.assert_allclose(cubic_kernel(np.array([0.5, 1.5]), -0.75), [0.59375, -0.09375])
    np.testing.assert_allclose(cubic_kernel(np.array([0.5, -1.5]), -0.5), [0.5625, -0.0625])


def test_resampling_weights_sum_to_one():
    for method in ("nearest", "bilinear", "bicubic"):
        for antialias in (False, True):
            indices, weights = resampling_weights(20, 7, method, antialias=antialias)
            assert indices.min() >= 0 and indices.max() <= 19
            np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    # Antialiased shrinking by 4 widens the cubic kernel to 4 * 4 = 16 taps (+1).
    assert resampling_weights(40, 10, "bicubic", antialias=True)[0].shape == (10, 17)
    assert resampling_weights(40, 10, "bicubic", antialias=False)[0].shape == (10, 5)


# --- kernel choice: OpenCV (a = -0.75) vs TensorFlow / MATLAB (a = -0.5) --------------------


def test_tensorflow_bicubic_is_not_the_opencv_kernel():
    image = np.random.default_rng(2).uniform(0, 255, (16, 16, 3))
    tf_out = _tf_bicubic(image, (64, 64))
    ours = interpolate(image, 4, "bicubic")
    interior = (slice(8, -8), slice(8, -8))
    difference = np.abs(tf_out - ours)[interior]
    assert difference.max() > 2.0, "TF bicubic uses a = -0.5, not OpenCV's a = -0.75"
    # ... while a = -0.5 (MATLAB's imresize) is TF's kernel.
    np.testing.assert_allclose(
        tf_out[interior], imresize(image, output_shape=(64, 64))[interior], atol=1e-3
    )


@pytest.mark.parametrize(
    ("scale", "antialias", "atol"),
    [
        (2, False, 1e-3),
        (4, False, 1e-3),
        (3, False, 0.5),  # TF's ResizeBicubic reads its kernel from a 1024-entry table.
        (3, True, 1e-3),  # ScaleAndTranslate evaluates the kernel exactly.
    ],
)
def test_imresize_upscale_matches_tensorflow_in_the_interior(scale, antialias, atol):
    image = np.random.default_rng(scale).uniform(0, 255, (12, 15, 3))
    shape = (12 * scale, 15 * scale)
    ours = imresize(image, output_shape=shape)
    theirs = _tf_bicubic(image, shape, antialias=antialias)
    border = 2 * scale
    interior = (slice(border, -border), slice(border, -border))
    np.testing.assert_allclose(ours[interior], theirs[interior], atol=atol, rtol=0)
    # MATLAB mirrors the image at its borders, TF repeats the edge pixel: borders differ.
    assert np.abs(ours - theirs).max() > 1.0


# --- imresize, modcrop and degrade -------------------------------------------------------------


def test_imresize_scale_and_output_shape_agree():
    image = np.random.default_rng(3).uniform(0, 255, (24, 32, 3))
    by_scale = imresize(image, scale=0.25)
    assert by_scale.shape == (6, 8, 3)
    np.testing.assert_allclose(by_scale, imresize(image, output_shape=(6, 8)))
    assert imresize(image, scale=1 / 3).shape == (8, 11, 3)  # ceil, as MATLAB


def test_resizes_keep_constant_images_constant():
    image = np.full((24, 24, 3), 77.0)
    np.testing.assert_allclose(imresize(image, scale=0.25), 77.0)
    np.testing.assert_allclose(imresize(image, output_shape=(48, 48)), 77.0)
    for method in ("nearest", "bilinear", "bicubic"):
        np.testing.assert_allclose(interpolate(image, 3, method), 77.0)
    lr = degrade(np.full((24, 24, 3), 200, np.uint8), 4)
    assert lr.dtype == np.uint8 and lr.shape == (6, 6, 3)
    assert (lr == 200).all()


def test_modcrop():
    image = np.arange(13 * 17 * 3).reshape(13, 17, 3)
    cropped = modcrop(image, 4)
    assert cropped.shape == (12, 16, 3)
    np.testing.assert_array_equal(cropped, image[:12, :16])
    assert modcrop(image, 3).shape == (12, 15, 3)
    assert modcrop(image[:, :, 0], 2).shape == (12, 16)
    assert modcrop(image[:12, :12], 4).shape == (12, 12, 3)


def test_degrade_is_rounded_antialiased_imresize(make_photo):
    hr = make_photo(0)
    lr = degrade(hr, 4)
    assert lr.dtype == np.uint8 and lr.shape == (30, 36, 3)
    expected = np.clip(np.round(imresize(hr, scale=0.25)), 0, 255)
    np.testing.assert_array_equal(lr, expected)
    # Antialiasing: not the same as the plain (aliased) bicubic of the 4 nearest pixels.
    aliased = np.clip(np.round(imresize(hr, scale=0.25, antialias=False)), 0, 255)
    assert np.abs(lr - aliased).mean() > 0.5


def _tf_degrade(hr: np.ndarray, scale: int) -> np.ndarray:
    shape = (hr.shape[0] // scale, hr.shape[1] // scale)
    return np.clip(np.round(_tf_bicubic(hr, shape, antialias=True)), 0, 255).astype(np.uint8)


def _compare_with_tensorflow(hr: np.ndarray, scale: int) -> tuple[float, float, float]:
    """(mean abs diff whole image, max abs diff in the interior, upscale Y-PSNR difference)."""
    ours, theirs = degrade(hr, scale), _tf_degrade(hr, scale)
    difference = np.abs(ours.astype(np.int16) - theirs)
    shape = hr.shape[:2]

    def upscale_psnr(lr):
        sr = np.clip(np.round(imresize(lr, output_shape=shape)), 0, 255).astype(np.uint8)
        return psnr(sr, hr, crop_border=scale, test_y_channel=True)

    return (
        float(difference.mean()),
        float(difference[4:-4, 4:-4].max()),
        abs(upscale_psnr(ours) - upscale_psnr(theirs)),
    )


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_degrade_agrees_with_tensorflow_antialias(make_photo, scale):
    hr = modcrop(make_photo(1), scale)
    mean_diff, interior_max, psnr_diff = _compare_with_tensorflow(hr, scale)
    assert mean_diff < 0.2
    assert interior_max <= 1  # rounding of float32 vs float64 ties at most
    assert psnr_diff < 0.02


@pytest.mark.parametrize("scale", [2, 4])
def test_degrade_agrees_with_tensorflow_on_set5(shared_data, scale):
    means, psnr_diffs = [], []
    for path in sorted((shared_data / "Set5").glob("*.png")):
        hr = modcrop(read_image(path), scale)
        mean_diff, interior_max, psnr_diff = _compare_with_tensorflow(hr, scale)
        assert interior_max <= 1, path.name
        means.append(mean_diff)
        psnr_diffs.append(psnr_diff)
    assert len(means) == 5
    assert max(means) < 0.2  # measured 0.033 (x2), 0.115 (x4) on butterfly
    assert max(psnr_diffs) < 0.01  # measured <= 0.0024 dB


# --- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0, -2, 1.5, 2.0, "2", True, None])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        interpolate(DECK_INPUT, scale, "bicubic")
    with pytest.raises(ValueError, match="scale"):
        modcrop(np.zeros((8, 8, 3)), scale)


@pytest.mark.parametrize("method", ["lanczos", "cubic", "", None])
def test_bad_method(method):
    with pytest.raises(ValueError, match="method"):
        interpolate(DECK_INPUT, 2, method)


def test_bad_shapes_and_arguments():
    with pytest.raises(ValueError, match="HxW"):
        interpolate(np.zeros(5), 2)
    with pytest.raises(ValueError, match="HxW"):
        interpolate(np.zeros((1, 4, 4, 3)), 2)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="exactly one"):
        imresize(np.zeros((4, 4)), scale=0.5, output_shape=(2, 2))
    with pytest.raises(ValueError, match="positive"):
        imresize(np.zeros((4, 4)), scale=-1)
    with pytest.raises(ValueError, match="modcrop"):
        degrade(np.zeros((10, 12, 3), np.uint8), 4)
    with pytest.raises(ValueError, match="scale"):
        degrade(np.zeros((12, 12, 3), np.uint8), 0)
