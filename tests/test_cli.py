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


def test_evaluate_without_a_name_exit_2(tiny_folder, capsys):
    assert cli.main(["evaluate", "--model", ",", "--dataset", str(tiny_folder)]) == 2
    assert "error: names: give at least one model or baseline" in capsys.readouterr().err


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


def test_study_quick_train_is_a_labelled_smoke_run(tmp_path, monkeypatch, capsys):
    """--quick-train end to end for one model (CI runs the notebooks too): all under --out."""
    monkeypatch.setenv("SR_KERAS_RUNS", str(tmp_path / "runs"))
    out = tmp_path / "results"
    argv = ["study", "--quick-train", "--models", "srcnn", "--scales", "4", "--out", str(out)]
    assert cli.main(argv) == 0
    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison["Name"]) == ["bicubic", "srcnn", "srcnn_gr"]
    assert comparison.loc[0, "Parameters"] == 0 and comparison.loc[1, "Parameters"] == 20_483
    assert "SMOKE RUN" in (out / "comparison.md").read_text()
    assert "SMOKE RUN" in capsys.readouterr().out
    assert (out / "figures" / "comparison.png").is_file()
    assert (out / "baselines_sample.csv").is_file()
    assert not (out / "weights").exists()  # quick runs never touch the shipped weights
    assert (tmp_path / "runs" / "quick" / "srcnn_gr_x4" / "best.keras").is_file()


# --- reliability (issue #11) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, shown",
    [(["summary", "--model", "srcnn"], "Parameters"), (["evaluate", "--help"], "--degradation")],
)
def test_start_up_prints_nothing_on_stderr(argv, shown):
    """TensorFlow's C++ start-up lines (oneDNN, CUDA probing) never reach users, also when the
    parser lists the registry's models."""
    result = subprocess.run(
        [sys.executable, "-m", "sr_keras", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert shown in result.stdout
    assert result.stderr == ""


def test_interpolate_never_writes_over_its_input(tmp_path, capsys):
    source = write_image(tmp_path / "in.png", np.full((4, 5, 3), 90, np.uint8))
    before = source.read_bytes()
    for extra in ([], ["--overwrite"]):
        assert cli.main(["interpolate", str(source), "-o", str(source), *extra]) == 2
        err = capsys.readouterr().err
        assert "is the input" in err and len(err.splitlines()) == 1
    assert source.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "in.png"
    ]


def test_interpolate_refuses_an_existing_output_file_unless_overwrite(tmp_path, capsys):
    source = write_image(tmp_path / "in.png", np.full((4, 5, 3), 90, np.uint8))
    target = write_image(tmp_path / "out.png", np.zeros((2, 2, 3), np.uint8))
    assert cli.main(["interpolate", str(source), "-o", str(target), "--scale", "2"]) == 2
    assert f"output '{target}' exists (use --overwrite to replace it)" in capsys.readouterr().err
    assert read_image(target).shape == (2, 2, 3)
    argv = ["interpolate", str(source), "-o", str(target), "--scale", "2", "--overwrite"]
    assert cli.main(argv) == 0
    assert read_image(target).shape == (8, 10, 3)


def test_interpolate_into_a_folder_resumes(tmp_path, capsys):
    folder = tmp_path / "in"
    write_image(folder / "a.png", np.full((4, 5, 3), 10, np.uint8))
    write_image(folder / "b.png", np.full((4, 5, 3), 20, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    write_image(out / "a_x2.png", np.zeros((1, 1, 3), np.uint8))  # from an earlier run
    assert cli.main(["interpolate", str(folder), "-o", str(out), "--scale", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"skipped {out / 'a_x2.png'}: exists (use --overwrite to replace)" in printed
    assert f"wrote {out / 'b_x2.png'}" in printed
    assert read_image(out / "a_x2.png").shape == (1, 1, 3)  # not replaced
    assert read_image(out / "b_x2.png").shape == (8, 10, 3)


def test_interpolate_scale_is_checked_when_parsing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["interpolate", str(tmp_path / "in.png"), "-o", str(tmp_path), "--scale", "1000"])
    assert exit_info.value.code == 2
    assert "scale must be an integer from 2 to 16, got 1000" in capsys.readouterr().err


def test_interpolate_too_large_for_memory_is_one_line(tmp_path, monkeypatch, capsys):
    from sr_keras import upscaling

    big = write_image(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))
    small = write_image(tmp_path / "small.png", np.zeros((2, 2, 3), np.uint8))
    monkeypatch.setattr(upscaling, "available_memory", lambda: 3 * 8 * 8 * 3 * 16 * 16 * 4)
    argv = ["interpolate", str(big), str(small), "-o", str(tmp_path / "out"), "--scale", "16"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "big.png: upscaling 40x40 x16 needs about" in err and "Traceback" not in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["small_x16.png"]


def test_evaluate_refuses_to_replace_a_table_unless_overwrite(tiny_folder, tmp_path, capsys):
    csv = tmp_path / "table.csv"
    csv.write_text("the user's table\n")
    argv = ["evaluate", "--model", "bicubic", "--dataset", str(tiny_folder), "--csv", str(csv)]
    assert cli.main(argv) == 2
    assert f"output '{csv}' exists (use --overwrite" in capsys.readouterr().err
    assert csv.read_text() == "the user's table\n"
    report = tmp_path / "report"
    (tmp_path / "report.md").write_text("# mine\n")
    argv = ["evaluate", "--model", "bicubic", "--dataset", str(tiny_folder)]
    assert cli.main([*argv, "--report", str(report)]) == 2
    assert "report.md' exists" in capsys.readouterr().err
    assert not (tmp_path / "report.csv").exists()
    assert cli.main([*argv, "--csv", str(csv), "--overwrite"]) == 0
    assert list(pd.read_csv(csv).columns) == list(COLUMNS)


def test_evaluate_names_an_image_too_small_to_measure(tmp_path, capsys):
    folder = tmp_path / "bench"
    write_image(folder / "ok.png", np.random.default_rng(0).integers(0, 256, (40, 40, 3), np.uint8))
    write_image(folder / "tiny.png", np.zeros((16, 16, 3), np.uint8))
    status = cli.main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "4"])
    assert status == 2
    err = capsys.readouterr().err
    assert str(folder / "tiny.png") in err and "--crop-border" in err and "11x11" in err
    lines = [line for line in err.replace("\r", "\n").splitlines() if "error" in line]
    assert "tf.Tensor" not in err and len(lines) == 1  # one line beside the progress bar
