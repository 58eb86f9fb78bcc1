"""Training recipes of the study: each model's full run (for this project's 2-core CPU) and
``QUICK``: the same code path shrunk to seconds (nanoGPT's "quick" configuration
idea), which CI runs every notebook with."""

from __future__ import annotations

from sr_keras.config import TrainConfig

#: The deck's four models share one budget (issue #13), so the study compares architectures:
#: 3,000 steps of batch 16 in bfloat16 on HR 64 patches, smaller than the sub-pixel models' 96
#: as they upscale first and run every convolution at HR resolution.
DECK_BUDGET = dict(epochs=6, steps_per_epoch=500, batch_size=16, patch_size=64, learning_rate=1e-3)

#: The flagship pilot (issue #16): EDSR-baseline against RFDN, both with the bicubic skip, x4,
#: bfloat16, same data, batch and patch, each 90 core-minutes (the two at once, one core each).
#: Steps from each one-core bfloat16 training step (benchmarks/common.py, batch 16, HR 96):
#: edsr_baseline 0.29 s, rfdn 0.19 s, plus ~15% for data and validation.
_PILOT_RUN = dict(epochs=20, batch_size=16, patch_size=96, learning_rate=1e-3)
PILOT = {
    "edsr_baseline": {**_PILOT_RUN, "steps_per_epoch": 800},
    "rfdn": {**_PILOT_RUN, "steps_per_epoch": 1200},
}

#: Per-model overrides of ``TrainConfig`` for the full study run at x4.
RECIPES: dict[str, dict] = {
    "srcnn": DECK_BUDGET,
    "srresnet_lite": DECK_BUDGET,
    "srresnet": DECK_BUDGET,
    "sr_autoencoder": DECK_BUDGET,
    # Sub-pixel models run at LR resolution: cheap steps (results/benchmarks.md), many of them.
    "espcn": dict(epochs=20, steps_per_epoch=500, batch_size=16, patch_size=96, learning_rate=1e-3),
    # The pilot's runs (the shipped EDSR x4 continues it: benchmarks/zoo.py).
    "edsr_baseline": PILOT["edsr_baseline"],
    "rfdn": PILOT["rfdn"],
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
    """The ``TrainConfig`` of one study run: ``QUICK`` if ``quick``, else the model's recipe;
    ValueError if the model has none."""
    if model not in RECIPES:
        raise ValueError(f"model must be one of {list(RECIPES)}, got {model!r}")
    values = QUICK if quick else {**COMMON, **RECIPES[model]}
    where = dict(data=data, val_data=val_data, out=out, global_residual=global_residual)
    return TrainConfig(model=model, scale=scale, **where, **values)
