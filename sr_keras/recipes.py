"""Training recipes of the study: each model's full run (for this project's 2-core CPU), the
zoo's runs, and ``QUICK``: the same code path shrunk to seconds (nanoGPT's "quick" configuration
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
    # The pilot's runs (the shipped EDSR x4 continues it: ZOO below).
    "edsr_baseline": PILOT["edsr_baseline"],
    "rfdn": PILOT["rfdn"],
}

#: The model zoo (issues #13, #15): the flagship (EDSR-baseline, the pilot's winner) at every
#: scale and robust at x4/x2, ESPCN at x2/x3; bicubic skip, bfloat16, BSDS500, validated on the
#: sample photos, batch 16, HR 96. ``init_from`` names the run (same runs folder) whose
#: ``best.keras`` starts it: x4 continues the pilot's 16,000 steps, x3 and x2 start from its
#: body (EDSR's x2-first trick reversed), robust x4 from its weights, ``degradation="realistic"``.
_EDSR = dict(model="edsr_baseline", init_from="pilot/edsr_baseline_gr_x4", learning_rate=5e-4,
             ema=0.999)  # fmt: skip
_ESPCN = dict(model="espcn", epochs=20, steps_per_epoch=500, learning_rate=1e-3)
ZOO: dict[str, dict] = {
    "edsr_baseline_gr_x4": {**_EDSR, "scale": 4, "epochs": 25, "steps_per_epoch": 1000},
    # Robust x4 in two stages: stage 1 ran the realistic pipeline of commit 4842ce7 (six equally
    # likely resizes, nearest at TensorFlow's phase only), which still lost to bicubic on
    # OpenCV's unantialiased resizes; stage 2 continues with today's pipeline.
    "edsr_baseline_gr_realistic_x4_stage1": {
        **_EDSR, "scale": 4, "epochs": 8, "steps_per_epoch": 1000, "degradation": "realistic"
    },
    "edsr_baseline_gr_realistic_x4": {
        **_EDSR, "scale": 4, "epochs": 8, "steps_per_epoch": 1000, "degradation": "realistic",
        "init_from": "zoo/edsr_baseline_gr_realistic_x4_stage1", "learning_rate": 3e-4,
    },
    # Robust x2 from the shipped x2 weights, today's pipeline.
    "edsr_baseline_gr_realistic_x2": {
        **_EDSR, "scale": 2, "epochs": 4, "steps_per_epoch": 500, "degradation": "realistic",
        "init_from": "zoo/edsr_baseline_gr_x2", "learning_rate": 3e-4,
    },
    "edsr_baseline_gr_x3": {**_EDSR, "scale": 3, "epochs": 6, "steps_per_epoch": 500},
    "edsr_baseline_gr_x2": {**_EDSR, "scale": 2, "epochs": 6, "steps_per_epoch": 500},
    "espcn_gr_x3": {**_ESPCN, "scale": 3},
    "espcn_gr_x2": {**_ESPCN, "scale": 2},
}  # fmt: skip
ZOO_COMMON = dict(global_residual=True, batch_size=16, patch_size=96, precision="bfloat16")
#: Shipped as a weight average (WiSE-FT: Wortsman et al., CVPR 2022) of a robust zoo run's final
#: weights and its twin (the shipped protocol-trained weights of the same network, a common
#: ancestor): ``share`` x robust + (1 - ``share``) x twin, ``share`` from ``SHARES`` picked on the
#: sample's validation photos (``benchmarks/zoo.py blend``). Name -> twin.
BLENDS = {
    "edsr_baseline_gr_realistic_x4": "edsr_baseline_gr_x4",
    "edsr_baseline_gr_realistic_x2": "edsr_baseline_gr_x2",
}
SHARES = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)

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
