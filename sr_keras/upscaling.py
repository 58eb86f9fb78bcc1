"""Upscaling images in tiles and files in batches, in bounded memory whatever the size.

Each LR tile runs with ``overlap`` pixels of context (the models' receptive field, the kernels)
and only its centre is kept: the untiled output, written straight into an array of the image's
integer type. TensorFlow-free: models come as batch functions.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_keras.images import OutputPlan, decode_raw, plan_outputs, to_rgb_uint8, write_image
from sr_keras.interpolation import interpolate
from sr_keras.utils import (
    SRKerasError,
    available_memory,
    check_output,
    ensure_writable_folder,
    remove_stale_temp_files,
)

#: Batch function: ``(1, h, w, C)`` floats in ``[0, 1]`` -> ``(1, s*h, s*w, C)``.
ArrayFunction = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int], object]
Box = tuple[int, int, int, int]

#: LR context per tile side for interpolation (bicubic reads 2 pixels each way).
INTERPOLATION_OVERLAP = 4


def tile_windows(height, width, tile, overlap, multiple=4) -> list[tuple[Box, Box]]:
    """An image's tiles as ``(core, window)`` boxes ``(top, left, bottom, right)``: the cores cover
    it once; each window adds ``overlap`` pixels of context (but at the image's edges), starts on
    a multiple of ``multiple`` and moves inwards at the edges rather than shrink (one shape for
    nearly all: the backend keeps working memory per shape). ``tile`` 0 or a small image: one."""
    if tile < 0 or overlap < 0:
        raise ValueError(f"tile and overlap must be >= 0, got {tile} and {overlap}")
    if tile == 0 or (height <= tile and width <= tile):
        return [((0, 0, height, width), (0, 0, height, width))]
    tile = math.ceil(tile / multiple) * multiple
    overlap = math.ceil(overlap / multiple) * multiple
    rows, columns = (_spans(size, tile, overlap, multiple) for size in (height, width))
    return [
        ((top, left, bottom, right), (y0, x0, y1, x1))
        for top, bottom, y0, y1 in rows
        for left, right, x0, x1 in columns
    ]


def _spans(size: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int, int, int]]:
    """``(core start, core end, window start, window end)`` along one axis."""
    window = tile + 2 * overlap
    last_start = max(size - window, 0) // multiple * multiple  # the window ending at the edge
    spans = []
    for start in range(0, size, tile):
        end = min(start + tile, size)
        low = min(max(start - overlap, 0), last_start)
        spans.append((start, end, low, min(size, max(low + window, end + overlap))))
    return spans


#: Estimated working memory allowed for one tile of a model: ``sr-keras upscale`` makes its
#: tiles smaller than ``--tile`` where a model needs more (the output is the same).
TILE_MEMORY = 768 * 10**6


def fit_tile(tile, overlap, bytes_per_pixel, budget=TILE_MEMORY, multiple=4) -> int:
    """The largest tile side up to ``tile`` (0, whole images, is kept), a multiple of ``multiple``
    (at least one), whose window at ``bytes_per_pixel`` per LR pixel fits ``budget`` bytes."""
    if tile == 0:
        return 0
    overlap = math.ceil(overlap / multiple) * multiple
    side = int(math.sqrt(budget / max(bytes_per_pixel, 1.0))) - 2 * overlap
    return min(tile, max(multiple, side // multiple * multiple))


def _white(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def predict_tiled(
    function: ArrayFunction,
    image: np.ndarray,
    scale: int,
    tile: int = 256,
    overlap: int = 32,
    multiple: int = 4,
    progress: Progress | None = None,
    out: np.ndarray | None = None,
    normalize: bool = True,
) -> np.ndarray:
    """Upscales an ``HxWxC`` image (float32 in ``[0, 1]``, or uint8/uint16 converted tile by tile)
    with a batch function (``(1, h, w, C)`` float32 -> ``(1, s*h, s*w, C')``) in tiles
    (:func:`tile_windows`; ``tile=0``: whole), calling ``progress(1)`` after each. Returns ``out``
    (``(s*H, s*W, C')``, default float32: the raw results), an integer one given the results
    scaled to its white, rounded and clipped. ``normalize``: feed ``[0, 1]`` floats (models)."""
    height, width = image.shape[:2]
    divisor = _white(image.dtype) if normalize else 1.0
    windows = tile_windows(height, width, tile, overlap, multiple)
    for (top, left, bottom, right), (y0, x0, y1, x1) in windows:
        window = image[None, y0:y1, x0:x1].astype(np.float32) / divisor
        result = function(window)[0][
            (top - y0) * scale : (bottom - y0) * scale, (left - x0) * scale : (right - x0) * scale
        ]
        if out is None:
            out = np.empty((height * scale, width * scale, result.shape[-1]), np.float32)
        region = out[top * scale : bottom * scale, left * scale : right * scale]
        if np.issubdtype(out.dtype, np.integer):
            white = _white(out.dtype)  # a normalized function gives [0, 1] values
            region[...] = np.clip(np.round(result * white if normalize else result), 0, white)
        else:
            region[...] = result
        if progress:
            progress(1)
    return out


def interpolate_image(image, scale: int, method="bicubic", progress=None) -> np.ndarray:
    """``round(interpolate(image, scale, method))`` of a uint8/uint16 ``HxW[xC]`` image, clipped
    to its type, in tiles: no full-size float array."""
    planes = image[:, :, None] if image.ndim == 2 else image
    out = np.empty((planes.shape[0] * scale, planes.shape[1] * scale, planes.shape[2]), image.dtype)

    def function(batch):
        return interpolate(batch[0], scale, method)[None]

    tile, overlap = _interpolation_tile(scale), INTERPOLATION_OVERLAP
    predict_tiled(function, planes, scale, tile, overlap, 4, progress, out, normalize=False)
    return out[:, :, 0] if image.ndim == 2 else out


def interpolation_upscaler(scale: int, method: str = "bicubic") -> Upscaler:
    """The :class:`Upscaler` of ``sr-keras interpolate``: any image, channels and depth kept
    (other depths become 8-bit)."""

    def run(image: np.ndarray, progress: Progress | None) -> np.ndarray:
        if image.dtype not in (np.uint8, np.uint16):
            image = to_rgb_uint8(image, keep_alpha=True)
        return interpolate_image(image, scale, method, progress)

    working = 24 * 4 * scale**2  # float64 results of the two 1-D passes, up to 4 channels
    return Upscaler(run, scale, _interpolation_tile(scale), INTERPOLATION_OVERLAP, working)


def _interpolation_tile(scale: int) -> int:
    """LR tile side for interpolation: tiles of about 1024x1024 output pixels."""
    return max(16, 1024 // scale)


def upscale_image(function, image, scale, tile=256, overlap=32, progress=None, multiple=4):
    """Upscales a uint8/uint16 ``HxW`` or ``HxWxC`` (C 1 to 4) image with an RGB model's batch
    function (arguments as :func:`predict_tiled`'s), keeping dtype and channels: gray runs as gray
    RGB, alpha is bicubic interpolated. ValueError for another dtype or channel count."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image must be uint8 or uint16, got {image.dtype}")
    planes = image[:, :, None] if image.ndim == 2 else image
    channels = planes.shape[2]
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"image must have 1 to 4 channels, got {channels}")
    color = 1 if channels <= 2 else 3
    out = np.empty((planes.shape[0] * scale, planes.shape[1] * scale, channels), image.dtype)

    def gray(batch):  # the RGB model on gray: gray in, the mean of the RGB out
        return function(np.repeat(batch, 3, axis=3)).mean(axis=3, keepdims=True)

    model = function if color == 3 else gray
    predict_tiled(
        model, planes[:, :, :color], scale, tile, overlap, multiple, progress, out[:, :, :color]
    )
    if channels > color:
        out[:, :, color:] = interpolate_image(planes[:, :, color:], scale)
    return out[:, :, 0] if image.ndim == 2 else out


def memory_needed(shape, scale, itemsize, tile, overlap, bytes_per_pixel, multiple=4):
    """Estimated bytes to upscale an image of ``shape`` to ``itemsize``-byte values: ``(the
    output with the two copies writing a PNG makes, the largest tile's work)`` in tiles as
    :func:`tile_windows`'s."""
    height, width = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    output = height * width * scale * scale * channels * itemsize
    windows = tile_windows(height, width, tile, overlap, multiple)
    window = max((y1 - y0) * (x1 - x0) for _, (y0, x0, y1, x1) in windows)
    return 3 * output, int(window * bytes_per_pixel)


@dataclass
class Upscaler:
    """How a batch command upscales one decoded image: ``run(image, tile progress)`` gives it
    upscaled (same dtype) by ``scale`` in tiles (``tile``, ``overlap``) using ``bytes_per_pixel``
    per LR pixel of a tile, origins on multiples of ``multiple``; ``errors``: more exception
    types that fail one file, not the batch."""

    run: Callable[[np.ndarray, Progress | None], np.ndarray]
    scale: int
    tile: int
    overlap: int
    bytes_per_pixel: float
    multiple: int = 4
    errors: tuple[type[BaseException], ...] = ()

    def windows(self, shape) -> list[tuple[Box, Box]]:
        """The tiles an image of ``shape`` runs in (:func:`tile_windows`)."""
        return tile_windows(*shape[:2], self.tile, self.overlap, self.multiple)

    def check_memory(self, path: str | os.PathLike, image: np.ndarray) -> None:
        """Refuses, before allocating anything, an image whose upscaling would not fit in memory:
        SRKerasError naming the file, the memory needed and available, and the fix."""
        shape, itemsize = image.shape, min(image.itemsize, 2)  # outputs are 8 or 16 bits
        needed = functools.partial(memory_needed, shape, self.scale, itemsize)
        output, work = needed(self.tile, self.overlap, self.bytes_per_pixel, self.multiple)
        available = available_memory()
        if output + work <= available:
            return
        tiled = needed(256, 32, self.bytes_per_pixel, self.multiple)[1]
        untiled = self.tile == 0 and output + tiled <= available
        fix = "use --tile 256" if untiled else "upscale a smaller image or free memory"
        raise SRKerasError(
            f"{path}: upscaling {shape[1]}x{shape[0]} x{self.scale}"
            f"{' untiled' if untiled else ''} needs about {(output + work) / 1e9:.1f} GB of "
            f"memory, {available / 1e9:.1f} GB available; {fix}"
        )


def write_outputs(
    plan: OutputPlan, upscaler: Upscaler, description: str, progress: bool = True
) -> tuple[list[Path], list[str], list[str]]:
    """Upscales each job of an :class:`~sr_keras.images.OutputPlan`, one image in
    memory at a time, after removing what a killed run left and checking the memory; each output
    written atomically, a file that cannot be read, fit or be written reported. ``progress`` shows
    a bar over files (``description``) and one over tiles. ``(written paths, the plan's notices,
    its errors and these)``."""
    from tqdm.auto import tqdm

    written, errors = [], []
    for path, target in tqdm(plan.jobs, desc=description, unit="img", disable=not progress):
        try:
            remove_stale_temp_files(target)
            image = decode_raw(path)
            upscaler.check_memory(path, image)
            tiles = len(upscaler.windows(image.shape))
            hidden = tiles < 2 or not progress
            with tqdm(total=tiles, desc=path.name, unit="tile", leave=False, disable=hidden) as bar:
                result = upscaler.run(image, bar.update)
            del image
            written.append(write_image(target, result, copy=False))
            del result
        except MemoryError:
            errors.append(f"{path}: out of memory; try a smaller --tile or a smaller image")
        except (SRKerasError, ValueError, OSError, *upscaler.errors) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            errors.append(message if str(path) in message else f"{path}: {message}")
    return written, plan.notices, plan.errors + errors


def interpolate_files(inputs: list, output, scale: int, method="bicubic", overwrite=False):
    """``sr-keras interpolate``: ``(written paths, notices, errors)``. One input file and an
    ``output`` with a suffix: that file, refused if it exists unless ``overwrite``; else a folder
    (:func:`sr_keras.images.plan_outputs`: existing outputs skipped, so a rerun resumes)."""
    inputs = [Path(path) for path in inputs]
    output = Path(output)
    single = len(inputs) == 1 and output.suffix != "" and not inputs[0].is_dir()
    if single:
        plan = OutputPlan(jobs=[(inputs[0], check_output(output, overwrite, inputs=inputs))])
    else:
        plan = plan_outputs(inputs, output, scale, overwrite)
    if not plan.jobs:
        return [], plan.notices, plan.errors
    ensure_writable_folder(output.parent if single else output)
    upscaler = interpolation_upscaler(scale, method)
    return write_outputs(plan, upscaler, f"interpolate x{scale} {method}", progress=not single)
