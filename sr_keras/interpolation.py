"""Interpolation baselines and the standard SR degradation, as separable resampling.

Every resize here is one 1-D resampling along the height axis followed by one along the width
axis. Each 1-D resampling is a small table of source indices and weights per output pixel, so the
three baselines read exactly like the deck's worked examples (slides, Hinh 3 to 5):

* ``nearest``: each output pixel copies the closest input pixel (OpenCV ``INTER_NEAREST``).
* ``bilinear``: the triangle kernel over the 2 nearest pixels per axis (OpenCV ``INTER_LINEAR``).
* ``bicubic``: Keys' cubic convolution kernel with ``a = -0.75`` over 4 pixels per axis, the
  kernel of OpenCV's ``INTER_CUBIC`` and of the deck's Hinh 5 table. TensorFlow's
  ``tf.image.resize(method="bicubic")`` and MATLAB's ``imresize`` use ``a = -0.5`` instead.

All use half-pixel centres (output pixel ``i`` samples input position ``(i + 0.5) / scale - 0.5``)
and repeat the edge pixel outside the image, as OpenCV does.

:func:`imresize` is MATLAB's ``imresize(..., "bicubic")``: ``a = -0.5``, a kernel widened by
``1 / scale`` when shrinking (antialiasing), weights renormalised and mirrored ("symmetric")
borders. :func:`degrade` uses it to make LR images the way DIV2K and the SR literature make
them.
"""

from __future__ import annotations

import numpy as np

METHODS = ("nearest", "bilinear", "bicubic")
OPENCV_CUBIC_A = -0.75
MATLAB_CUBIC_A = -0.5


def cubic_kernel(distance: np.ndarray, a: float = OPENCV_CUBIC_A) -> np.ndarray:
    """Keys' cubic convolution kernel.

    Args:
        distance: Distances between sample and source positions, in source pixels.
        a: The kernel's free parameter: -0.75 (OpenCV, the deck) or -0.5 (MATLAB, TensorFlow).

    Returns:
        The kernel weights, same shape as ``distance``; zero for ``|distance| >= 2``.
    """
    x = np.abs(distance)
    x2, x3 = x * x, x * x * x
    near = (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
    far = a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
    return np.where(x <= 1.0, near, np.where(x < 2.0, far, 0.0))


def linear_kernel(distance: np.ndarray) -> np.ndarray:
    """The triangle kernel of bilinear interpolation: ``max(0, 1 - |distance|)``."""
    return np.clip(1.0 - np.abs(distance), 0.0, None)


def resampling_weights(
    in_size: int,
    out_size: int,
    method: str = "bicubic",
    cubic_a: float = OPENCV_CUBIC_A,
    antialias: bool = False,
    border: str = "replicate",
) -> tuple[np.ndarray, np.ndarray]:
    """The source indices and weights of a 1-D resampling, one row per output pixel.

    Args:
        in_size: Number of input pixels along the axis.
        out_size: Number of output pixels along the axis.
        method: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        cubic_a: Parameter of the cubic kernel (``method="bicubic"`` only).
        antialias: Widen the kernel by ``in_size / out_size`` when shrinking (MATLAB's default).
        border: How source indices outside the axis are mapped back into it: ``"replicate"``
            (repeat the edge pixel, OpenCV) or ``"symmetric"`` (mirror, MATLAB).

    Returns:
        ``(indices, weights)``, two ``(out_size, taps)`` arrays: output pixel ``i`` is
        ``sum_t weights[i, t] * input[indices[i, t]]``.

    Raises:
        ValueError: If ``method`` or ``border`` is unknown or a size is not positive.
    """
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
            weights = linear_kernel(distance)
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


def _resize(image, out_height, out_width, **weight_options) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, got shape {image.shape}")
    height, width = image.shape[:2]
    data = image.astype(np.float64)
    rows = resampling_weights(height, out_height, **weight_options)
    data = _resample_axis(data, *rows, axis=0)
    cols = resampling_weights(width, out_width, **weight_options)
    return _resample_axis(data, *cols, axis=1)


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def interpolate(image, scale: int, method: str = "bicubic") -> np.ndarray:
    """Upscales an image by an integer factor with a classic interpolation kernel.

    ``nearest`` and ``bilinear`` match OpenCV's ``INTER_NEAREST`` / ``INTER_LINEAR``;
    ``bicubic`` is Keys' kernel with ``a = -0.75`` as OpenCV's ``INTER_CUBIC``, which gives
    the deck's Hinh 5 table (``[[10, 20], [30, 40]]`` -> ``6.84, 10.16, ...``).

    Args:
        image: ``HxW`` or ``HxWxC`` array, integer or float, any range.
        scale: Integer upscaling factor (2, 3, 4, ...).
        method: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.

    Returns:
        A float array of shape ``(scale*H, scale*W[, C])``, not rounded or clipped (bicubic
        overshoots). Float input keeps its dtype; integer input gives float64.

    Raises:
        ValueError: If ``scale`` is not a positive integer, ``method`` is unknown or the image
            is not 2-D or 3-D.
    """
    scale = _check_scale(scale)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, got shape {image.shape}")
    out = _resize(image, image.shape[0] * scale, image.shape[1] * scale, method=method)
    return out.astype(image.dtype) if np.issubdtype(image.dtype, np.floating) else out


def imresize(image, scale: float | None = None, output_shape=None, antialias=True) -> np.ndarray:
    """MATLAB's ``imresize(image, scale, "bicubic")``, the resize of the SR literature.

    Bicubic with ``a = -0.5``; when shrinking and ``antialias`` is true the kernel is widened by
    ``1 / scale`` (MATLAB's default), and borders are mirrored. Ported from MATLAB's algorithm as
    documented and as in BasicSR's ``matlab_functions.imresize``.

    Args:
        image: ``HxW`` or ``HxWxC`` array in any range.
        scale: Resize factor, e.g. ``1/4`` to make an x4 LR image. Exclusive with
            ``output_shape``.
        output_shape: ``(height, width)`` of the result.
        antialias: Widen the kernel when shrinking.

    Returns:
        The resized image as float64, neither rounded nor clipped.

    Raises:
        ValueError: If neither or both of ``scale`` and ``output_shape`` are given.
    """
    image = np.asarray(image)
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if output_shape is None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        output_shape = (int(np.ceil(image.shape[0] * scale)), int(np.ceil(image.shape[1] * scale)))
    return _resize(
        image,
        int(output_shape[0]),
        int(output_shape[1]),
        method="bicubic",
        cubic_a=MATLAB_CUBIC_A,
        antialias=antialias,
        border="symmetric",
    )


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crops an image's bottom and right edges so both sides are multiples of ``scale``."""
    scale = _check_scale(scale)
    height, width = image.shape[:2]
    return image[: height - height % scale, : width - width % scale]


def degrade(hr_image: np.ndarray, scale: int) -> np.ndarray:
    """Makes the LR image of an HR image with the standard SR protocol (DIV2K "bicubic" track).

    The HR image is expected to be ``modcrop``-ed already; the LR image is MATLAB's
    ``imresize(hr, 1/scale, "bicubic")`` with antialiasing, rounded to uint8.

    Args:
        hr_image: ``HxWxC`` uint8 image whose sides are multiples of ``scale``.
        scale: Integer downscaling factor.

    Returns:
        The ``(H/scale, W/scale, C)`` uint8 LR image.

    Raises:
        ValueError: If the image's sides are not multiples of ``scale``.
    """
    scale = _check_scale(scale)
    height, width = hr_image.shape[:2]
    if height % scale or width % scale:
        raise ValueError(
            f"hr_image of shape {hr_image.shape} is not a multiple of scale={scale}: "
            "modcrop it first"
        )
    lr = imresize(hr_image, output_shape=(height // scale, width // scale))
    return np.clip(np.round(lr), 0, 255).astype(np.uint8)
