"""Training configuration: a plain dataclass, importable without loading TensorFlow."""

from __future__ import annotations

import dataclasses

from sr_keras.precision import PRECISIONS

LOSSES = {"mse": "mean_squared_error", "l1": "mean_absolute_error"}
SCHEDULES = ("cosine", "step", "constant")
DEGRADATIONS = ("bicubic", "realistic")
#: The allowed values of the fields that have a fixed set (also the command line's choices).
CHOICES = dict(
    schedule=SCHEDULES, loss=tuple(LOSSES), degradation=DEGRADATIONS, precision=PRECISIONS
)


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
        model: A registered model name (see ``sr_keras.models.available_models()``).
        scale: 2, 3 or 4.
        data: Training source: ``"sample"``, a DIV2K root or a folder of HR images.
        val_data: Validation source; ``None``: ``data``'s valid split, or a plain folder itself.
        out: The run directory.
        epochs: Number of epochs.
        steps_per_epoch: Batches per epoch.
        batch_size: Patches per batch (over all devices).
        patch_size: HR patch side.
        learning_rate: Initial Adam learning rate.
        schedule: ``cosine`` (to 1% over the run), ``step`` (halve at 50% and 75%) or ``constant``.
        loss: ``mse`` (as the deck) or ``l1``.
        degradation: How training LR patches are made: ``bicubic`` (the protocol's LR, as the
            study) or ``realistic`` (random blur, kernels, noise and JPEG; see
            ``sr_keras.degradations``). Validation always uses the protocol's LR.
        global_residual: Add the bicubic input to the output (see ``models.build``).
        precision: ``auto`` (bfloat16 where native, else float32), ``float32``, ``bfloat16`` or
            ``float16`` (see ``sr_keras.precision``). Saved models are float32 in any case.
        ema: Momentum of an exponential moving average of the weights (e.g. ``0.999``);
            the averaged weights are the ones validated and saved. ``None``: no average.
        init_from: Start from this ``.keras`` file's weights: every layer whose name and weight
            shapes match is copied (an x4 body into x2 or x3, as EDSR starts x3/x4 from x2).
        seed: Makes a CPU run repeatable (weights, data order, crops).
        cache: Cache decoded images in RAM (``True``; ``ram`` on the command line), not at all
            (``False``; ``none``) or in a file (its path).
        val_center_crop: Validate on HR centre crops of this side instead of whole images.
        tensorboard: Write TensorBoard logs to ``out/tensorboard``.
    """

    model: str = "srcnn"
    scale: int = 4
    data: str = "sample"
    val_data: str | None = None
    out: str = "runs/srcnn_x4"
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 16
    patch_size: int = 96
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    loss: str = "mse"
    degradation: str = "bicubic"
    global_residual: bool = False
    precision: str = "auto"
    ema: float | None = None
    init_from: str | None = None
    seed: int | None = None
    cache: bool | str = True
    val_center_crop: int | None = None
    tensorboard: bool = False

    def validate(self) -> None:
        """Raises ``ValueError`` naming the first bad field."""
        from sr_keras import models

        allowed = {"model": models.available_models(), "scale": models.SCALES, **CHOICES}
        for field, values in allowed.items():
            if getattr(self, field) not in values:
                raise ValueError(f"{field} must be one of {values}, got {getattr(self, field)!r}")
        for field in ("epochs", "steps_per_epoch", "batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError(f"ema must be between 0 and 1 (e.g. 0.999), got {self.ema}")
        if self.patch_size < self.scale or self.patch_size % self.scale:
            raise ValueError(
                f"patch_size must be a positive multiple of scale={self.scale}, "
                f"got {self.patch_size}"
            )
