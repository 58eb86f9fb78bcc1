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


def write_baseline_results(table: pd.DataFrame, out_dir: str | os.PathLike, command: str):
    """Writes one dataset's baseline table as ``baselines_<dataset>.csv`` and ``.md``."""
    out_dir = Path(out_dir)
    name = table["dataset"].iloc[0]
    write_csv(table, out_dir / f"baselines_{name}.csv")
    shown = table.assign(scale="x" + table["scale"].astype(str))
    markdown = (
        f"# Interpolation baselines: {name}\n\n"
        "Standard protocol: HR cropped to a multiple of the scale, LR = MATLAB bicubic downscale "
        "with antialiasing rounded to uint8; outputs rounded to uint8; Y-PSNR/Y-SSIM on ITU-R "
        "BT.601 luma and RGB PSNR/MSE, border of `scale` pixels shaved. `bicubic` is MATLAB's "
        "kernel (a = -0.5, the published baseline), `bicubic_opencv` the deck's (a = -0.75). "
        "`seconds` is the time per image.\n\n"
        f"Produced by `{command}` on: {machine_description()}.\n\n"
        + format_table(shown, markdown=True)
        + "\n"
    )
    atomic_write_text(out_dir / f"baselines_{name}.md", markdown)


def run_study(
    sources=("sample",),
    scales=(2, 3, 4),
    out_dir: str | os.PathLike = "results",
    split: str = "valid",
    progress: bool = True,
) -> pd.DataFrame:
    """Runs the baseline study on each source; writes tables and figures under ``out_dir``.

    Per source: ``baselines_<dataset>.csv`` and ``.md`` (each scale and method) and
    ``figures/baselines_<dataset>_x<scale>.png`` for the largest scale.

    Args:
        sources: Sources (``"sample"``, DIV2K roots or folders of HR images).
        scales: The scales to evaluate.
        out_dir: Where the results go.
        split: DIV2K's or the sample's split to evaluate.
        progress: Show progress bars.

    Returns:
        The combined table of all sources.
    """
    out_dir = Path(out_dir)
    tables = []
    for source in sources:
        table = baseline_table(source, scales, split=split, progress=progress)
        command = (
            f"sr-keras study --baselines-only --data {source} --scales {','.join(map(str, scales))}"
        )
        write_baseline_results(table, out_dir, command)
        scale = max(scales)
        name = dataset_name(source)
        baseline_figure(
            source, scale, out_dir / "figures" / f"baselines_{name}_x{scale}.png", split=split
        )
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


#: The deck's worked example (Hinh 4 and 5): the 2x2 input and its published 4x4 upscalings.
DECK_INPUT = ((10, 20), (30, 40))
DECK_TABLES = {
    "bilinear": (
        (10, 12.5, 17.5, 20),
        (15, 17.5, 22.5, 25),
        (25, 27.5, 32.5, 35),
        (30, 32.5, 37.5, 40),
    ),
    "bicubic": (
        (6.84, 10.16, 15.63, 18.95),
        (13.48, 16.80, 22.27, 25.59),
        (24.41, 27.73, 33.20, 36.52),
        (31.05, 34.38, 39.84, 43.16),
    ),
}


def deck_examples() -> dict[str, pd.DataFrame]:
    """The deck's 2x2 -> 4x4 example with each method, checked against the deck's tables.

    Returns:
        Method name -> 4x4 DataFrame of :func:`sr_keras.interpolation.interpolate`'s output
        (rounded to 2 decimals, as printed in the deck).

    Raises:
        AssertionError: If a result differs from the deck's table by more than 0.01.
    """
    import numpy as np

    from sr_keras.interpolation import interpolate

    results = {}
    for method in ("nearest", "bilinear", "bicubic"):
        values = interpolate(np.array(DECK_INPUT, dtype=np.float64), 2, method)
        if method in DECK_TABLES:
            difference = np.abs(values - np.array(DECK_TABLES[method])).max()
            assert difference <= 0.01 + 1e-9, f"{method} differs from the deck by {difference}"
        results[method] = pd.DataFrame(values).round(2)
    return results
