"""Evaluation protocol, the baseline study and the published bicubic figures on Set5/Set14."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sr_keras import cli, metrics
from sr_keras.evaluate import (
    BASELINES,
    COLUMNS,
    baseline_predictor,
    evaluate,
    format_table,
    quantize,
    write_table,
)
from sr_keras.images import ImageReadError, read_image
from sr_keras.interpolation import degrade, imresize, interpolate, modcrop
from sr_keras.study import baseline_table, dataset_name


def test_baseline_predictors():
    lr = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    np.testing.assert_allclose(
        baseline_predictor("bicubic", 3)(lr), imresize(lr, output_shape=(18, 21))
    )
    np.testing.assert_allclose(
        baseline_predictor("bicubic_opencv", 3)(lr), interpolate(lr, 3, "bicubic")
    )
    np.testing.assert_array_equal(
        baseline_predictor("nearest", 2)(lr), np.repeat(np.repeat(lr, 2, 0), 2, 1)
    )
    assert not np.allclose(baseline_predictor("bicubic", 3)(lr), interpolate(lr, 3, "bicubic"))
    with pytest.raises(ValueError, match="method"):
        baseline_predictor("lanczos", 4)


def test_quantize():
    np.testing.assert_array_equal(
        quantize(np.array([-3.0, 0.4, 0.5, 1.5, 254.6, 300.0])), [0, 0, 0, 2, 255, 255]
    )
    assert quantize(np.zeros(2)).dtype == np.uint8


def test_evaluate_table(tiny_folder):
    table, outputs = evaluate(
        baseline_predictor("bicubic", 4), tiny_folder, 4, progress=False, keep_outputs=True
    )
    assert list(table.columns) == list(COLUMNS)
    assert list(table["image"]) == ["first", "second", "mean"]
    for name in ("first", "second"):
        hr = modcrop(read_image(tiny_folder / f"{name}.png"), 4)
        sr = quantize(imresize(degrade(hr, 4), output_shape=hr.shape[:2]))
        np.testing.assert_array_equal(outputs[name], sr)
        row = table.set_index("image").loc[name]
        assert row["psnr_y"] == pytest.approx(metrics.psnr(sr, hr, 4, True), abs=1e-6)
        assert row["ssim_y"] == pytest.approx(metrics.ssim(sr, hr, 4, True), abs=1e-6)
        assert row["psnr_rgb"] == pytest.approx(metrics.psnr(sr, hr, 4, False), abs=1e-6)
        assert row["mse"] == pytest.approx(metrics.mse(sr, hr, 4), abs=1e-6)
        assert row["seconds"] >= 0
    means = table.iloc[:2].drop(columns="image").mean()
    np.testing.assert_allclose(table.iloc[2][list(COLUMNS[1:])].astype(float), means)
    # crop_border defaults to the scale; another border changes the numbers.
    zero_border = evaluate(
        baseline_predictor("bicubic", 4), tiny_folder, 4, crop_border=0, progress=False
    )
    assert zero_border["psnr_y"].iloc[-1] != pytest.approx(table["psnr_y"].iloc[-1], abs=1e-3)


def test_evaluate_rejects_wrong_output_shape(tiny_folder):
    with pytest.raises(ValueError, match="first.*shape"):
        evaluate(lambda lr: lr, tiny_folder, 4, progress=False)


def test_evaluate_corrupt_file_raises(tiny_folder):
    (tiny_folder / "third.png").write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="third.png"):
        evaluate(baseline_predictor("bicubic", 4), tiny_folder, 4, progress=False)


def test_format_and_write_table(tiny_folder, tmp_path):
    table = evaluate(baseline_predictor("bilinear", 4), tiny_folder, 4, progress=False)
    text = format_table(table)
    assert "psnr_y" in text and "mean" in text
    assert f"{table['psnr_y'].iloc[-1]:.2f}" in text
    assert format_table(table, markdown=True).startswith("| image")
    write_table(table, tmp_path / "out" / "t.csv", tmp_path / "out" / "t.md", "# Note")
    back = pd.read_csv(tmp_path / "out" / "t.csv")
    assert list(back.columns) == list(COLUMNS)
    np.testing.assert_allclose(back["psnr_y"], table["psnr_y"], atol=1e-6)
    assert (tmp_path / "out" / "t.md").read_text().startswith("# Note\n\n| image")


def test_baseline_table_order(tiny_folder):
    table = baseline_table(tiny_folder, scales=(4,), progress=False)
    assert list(table["method"]) == list(BASELINES)
    assert set(table["dataset"]) == {"tiny"} and set(table["scale"]) == {4}
    psnr = dict(zip(table["method"], table["psnr_y"], strict=True))
    assert psnr["nearest"] < psnr["bilinear"] < psnr["bicubic"]
    assert dataset_name("sample") == "sample"


# --- acceptance on the shared benchmarks ---------------------------------------------------------


def _run_cli_evaluate(dataset, scale, csv, models="bicubic") -> pd.DataFrame:
    status = cli.main(
        ["evaluate", "--model", models, "--dataset", str(dataset), "--scale", str(scale)]
        + ["--csv", str(csv)]
    )
    assert status == 0
    return pd.read_csv(csv)


# x4 (28.42) is checked by test_set5_x4_baselines_are_ordered, from the same run.
@pytest.mark.parametrize(("scale", "published"), [(3, 30.39), (2, 33.66)])
def test_set5_bicubic_matches_published(shared_data, tmp_path, scale, published):
    table = _run_cli_evaluate(shared_data / "Set5", scale, tmp_path / "set5.csv")
    assert list(table.columns) == ["image", "psnr_y", "ssim_y", "psnr_rgb", "mse", "seconds"]
    assert list(table["image"]) == ["baby", "bird", "butterfly", "head", "woman", "mean"]
    mean = table.iloc[-1]
    assert mean["psnr_y"] == pytest.approx(published, abs=0.05)
    assert mean["psnr_y"] == pytest.approx(table["psnr_y"].iloc[:-1].mean(), abs=1e-5)


def test_set14_bicubic_x4(shared_data, tmp_path):
    table = _run_cli_evaluate(shared_data / "Set14", 4, tmp_path / "set14.csv")
    assert len(table) == 15 and table["image"].iloc[-1] == "mean"
    assert "bridge" in set(table["image"])  # the single-channel image is read as RGB
    assert 26.0 <= table["psnr_y"].iloc[-1] <= 26.15  # measured 26.09


def test_set5_x4_baselines_are_ordered(shared_data, tmp_path):
    """`sr-keras evaluate --model nearest,bilinear,bicubic --dataset Set5 --scale 4`."""
    table = _run_cli_evaluate(
        shared_data / "Set5", 4, tmp_path / "cmp.csv", models="nearest,bilinear,bicubic"
    )
    assert list(table.columns) == ["model", *COLUMNS]
    means = table[table["image"] == "mean"].set_index("model")["psnr_y"]
    assert list(means.index) == ["nearest", "bilinear", "bicubic"]
    assert means["nearest"] < means["bilinear"] < means["bicubic"]
    assert means["bicubic"] == pytest.approx(28.42, abs=0.05)  # measured 28.43
    bicubic = table[table["model"] == "bicubic"]
    assert list(bicubic["image"]) == ["baby", "bird", "butterfly", "head", "woman", "mean"]
