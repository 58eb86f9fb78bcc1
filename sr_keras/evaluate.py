"""Evaluation with the standard SR protocol: per-image and mean Y-PSNR, Y-SSIM, RGB PSNR, MSE.

As DIV2K, BasicSR and the papers: HR cropped to a multiple of the scale; LR by MATLAB bicubic
downscale with antialiasing, rounded to uint8 (or DIV2K's official LR); output clipped and rounded
to uint8; metrics on BT.601 luma and RGB after shaving ``crop_border`` pixels (default: the scale).
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sr_keras import metrics, utils
from sr_keras.data import find_pairs, load_pair
from sr_keras.degradations import degrade_named
from sr_keras.inference import BASELINES, Predictor, baseline_predictor, predictor  # noqa: F401

COLUMNS = ("image", "psnr_y", "ssim_y", "psnr_rgb", "mse", "seconds")


def quantize(image: np.ndarray) -> np.ndarray:
    """Clips to ``[0, 255]`` and rounds to uint8, as a saved output image would be."""
    return np.clip(np.round(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)


def measure(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> dict[str, float]:
    """``psnr_y``, ``ssim_y``, ``psnr_rgb`` and ``mse`` (RGB, 0..255 units) of uint8 images."""
    return {
        "psnr_y": metrics.psnr(sr, hr, crop_border, test_y_channel=True),
        "ssim_y": metrics.ssim(sr, hr, crop_border, test_y_channel=True),
        "psnr_rgb": metrics.psnr(sr, hr, crop_border, test_y_channel=False),
        "mse": metrics.mse(sr, hr, crop_border),
    }


def timed(function, argument, repeats: int = 1):
    """``(result, seconds)``: ``function(argument)`` and the fastest of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(argument)
        best = min(best, time.perf_counter() - start)
    return result, best


def megapixel_seconds(predict: Predictor, scale: int, output_side: int = 1000, repeats=3):
    """Seconds per output megapixel of a predictor on a random square image (after a warm-up)."""
    side = round(output_side / scale)
    lr = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    predict(lr)
    return timed(predict, lr, repeats)[1] * 1e6 / (side * scale) ** 2


def load_degraded(pair, scale: int, degradation: str = "bicubic"):
    """``(lr, hr)`` of a pair, the LR made by a named degradation seeded by the image's name
    (``bicubic`` reads official LR images where they exist)."""
    lr, hr = load_pair(pair, scale)
    if degradation != "bicubic":
        lr = degrade_named(hr, scale, degradation, seed=zlib.crc32(pair.name.encode()))
    return lr, hr


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
    """Measures a predictor on a benchmark (``"sample"``, a DIV2K root or a folder of HR images):
    a DataFrame with :data:`COLUMNS`, one row per image and a last row ``mean`` (with
    ``keep_outputs``: ``(table, the quantized SR images by name)``). ImageReadError for an
    unreadable image (a benchmark must be complete), SRKerasError for one too small to measure."""
    crop_border = scale if crop_border is None else crop_border
    rows, outputs = [], {}
    pairs = find_pairs(source, split, scale)
    bar = tqdm(pairs, desc=description, unit="img", disable=not progress, leave=False)
    for index, pair in enumerate(bar):
        lr, hr = load_degraded(pair, scale, degradation)
        if index == 0:  # the first call traces compiled functions: keep it out of the times
            predict(lr[:16, :16])
        sr, seconds = timed(predict, lr)
        sr = quantize(sr)
        if sr.shape != hr.shape:
            raise ValueError(f"{pair.name}: the prediction has shape {sr.shape}, not {hr.shape}")
        try:
            measured = measure(sr, hr, crop_border)
        except ValueError as error:  # too small for the border shave or the SSIM window
            raise utils.SRKerasError(
                f"{pair.hr_path}: {hr.shape[1]}x{hr.shape[0]} is too small to measure ({error}); "
                "remove it from the dataset or lower --crop-border"
            ) from error
        rows.append({"image": pair.name, **measured, "seconds": seconds})
        if keep_outputs:
            outputs[pair.name] = sr
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table.loc[len(table)] = {"image": "mean", **table.drop(columns="image").mean().to_dict()}
    return (table, outputs) if keep_outputs else table


def format_table(table: pd.DataFrame, markdown: bool = False) -> str:
    """A table as text or Markdown, the evaluation columns with sensible decimals."""
    decimals = {"psnr_y": 2, "ssim_y": 4, "psnr_rgb": 2, "mse": 2, "seconds": 4}
    shown = table.copy()
    for column, digits in decimals.items():
        if column in shown:
            shown[column] = shown[column].map(lambda v, d=digits: f"{v:.{d}f}")
    if markdown:
        return shown.to_markdown(index=False, disable_numparse=True)
    return shown.to_string(index=False)


def write_table(table: pd.DataFrame, csv: str | os.PathLike, markdown=None, note: str = ""):
    """Writes a table as CSV and, given a path, as Markdown (``note`` above it), atomically."""
    utils.atomic_write_text(csv, table.to_csv(index=False, float_format="%.6f"))
    if markdown:
        header = f"{note.strip()}\n\n" if note.strip() else ""
        utils.atomic_write_text(markdown, header + format_table(table, markdown=True) + "\n")


def comparison_table(tables: dict[str, pd.DataFrame], parameters: dict[str, int]) -> pd.DataFrame:
    """The deck's results table (Name | Parameters | Loss (MSE) | PSNR | Time (s)), with Y-PSNR and
    Y-SSIM, from evaluation tables' means: PSNR and MSE on RGB in 0..255, seconds per image."""
    columns = {"Loss (MSE)": "mse", "PSNR": "psnr_rgb", "Y-PSNR": "psnr_y", "Y-SSIM": "ssim_y"}
    rows = []
    for name, table in tables.items():
        mean = table.iloc[-1]
        row = {"Name": name, "Parameters": int(parameters.get(name, 0))}
        row |= {label: round(float(mean[column]), 4) for label, column in columns.items()}
        rows.append({**row, "Time (s)": round(float(mean["seconds"]), 6)})
    return pd.DataFrame(rows)


def _labelled(names: list[str], weights: list) -> list[tuple[str, str, str | None]]:
    """``(label, name, weights)`` per run; a model named twice is labelled by its weights file."""
    trained = [name for name in names if name not in BASELINES]
    if len(weights) > len(trained):
        raise ValueError(f"--weights was given {len(weights)} times for {len(trained)} models")
    paths, runs = iter(weights), []
    for name in names:
        path = None if name in BASELINES else next(paths, None)
        label = name
        if names.count(name) > 1:
            label = f"{name} ({Path(path).stem if path else len(runs) + 1})"
        runs.append((label, name, path))
    return runs


def evaluate_named(
    names: list[str],
    dataset: str | os.PathLike,
    scale: int = 4,
    weights=(),
    markdown: bool = False,
    tile: int = 0,
    self_ensemble: bool = False,
    precision: str = "auto",
    csv=None,
    report=None,
    overwrite: bool = False,
    **options,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``sr-keras evaluate``: models (``weights`` in order, default the shipped ones) and baselines
    by name, each table printed; ``options`` go to :func:`evaluate`. Returns ``(per-image table,
    comparison_table)``, several names' tables stacked under a first column ``model``; writes the
    first to ``csv`` and the second to ``report`` ``.csv`` and ``.md`` (checked before any work:
    existing files replaced only with ``overwrite``)."""
    if not names:
        raise ValueError("names: give at least one model or baseline")
    reports = [Path(report).with_suffix(suffix) for suffix in (".csv", ".md")] if report else []
    for output in [csv] * bool(csv) + reports:
        utils.check_output(output, overwrite)
        utils.ensure_writable_folder(Path(output).parent)
        utils.remove_stale_temp_files(output)
    tables, parameters = {}, {}
    where = f"x{scale}, {dataset}, LR {options.get('degradation', 'bicubic')}"
    for label, name, path in _labelled(names, list(weights)):
        predict, parameters[label] = predictor(
            name, scale, path, tile=tile, ensemble=self_ensemble, precision=precision
        )
        tables[label] = evaluate(predict, dataset, scale, description=label, **options)
        print(f"\n{label}, {where}, {parameters[label]:,} parameters")
        print(format_table(tables[label], markdown=markdown))
    summary = comparison_table(tables, parameters)
    table = tables[label]
    if len(names) > 1:
        print(f"\ncomparison (means), {where}")
        print(summary.to_markdown(index=False) if markdown else summary.to_string(index=False))
        stacked = pd.concat([each.assign(model=name) for name, each in tables.items()])
        table = stacked[["model", *COLUMNS]].reset_index(drop=True)
    if csv:
        write_table(table, csv)
        print(f"\nwrote {csv}")
    if reports:
        write_table(summary, *reports)
        print(f"wrote {reports[0]} and {reports[1]}")
    return table, summary
