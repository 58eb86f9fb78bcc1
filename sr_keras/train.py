"""Training: ``train()`` behind ``sr-keras train``, ``model.fit`` with callbacks.

A run directory holds ``config.json`` (a re-run into it must use the same configuration),
``log.csv`` (a row per finished epoch: loss, PSNR, validation loss and Y-PSNR, learning rate,
seconds), ``best.keras`` (best validation Y-PSNR) and ``last.keras`` (last epoch), float32
whatever the training precision and averaged with ``ema``, ``backup/epoch_NNNN.weights.h5``
(model and optimizer state after NNNN epochs, the newest two, until the run finishes),
``summary.json`` once finished, and ``.lock`` while a process trains into it. Each file is
written under a temporary name and renamed, in the order log, backup, best, last: a kill at any
moment leaves a state the same command resumes from, every finished epoch logged exactly once.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf

from sr_keras import data, models, precision
from sr_keras.config import LOSSES, TrainConfig
from sr_keras.images import SRKerasError
from sr_keras.inference import traced_model
from sr_keras.metrics import PSNR
from sr_keras.utils import (
    atomic_write_bytes,
    atomic_write_text,
    machine_description,
    remove_stale_temp_files,
)

#: The run has diverged when the loss is not finite, or above this many times its lowest
#: value so far and above 1 (worse than any constant image in [0, 1], for L1 and MSE).
DIVERGED_FACTOR = 100.0


def learning_rate_schedule(config: TrainConfig):
    """The learning rate of ``config.schedule``: a Keras schedule, or a float for ``constant``."""
    total = config.epochs * config.steps_per_epoch
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, total, alpha=0.01)
    if config.schedule == "step":
        boundaries = [int(total * 0.5), int(total * 0.75)]
        values = [config.learning_rate, config.learning_rate / 2, config.learning_rate / 4]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return config.learning_rate


class _MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``reduce`` accepts Keras 3 ``model.fit``'s nested ``(x, y)`` batch and scalar losses with
    ``axis=0`` (reduced across replicas instead; keras-team/keras#20585)."""

    def reduce(self, reduce_op, value, axis):
        def reduce_one(item):
            local = self.experimental_local_results(item)[0]
            return super(_MultiWorkerStrategy, self).reduce(
                reduce_op, item, None if local.shape.rank == 0 else axis
            )

        return tf.nest.map_structure(reduce_one, value)


def distribution_strategy(devices: list[str] | None = None) -> tf.distribute.Strategy:
    """``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names a cluster (a process per
    machine), ``MirroredStrategy`` over ``devices`` or several GPUs, else the default one."""
    if "cluster" in json.loads(os.environ.get("TF_CONFIG") or "{}"):
        return _MultiWorkerStrategy()
    if devices or len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy(devices or None)  # None: all GPUs
    return tf.distribute.get_strategy()


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """0 for the chief (the process that writes the run directory), 1, 2... for the others."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "", "chief"):
        return 0
    return resolver.task_id + ("chief" in resolver.cluster_spec().as_dict())


class EpochTimer(keras.callbacks.Callback):
    """Adds the epoch's wall time (``seconds``), the CPU time of this process over it
    (``cpu_seconds``, all threads) and the learning rate to the epoch logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._start
            logs["cpu_seconds"] = time.process_time() - self._cpu_start
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is not finite or explodes (DIVERGED_FACTOR)
    and sets ``diverged = (epoch, batch, loss)``; writers skip that epoch (last good state kept)."""

    def __init__(self):
        super().__init__()
        self.diverged = None
        self._epoch, self._lowest = 0, math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        self._lowest = min(self._lowest, loss)
        if not math.isfinite(loss) or loss > max(1.0, DIVERGED_FACTOR * self._lowest):
            self.diverged = (self._epoch, batch, loss)
            self.model.stop_training = True


class WholeImageValidation(keras.callbacks.Callback):
    """Logs ``val_loss`` (Keras loss ``loss``) and ``val_psnr`` (Y-PSNR, border ``scale``) over
    ``dataset``'s single ``(lr, hr)`` images at each epoch's end, through one function traced
    for any size, on one device (a batch of one image cannot be split across replicas)."""

    def __init__(self, dataset: tf.data.Dataset, scale: int, loss: str):
        super().__init__()
        self.dataset = dataset
        self.metric = PSNR(crop_border=scale, test_y_channel=True, max_val=1.0, name="val_psnr")
        self.loss = keras.losses.get(loss)

    def set_model(self, model):
        super().set_model(model)
        self._predict = traced_model(model)  # tensors stay on the device

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        self.metric.reset_state()
        losses = []
        for lr, hr in self.dataset:
            sr = self._predict(lr)
            self.metric.update_state(hr, sr)
            losses.append(float(tf.reduce_mean(self.loss(hr, sr))))
        if logs is not None:
            logs["val_loss"] = sum(losses) / len(losses)
            logs["val_psnr"] = float(self.metric.result())


class AveragedWeights(keras.callbacks.SwapEMAWeights):
    """Swaps the optimizer's weight average into the model at each epoch's end (validation,
    checkpoints, backup) and back at the next start; a resumed run starts with the average in."""

    def __init__(self, resumed: bool):
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = resumed

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.stop_training:
            super().on_epoch_end(epoch, logs)


class EpochLog(keras.callbacks.Callback):
    """Writes ``log.csv`` whole (earlier rows and this epoch's) at each finished epoch's end."""

    def __init__(self, path: Path, rows: list[dict]):
        super().__init__()
        self.path, self.rows = Path(path), list(rows)

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        self.rows.append({"epoch": epoch, **{key: logs[key] for key in sorted(logs or {})}})
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(self.rows[-1]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, text.getvalue())


class Backup(keras.callbacks.Callback):
    """Saves model and optimizer state as ``backup/epoch_NNNN.weights.h5`` after each epoch,
    atomically; keeps the newest two (a multi-machine run's workers may be an epoch apart)."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = Path(folder)

    def _files(self) -> dict[int, Path]:  # epoch count -> backup file
        pattern = re.compile(r"epoch_(\d+)\.weights\.h5")
        names = (pattern.fullmatch(path.name) for path in self.folder.glob("epoch_*"))
        return {int(name[1]): self.folder / name[0] for name in names if name}

    def newest(self) -> int:
        """The epoch count of the newest backup (0: none)."""
        return max(self._files(), default=0)

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"epoch_{epoch + 1:04d}.weights.h5"
        temporary = self.folder / f".epoch_{epoch + 1:04d}.tmp.weights.h5"
        self.model.save_weights(temporary, overwrite=True)
        os.replace(temporary, path)
        for count, old in self._files().items():
            if count < epoch:
                old.unlink(missing_ok=True)

    def restore(self, model: keras.Model, epochs: int) -> None:
        """Loads the backup after ``epochs`` epochs (none for 0) into a compiled model;
        ``SRKerasError`` if it is missing or unreadable."""
        model.optimizer.build(model.trainable_variables)  # on every worker: a collective
        if not epochs:
            return
        path = self._files().get(epochs)
        try:
            model.load_weights(path)
        except (OSError, ValueError, TypeError) as error:
            raise SRKerasError(
                f"backup '{path}' cannot be read ({str(error).splitlines()[0][:120]}): delete "
                "it to resume from the epoch before, or train into another --out"
            ) from error


class Checkpoint(keras.callbacks.Callback):
    """Saves the model at finished epochs' ends, atomically, as a float32 ``.keras`` file via
    ``twin`` (a float32 copy); with ``monitor``, only when that log value beats ``best`` so far."""

    def __init__(self, path: Path, twin, monitor: str | None = None, best: float = -math.inf):
        super().__init__()
        self.path, self.twin, self.monitor, self.best = Path(path), twin, monitor, best

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or not value > self.best:
                return
            self.best = value
        self.save(self.model)

    def save(self, model: keras.Model) -> None:
        self.twin.set_weights(model.get_weights())
        save_model(self.twin, self.path)


def save_model(model: keras.Model, path: Path) -> Path:
    """Saves a ``.keras`` file atomically (a temporary file beside it, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.keras")
    model.save(temporary, overwrite=True)
    os.replace(temporary, path)
    return path


def publish(run_dir: Path, results_dir: Path, name: str, weights: str = "best") -> Path:
    """Copies a finished run into ``results_dir``: ``weights/<name>.keras`` (``best`` or
    ``last``, no optimizer state), ``logs/<name>.csv`` and ``logs/<name>.json`` (configuration
    and summary). ``SRKerasError`` if the run has not finished."""
    run_dir, results_dir = Path(run_dir), Path(results_dir)
    if not (run_dir / "summary.json").is_file():
        raise SRKerasError(f"run '{run_dir}' has not finished: resume it with its command first")
    model = keras.models.load_model(run_dir / f"{weights}.keras", compile=False)
    path = save_model(model, results_dir / "weights" / f"{name}.keras")
    logs = results_dir / "logs"
    atomic_write_bytes(logs / f"{name}.csv", (run_dir / "log.csv").read_bytes())
    record = {
        "config": json.loads((run_dir / "config.json").read_text()),
        "summary": {**json.loads((run_dir / "summary.json").read_text()), "weights": weights},
    }
    atomic_write_text(logs / f"{name}.json", json.dumps(record, indent=2) + "\n")
    return path


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Holds ``run_dir/.lock`` (an OS file lock, freed when the process dies) while training;
    ``SRKerasError`` if another live process holds it."""
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SRKerasError(
                f"run directory '{run_dir}' is in use by {holder} (another `sr-keras train`): "
                "wait for it to finish, or train into another --out"
            ) from None
        except OSError as error:
            raise SRKerasError(
                f"cannot lock run directory '{run_dir}' ({error.strerror}): its file system "
                "has no file locks; use a local --out"
            ) from error
        handle.truncate(0)
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


def _check_config(run_dir: Path, config: TrainConfig) -> None:
    """Refuses a run directory that holds a run with another configuration."""
    path = run_dir / "config.json"
    if not path.is_file():
        return
    wanted = dataclasses.asdict(config)
    # A field newer than the run's config.json had its default then (e.g. ``degradation``).
    previous = {**dataclasses.asdict(TrainConfig()), **json.loads(path.read_text())}
    changed = {key for key in wanted if previous.get(key) != wanted[key]}
    if changed:
        raise SRKerasError(
            f"run directory '{run_dir}' holds a run with a different configuration "
            f"({', '.join(sorted(changed))} differ): use another --out, or the same "
            "arguments to resume it"
        )


def _forget_failed_start(run_dir: Path, created: bool, wrote_config: bool) -> None:
    """Undoes a start that failed before any epoch finished: the folder or config.json it made."""
    if (run_dir / "log.csv").exists() or Backup(run_dir / "backup").newest():
        return
    if created:
        shutil.rmtree(run_dir, ignore_errors=True)
    elif wrote_config:
        (run_dir / "config.json").unlink(missing_ok=True)


def _remove_temporaries(run_dir: Path) -> None:
    """Removes the temporary files a killed run left (only this module's names)."""
    for name in ("log.csv", "config.json", "summary.json"):
        remove_stale_temp_files(run_dir / name)
    stale = (run_dir / "backup").glob(".*.tmp.weights.h5")
    for path in [run_dir / ".best.tmp.keras", run_dir / ".last.tmp.keras", *stale]:
        path.unlink(missing_ok=True)


def _read_log(path: Path, epochs_done: int) -> list[dict]:
    """The log rows of the epochs a backup holds (``epoch < epochs_done``)."""
    if not path.is_file():
        return []
    try:
        log = pd.read_csv(path, dtype="float64")
        rows = log[log["epoch"] < epochs_done].to_dict("records")
    except (ValueError, KeyError) as error:
        raise SRKerasError(
            f"{path} cannot be read ({error}): restore it, or train into another --out"
        ) from error
    return [{**row, "epoch": int(row["epoch"])} for row in rows]


def compile_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Compiles ``model`` with Adam (``config``'s schedule and ``ema``), loss and Y-PSNR."""
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(config), **ema),
        loss=LOSSES[config.loss],
        metrics=[PSNR(crop_border=config.scale, test_y_channel=True, max_val=1.0)],
    )
    return model


def _datasets(config: TrainConfig, worker: int) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The training stream and validation images; fails before any step if nothing trains."""
    seed = None if config.seed is None else config.seed + worker
    if not data.has_training_image(config.data, config.scale, config.patch_size):
        raise SRKerasError(
            f"no training image in '{config.data}' could be used: each must be readable and at "
            f"least {config.patch_size}x{config.patch_size} pixels (see the warnings above); "
            "use a smaller --patch-size or larger images"
        )
    train_data = data.training_dataset(
        config.data, config.scale, config.patch_size, config.batch_size, cache=config.cache,
        seed=seed, degradation=config.degradation,
    )  # fmt: skip
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    val_data = data.validation_dataset(
        config.val_data or config.data, config.scale, center_crop_size=config.val_center_crop
    )
    return train_data.with_options(options), val_data


def _initialise(model: keras.Model, path: Path) -> None:
    """Copies the weights of every layer of ``path`` whose name and shapes match ``model``'s."""
    try:
        source = keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as error:
        raise SRKerasError(f"--init-from {path} cannot be loaded ({error})") from error
    copied = 0
    for layer in model.layers:
        if not layer.weights or layer.name not in {other.name for other in source.layers}:
            continue
        weights = source.get_layer(layer.name).get_weights()
        if [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
            copied += 1
    if not copied:
        raise SRKerasError(
            f"--init-from {path} shares no layer with {model.name}: give a file of the same model"
        )
    layers = sum(bool(layer.weights) for layer in model.layers)
    print(f"initialised {copied} of {layers} layers from {path}")


def _summary(config, model, log, strategy, resolved, start) -> dict:
    best = log.loc[log["val_psnr"].idxmax()]
    return {
        "model": config.model,
        "scale": config.scale,
        "parameters": model.count_params(),
        "epochs": int(len(log)),
        "steps": int(len(log) * config.steps_per_epoch),
        "best_epoch": int(best["epoch"]) + 1,
        "best_val_psnr_y": float(best["val_psnr"]),
        "train_seconds": float(log["seconds"].sum()),
        "this_session_seconds": time.perf_counter() - start,
        "precision": resolved,
        "ema": config.ema,
        "replicas": strategy.num_replicas_in_sync,
        "devices": [device.name for device in tf.config.list_logical_devices()],
        "machine": machine_description(),
    }


def train(
    config: TrainConfig, devices: list[str] | None = None, verbose: int | str = "auto"
) -> tuple[keras.Model, pd.DataFrame]:
    """Trains a model; resumes the run in ``config.out`` if it was interrupted.

    Under ``TF_CONFIG`` (several machines) every worker runs this with the same config; only
    the chief writes ``config.out``, the others keep backups in ``config.out/worker<N>``.

    Args:
        devices: For ``MirroredStrategy`` (e.g. two logical CPUs); default all GPUs if several.
        verbose: ``model.fit`` verbosity (1: progress bar, 2: one line per epoch).

    Returns:
        ``(model, log)``: the float32 model with the best validation weights, and the log.

    Raises:
        ValueError: If the configuration is invalid.
        SRKerasError: If the data is unusable, the run directory holds another run or is in
            use, or the training diverged.
    """
    config.validate()
    strategy = distribution_strategy(devices)
    worker = worker_index(strategy)
    run_dir = Path(config.out)
    _check_config(run_dir, config)
    best_path = run_dir / "best.keras"
    if (run_dir / "summary.json").is_file() and best_path.is_file():
        shutil.rmtree(run_dir / "backup", ignore_errors=True)
        print(f"run '{run_dir}' is already complete: loading {best_path}")
        return keras.models.load_model(best_path), pd.read_csv(run_dir / "log.csv")
    if worker:
        run_dir = run_dir / f"worker{worker}"
    created = not run_dir.exists()
    wrote_config = not (run_dir / "config.json").exists()
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
        tf.config.experimental.enable_op_determinism()
    with run_lock(run_dir):
        try:
            if not worker:
                _check_config(run_dir, config)  # again: another process may have started
            return _fit(config, run_dir, strategy, worker, verbose)
        except BaseException:
            if not worker:
                _forget_failed_start(run_dir, created, wrote_config)
            raise


def _fit(config, run_dir, strategy, worker, verbose):
    """Builds, resumes and fits the model (train's body, under the run's lock)."""
    train_data, val_data = _datasets(config, worker)
    with precision.policy(config.precision) as resolved, strategy.scope():
        model = models.build(config.model, config.scale, global_residual=config.global_residual)
        compile_model(model, config)
        if config.init_from:
            _initialise(model, Path(config.init_from))
    with precision.policy("float32"):  # the checkpoints' float32 copy
        twin = models.build(config.model, config.scale, global_residual=config.global_residual)
    write = not worker
    if write:
        config_text = json.dumps(dataclasses.asdict(config), indent=2)
        atomic_write_text(run_dir / "config.json", config_text + "\n")
    _remove_temporaries(run_dir)
    log_path = run_dir / "log.csv"
    backup = Backup(run_dir / "backup")
    with strategy.scope():
        done = backup.newest()
        if isinstance(strategy, _MultiWorkerStrategy):  # the last epoch every worker backed up
            newest = strategy.run(lambda: tf.constant([done]))
            done = int(tf.reduce_min(strategy.gather(newest, axis=0)))
        backup.restore(model, done)
    rows = _read_log(log_path, done)
    best = max((row["val_psnr"] for row in rows if "val_psnr" in row), default=-math.inf)
    best_checkpoint = Checkpoint(run_dir / "best.keras", twin, "val_psnr", best)
    last_checkpoint = Checkpoint(run_dir / "last.keras", twin)
    if done and write:
        # A kill may have come between the backup and the checkpoints of the last epoch.
        last_checkpoint.save(model)
        if rows and rows[-1].get("val_psnr") == best:
            best_checkpoint.save(model)
    guard = DivergenceGuard()
    callbacks = [
        *([AveragedWeights(resumed=done > 0)] if config.ema else []),
        WholeImageValidation(val_data, config.scale, LOSSES[config.loss]),
        EpochTimer(),
        guard,
        EpochLog(log_path, rows),
        backup,
        *([best_checkpoint, last_checkpoint] if write else []),
    ]
    if config.tensorboard and write:
        callbacks.append(keras.callbacks.TensorBoard(run_dir / "tensorboard"))
    start = time.perf_counter()
    model.fit(
        train_data,
        epochs=config.epochs,
        initial_epoch=done,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose if write else 0,
        shuffle=False,  # the tf.data stream shuffles
    )
    if guard.diverged:
        epoch, batch, loss = guard.diverged
        kept = f"epoch {epoch} is kept in '{run_dir}'" if epoch else "no epoch had finished"
        raise SRKerasError(
            f"training diverged at epoch {epoch + 1}, step {batch + 1} (loss {loss:.3g}): "
            f"lower --learning-rate (now {config.learning_rate:g}) and train into a new --out "
            f"({kept})"
        )
    log = pd.read_csv(log_path)
    if not write:
        shutil.rmtree(run_dir, ignore_errors=True)  # this worker's own folder
        return model, log
    summary = _summary(config, model, log, strategy, resolved, start)
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    return keras.models.load_model(run_dir / "best.keras"), log
