"""Reading, listing and writing images: one place that turns any file into an RGB uint8 array."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from sr_keras.utils import atomic_write_bytes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class SRKerasError(Exception):
    """An error caused by the user's input; the CLI prints its message without a traceback."""


class ImageReadError(SRKerasError):
    """An image file that cannot be read or decoded."""


def to_rgb_uint8(image: np.ndarray, keep_alpha: bool = False) -> np.ndarray:
    """Converts a decoded image to ``HxWx3`` (or ``HxWx4`` with ``keep_alpha``) uint8.

    Grayscale becomes 3 channels, alpha is dropped unless ``keep_alpha``, 16-bit is scaled to
    8-bit (``round(v / 257)``) and float images in ``[0, 1]`` are scaled by 255.

    Args:
        image: Array as decoded, channels in RGB(A) order.
        keep_alpha: Keep a fourth alpha channel if there is one.

    Returns:
        The uint8 array.

    Raises:
        ValueError: If the array is not 2-D or 3-D with 1, 2, 3 or 4 channels.
    """
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float64) / 257.0)
    elif np.issubdtype(image.dtype, np.floating):
        image = np.round(np.clip(image, 0.0, 1.0) * 255.0)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image must be HxW or HxWxC with C in 1..4, got shape {image.shape}")
    channels = image.shape[2]
    if channels in (1, 2):
        gray = image[:, :, :1]
        color = np.repeat(gray, 3, axis=2)
        alpha = image[:, :, 1:2] if channels == 2 else None
    else:
        color = image[:, :, :3]
        alpha = image[:, :, 3:4] if channels == 4 else None
    if keep_alpha and alpha is not None:
        return np.concatenate([color, alpha], axis=2)
    return np.ascontiguousarray(color)


def decode_raw(path: str | os.PathLike) -> np.ndarray:
    """Decodes a file as stored (any bit depth, 1 to 4 channels), channels in RGB(A) order.

    Raises:
        ImageReadError: If the file is missing, unreadable or not a decodable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(f"{path}: cannot read ({error.strerror})") from error
    # JPEGs carry no alpha: decode them with the EXIF orientation applied (phone photos);
    # other formats keep every channel and bit depth (IMREAD_UNCHANGED ignores EXIF).
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR if is_jpeg else cv2.IMREAD_UNCHANGED
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise ImageReadError(
            f"{path}: not a readable image (corrupt or unsupported format); "
            f"re-export it as PNG or JPEG or remove it"
        )
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as ``HxWx3`` RGB uint8 (see :func:`to_rgb_uint8`).

    Raises:
        ImageReadError: If the file is missing or cannot be decoded.
    """
    return to_rgb_uint8(decode_raw(path))


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Writes an RGB(A) or grayscale image atomically: to a temp file, then renamed.

    uint8 and uint16 arrays are written as they are; the format follows the extension.

    Returns:
        The path written.

    Raises:
        SRKerasError: If the image cannot be encoded for that extension.
    """
    path = Path(path)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    try:
        ok, encoded = cv2.imencode(path.suffix or ".png", image)
    except cv2.error:  # OpenCV raises (rather than returning False) for unknown extensions
        ok = False
    if not ok:
        raise SRKerasError(f"{path}: cannot encode an image with extension {path.suffix!r}")
    return atomic_write_bytes(path, encoded.tobytes())


def list_images(folder: str | os.PathLike, what: str = "image folder") -> list[Path]:
    """Lists the image files under a folder, recursively, sorted by path.

    Args:
        folder: The folder to search.
        what: How to name the folder in error messages.

    Returns:
        Sorted paths of files with an image extension (PNG, JPEG, BMP, TIFF, WebP).

    Raises:
        SRKerasError: If the folder does not exist or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SRKerasError(
            f"{what} '{folder}' does not exist. Give a folder of HR images (PNG/JPEG/BMP), "
            "a DIV2K root (get it with `sr-keras download div2k --root data/DIV2K`) "
            "or 'sample' for the images that ship with scikit-image."
        )
    paths = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )
    if not paths:
        raise SRKerasError(
            f"{what} '{folder}' holds no image files ({', '.join(IMAGE_EXTENSIONS)}), "
            "searched recursively. Put HR images there or point to another folder."
        )
    return paths
