"""PSNR, SSIM and MSE with the SR literature's conventions (BasicSR / MATLAB), for NumPy callers
and Keras (``metrics=[PSNR(...)]``): :func:`prepare_for_metric` shaves the border and takes the Y
channel (ITU-R BT.601, MATLAB's ``rgb2ycbcr``), then ``tf.image.psnr`` / ``tf.image.ssim``
(window 11, sigma 1.5, as Wang et al. 2004) measure.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

Y_COEFFICIENTS = (65.481, 128.553, 24.966)

#: Side of SSIM's Gaussian window: images must be at least this large after the border shave.
SSIM_WINDOW = 11


def rgb_to_y(images, max_val: float = 255.0):
    """The BT.601 luma ``(..., H, W, 1)`` of RGB in ``[0, max_val]``, in the same units: ``16 +
    65.481 R + 128.553 G + 24.966 B`` for ``[0, 1]`` RGB, times ``max_val / 255``."""
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float64)
    coefficients = tf.constant(Y_COEFFICIENTS, dtype=images.dtype)
    luma = tf.tensordot(images / max_val, coefficients, axes=[[-1], [0]]) + 16.0
    return (luma / 255.0 * max_val)[..., None]


def prepare_for_metric(img1, img2, crop_border=0, test_y_channel=False, max_val=255.0):
    """Two ``HxWxC`` images (or ``NxHxWxC`` batches: one value per image) as float tensors,
    ``crop_border`` pixels shaved per side and, with ``test_y_channel``, only Y kept (BasicSR's
    rule); ``max_val`` is their white. ValueError for different shapes or a bad border."""
    img1, img2 = tf.convert_to_tensor(img1), tf.convert_to_tensor(img2)
    if img1.shape.is_fully_defined() and img2.shape.is_fully_defined():
        if img1.shape != img2.shape:
            raise ValueError(
                f"img1 and img2 must have the same shape, got {tuple(img1.shape)} and "
                f"{tuple(img2.shape)}"
            )
    dtype = tf.float64 if not img1.dtype.is_floating else img1.dtype
    img1, img2 = tf.cast(img1, dtype), tf.cast(img2, dtype)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        height, width = img1.shape[-3], img1.shape[-2]
        if height is not None and width is not None and min(height, width) <= 2 * crop_border:
            raise ValueError(f"crop_border={crop_border} removes the whole {height}x{width} image")
        img1 = img1[..., crop_border:-crop_border, crop_border:-crop_border, :]
        img2 = img2[..., crop_border:-crop_border, crop_border:-crop_border, :]
    if test_y_channel and img1.shape[-1] == 3:
        img1, img2 = rgb_to_y(img1, max_val), rgb_to_y(img2, max_val)
    return img1, img2


def psnr(img1, img2, crop_border: int = 0, test_y_channel: bool = False, max_val: float = 255.0):
    """PSNR in dB (``inf`` for identical images), a float or one per image of a batch;
    arguments as :func:`prepare_for_metric`."""
    return _measure(tf.image.psnr, img1, img2, crop_border, test_y_channel, max_val)


def ssim(img1, img2, crop_border: int = 0, test_y_channel: bool = False, max_val: float = 255.0):
    """Structural similarity, mean over channels, as :func:`psnr` (at least 11x11 pixels)."""
    return _measure(tf.image.ssim, img1, img2, crop_border, test_y_channel, max_val, SSIM_WINDOW)


def mse(img1, img2, crop_border: int = 0, test_y_channel: bool = False):
    """Mean squared error over pixels and channels, in the images' units, as :func:`psnr`."""
    return _measure(_mse_values, img1, img2, crop_border, test_y_channel, 255.0)


def _measure(values, img1, img2, crop_border, test_y_channel, max_val, window: int = 0):
    a, b = prepare_for_metric(img1, img2, crop_border, test_y_channel, max_val)
    height, width = a.shape[-3], a.shape[-2]
    if height is not None and width is not None and min(height, width) < window:
        raise ValueError(
            f"SSIM needs at least {window}x{window} pixels after shaving "
            f"{crop_border} per side, got {width}x{height}"
        )
    value = np.asarray(values(a, b, max_val))
    return float(value) if np.ndim(value) == 0 else value


def _mse_values(a, b, max_val):
    return tf.reduce_mean(tf.math.squared_difference(a, b), axis=[-3, -2, -1])


@keras.saving.register_keras_serializable(package="sr_keras")
class PSNR(keras.metrics.Metric):
    """Mean PSNR over images as a Keras metric, on ``[0, max_val]`` images (default 1: a model's
    range) and Y by default; arguments as :func:`prepare_for_metric`."""

    _measure = staticmethod(tf.image.psnr)

    def __init__(self, crop_border=0, test_y_channel=True, max_val=1.0, name="psnr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.crop_border, self.test_y_channel, self.max_val = crop_border, test_y_channel, max_val
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = tf.clip_by_value(tf.cast(y_pred, tf.float32), 0.0, self.max_val)
        options = (self.crop_border, self.test_y_channel, self.max_val)
        a, b = prepare_for_metric(tf.cast(y_true, tf.float32), y_pred, *options)
        values = self._measure(a, b, self.max_val)
        self.total.assign_add(tf.reduce_sum(values))
        self.count.assign_add(tf.cast(tf.size(values), self.count.dtype))

    def result(self):
        return self.total / tf.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        keys = ("name", "crop_border", "test_y_channel", "max_val")
        return {key: getattr(self, key) for key in keys}


@keras.saving.register_keras_serializable(package="sr_keras")
class SSIM(PSNR):
    """Mean SSIM over images, as a Keras metric (the arguments of :class:`PSNR`)."""

    _measure = staticmethod(tf.image.ssim)

    def __init__(self, crop_border=0, test_y_channel=True, max_val=1.0, name="ssim", **kwargs):
        super().__init__(crop_border, test_y_channel, max_val, name=name, **kwargs)
