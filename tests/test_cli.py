"""The `sr-keras` command line, run in-process through cli.main (one subprocess smoke test)."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

from sr_keras import cli
from sr_keras.evaluate import COLUMNS
from sr_keras.images import read_image, write_image
from sr_keras.interpolation import interpolate


def test_python_m_help_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "sr_keras", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("study", "evaluate", "interpolate", "download"):
        assert command in result.stdout


def test_argument_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--model", "bicubic", "--dataset", "x", "--scale", "5"])
    assert exit_info.value.code == 2
    assert "scale must be 2, 3 or 4" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2


# --- interpolate -------------------------------------------------------------------------------


def test_interpolate_rgb_file(tmp_path, make_photo, capsys):
    image = make_photo(0, (20, 24))
    source = write_image(tmp_path / "in.png", image)
    target = tmp_path / "out" / "big.png"
    status = cli.main(
        ["interpolate", str(source), "-o", str(target), "--method", "bicubic", "--scale", "4"]
    )
    assert status == 0
    assert str(target) in capsys.readouterr().out
    result = read_image(target)
    assert result.shape == (80, 96, 3)
    expected = np.clip(np.round(interpolate(image, 4, "bicubic")), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(result, expected)


def test_interpolate_grayscale_stays_one_channel(tmp_path, make_photo):
    gray = cv2.cvtColor(make_photo(1, (10, 12)), cv2.COLOR_RGB2GRAY)
    source = tmp_path / "gray.png"
    cv2.imwrite(str(source), gray)
    target = tmp_path / "gray_x3.png"
    assert cli.main(["interpolate", str(source), "-o", str(target), "--scale", "3"]) == 0
    result = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    assert result.shape == (30, 36) and result.dtype == np.uint8
    expected = np.clip(np.round(interpolate(gray, 3, "bicubic")), 0, 255)
    np.testing.assert_array_equal(result, expected)


def test_interpolate_keeps_16_bit_depth(tmp_path):
    deep = np.random.default_rng(0).integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    source = tmp_path / "deep.png"
    cv2.imwrite(str(source), deep)
    target = tmp_path / "deep_x2.png"
    assert cli.main(["interpolate", str(source), "-o", str(target), "--method", "nearest",
                     "--scale", "2"]) == 0  # fmt: skip
    result = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    assert result.dtype == np.uint16
    np.testing.assert_array_equal(result, np.repeat(np.repeat(deep, 2, 0), 2, 1))


def test_interpolate_bad_file_among_several(tmp_path, make_photo, capsys):
    good = [make_photo(0, (8, 9)), make_photo(1, (7, 6))]
    first = write_image(tmp_path / "a.png", good[0])
    broken = tmp_path / "b.png"
    broken.write_bytes(b"definitely not a PNG")
    last = write_image(tmp_path / "c.png", good[1])
    out = tmp_path / "out"
    status = cli.main(
        ["interpolate", str(first), str(broken), str(last), "-o", str(out), "--method",
         "bilinear", "--scale", "2"]
    )  # fmt: skip
    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "c_x2.png"]
    for image, name in zip(good, ("a_x2.png", "c_x2.png"), strict=True):
        expected = np.clip(np.round(interpolate(image, 2, "bilinear")), 0, 255)
        np.testing.assert_array_equal(read_image(out / name), expected)
    captured = capsys.readouterr()
    assert "b.png" in captured.err and "Traceback" not in captured.err


# --- evaluate ----------------------------------------------------------------------------------


def test_evaluate_two_models_csv(tiny_folder, tmp_path, capsys):
    csv = tmp_path / "results" / "cmp.csv"
    status = cli.main(
        ["evaluate", "--model", "bicubic", "--model", "nearest", "--dataset", str(tiny_folder),
         "--scale", "4", "--csv", str(csv)]
    )  # fmt: skip
    assert status == 0
    table = pd.read_csv(csv)
    assert list(table.columns) == ["model", *COLUMNS]
    assert list(table["model"]) == ["bicubic"] * 3 + ["nearest"] * 3
    assert list(table["image"]) == ["first", "second", "mean"] * 2
    means = table[table["image"] == "mean"].set_index("model")["psnr_y"]
    assert means["bicubic"] > means["nearest"]
    assert "comparison" in capsys.readouterr().out


def test_evaluate_single_model_csv_and_markdown(tiny_folder, tmp_path, capsys):
    csv = tmp_path / "one.csv"
    status = cli.main(
        ["evaluate", "--model", "bilinear", "--dataset", str(tiny_folder), "--scale", "2",
         "--crop-border", "0", "--csv", str(csv), "--markdown"]
    )  # fmt: skip
    assert status == 0
    table = pd.read_csv(csv)
    assert list(table.columns) == list(COLUMNS)
    assert table["image"].iloc[-1] == "mean"
    assert "| image" in capsys.readouterr().out


def test_evaluate_missing_dataset_exit_2(tmp_path, capsys):
    missing = tmp_path / "Set5_not_here"
    status = cli.main(["evaluate", "--model", "bicubic", "--dataset", str(missing)])
    assert status == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


def test_evaluate_corrupt_image_exit_2(tiny_folder, capsys):
    (tiny_folder / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    status = cli.main(["evaluate", "--model", "bicubic", "--dataset", str(tiny_folder)])
    assert status == 2
    err = capsys.readouterr().err
    assert "zz_corrupt.png" in err and "not a readable image" in err
    assert "Traceback" not in err


def test_evaluate_unknown_model_exit_2(tiny_folder, capsys):
    status = cli.main(["evaluate", "--model", "bicubic,srgan", "--dataset", str(tiny_folder)])
    assert status == 2
    assert "srgan" in capsys.readouterr().err


# --- study ---------------------------------------------------------------------------------------


def test_study_writes_tables_and_figure(tiny_folder, tmp_path, capsys):
    out = tmp_path / "results"
    status = cli.main(
        [
            "study",
            "--baselines-only",
            "--data",
            str(tiny_folder),
            "--scales",
            "4",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    table = pd.read_csv(out / "baselines_tiny.csv")
    assert list(table.columns) == ["dataset", "scale", "method", *COLUMNS[1:]]
    assert list(table["method"]) == ["nearest", "bilinear", "bicubic", "bicubic_opencv"]
    assert set(table["dataset"]) == {"tiny"} and set(table["scale"]) == {4}
    assert table["psnr_y"].between(15, 45).all()
    markdown = (out / "baselines_tiny.md").read_text()
    assert markdown.startswith("# Interpolation baselines")
    assert "| dataset" in markdown and "bicubic_opencv" in markdown
    figure = read_image(out / "figures" / "baselines_tiny_x4.png")
    assert figure.shape[0] > 100 and figure.shape[1] > 300
    assert figure.std() > 10  # not a blank canvas
    assert "baselines_<dataset>.md" in capsys.readouterr().out


def test_study_missing_source_exit_2(tmp_path, capsys):
    missing = tmp_path / "nothing"
    status = cli.main(
        [
            "study",
            "--baselines-only",
            "--data",
            str(missing),
            "--scales",
            "4",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err
    assert not list(tmp_path.glob("baselines*"))


def test_study_quick_mode_trains_and_compares(tmp_path, monkeypatch, capsys):
    """The main job's quick mode end to end, for one model (CI runs all six notebooks too)."""
    monkeypatch.setenv("SR_KERAS_RUNS", str(tmp_path / "runs"))
    out = tmp_path / "results"
    status = cli.main(["study", "--models", "srcnn", "--scales", "4", "--out", str(out)])
    assert status == 0
    quick_results = tmp_path / "runs" / "quick" / "results"
    comparison = pd.read_csv(quick_results / "comparison.csv")
    assert list(comparison["Name"]) == ["bicubic", "srcnn", "srcnn_gr"]
    assert comparison.loc[0, "Parameters"] == 0 and comparison.loc[1, "Parameters"] == 20_483
    assert (quick_results / "figures" / "comparison.png").is_file()
    assert (out / "baselines_sample.csv").is_file()
    assert not (out / "weights").exists()  # quick runs never touch the shipped weights
