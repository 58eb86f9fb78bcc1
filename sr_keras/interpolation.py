"""Interpolation baselines and the standard SR degradation, as separable resampling.

Each resize resamples the height, then the width: per output pixel a few source indices and
weights, as the deck's worked examples (Hinh 3 to 5), with half-pixel centres. ``nearest``,
``bilinear`` and ``bicubic`` (Keys, ``a = -0.75``) are OpenCV's, the deck's; :func:`imresize` is
MATLAB's bicubic (``a = -0.5``, antialiased, mirrored borders), which :func:`degrade` uses to make
LR images as DIV2K and the SR literature do.
"""

from __future__ import annotations

import numpy as np

METHODS = ("nearest", "bilinear", "bicubic")
OPENCV_CUBIC_A = -0.75
MATLAB_CUBIC_A = -0.5


def cubic_kernel(distance: np.ndarray, a: float = OPENCV_CUBIC_A) -> np.ndarray:
    """Keys' cubic kernel at ``distance`` source pixels, ``a`` -0.75 (OpenCV) or -0.5 (MATLAB)."""
    x = np.abs(distance)
    x2, x3 = x * x, x * x * x
    near = (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
    far = a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
    return np.where(x <= 1.0, near, np.where(x < 2.0, far, 0.0))


def resampling_weights(
    in_size, out_size, method="bicubic", cubic_a=OPENCV_CUBIC_A, antialias=False, border="replicate"
) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, weights)``, each ``(out_size, taps)``, of a 1-D resampling: output ``i`` is
    ``sum_t weights[i, t] * input[indices[i, t]]``. ``antialias`` widens the kernel when
    shrinking (MATLAB); ``border`` ``"replicate"`` (OpenCV) or ``"symmetric"`` (MATLAB)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if border not in ("replicate", "symmetric"):
        raise ValueError(f"border must be 'replicate' or 'symmetric', got {border!r}")
    if in_size < 1 or out_size < 1:
        raise ValueError(f"in_size and out_size must be positive, got {in_size} and {out_size}")
    scale = out_size / in_size
    centres = (np.arange(out_size, dtype=np.float64) + 0.5) / scale - 0.5
    if method == "nearest":
        indices = np.floor(centres + 0.5 + 1e-9).astype(np.int64)[:, None]
        weights = np.ones_like(indices, dtype=np.float64)
    else:
        support = 1.0 if method == "bilinear" else 2.0
        kernel_scale = scale if (antialias and scale < 1.0) else 1.0
        half_width = support / kernel_scale
        left = np.floor(centres - half_width).astype(np.int64) + 1
        taps = int(np.ceil(2 * half_width)) + 1
        indices = left[:, None] + np.arange(taps)[None, :]
        distance = (centres[:, None] - indices) * kernel_scale
        if method == "bilinear":
            weights = np.clip(1.0 - np.abs(distance), 0.0, None)
        else:
            weights = cubic_kernel(distance, cubic_a)
        weights = weights / weights.sum(axis=1, keepdims=True)
    if border == "replicate":
        indices = np.clip(indices, 0, in_size - 1)
    else:
        period = 2 * in_size
        indices = np.mod(indices, period)
        indices = np.where(indices >= in_size, period - 1 - indices, indices)
    return indices, weights


def _resample_axis(image: np.ndarray, indices: np.ndarray, weights: np.ndarray, axis: int):
    moved = np.moveaxis(image, axis, 0)
    extra = (1,) * (moved.ndim - 1)
    out = np.zeros((indices.shape[0],) + moved.shape[1:], dtype=np.float64)
    for tap in range(indices.shape[1]):
        out += weights[:, tap].reshape((-1,) + extra) * moved[indices[:, tap]]
    return np.moveaxis(out, 0, axis)


def _resize(image: np.ndarray, size, **weight_options) -> np.ndarray:
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, got shape {image.shape}")
    rows = resampling_weights(image.shape[0], int(size[0]), **weight_options)
    cols = resampling_weights(image.shape[1], int(size[1]), **weight_options)
    return _resample_axis(_resample_axis(image.astype(np.float64), *rows, axis=0), *cols, axis=1)


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def interpolate(image, scale: int, method: str = "bicubic") -> np.ndarray:
    """Upscales an ``HxW[xC]`` image by an integer ``scale`` as OpenCV does (bicubic: the
    deck's Hinh 5), not rounded or clipped; float keeps its dtype, integers give float64."""
    scale = _check_scale(scale)
    image = np.asarray(image)
    out = _resize(image, [side * scale for side in image.shape[:2]], method=method)
    return out.astype(image.dtype) if np.issubdtype(image.dtype, np.floating) else out


def imresize(image, scale: float | None = None, output_shape=None, antialias=True) -> np.ndarray:
    """MATLAB's ``imresize(image, scale, "bicubic")`` (as BasicSR's) by ``scale`` or to
    ``output_shape`` (exactly one), as float64, not rounded or clipped."""
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if output_shape is None and scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    image = np.asarray(image)
    if output_shape is None:
        output_shape = [np.ceil(side * scale) for side in image.shape[:2]]
    options = {"cubic_a": MATLAB_CUBIC_A, "antialias": antialias, "border": "symmetric"}
    return _resize(image, output_shape, method="bicubic", **options)


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crops an image's bottom and right edges so both sides are multiples of ``scale``."""
    scale = _check_scale(scale)
    height, width = image.shape[:2]
    return image[: height - height % scale, : width - width % scale]


def degrade(hr_image: np.ndarray, scale: int) -> np.ndarray:
    """The standard LR image (DIV2K's bicubic track) of an HR image with sides multiples of
    ``scale``: :func:`imresize` by ``1 / scale``, rounded to uint8."""
    scale = _check_scale(scale)
    height, width = hr_image.shape[:2]
    if height % scale or width % scale:
        raise ValueError(
            f"hr_image of shape {hr_image.shape} is not a multiple of scale={scale}: "
            "modcrop it first"
        )
    lr = imresize(hr_image, output_shape=(height // scale, width // scale))
    return np.clip(np.round(lr), 0, 255).astype(np.uint8)
