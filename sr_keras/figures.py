"""The study's figures: outputs side by side with a zoomed region, learning curves, trade-offs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from sr_keras.interpolation import interpolate  # noqa: E402
from sr_keras.utils import atomic_write_bytes  # noqa: E402


def detail_box(image: np.ndarray, box_size: int) -> tuple[int, int]:
    """``(top, left)`` of the ``box_size`` square with the most texture (gradient energy)."""
    gray = np.asarray(image, dtype=np.float64).mean(axis=2)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    box = min(box_size, *energy.shape)
    step = max(box // 4, 1)
    totals = sliding_window_view(energy, (box, box))[::step, ::step].sum(axis=(2, 3))
    row, column = np.unravel_index(np.argmax(totals), totals.shape)  # the first best, row-major
    return int(row * step), int(column * step)


def comparison_figure(
    hr, lr, outputs: dict[str, np.ndarray], scale: int, captions=None, title=None, box_size=None
) -> matplotlib.figure.Figure:
    """HR, LR (nearest-upscaled) and each output (name -> image) side by side, above the same
    zoomed region of ``box_size`` HR pixels (default: a quarter side)."""
    captions = captions or {}
    box_size = box_size or max(min(hr.shape[:2]) // 4, 8)
    top, left = detail_box(hr, box_size)
    panels = {"HR": hr}
    if "nearest" not in outputs:  # the nearest output already shows the LR pixels
        lr_shown = interpolate(lr, scale, "nearest")
        panels[f"LR (x{scale}, nearest)"] = np.clip(lr_shown, 0, 255).astype(np.uint8)
    panels.update(outputs)
    figure, axes = plt.subplots(2, len(panels), figsize=(2.6 * len(panels), 5.6), squeeze=False)
    for column, (name, image) in enumerate(panels.items()):
        axes[0, column].imshow(image)
        axes[0, column].add_patch(
            Rectangle((left, top), box_size, box_size, fill=False, edgecolor="red", linewidth=1.2)
        )
        caption = captions.get(name)
        axes[0, column].set_title(name if not caption else f"{name}\n{caption}", fontsize=9)
        axes[1, column].imshow(
            image[top : top + box_size, left : left + box_size], interpolation="nearest"
        )
    plt.setp(axes, xticks=[], yticks=[])
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def save_figure(figure: matplotlib.figure.Figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Saves a figure atomically (PNG unless the extension says otherwise), closes it: the path."""
    buffer = io.BytesIO()
    suffix = os.path.splitext(str(path))[1].lstrip(".") or "png"
    figure.savefig(buffer, format=suffix, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return atomic_write_bytes(path, buffer.getvalue())


def learning_curves(log, title: str | None = None, x: str = "epoch") -> matplotlib.figure.Figure:
    """Training loss and validation Y-PSNR of a run's ``log.csv`` table, or of a dict of them,
    against ``epoch`` or ``x="cpu minutes"`` (cumulative ``cpu_seconds``: equal compute)."""
    logs = log if isinstance(log, dict) else {None: log}
    figure, (loss_axis, psnr_axis) = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, run in logs.items():
        steps = run["epoch"] + 1 if x == "epoch" else run["cpu_seconds"].cumsum() / 60
        label = f"{name} " if name else ""
        loss_axis.plot(steps, run["loss"], marker="o", label=f"{label}training")
        if "val_loss" in run and name is None:
            loss_axis.plot(steps, run["val_loss"], marker="o", label="validation")
        psnr_axis.plot(steps, run["val_psnr"], marker="o", label=name)
    loss_axis.set(xlabel=x, ylabel="loss", yscale="log")
    psnr_axis.set(xlabel=x, ylabel="validation Y-PSNR (dB)")
    loss_axis.grid(alpha=0.3)
    psnr_axis.grid(alpha=0.3)
    loss_axis.legend()
    if len(logs) > 1:
        psnr_axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def tradeoff_plot(table, x: str, y: str = "Y-PSNR", log_x: bool = True, title: str | None = None):
    """A comparison table's ``y`` against ``x``, each point labelled with its ``Name``."""
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    values = table[x].clip(lower=1) if log_x and x == "Parameters" else table[x]
    axis.scatter(values, table[y])
    for value, score, name in zip(values, table[y], table["Name"], strict=True):
        axis.annotate(name, (value, score), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axis.set(xlabel=x, ylabel=y, xscale="log" if log_x else "linear")
    axis.grid(alpha=0.3)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure
