"""Training: run directory, repeatability, resume after SIGKILL, MirroredStrategy, bad config."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from sr_keras import models
from sr_keras.images import SRKerasError
from sr_keras.train import TrainConfig, learning_rate_schedule, train

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(out: Path, **overrides) -> TrainConfig:
    values = dict(
        model="srcnn",
        scale=4,
        data="sample",
        out=str(out),
        epochs=2,
        steps_per_epoch=3,
        batch_size=2,
        patch_size=48,
        seed=7,
        val_center_crop=96,
    )
    values.update(overrides)
    return TrainConfig(**values)


def test_run_directory_holds_weights_log_and_config(tmp_path):
    model, log = train(tiny_config(tmp_path / "run"), verbose=0)
    run = tmp_path / "run"
    for name in ("best.keras", "last.keras", "log.csv", "config.json", "summary.json"):
        assert (run / name).is_file(), name
    assert not (run / "backup").exists()  # removed once the run finished
    assert list(log["epoch"]) == [0, 1]
    assert {"loss", "psnr", "val_loss", "val_psnr", "seconds", "learning_rate"} <= set(log)
    assert json.loads((run / "config.json").read_text())["model"] == "srcnn"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["parameters"] == 20_483
    assert summary["best_val_psnr_y"] == pytest.approx(log["val_psnr"].max())
    assert model.count_params() == 20_483


def test_seed_makes_a_cpu_run_repeatable(tmp_path):
    _, first = train(tiny_config(tmp_path / "a", model="srresnet_lite"), verbose=0)
    _, second = train(tiny_config(tmp_path / "b", model="srresnet_lite"), verbose=0)
    np.testing.assert_allclose(first["loss"], second["loss"], rtol=1e-6)
    np.testing.assert_allclose(first["val_psnr"], second["val_psnr"], rtol=1e-6)


def test_learning_happens_with_global_residual(tmp_path):
    _, log = train(
        tiny_config(
            tmp_path / "run",
            epochs=3,
            steps_per_epoch=8,
            global_residual=True,
            learning_rate=1e-3,
            loss="l1",
        ),
        verbose=0,
    )
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]


def test_a_different_config_in_the_same_run_directory_is_refused(tmp_path):
    train(tiny_config(tmp_path / "run", epochs=1), verbose=0)
    with pytest.raises(SRKerasError, match="different configuration"):
        train(tiny_config(tmp_path / "run", epochs=1, learning_rate=0.5), verbose=0)


def test_bad_config_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="loss"):
        train(tiny_config(tmp_path / "run", loss="huber"))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        train(tiny_config(tmp_path / "run", steps_per_epoch=0))


def test_bfloat16_training_saves_float32_models_and_restores_the_policy(tmp_path):
    _, log = train(tiny_config(tmp_path / "run", epochs=1, precision="bfloat16"), verbose=0)
    assert np.isfinite(log["loss"]).all()
    assert keras.mixed_precision.global_policy().name == "float32"
    saved = keras.models.load_model(tmp_path / "run" / "best.keras")
    assert saved.get_layer("X2").compute_dtype == "float32"  # loads under either precision
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["precision"] == "bfloat16"


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_float32_outputs_and_bicubic(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = models.build("sr_autoencoder", 2, global_residual=True)
        assert model.get_layer("X2").compute_dtype == policy.removeprefix("mixed_")
        assert model.get_layer("X1").compute_dtype == "float32"
        assert model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_ema_saves_the_averaged_weights(tmp_path):
    # Keras starts the average at the weights after the first step (one Adam step moves each
    # weight by about the learning rate); with a momentum this close to 1 it then barely moves,
    # while plain training goes on moving the weights (batch-norm statistics are not averaged).
    keras.utils.set_random_seed(7)
    initial = [weight.numpy() for weight in models.build("srcnn", 4).trainable_weights]
    options = dict(epochs=2, learning_rate=1e-2, schedule="constant")
    train(tiny_config(tmp_path / "ema", ema=0.99999, **options), verbose=0)
    train(tiny_config(tmp_path / "plain", **options), verbose=0)

    def distance(run):
        weights = keras.models.load_model(tmp_path / run / "last.keras").trainable_weights
        return max(
            float(np.abs(w.numpy() - v).max()) for w, v in zip(weights, initial, strict=True)
        )

    assert distance("ema") < 1.5e-2 < distance("plain")


def test_a_run_directory_in_use_is_refused_and_a_stale_lock_is_taken_over(tmp_path):
    from sr_keras.train import run_lock

    out = tmp_path / "run"
    with run_lock(out):
        with pytest.raises(SRKerasError, match=f"in use by process {os.getpid()}"):
            train(tiny_config(out, epochs=1), verbose=0)
    (out / ".lock").write_text("process 999999999\n")  # left by a dead process
    _, log = train(tiny_config(out, epochs=1), verbose=0)
    assert list(log["epoch"]) == [0]


def test_images_all_smaller_than_the_patch_fail_before_training(tmp_path, make_photo):
    from sr_keras.images import write_image

    for index in range(2):
        write_image(tmp_path / "small" / f"{index}.png", make_photo(index, (40, 44)))
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="smaller than the 48px patch"):
        with pytest.raises(SRKerasError, match="at least 48x48 pixels"):
            train(tiny_config(out, data=str(tmp_path / "small")), verbose=0)
    assert not out.exists()  # a failed start leaves nothing behind


def test_a_failed_start_does_not_block_the_corrected_command(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="patch_size must be a positive multiple of scale"):
        train(tiny_config(out, patch_size=50), verbose=0)
    with pytest.raises(SRKerasError, match="does not exist"):
        train(tiny_config(out, data=str(tmp_path / "missing")), verbose=0)
    assert not out.exists()
    _, log = train(tiny_config(out, epochs=1), verbose=0)
    assert len(log) == 1


def test_divergence_stops_with_a_clear_message_and_keeps_the_good_epochs(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(SRKerasError, match="diverged at epoch 1.*lower --learning-rate"):
        train(tiny_config(out, learning_rate=1e3, epochs=3), verbose=0)
    # Nothing of the diverged epoch was written (no log row, backup or checkpoint), and as no
    # epoch had finished, the start left nothing: the corrected command runs in the same --out.
    assert not out.exists()
    _, log = train(tiny_config(out, epochs=1), verbose=0)
    assert list(log["epoch"]) == [0]


def _train_command(out: Path, epochs: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sr_keras",
        "train",
        "--model",
        "srcnn",
        "--data",
        "sample",
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "2",
        "--patch-size",
        "48",
        "--seed",
        "3",
        "--val-center-crop",
        "96",
        "--verbose",
        "2",
        *extra,
    ]


def _run_until(command: list[str], out: Path, moment) -> subprocess.Popen:
    """Starts ``command`` and SIGKILLs it as soon as ``moment(file names in out)`` is true, or
    ``log.csv`` has a new row (``moment=None``) or two."""
    rows_at_start = _log_rows(out)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        names = [path.name for path in out.rglob("*")] if out.is_dir() else []
        rows = _log_rows(out) - rows_at_start
        if rows > 1 or (moment(names) if moment else rows > 0):
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.0005)
    process.wait()
    return process


def _log_rows(out: Path) -> int:
    try:
        return len((out / "log.csv").read_text().splitlines())
    except OSError:
        return 0


#: Moments at which a run writes to disk: a temporary file of each kind exists (the backup,
#: the log, the checkpoints), or a new log row has just been renamed into place. A temporary
#: file lives for milliseconds (the log's for microseconds), so polling on a busy machine may
#: miss it: then the kill comes at the second new log row, and the run never finishes here.
KILL_MOMENTS = {
    "backup being written": lambda names: any(n.startswith(".epoch_") for n in names),
    "best.keras being written": lambda names: ".best.tmp.keras" in names,
    "last.keras being written": lambda names: ".last.tmp.keras" in names,
    "log row written, backup not yet": None,
    "log being written": lambda names: any(n.startswith(".log.csv.") for n in names),
}


def test_kills_at_every_write_moment_resume_with_each_epoch_logged_once(tmp_path):
    out = tmp_path / "run"
    command = _train_command(out, 8, "--ema", "0.9", "--precision", "bfloat16")
    killed = []
    for what, moment in KILL_MOMENTS.items():
        process = _run_until(command, out, moment)
        output = process.stdout.read().decode()
        assert process.returncode in (-signal.SIGKILL, 0), f"{what}: {output[-2000:]}"
        if process.returncode == -signal.SIGKILL:
            killed.append(what)
        if (out / "log.csv").is_file():
            epochs = list(pd.read_csv(out / "log.csv")["epoch"])
            assert epochs == list(range(len(epochs))), what
    print("killed while:", killed)
    assert len(killed) >= 4, killed
    backed_up = max(int(path.name[6:10]) for path in (out / "backup").glob("epoch_*.weights.h5"))
    assert 0 < backed_up < 8
    finished_rows = (out / "log.csv").read_text().splitlines()[: backed_up + 1]
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "Epoch 1/8" not in rerun.stdout and f"Epoch {backed_up + 1}/8" in rerun.stdout
    log = pd.read_csv(out / "log.csv")
    assert list(log["epoch"]) == list(range(8))
    # The rows of the epochs that were backed up are kept as they were, not trained again.
    assert (out / "log.csv").read_text().splitlines()[: backed_up + 1] == finished_rows
    # The optimizer's step (hence the learning-rate schedule) was restored each time: the rate
    # logged after each epoch is the schedule's value at that epoch's last step.
    config = TrainConfig(**json.loads((out / "config.json").read_text()))
    schedule = learning_rate_schedule(config)
    expected = [float(schedule((epoch + 1) * config.steps_per_epoch)) for epoch in range(8)]
    np.testing.assert_allclose(log["learning_rate"], expected, rtol=1e-5)
    assert (out / "summary.json").is_file() and not (out / "backup").exists()
    assert not [path for path in out.iterdir() if ".tmp" in path.name]
    keras.models.load_model(out / "best.keras")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from sr_keras.train import TrainConfig, learning_rate_schedule, train
        config = TrainConfig(model="srresnet_lite", data="sample", out={str(tmp_path / "run")!r},
                             epochs=1, steps_per_epoch=2, batch_size=4, patch_size=48,
                             val_center_crop=96, seed=1)
        model, log = train(config, devices=["/cpu:0", "/cpu:1"], verbose=0)
        print("EPOCHS", len(log))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "EPOCHS 1" in result.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["replicas"] == 2


def test_two_workers_train_one_model_and_only_the_chief_writes_the_run(tmp_path):
    out = tmp_path / "shared" / "run"  # one --out for both, as on a shared file system
    import socket

    sockets = [socket.socket() for _ in range(2)]
    for handle in sockets:  # held open together, so the two ports differ
        handle.bind(("127.0.0.1", 0))
    workers = [f"127.0.0.1:{handle.getsockname()[1]}" for handle in sockets]
    for handle in sockets:
        handle.close()
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
        command = _train_command(out, 2)
        command[command.index("srcnn")] = "espcn"
        processes.append(
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
    for process in processes:
        output = process.communicate(timeout=300)[0].decode()
        assert process.returncode == 0, output[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["steps"] == 4
    assert list(pd.read_csv(out / "log.csv")["epoch"]) == [0, 1]
    # The second worker kept its backups in its own folder and removed it when done.
    assert sorted(path.name for path in out.iterdir()) == [
        ".lock",
        "best.keras",
        "config.json",
        "last.keras",
        "log.csv",
        "summary.json",
    ]


def test_a_broken_log_is_named_in_one_message(tmp_path):
    from sr_keras.train import _read_log

    log = tmp_path / "log.csv"
    log.write_text("epoch,loss\n0,0.5\n1,0.4\n2,0.3\n")
    assert [row["epoch"] for row in _read_log(log, 2)] == [0, 1]  # rows the backup holds
    log.write_bytes(b"epoch,loss\n0,\xff\xfe\n")
    with pytest.raises(SRKerasError, match="log.csv cannot be read.*another --out"):
        _read_log(log, 1)


def test_a_failed_start_in_a_users_folder_removes_only_what_it_wrote(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file")
    with pytest.raises(SRKerasError, match="diverged"):
        train(tiny_config(out, learning_rate=1e3, epochs=1), verbose=0)
    assert sorted(path.name for path in out.iterdir()) == [".lock", "notes.txt"]
    assert (out / "notes.txt").read_text() == "the user's own file"


def test_init_from_copies_the_layers_whose_names_and_shapes_match(tmp_path):
    from sr_keras.train import _initialise

    source = models.build("edsr_baseline", 4)
    source.save(tmp_path / "x4.keras")
    target = models.build("edsr_baseline", 3)
    _initialise(target, tmp_path / "x4.keras")
    same = [
        layer.name
        for layer in target.layers
        if layer.weights
        and all(
            np.array_equal(a, b)
            for a, b in zip(
                layer.get_weights(), source.get_layer(layer.name).get_weights(), strict=True
            )
        )
    ]
    with_weights = [layer.name for layer in target.layers if layer.weights]
    assert len(same) == len(with_weights) - 1  # all but the x3 upsampler (another shape)
    (tmp_path / "broken.keras").write_text("not a model")
    with pytest.raises(SRKerasError, match="broken.keras cannot be loaded"):
        _initialise(target, tmp_path / "broken.keras")
