"""PSNR, SSIM and MSE with the SR literature's conventions (BasicSR / MATLAB).

One implementation serves NumPy callers (evaluation, notebooks, tests) and Keras
(``model.compile(metrics=[PSNR(...)])``): the border shave and the Y channel are applied by
:func:`prepare_for_metric` and the measures themselves are TensorFlow's ``tf.image.psnr`` and
``tf.image.ssim`` (Gaussian window 11, sigma 1.5, k1 = 0.01, k2 = 0.03, as Wang et al. 2004).

Y channel: ITU-R BT.601 luma as MATLAB's ``rgb2ycbcr``,
``Y = 16 + (65.481 R + 128.553 G + 24.966 B)`` for R, G, B in ``[0, 1]``, in ``[16, 235]``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

Y_COEFFICIENTS = (65.481, 128.553, 24.966)

#: Side of SSIM's Gaussian window: images must be at least this large after the border shave.
SSIM_WINDOW = 11


def rgb_to_y(images, max_val: float = 255.0):
    """The BT.601 luma of RGB images, as MATLAB's ``rgb2ycbcr`` (not rounded).

    Args:
        images: ``(..., H, W, 3)`` tensor or array with values in ``[0, max_val]``.
        max_val: The value of white (255 for uint8-range images, 1 for ``[0, 1]``).

    Returns:
        ``(..., H, W, 1)`` luma in the same range convention (``[16, 235] * max_val / 255``).
    """
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float64)
    coefficients = tf.constant(Y_COEFFICIENTS, dtype=images.dtype)
    luma = tf.tensordot(images / max_val, coefficients, axes=[[-1], [0]]) + 16.0
    return (luma / 255.0 * max_val)[..., None]


def prepare_for_metric(
    img1, img2, crop_border: int = 0, test_y_channel: bool = False, max_val: float = 255.0
):
    """Shaves borders and optionally keeps only the Y channel, as BasicSR's metrics do.

    Args:
        img1: ``(..., H, W, C)`` image(s).
        img2: Image(s) of the same shape.
        crop_border: Pixels removed from each side before measuring (``scale`` for benchmarks).
        test_y_channel: Measure on the BT.601 Y channel of RGB images.
        max_val: The value of white.

    Returns:
        The two prepared float tensors.

    Raises:
        ValueError: If the shapes differ, ``crop_border`` is negative or too large.
    """
    img1 = tf.convert_to_tensor(img1)
    img2 = tf.convert_to_tensor(img2)
    if img1.shape.is_fully_defined() and img2.shape.is_fully_defined():
        if img1.shape != img2.shape:
            raise ValueError(
                f"img1 and img2 must have the same shape, got {tuple(img1.shape)} and "
                f"{tuple(img2.shape)}"
            )
    dtype = tf.float64 if not img1.dtype.is_floating else img1.dtype
    img1 = tf.cast(img1, dtype)
    img2 = tf.cast(img2, dtype)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        height, width = img1.shape[-3], img1.shape[-2]
        if height is not None and width is not None and min(height, width) <= 2 * crop_border:
            raise ValueError(f"crop_border={crop_border} removes the whole {height}x{width} image")
        img1 = img1[..., crop_border:-crop_border, crop_border:-crop_border, :]
        img2 = img2[..., crop_border:-crop_border, crop_border:-crop_border, :]
    if test_y_channel and img1.shape[-1] == 3:
        img1 = rgb_to_y(img1, max_val)
        img2 = rgb_to_y(img2, max_val)
    return img1, img2


def psnr(img1, img2, crop_border: int = 0, test_y_channel: bool = False, max_val: float = 255.0):
    """Peak signal-to-noise ratio in dB; identical images give ``inf``.

    Args:
        img1: ``HxWxC`` image, or a batch ``NxHxWxC`` (gives one value per image).
        img2: Image(s) of the same shape.
        crop_border: Pixels shaved from each side first.
        test_y_channel: Measure on the Y channel (BT.601) instead of RGB.
        max_val: The value of white.

    Returns:
        A Python float for one image, a float32 array for a batch.

    Raises:
        ValueError: If the shapes differ.
    """
    a, b = prepare_for_metric(img1, img2, crop_border, test_y_channel, max_val)
    return _to_python(_psnr_values(a, b, max_val))


def ssim(img1, img2, crop_border: int = 0, test_y_channel: bool = False, max_val: float = 255.0):
    """Structural similarity (Wang et al. 2004) via ``tf.image.ssim``, mean over channels.

    Args:
        img1: ``HxWxC`` image (at least 11x11 after the shave), or a batch ``NxHxWxC``.
        img2: Image(s) of the same shape.
        crop_border: Pixels shaved from each side first.
        test_y_channel: Measure on the Y channel (BT.601) instead of RGB.
        max_val: The value of white.

    Returns:
        A Python float for one image, a float32 array for a batch.

    Raises:
        ValueError: If the shapes differ or the shaved images are smaller than the window.
    """
    a, b = prepare_for_metric(img1, img2, crop_border, test_y_channel, max_val)
    height, width = a.shape[-3], a.shape[-2]
    if height is not None and width is not None and min(height, width) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after shaving "
            f"{crop_border} per side, got {width}x{height}"
        )
    return _to_python(_ssim_values(a, b, max_val))


def mse(img1, img2, crop_border: int = 0, test_y_channel: bool = False):
    """Mean squared error over all pixels and channels, in the images' own units.

    Args:
        img1: ``HxWxC`` image, or a batch.
        img2: Image(s) of the same shape.
        crop_border: Pixels shaved from each side first.
        test_y_channel: Measure on the Y channel instead of RGB.

    Returns:
        A Python float for one image, an array for a batch.

    Raises:
        ValueError: If the shapes differ.
    """
    a, b = prepare_for_metric(img1, img2, crop_border, test_y_channel)
    return _to_python(tf.reduce_mean(tf.math.squared_difference(a, b), axis=[-3, -2, -1]))


def _psnr_values(a, b, max_val):
    return tf.image.psnr(a, b, max_val=max_val)


def _ssim_values(a, b, max_val):
    return tf.image.ssim(
        a, b, max_val=max_val, filter_size=SSIM_WINDOW, filter_sigma=1.5, k1=0.01, k2=0.03
    )


def _to_python(value):
    value = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    return float(value) if np.ndim(value) == 0 else value


@keras.saving.register_keras_serializable(package="sr_keras")
class PSNR(keras.metrics.Metric):
    """Mean PSNR over images, as a Keras metric (images in ``[0, max_val]``, default 1).

    Args:
        crop_border: Pixels shaved from each side (``scale`` for benchmark protocol).
        test_y_channel: Measure on the BT.601 Y channel.
        max_val: The value of white in the model's outputs.
        name: Metric name shown in logs (``psnr`` / ``val_psnr``).
    """

    def __init__(self, crop_border=0, test_y_channel=True, max_val=1.0, name="psnr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.crop_border = crop_border
        self.test_y_channel = test_y_channel
        self.max_val = max_val
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    @staticmethod
    def _measure(a, b, max_val):
        return _psnr_values(a, b, max_val)

    def _values(self, y_true, y_pred):
        a, b = prepare_for_metric(
            tf.cast(y_true, tf.float32),
            tf.clip_by_value(tf.cast(y_pred, tf.float32), 0.0, self.max_val),
            self.crop_border,
            self.test_y_channel,
            self.max_val,
        )
        return self._measure(a, b, self.max_val)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._values(y_true, y_pred)
        self.total.assign_add(tf.reduce_sum(values))
        self.count.assign_add(tf.cast(tf.size(values), self.count.dtype))

    def result(self):
        return self.total / tf.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {
            "name": self.name,
            "crop_border": self.crop_border,
            "test_y_channel": self.test_y_channel,
            "max_val": self.max_val,
        }


@keras.saving.register_keras_serializable(package="sr_keras")
class SSIM(PSNR):
    """Mean SSIM over images, as a Keras metric (see :class:`PSNR` for the arguments)."""

    def __init__(self, crop_border=0, test_y_channel=True, max_val=1.0, name="ssim", **kwargs):
        super().__init__(crop_border, test_y_channel, max_val, name=name, **kwargs)

    @staticmethod
    def _measure(a, b, max_val):
        return _ssim_values(a, b, max_val)
