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


def test_mixed_precision_training_runs_and_restores_the_policy(tmp_path):
    _, log = train(tiny_config(tmp_path / "run", epochs=1, mixed_precision=True), verbose=0)
    assert np.isfinite(log["loss"]).all()
    assert keras.mixed_precision.global_policy().name == "float32"
    saved = keras.models.load_model(tmp_path / "run" / "best.keras")
    assert saved.get_layer("X2").compute_dtype == "float16"
    assert saved.output.dtype == "float32"


def test_mixed_precision_keeps_float32_outputs():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = models.build("sr_autoencoder", 2, global_residual=True)
        assert model.get_layer("X2").compute_dtype == "float16"
        assert model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _train_command(out: Path, epochs: int) -> list[str]:
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
        "6",
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
    ]


def test_sigkill_then_rerun_resumes_without_losing_or_repeating_epochs(tmp_path):
    out = tmp_path / "run"
    log_path = out / "log.csv"
    process = subprocess.Popen(
        _train_command(out, 5), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if log_path.is_file() and len(log_path.read_text().strip().splitlines()) >= 3:
            break  # header + two finished epochs
        time.sleep(0.05)
    assert process.poll() is None, process.stdout.read().decode()[-2000:]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(pd.read_csv(log_path))
    assert 2 <= finished < 5
    assert (out / "backup").is_dir()

    rerun = subprocess.run(
        _train_command(out, 5), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    log = pd.read_csv(log_path)
    assert list(log["epoch"]) == [0, 1, 2, 3, 4]
    output = rerun.stdout + rerun.stderr
    assert "Epoch 1/5" not in output  # finished epochs are not run again
    # The optimizer's step (hence the learning-rate schedule) was restored too: the rate
    # logged after each epoch is the schedule's value at that epoch's last step.
    config = TrainConfig(**json.loads((out / "config.json").read_text()))
    schedule = learning_rate_schedule(config)
    expected = [float(schedule((epoch + 1) * config.steps_per_epoch)) for epoch in range(5)]
    np.testing.assert_allclose(log["learning_rate"], expected, rtol=1e-5)
    assert f"Epoch {finished + 1}/5" in output
    assert (out / "summary.json").is_file() and not (out / "backup").exists()


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
