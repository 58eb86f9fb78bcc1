"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import time


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
