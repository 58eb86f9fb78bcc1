"""Training: one ``train()`` behind ``sr-keras train``, built on ``model.fit`` and callbacks.

A run directory holds everything about one run:

* ``config.json``: the configuration (a re-run with the same ``--out`` must use the same one);
* ``log.csv``: one row per epoch (loss, PSNR, validation loss and Y-PSNR, learning rate, seconds);
* ``best.keras`` (best validation Y-PSNR) and ``last.keras`` (end of the last epoch);
* ``backup/`` while the run is unfinished: ``BackupAndRestore`` state, so the same command
  resumes a killed run at the epoch where it stopped;
* ``summary.json`` once finished: best epoch and PSNR, steps, wall time, machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf

from sr_keras import data, models
from sr_keras.config import LOSSES, SCHEDULES, TrainConfig  # noqa: F401 (re-exported)
from sr_keras.images import SRKerasError
from sr_keras.metrics import PSNR
from sr_keras.utils import atomic_write_text, machine_description


def learning_rate_schedule(config: TrainConfig):
    """The learning rate as a function of the training step.

    Args:
        config: Its ``schedule``, ``learning_rate``, ``epochs`` and ``steps_per_epoch``.

    Returns:
        A Keras learning-rate schedule, or a float for ``constant``.
    """
    total = config.epochs * config.steps_per_epoch
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, total, alpha=0.01)
    if config.schedule == "step":
        boundaries = [int(total * 0.5), int(total * 0.75)]
        values = [config.learning_rate, config.learning_rate / 2, config.learning_rate / 4]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return config.learning_rate


def distribution_strategy(devices: list[str] | None = None) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy to train under.

    Args:
        devices: Device names for ``MirroredStrategy`` (e.g. two logical CPUs); default all
            GPUs when there are several.

    Returns:
        ``MirroredStrategy`` for several devices, else the default strategy (one GPU if
        present, else the CPU).
    """
    if devices:
        return tf.distribute.MirroredStrategy(devices)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


class EpochTimer(keras.callbacks.Callback):
    """Adds the epoch's wall time (``seconds``) and learning rate to the epoch logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._start
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))


class WholeImageValidation(keras.callbacks.Callback):
    """Validates on whole images at the end of each epoch: ``val_loss`` and ``val_psnr``.

    Images of different sizes go one at a time through a function traced once for unknown
    height and width, on one device even under ``MirroredStrategy`` (a global batch of one
    image cannot be split across replicas). Y-PSNR uses the benchmark border (``scale``).

    Args:
        dataset: ``(lr, hr)`` batches of one image, as from ``data.validation_dataset``.
        scale: The scale (border shaved for PSNR).
        loss: Keras loss name, reported as ``val_loss``.
    """

    def __init__(self, dataset: tf.data.Dataset, scale: int, loss: str):
        super().__init__()
        self.dataset = dataset
        self.metric = PSNR(crop_border=scale, test_y_channel=True, max_val=1.0, name="val_psnr")
        self.loss = keras.losses.get(loss)
        self._predict = None

    def on_epoch_end(self, epoch, logs=None):
        if self._predict is None:
            model = self.model

            @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
            def predict(batch):
                return tf.cast(model(batch, training=False), tf.float32)

            self._predict = predict
        self.metric.reset_state()
        losses = []
        for lr, hr in self.dataset:
            sr = self._predict(lr)
            self.metric.update_state(hr, sr)
            losses.append(float(tf.reduce_mean(self.loss(hr, sr))))
        if logs is not None:
            logs["val_loss"] = sum(losses) / len(losses)
            logs["val_psnr"] = float(self.metric.result())


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (``.keras``) at the end of epochs, via a temp file and a rename.

    Keras' ``ModelCheckpoint`` writes the file in place, so a kill while saving leaves a
    corrupt file; here the previous file stays intact until the new one is complete.

    Args:
        path: The ``.keras`` file.
        monitor: Save only when this log value improves (``None``: every epoch).
        best: The best value so far (e.g. from the log of a resumed run).
    """

    def __init__(self, path: Path, monitor: str | None = None, best: float = -float("inf")):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or not value > self.best:
                return
            self.best = value
        save_model(self.model, self.path)


def save_model(model: keras.Model, path: Path) -> Path:
    """Saves a ``.keras`` file atomically (a temporary file beside it, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.keras")
    model.save(temporary, overwrite=True)
    os.replace(temporary, path)
    return path


def _restored_epoch(backup_dir: Path) -> int:
    """The epoch ``BackupAndRestore`` will resume at (0 when there is no backup)."""
    metadata = backup_dir / "training_metadata.json"
    if not metadata.is_file():
        return 0
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (ValueError, KeyError, OSError):
        return 0


def _trim_log(log_path: Path, epoch: int) -> pd.DataFrame:
    """Keeps only the log rows of epochs before ``epoch`` (those the backup holds)."""
    if not log_path.is_file() or log_path.stat().st_size == 0:
        return pd.DataFrame()
    log = pd.read_csv(log_path)
    log = log[log["epoch"] < epoch] if "epoch" in log else log.iloc[0:0]
    atomic_write_text(log_path, log.to_csv(index=False))
    return log


def _check_config(run_dir: Path, config: TrainConfig) -> None:
    path = run_dir / "config.json"
    wanted = dataclasses.asdict(config)
    if path.is_file():
        previous = json.loads(path.read_text())
        changed = {key for key in wanted if previous.get(key) != wanted[key]}
        if changed:
            raise SRKerasError(
                f"run directory '{run_dir}' holds a run with a different configuration "
                f"({', '.join(sorted(changed))} differ): use another --out, or the same "
                "arguments to resume it"
            )
    atomic_write_text(path, json.dumps(wanted, indent=2) + "\n")


def compile_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Compiles a model for training.

    Args:
        model: The model.
        config: Its ``loss`` and learning-rate settings.

    Returns:
        The same model, compiled with Adam, the loss and the Y-PSNR metric.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(config)),
        loss=LOSSES[config.loss],
        metrics=[PSNR(crop_border=config.scale, test_y_channel=True, max_val=1.0)],
    )
    return model


def train(
    config: TrainConfig, devices: list[str] | None = None, verbose: int | str = "auto"
) -> tuple[keras.Model, pd.DataFrame]:
    """Trains a model; resumes the run in ``config.out`` if it was interrupted.

    Args:
        config: The run's configuration.
        devices: Devices for ``MirroredStrategy`` (e.g. two logical CPUs in tests); default
            all GPUs if there are several.
        verbose: ``model.fit`` verbosity (1: progress bar, 2: one line per epoch).

    Returns:
        ``(model, log)``: the model with the best validation weights, and the epoch log.

    Raises:
        ValueError: If the configuration is invalid.
        SRKerasError: If the data is missing or the run directory holds another run.
    """
    config.validate()
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_config(run_dir, config)
    log_path, best_path, last_path = (
        run_dir / "log.csv",
        run_dir / "best.keras",
        run_dir / "last.keras",
    )
    summary_path = run_dir / "summary.json"
    if summary_path.is_file() and best_path.is_file():
        print(f"run '{run_dir}' is already complete: loading {best_path}")
        return keras.models.load_model(best_path), pd.read_csv(log_path)

    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
        tf.config.experimental.enable_op_determinism()

    train_data = data.training_dataset(
        config.data,
        config.scale,
        config.patch_size,
        config.batch_size,
        split="train",
        cache=config.cache,
        seed=config.seed,
    )
    val_source = config.val_data or config.data
    val_data = data.validation_dataset(
        val_source, config.scale, split="valid", center_crop_size=config.val_center_crop
    )

    strategy = distribution_strategy(devices)
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            model = models.build(config.model, config.scale, global_residual=config.global_residual)
            compile_model(model, config)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)

    backup_dir = run_dir / "backup"
    log = _trim_log(log_path, _restored_epoch(backup_dir))
    best = float(log["val_psnr"].max()) if "val_psnr" in log and len(log) else -float("inf")
    # Order matters for a kill between two callbacks: the log row is written before the
    # backup, so a kill between them repeats that epoch (its row is trimmed) rather than
    # losing its row. The backup is removed only once summary.json exists.
    callbacks = [
        WholeImageValidation(val_data, config.scale, LOSSES[config.loss]),
        EpochTimer(),
        keras.callbacks.TerminateOnNaN(),
        AtomicCheckpoint(best_path, monitor="val_psnr", best=best),
        AtomicCheckpoint(last_path),
        keras.callbacks.CSVLogger(log_path, append=True),
        keras.callbacks.BackupAndRestore(
            backup_dir, double_checkpoint=True, delete_checkpoint=False
        ),
    ]
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(run_dir / "tensorboard"))

    start = time.perf_counter()
    model.fit(
        train_data,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the tf.data stream shuffles
    )
    log = pd.read_csv(log_path)
    if len(log) < config.epochs:
        reason = "the loss became NaN" if model.stop_training else "the training data ran out"
        raise SRKerasError(
            f"training stopped after {len(log)} of {config.epochs} epochs: {reason} "
            f"(see {log_path} and the warnings above: were all training images skipped?)"
        )
    best = log.loc[log["val_psnr"].idxmax()]
    summary = {
        "model": config.model,
        "scale": config.scale,
        "parameters": model.count_params(),
        "epochs": int(len(log)),
        "steps": int(len(log) * config.steps_per_epoch),
        "best_epoch": int(best["epoch"]) + 1,
        "best_val_psnr_y": float(best["val_psnr"]),
        "train_seconds": float(log["seconds"].sum()),
        "this_session_seconds": time.perf_counter() - start,
        "replicas": strategy.num_replicas_in_sync,
        "devices": [device.name for device in tf.config.list_logical_devices()],
        "machine": machine_description(),
    }
    atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(backup_dir, ignore_errors=True)
    return keras.models.load_model(best_path), log
