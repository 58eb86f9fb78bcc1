"""The main job: the study end to end on a source of images, tables and figures into ``results/``.

Now: the interpolation baselines (nearest, bilinear, bicubic as MATLAB and as OpenCV) at x2, x3
and x4 with the standard protocol, one table per dataset (CSV and Markdown) and one figure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from sr_keras.data import find_pairs, is_div2k_root, load_pair
from sr_keras.evaluate import (
    BASELINES,
    baseline_predictor,
    evaluate,
    format_table,
    measure,
    quantize,
    write_csv,
)
from sr_keras.figures import comparison_figure, save_figure
from sr_keras.utils import atomic_write_text, machine_description


def dataset_name(source: str | os.PathLike) -> str:
    """A short name for a source: ``sample``, ``DIV2K`` or the folder's name."""
    if str(source) == "sample":
        return "sample"
    if is_div2k_root(source):
        return "DIV2K"
    return Path(source).resolve().name


def baseline_table(
    source: str | os.PathLike,
    scales=(2, 3, 4),
    methods=BASELINES,
    split: str = "valid",
    progress: bool = True,
) -> pd.DataFrame:
    """Mean metrics of each interpolation baseline at each scale on one source.

    Returns:
        A DataFrame with columns ``dataset, scale, method, psnr_y, ssim_y, psnr_rgb, mse,
        seconds`` (means over images).
    """
    rows = []
    name = dataset_name(source)
    for scale in scales:
        for method in methods:
            table = evaluate(
                baseline_predictor(method, scale),
                source,
                scale,
                split=split,
                progress=progress,
                description=f"{name} x{scale} {method}",
            )
            mean = table.iloc[-1].drop("image").to_dict()
            rows.append({"dataset": name, "scale": scale, "method": method, **mean})
    return pd.DataFrame(rows)


def baseline_figure(source, scale: int, path, split: str = "valid", image_index: int = 0):
    """Saves the side-by-side figure of the baselines on one image of a source."""
    pair = find_pairs(source, split, scale)[image_index]
    lr, hr = load_pair(pair, scale)
    outputs, captions = {}, {}
    for method in ("nearest", "bilinear", "bicubic"):
        sr = quantize(baseline_predictor(method, scale)(lr))
        values = measure(sr, hr, crop_border=scale)
        outputs[method] = sr
        captions[method] = f"{values['psnr_y']:.2f} dB / {values['ssim_y']:.4f}"
    figure = comparison_figure(
        hr,
        lr,
        outputs,
        scale,
        captions=captions,
        title=f"{dataset_name(source)} / {pair.name}, x{scale}: Y-PSNR / Y-SSIM",
    )
    save_figure(figure, path)
    return Path(path)


def run_study(
    sources=("sample",),
    scales=(2, 3, 4),
    out_dir: str | os.PathLike = "results",
    split: str = "valid",
    progress: bool = True,
) -> pd.DataFrame:
    """Runs the baseline study on each source; writes tables and figures under ``out_dir``.

    Writes ``baselines.csv`` and ``baselines.md`` (all sources, scales and methods) and
    ``figures/baselines_<dataset>_x<scale>.png`` for the largest scale of each source.

    Args:
        sources: Sources (``"sample"``, DIV2K roots or folders of HR images).
        scales: The scales to evaluate.
        out_dir: Where the results go.
        split: DIV2K's or the sample's split to evaluate.
        progress: Show progress bars.

    Returns:
        The combined table.
    """
    out_dir = Path(out_dir)
    tables = [baseline_table(source, scales, split=split, progress=progress) for source in sources]
    table = pd.concat(tables, ignore_index=True)
    write_csv(table, out_dir / "baselines.csv")
    shown = table.assign(scale="x" + table["scale"].astype(str))
    markdown = (
        "# Interpolation baselines\n\n"
        "Standard protocol: HR cropped to a multiple of the scale, LR = MATLAB bicubic downscale "
        "with antialiasing rounded to uint8; outputs rounded to uint8; Y-PSNR/Y-SSIM on ITU-R "
        "BT.601 luma and RGB PSNR/MSE, border of `scale` pixels shaved. `bicubic` is MATLAB's "
        "kernel (a = -0.5, the published baseline), `bicubic_opencv` the deck's (a = -0.75). "
        "`seconds` is the time per image.\n\n"
        f"Produced by `sr-keras study` on: {machine_description()}.\n\n"
        + format_table(shown, markdown=True)
        + "\n"
    )
    atomic_write_text(out_dir / "baselines.md", markdown)
    for source in sources:
        scale = max(scales)
        baseline_figure(
            source,
            scale,
            out_dir / "figures" / f"baselines_{dataset_name(source)}_x{scale}.png",
            split=split,
        )
    return table
