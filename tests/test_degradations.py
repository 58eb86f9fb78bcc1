"""Degradations: the realistic training pipeline (TensorFlow) and the named evaluation ones."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from sr_keras import cli, data, metrics, train
from sr_keras.config import TrainConfig
from sr_keras.degradations import (
    EVALUATION_DEGRADATIONS,
    RESIZES,
    degrade_named,
    downscale,
    gaussian_blur,
    realistic,
)
from sr_keras.evaluate import baseline_predictor, evaluate
from sr_keras.interpolation import degrade
from sr_keras.utils import SRKerasError

SCALE = 4


@pytest.fixture(scope="module")
def hr_patch(make_photo) -> np.ndarray:
    return make_photo(0, (96, 96))


def _realistic_batch(hr: np.ndarray, seeds, scale: int = SCALE) -> list[np.ndarray]:
    """``realistic`` inside ``tf.data`` (graph mode, as in training), one LR per seed."""
    lr = degrade(hr, scale)
    dataset = tf.data.Dataset.from_tensor_slices(np.array([[s, 7] for s in seeds], np.int64))
    dataset = dataset.map(lambda seed: realistic(lr, hr, seed, scale))
    return [image.numpy() for image in dataset]


# --- the realistic training pipeline -------------------------------------------------------------


def test_realistic_is_seeded_keeps_shapes_and_stays_moderate(hr_patch):
    seeds = range(96)
    first = _realistic_batch(hr_patch, seeds)
    assert all(lr.shape == (24, 24, 3) and lr.dtype == np.uint8 for lr in first)
    again = _realistic_batch(hr_patch, seeds)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    standard = degrade(hr_patch, SCALE)
    kept = sum(np.array_equal(lr, standard) for lr in first)
    assert 5 <= kept <= 45  # the protocol's LR is kept with probability 0.25
    distinct = {lr.tobytes() for lr in first}
    assert len(distinct) > 70  # different seeds, different LR
    psnr = [metrics.psnr(lr, standard, 0, True) for lr in first if not np.array_equal(lr, standard)]
    assert min(psnr) > 20 and 28 < np.median(psnr) < 45  # moderate, never garbage


@pytest.mark.parametrize("scale", [2, 3])
def test_realistic_other_scales(make_photo, scale):
    hr = make_photo(1, (16 * scale, 16 * scale))
    for lr in _realistic_batch(hr, range(24), scale):
        assert lr.shape == (16, 16, 3) and lr.dtype == np.uint8


def test_every_downscale_keeps_the_shape_and_nearest_takes_its_phase(hr_patch):
    image = tf.cast(hr_patch, tf.float32)
    for choice, (method, _) in enumerate(RESIZES):
        for phase in ([0, 0], [3, 1]):
            out = downscale(image, SCALE, choice, tf.constant(phase)).numpy()
            assert out.shape == (24, 24, 3), method
    nearest = RESIZES.index(("nearest", False))
    out = downscale(image, SCALE, nearest, tf.constant([0, 0])).numpy()
    assert np.array_equal(out, degrade_named(hr_patch, SCALE, "cv2_nearest"))  # OpenCV's phase
    out = downscale(image, SCALE, nearest, tf.constant([3, 1])).numpy()
    assert np.array_equal(out, hr_patch[3::SCALE, 1::SCALE])


def test_gaussian_blur():
    impulse = np.zeros((15, 15, 3), np.float32)
    impulse[7, 7] = 255.0
    blurred = gaussian_blur(tf.constant(impulse), 1.0, 4).numpy()
    assert blurred.shape == (15, 15, 3)
    assert blurred.sum() == pytest.approx(255.0 * 3, rel=1e-5)  # the kernel sums to one
    row = blurred[7, :, 0] / blurred[7, 7, 0]
    np.testing.assert_allclose(row[8], np.exp(-0.5), rtol=1e-5)  # sigma 1: exp(-1/2) at 1 px
    np.testing.assert_allclose(row, row[::-1], rtol=1e-5)
    flat = gaussian_blur(tf.fill([12, 12, 3], 100.0), 2.0, 6).numpy()
    np.testing.assert_allclose(flat, 100.0, rtol=1e-5)  # mirrored borders keep a flat image


# --- training_dataset ----------------------------------------------------------------------------


def _first_batch(folder, degradation: str, seed: int = 3):
    dataset = data.training_dataset(
        folder, SCALE, 48, 8, cache=False, seed=seed, degradation=degradation
    )
    lr, hr = next(iter(dataset))
    return lr.numpy(), hr.numpy()


def test_training_dataset_realistic(tiny_folder):
    bicubic_lr, bicubic_hr = _first_batch(tiny_folder, "bicubic")
    lr, hr = _first_batch(tiny_folder, "realistic")
    assert lr.shape == (8, 12, 12, 3) and hr.shape == (8, 48, 48, 3)
    assert lr.dtype == np.float32 and 0.0 <= lr.min() and lr.max() <= 1.0
    np.testing.assert_array_equal(hr, bicubic_hr)  # same crops and augmentations
    assert not np.array_equal(lr, bicubic_lr)
    np.testing.assert_allclose(lr * 255.0, np.round(lr * 255.0), atol=1e-3)  # uint8 steps
    again, _ = _first_batch(tiny_folder, "realistic")
    np.testing.assert_array_equal(lr, again)
    other, _ = _first_batch(tiny_folder, "realistic", seed=4)
    assert not np.array_equal(lr, other)


def test_training_dataset_rejects_unknown_degradation(tiny_folder):
    with pytest.raises(ValueError, match="degradation"):
        data.training_dataset(tiny_folder, SCALE, 48, 2, degradation="jpeg")


def test_config_and_datasets_wiring(tiny_folder, tmp_path):
    with pytest.raises(ValueError, match="degradation"):
        TrainConfig(degradation="realistc").validate()
    TrainConfig(degradation="realistic").validate()
    assert TrainConfig().degradation == "bicubic"
    config = TrainConfig(
        data=str(tiny_folder), patch_size=48, batch_size=8, seed=3, degradation="realistic"
    )
    train_data, _ = train._datasets(config, worker=0)
    lr, _ = next(iter(train_data))
    np.testing.assert_array_equal(lr.numpy(), _first_batch(tiny_folder, "realistic")[0])


def test_train_cli_passes_degradation(monkeypatch, tmp_path):
    seen = {}

    def fake_train(config, verbose):
        seen["config"] = config
        return None, pd.DataFrame({"val_psnr": [20.0]})

    monkeypatch.setattr(train, "train", fake_train)
    argv = ["train", "--model", "srcnn", "--out", str(tmp_path / "run")]
    assert cli.main([*argv, "--degradation", "realistic"]) == 0
    assert seen["config"].degradation == "realistic"
    assert cli.main(argv) == 0 and seen["config"].degradation == "bicubic"
    with pytest.raises(SystemExit):
        cli.main([*argv, "--degradation", "jpeg"])


def test_resume_check_accepts_a_config_without_the_new_field(tmp_path):
    config = TrainConfig(out=str(tmp_path))
    old = {k: v for k, v in vars(config).items() if k != "degradation"}
    (tmp_path / "config.json").write_text(json.dumps(old))
    train._check_config(tmp_path, config)  # a run from before the field: resumes
    with pytest.raises(SRKerasError, match="degradation"):
        train._check_config(tmp_path, TrainConfig(out=str(tmp_path), degradation="realistic"))


# --- named evaluation degradations ---------------------------------------------------------------


@pytest.mark.parametrize("name", EVALUATION_DEGRADATIONS)
def test_named_degradations_are_deterministic(make_photo, name):
    hr = make_photo(2, (72, 84))
    lr = degrade_named(hr, SCALE, name, seed=5)
    assert lr.shape == (18, 21, 3) and lr.dtype == np.uint8
    np.testing.assert_array_equal(lr, degrade_named(hr, SCALE, name, seed=5))


def test_named_degradations_differ_as_they_should(make_photo):
    hr = make_photo(0, (72, 84))
    standard = degrade(hr, SCALE)
    np.testing.assert_array_equal(degrade_named(hr, SCALE, "bicubic"), standard)
    lr = {name: degrade_named(hr, SCALE, name, seed=1) for name in EVALUATION_DEGRADATIONS}
    for name in EVALUATION_DEGRADATIONS[1:]:
        assert not np.array_equal(lr[name], standard), name
    # no antialiasing: OpenCV's cubic keeps more aliasing than MATLAB's antialiased bicubic
    assert metrics.psnr(lr["cv2_cubic"], standard, 0, True) < 35
    np.testing.assert_array_equal(lr["cv2_nearest"], hr[::SCALE, ::SCALE])
    blocks = hr.reshape(18, SCALE, 21, SCALE, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(lr["cv2_area"] - blocks).max() <= 0.5 + 1e-9  # the box average
    assert 25 < metrics.psnr(lr["jpeg75"], standard, 0, True) < 45
    residual = lr["noise5"].astype(np.float64) - standard
    assert 4.0 < residual.std() < 6.0 and abs(residual.mean()) < 1.0
    other = degrade_named(hr, SCALE, "noise5", seed=2)
    assert not np.array_equal(other, lr["noise5"])
    with pytest.raises(ValueError, match="degradation"):
        degrade_named(hr, SCALE, "blur")


def test_jpeg75_is_a_real_jpeg_file(make_photo):
    hr = make_photo(3, (256, 256))
    standard = degrade(hr, SCALE)
    buffer = io.BytesIO()
    Image.fromarray(standard).save(buffer, "JPEG", quality=75)  # Pillow: another encoder
    pillow = np.asarray(Image.open(buffer))
    lr = degrade_named(hr, SCALE, "jpeg75")
    assert metrics.psnr(lr, pillow, 0, False) > 45  # channels swapped: about 37 dB
    assert metrics.psnr(lr, standard, 0, False) < 40


def test_evaluate_with_degradations(tiny_folder):
    predict = baseline_predictor("bicubic", SCALE)
    tables = {
        name: evaluate(predict, tiny_folder, SCALE, progress=False, degradation=name)
        for name in ("bicubic", "cv2_cubic", "noise5")
    }
    standard = evaluate(predict, tiny_folder, SCALE, progress=False)
    pd.testing.assert_frame_equal(
        tables["bicubic"].drop(columns="seconds"), standard.drop(columns="seconds")
    )
    psnr = {name: table["psnr_y"].iloc[-1] for name, table in tables.items()}
    assert psnr["cv2_cubic"] < psnr["bicubic"] and psnr["noise5"] < psnr["bicubic"]
    again = evaluate(predict, tiny_folder, SCALE, progress=False, degradation="noise5")
    np.testing.assert_array_equal(again["psnr_y"], tables["noise5"]["psnr_y"])


def test_evaluate_cli_degradation(tiny_folder, tmp_path, capsys):
    csv = tmp_path / "cv2.csv"
    argv = ["evaluate", "--model", "bicubic", "--dataset", str(tiny_folder), "--scale", "4"]
    assert cli.main([*argv, "--degradation", "cv2_cubic", "--csv", str(csv)]) == 0
    assert "LR cv2_cubic" in capsys.readouterr().out
    table = pd.read_csv(csv)
    expected = evaluate(
        baseline_predictor("bicubic", 4), tiny_folder, 4, progress=False, degradation="cv2_cubic"
    )
    np.testing.assert_allclose(table["psnr_y"], expected["psnr_y"], atol=1e-6)
    assert cli.main([*argv, "--degradation", "gaussian"]) == 2
    assert "degradation must be one of" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(name in help_text for name in EVALUATION_DEGRADATIONS)
