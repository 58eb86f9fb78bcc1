"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import time
from pathlib import Path


def training_step_seconds(
    model_name: str, scale: int, patch_size: int, batch_size: int, seconds: float
) -> float:
    """Mean seconds of one training step (forward, backward, Adam update) of a model on an
    in-memory batch of ``batch_size`` HR patches of ``patch_size`` px (at least 2 steps timed
    after 2 warm-up steps)."""
    import numpy as np

    from sr_keras.models import build
    from sr_keras.train import TrainConfig, compile_model

    model = compile_model(build(model_name, scale), TrainConfig(model=model_name, scale=scale))
    lr_size = patch_size // scale
    rng = np.random.default_rng(0)
    lr = rng.random((batch_size, lr_size, lr_size, 3), dtype=np.float32)
    hr = rng.random((batch_size, patch_size, patch_size, 3), dtype=np.float32)
    for _ in range(2):  # trace and warm up
        model.train_on_batch(lr, hr)
    steps, start = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - start < seconds:
        model.train_on_batch(lr, hr)
        steps += 1
    return (time.perf_counter() - start) / steps


def update_markdown_section(path: str | os.PathLike, heading: str, body: str) -> Path:
    """Replaces (or appends) the ``## heading`` section of a Markdown file, atomically."""
    from sr_keras.utils import atomic_write_text

    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    lines = text.rstrip("\n").split("\n")
    marker = f"## {heading}"
    section = [marker, "", *body.rstrip("\n").split("\n")]
    if marker in lines:
        start = lines.index(marker)
        ends = (i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
        end = next(ends, len(lines))
        lines[start:end] = section + [""] * (end < len(lines))
    else:
        lines += ["", *section]
    return atomic_write_text(path, "\n".join(lines) + "\n")
