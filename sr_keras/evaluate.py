"""Evaluation with the standard SR protocol: per-image and mean Y-PSNR, Y-SSIM, RGB PSNR, MSE.

Protocol (as DIV2K, BasicSR and the papers): HR cropped to a multiple of the scale; LR made by
MATLAB bicubic downscale with antialiasing and rounded to uint8 (or DIV2K's official LR images);
the super-resolved image is clipped and rounded to uint8; metrics are measured after shaving
``crop_border`` pixels (default: the scale) from each side, on the Y channel of ITU-R BT.601
YCbCr and on RGB.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sr_keras import metrics
from sr_keras.data import find_pairs, load_pair
from sr_keras.degradations import degrade_named
from sr_keras.interpolation import imresize, interpolate
from sr_keras.utils import SRKerasError, atomic_write_text

COLUMNS = ("image", "psnr_y", "ssim_y", "psnr_rgb", "mse", "seconds")

#: The interpolation baselines. ``bicubic`` is MATLAB's ``imresize`` kernel (a = -0.5), the one
#: behind every published "Bicubic" row; ``bicubic_opencv`` is the deck's/OpenCV's (a = -0.75).
BASELINES = ("nearest", "bilinear", "bicubic", "bicubic_opencv")

Predictor = Callable[[np.ndarray], np.ndarray]


def baseline_predictor(method: str, scale: int) -> Predictor:
    """An upscaling function ``lr uint8 -> sr float (0..255)`` for an interpolation baseline.

    Args:
        method: One of :data:`BASELINES`.
        scale: The upscaling factor.

    Returns:
        The function.

    Raises:
        ValueError: If ``method`` is not a baseline.
    """
    if method == "bicubic":
        return lambda lr: imresize(lr, output_shape=(lr.shape[0] * scale, lr.shape[1] * scale))
    if method == "bicubic_opencv":
        return lambda lr: interpolate(lr, scale, "bicubic")
    if method in ("nearest", "bilinear"):
        return lambda lr: interpolate(lr, scale, method)
    raise ValueError(f"method must be one of {BASELINES}, got {method!r}")


def quantize(image: np.ndarray) -> np.ndarray:
    """Clips to ``[0, 255]`` and rounds to uint8, as a saved output image would be.

    Args:
        image: Float or integer image in ``0..255``.

    Returns:
        The uint8 image.
    """
    return np.clip(np.round(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)


def measure(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> dict[str, float]:
    """All table metrics of one SR image against its HR image.

    Args:
        sr: The uint8 super-resolved image.
        hr: The uint8 ground truth, same shape.
        crop_border: Pixels shaved from each side.

    Returns:
        ``psnr_y``, ``ssim_y``, ``psnr_rgb`` and ``mse`` (RGB, 0..255 units).
    """
    return {
        "psnr_y": metrics.psnr(sr, hr, crop_border, test_y_channel=True),
        "ssim_y": metrics.ssim(sr, hr, crop_border, test_y_channel=True),
        "psnr_rgb": metrics.psnr(sr, hr, crop_border, test_y_channel=False),
        "mse": metrics.mse(sr, hr, crop_border),
    }


def evaluate(
    predict: Predictor,
    source: str | os.PathLike,
    scale: int = 4,
    split: str = "valid",
    crop_border: int | None = None,
    progress: bool = True,
    description: str = "evaluate",
    keep_outputs: bool = False,
    degradation: str = "bicubic",
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Runs a predictor over a benchmark source and measures every image.

    Args:
        predict: Function from an LR uint8 ``HxWx3`` array to the SR image (any float or uint8
            array in ``0..255`` of shape ``scale*H x scale*W x 3``).
        source: ``"sample"``, a DIV2K root or a folder of HR images (e.g. Set5).
        scale: The scale.
        split: DIV2K's or the sample's split.
        crop_border: Pixels shaved before measuring; ``None`` means ``scale``.
        progress: Show a progress bar over images.
        description: Label of the progress bar.
        keep_outputs: Also return the quantized SR images by name.
        degradation: How LR images are made from HR (:func:`sr_keras.degradations.degrade_named`;
            seeded by the image's name); ``"bicubic"``, the protocol, reads official LR images
            where they exist.

    Returns:
        A DataFrame with :data:`COLUMNS`, one row per image and a last row ``mean``; with
        ``keep_outputs``, ``(table, outputs)``.

    Raises:
        ValueError: If an output has the wrong shape or ``degradation`` is unknown.
        ImageReadError: If an image cannot be read (a benchmark must be complete).
        SRKerasError: If an image is too small to measure (naming it).
    """
    crop_border = scale if crop_border is None else crop_border
    rows, outputs = [], {}
    pairs = find_pairs(source, split, scale)
    warmed_up = False
    for pair in tqdm(pairs, desc=description, unit="img", disable=not progress, leave=False):
        lr, hr = load_pair(pair, scale)
        if degradation != "bicubic":
            lr = degrade_named(hr, scale, degradation, seed=zlib.crc32(pair.name.encode()))
        if not warmed_up:  # the first call traces compiled functions: keep it out of the times
            predict(lr[:16, :16])
            warmed_up = True
        start = time.perf_counter()
        sr = predict(lr)
        seconds = time.perf_counter() - start
        sr = quantize(sr)
        if sr.shape != hr.shape:
            raise ValueError(
                f"{pair.name}: the prediction has shape {sr.shape}, expected {hr.shape}"
            )
        try:
            measured = measure(sr, hr, crop_border)
        except ValueError as error:  # too small for the border shave or the SSIM window
            raise SRKerasError(
                f"{pair.hr_path}: {hr.shape[1]}x{hr.shape[0]} is too small to measure ({error}); "
                "remove it from the dataset or lower --crop-border"
            ) from error
        rows.append({"image": pair.name, **measured, "seconds": seconds})
        if keep_outputs:
            outputs[pair.name] = sr
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    mean = table.drop(columns="image").mean()
    table.loc[len(table)] = {"image": "mean", **mean.to_dict()}
    return (table, outputs) if keep_outputs else table


def format_table(table: pd.DataFrame, markdown: bool = False) -> str:
    """Formats an evaluation table with sensible decimals (plain text or Markdown)."""
    decimals = {"psnr_y": 2, "ssim_y": 4, "psnr_rgb": 2, "mse": 2, "seconds": 4}
    shown = table.copy()
    for column, digits in decimals.items():
        if column in shown:
            shown[column] = shown[column].map(lambda v, d=digits: f"{v:.{d}f}")
    if markdown:
        return shown.to_markdown(index=False, disable_numparse=True)
    return shown.to_string(index=False)


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Writes a table as CSV atomically (temp file, then rename)."""
    atomic_write_text(path, table.to_csv(index=False, float_format="%.6f"))


def comparison_table(tables: dict[str, pd.DataFrame], parameters: dict[str, int]) -> pd.DataFrame:
    """The deck's results table (Name | Parameters | Loss (MSE) | PSNR | Time) from evaluation
    tables, with Y-PSNR and Y-SSIM added.

    ``PSNR`` and ``Loss (MSE)`` are on RGB in 0..255 units, as the deck reports them; ``Time`` is
    seconds per image.

    Args:
        tables: Model name -> table from :func:`evaluate` (its last row is the mean).
        parameters: Model name -> parameter count (0 for interpolation).

    Returns:
        One row per model.
    """
    rows = []
    for name, table in tables.items():
        mean = table.iloc[-1]
        rows.append(
            {
                "Name": name,
                "Parameters": int(parameters.get(name, 0)),
                "Loss (MSE)": round(float(mean["mse"]), 4),
                "PSNR": round(float(mean["psnr_rgb"]), 4),
                "Y-PSNR": round(float(mean["psnr_y"]), 4),
                "Y-SSIM": round(float(mean["ssim_y"]), 4),
                "Time (s)": round(float(mean["seconds"]), 6),
            }
        )
    return pd.DataFrame(rows)
