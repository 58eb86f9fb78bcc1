"""Training recipes of the study: what each model's full run uses, and the quick smoke-test run.

The full recipes are for this project's CPU runs (2 cores): the deck's models upscale first and
run every convolution at HR resolution, so the heavy ones train on smaller patches to get
enough steps into their budget. ``QUICK`` is the same code path shrunk to seconds (nanoGPT's
"quick" configuration idea): CI runs every notebook with it.
"""

from __future__ import annotations

import dataclasses

from sr_keras.config import TrainConfig

#: Per-model overrides of ``TrainConfig`` for the full study run at x4.
RECIPES: dict[str, dict] = {
    "srcnn": dict(epochs=20, steps_per_epoch=150, batch_size=16, patch_size=96, learning_rate=1e-3),
    # About half an hour per run on 2 CPU cores (2,000 steps at ~0.9 s each).
    "srresnet_lite": dict(
        epochs=20, steps_per_epoch=100, batch_size=16, patch_size=96, learning_rate=1e-3
    ),
    "srresnet": dict(
        epochs=20, steps_per_epoch=50, batch_size=16, patch_size=48, learning_rate=1e-3
    ),
    "sr_autoencoder": dict(
        epochs=20, steps_per_epoch=50, batch_size=16, patch_size=48, learning_rate=1e-3
    ),
    # The sub-pixel models run at LR resolution, so their steps are cheap (train-step times in
    # results/benchmarks.md) and they get many more steps in their budgets.
    "espcn": dict(epochs=20, steps_per_epoch=500, batch_size=16, patch_size=96, learning_rate=1e-3),
    # Inside model.fit an EDSR step takes 1.6 to 1.9 s here (the data pipeline and validation
    # share the 2 cores): 3,000 steps took 90 minutes, inside issue #5's 2-hour budget.
    "edsr_baseline": dict(
        epochs=15, steps_per_epoch=200, batch_size=16, patch_size=96, learning_rate=1e-3
    ),
}

#: The flagship pilot (issue #16): EDSR-baseline against RFDN, both with the bicubic skip,
#: at x4 in bfloat16 on the same data, batch and patch, each given the same CPU budget: 90
#: core-minutes (45 minutes of the 2-core machine), the two running at once, each pinned to
#: one core. Steps from each model's bfloat16 training step on one core (benchmarks/common.py,
#: batch 16, HR 96): edsr_baseline 0.29 s, rfdn 0.19 s, plus ~15% for data and validation.
PILOT = {
    "edsr_baseline": dict(
        epochs=20, steps_per_epoch=800, batch_size=16, patch_size=96, learning_rate=1e-3
    ),
    "rfdn": dict(epochs=20, steps_per_epoch=1200, batch_size=16, patch_size=96, learning_rate=1e-3),
}

#: Shared by every full run: L1 loss, cosine decay, validation on whole images.
COMMON = dict(loss="l1", schedule="cosine", seed=1)

#: The quick run: a few steps on a few images, validation on centre crops.
QUICK = dict(epochs=2, steps_per_epoch=3, batch_size=4, patch_size=48, val_center_crop=96, seed=1)


def recipe(
    model: str,
    quick: bool,
    data: str,
    val_data: str | None,
    out: str,
    scale: int = 4,
    global_residual: bool = False,
) -> TrainConfig:
    """The training configuration of one study run.

    Args:
        model: A registered model name.
        quick: The smoke-test configuration instead of the full one.
        data: Training source.
        val_data: Validation source.
        out: Run directory.
        scale: The scale.
        global_residual: The variant with the bicubic input added to the output.

    Returns:
        The ``TrainConfig``.

    Raises:
        ValueError: If the model has no recipe.
    """
    if model not in RECIPES:
        raise ValueError(f"model must be one of {list(RECIPES)}, got {model!r}")
    values = dict(QUICK) if quick else {**COMMON, **RECIPES[model]}
    config = TrainConfig(
        model=model,
        scale=scale,
        data=data,
        val_data=val_data,
        out=out,
        global_residual=global_residual,
    )
    return dataclasses.replace(config, **values)
