"""How an HR image is made small: random degradations for training, named ones for evaluation.

:func:`realistic` (training, in ``tf.data``, seeded per patch; after BSRGAN and Real-ESRGAN, with
ranges moderate for PSNR): with probability 0.25 the protocol's LR, else

* a Gaussian blur (p 0.3) of sigma 0.2 to ``scale / 3`` HR pixels (more teaches over-sharpening);
* a downscale by one of :data:`RESIZES`, unantialiased ones twice as likely (many tools' default);
* noise (p 0.5, before or after the downscale): Gaussian of sigma 1 to 10 (0..255 units) or
  Poisson-like (variance 0.05 to 0.5 times the value), the same in all channels with p 0.3;
* rounding to uint8, then JPEG (p 0.5) at quality 50 to 95.

:func:`degrade_named` (evaluation, deterministic): :data:`EVALUATION_DEGRADATIONS`.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import tensorflow as tf

from sr_keras.interpolation import degrade

_OPENCV = {"cv2_cubic": cv2.INTER_CUBIC, "cv2_linear": cv2.INTER_LINEAR,
           "cv2_area": cv2.INTER_AREA, "cv2_nearest": cv2.INTER_NEAREST}  # fmt: skip
EVALUATION_DEGRADATIONS = ("bicubic", *_OPENCV, "jpeg75", "noise5")
#: (method, antialias) of the training downscales, equally likely.
RESIZES = (("bicubic", True), ("bicubic", False), ("bicubic", False), ("bilinear", True),
           ("bilinear", False), ("bilinear", False), ("area", False),
           ("nearest", False))  # fmt: skip


def _between(low, high, draw):
    return low + (high - low) * draw


def gaussian_blur(image, sigma, radius: int):
    """Blurs an ``HxWx3`` float image (mirrored borders, ``2 * radius + 1`` taps)."""
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(offsets / sigma))
    kernel = tf.tile((kernel / tf.reduce_sum(kernel))[:, None, None, None], [1, 1, 3, 1])
    padding = [[0, 0], [radius, radius], [radius, radius], [0, 0]]
    image = tf.pad(image[None], padding, mode="REFLECT")
    image = tf.nn.depthwise_conv2d(image, kernel, [1, 1, 1, 1], "VALID")
    image = tf.nn.depthwise_conv2d(image, tf.transpose(kernel, [1, 0, 2, 3]), [1, 1, 1, 1], "VALID")
    return image[0]


def downscale(image, scale: int, choice, phase):
    """``image`` made ``scale`` times smaller by ``RESIZES[choice]``; ``nearest`` keeps the
    pixels at offset ``phase`` (``[2]``, each in ``0..scale-1``) of every block."""
    size = tf.shape(image)[:2] // scale
    branches = [
        functools.partial(tf.image.resize, image, size, method, antialias=antialias)
        if method != "nearest"
        else lambda: image[phase[0] :: scale, phase[1] :: scale]
        for method, antialias in RESIZES
    ]
    return tf.switch_case(tf.convert_to_tensor(choice, tf.int32), branches)


def add_noise(image, seed, draws):
    """Gaussian or signal-dependent noise (``draws``: 3 uniforms choosing kind, level, grey)."""
    kind, level, grey = tf.unstack(draws)
    noise = tf.random.stateless_normal(tf.shape(image), seed=seed)
    noise = tf.where(grey < 0.3, tf.broadcast_to(noise[..., :1], tf.shape(image)), noise)
    signal = tf.sqrt(_between(0.05, 0.5, level) * tf.maximum(image, 0.0))
    return image + tf.where(kind < 0.5, _between(1.0, 10.0, level), signal) * noise


def realistic(lr, hr, seed, scale: int):
    """A random realistic uint8 LR patch of a uint8 HR patch for a ``[2]`` ``seed``; ``lr`` (the
    protocol's LR patch) gives the shape and is sometimes kept."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    draws = tf.random.stateless_uniform([13], seed=seeds[0])
    image = tf.cast(hr, tf.float32)
    image = tf.cond(
        draws[0] < 0.3,
        lambda: gaussian_blur(image, _between(0.2, scale / 3, draws[1]), int(np.ceil(scale))),
        lambda: image,
    )
    choice = tf.cast(draws[2] * len(RESIZES), tf.int32)
    phase = tf.cast(draws[11:13] * scale, tf.int32)
    smaller = functools.partial(downscale, scale=scale, choice=choice, phase=phase)

    def noisy(image):
        noise = functools.partial(add_noise, image, seeds[1], draws[5:8])
        return tf.cond(draws[3] < 0.5, noise, lambda: image)

    image = tf.cond(draws[4] < 0.5, lambda: noisy(smaller(image)), lambda: smaller(noisy(image)))
    image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    quality = tf.cast(_between(50.0, 96.0, draws[9]), tf.int32)
    image = tf.cond(
        draws[8] < 0.5, lambda: tf.image.adjust_jpeg_quality(image, quality), lambda: image
    )
    return tf.ensure_shape(tf.where(draws[10] < 0.25, lr, image), lr.shape)


def degrade_named(hr: np.ndarray, scale: int, name: str = "bicubic", seed: int = 0) -> np.ndarray:
    """The uint8 LR image of a uint8 HR image made small in a named way: ``bicubic`` the
    protocol, ``cv2_*`` OpenCV's ``resize`` (only ``area`` antialiases), ``jpeg75`` the protocol's
    LR as a quality-75 JPEG, ``noise5`` plus Gaussian noise of sigma 5 (seeded by ``seed``)."""
    if name not in EVALUATION_DEGRADATIONS:
        raise ValueError(f"degradation must be one of {EVALUATION_DEGRADATIONS}, got {name!r}")
    if name in _OPENCV:
        size = (hr.shape[1] // scale, hr.shape[0] // scale)
        return cv2.resize(hr, size, interpolation=_OPENCV[name])
    lr = degrade(hr, scale)
    if name == "jpeg75":
        bgr = cv2.cvtColor(lr, cv2.COLOR_RGB2BGR)
        _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 75])
        return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if name == "noise5":
        noise = np.random.default_rng(seed).normal(0.0, 5.0, lr.shape)
        return np.clip(np.round(lr + noise), 0, 255).astype(np.uint8)
    return lr
