"""Training recipes of the study: what each model's full run uses, and the quick smoke-test run.

The full recipes are for this project's CPU runs (2 cores): the deck's models upscale first and
run every convolution at HR resolution, so the heavy ones train on smaller patches to get
enough steps into their budget. ``QUICK`` is the same code path shrunk to seconds (nanoGPT's
"quick" configuration idea): CI runs every notebook with it.
"""

from __future__ import annotations

import dataclasses

from sr_keras.config import TrainConfig

#: The deck's four models share one budget (issue #13), so the study compares architectures:
#: 3,000 steps of batch 16 on HR 64 patches, bfloat16. They upscale first and run every
#: convolution at HR resolution, so the patch is smaller than the sub-pixel models' 96.
DECK_BUDGET = dict(epochs=6, steps_per_epoch=500, batch_size=16, patch_size=64, learning_rate=1e-3)

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

#: Per-model overrides of ``TrainConfig`` for the full study run at x4.
RECIPES: dict[str, dict] = {
    "srcnn": DECK_BUDGET,
    "srresnet_lite": DECK_BUDGET,
    "srresnet": DECK_BUDGET,
    "sr_autoencoder": DECK_BUDGET,
    # The sub-pixel models run at LR resolution, so their steps are cheap (train-step times in
    # results/benchmarks.md) and they get many more steps in their budgets.
    "espcn": dict(epochs=20, steps_per_epoch=500, batch_size=16, patch_size=96, learning_rate=1e-3),
    # The pilot's runs (the shipped EDSR x4 continues it: ZOO below).
    "edsr_baseline": PILOT["edsr_baseline"],
    "rfdn": PILOT["rfdn"],
}

#: The model zoo (issues #13, #15): the flagship (EDSR-baseline, the pilot's winner) at every
#: scale and a robust x4, and ESPCN at x2/x3; all with the bicubic skip, in bfloat16 on BSDS500,
#: validated on the sample photos, batch 16, HR patch 96. ``init_from`` names the run whose
#: ``best.keras`` starts it (under the same runs folder): the x4 run continues the pilot's 16,000
#: steps, x3 and x2 start from its body (the reverse of EDSR's x2-first trick), the robust model
#: from its weights with ``degradation="realistic"``.
_EDSR = dict(model="edsr_baseline", init_from="pilot/edsr_baseline_gr_x4", learning_rate=5e-4,
             ema=0.999)  # fmt: skip
_ESPCN = dict(model="espcn", epochs=20, steps_per_epoch=500, learning_rate=1e-3)
ZOO: dict[str, dict] = {
    "edsr_baseline_gr_x4": {**_EDSR, "scale": 4, "epochs": 25, "steps_per_epoch": 1000},
    # Robust x4 in two stages: stage 1 ran the realistic pipeline of commit 4842ce7 (six
    # equally likely resizes, nearest at TensorFlow's phase only), which still lost to bicubic
    # on OpenCV's unantialiased resizes; stage 2 continues with today's pipeline.
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
#: weights and its protocol-trained twin (the shipped weights of the same network; the two share
#: an ancestor): ``share`` x robust + (1 - ``share``) x twin, the share picked from ``SHARES``
#: on the sample's validation photos (``benchmarks/zoo.py blend``). Name -> twin.
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
