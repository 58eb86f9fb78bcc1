"""Tiled inference, users' files (gray, RGBA, 16-bit, bad files) and shipped-weights lookup."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from sr_keras import cli, inference, models
from sr_keras.images import SRKerasError, decode_raw, write_image
from sr_keras.interpolation import interpolate


@pytest.mark.parametrize(
    ("name", "scale"),
    [
        ("srresnet_lite", 4),
        ("sr_autoencoder", 3),
        ("sr_autoencoder", 2),
        ("srcnn", 4),
        ("espcn", 3),
        ("edsr_baseline", 4),
    ],
)
def test_tiled_equals_untiled(name, scale):
    model = models.build(name, scale)  # random weights everywhere: the whole network matters
    function = inference.model_function(model)
    image = np.random.default_rng(0).random((45, 61, 3), dtype=np.float32)
    whole = inference.predict_tiled(function, image, scale, tile=0)
    tiled = inference.predict_tiled(function, image, scale, tile=16, overlap=24)
    assert tiled.shape == whole.shape == (45 * scale, 61 * scale, 3)
    assert np.abs(tiled - whole).max() <= 1 / 255


def test_tiling_without_enough_overlap_shows_seams():
    """The equality above is not vacuous: too little context changes pixels."""
    model = models.build("srresnet_lite", 4)
    function = inference.model_function(model)
    image = np.random.default_rng(0).random((40, 40, 3), dtype=np.float32)
    whole = inference.predict_tiled(function, image, 4, tile=0)
    tiled = inference.predict_tiled(function, image, 4, tile=8, overlap=0)
    assert np.abs(tiled - whole).max() > 1 / 255


@pytest.fixture
def srcnn_file(tmp_path):
    path = tmp_path / "srcnn_gr_x2.keras"
    models.build("srcnn", 2, global_residual=True).save(path)
    return path


def test_upscale_keeps_gray_alpha_and_16_bit(tmp_path, srcnn_file):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    rgba = rng.integers(0, 256, (20, 24, 4), dtype=np.uint8)
    deep = rng.integers(0, 65536, (20, 24, 3), dtype=np.uint16)
    folder = tmp_path / "in"
    for name, image in {"gray": gray, "rgba": rgba, "deep": deep}.items():
        write_image(folder / f"{name}.png", image)
    written, notices, errors = inference.upscale_files(
        [folder], tmp_path / "out", "srcnn_gr", 2, weights=srcnn_file, tile=8, progress=False
    )
    assert errors == [] and len(written) == 3
    out_gray = decode_raw(tmp_path / "out" / "gray_x2.png")
    out_rgba = decode_raw(tmp_path / "out" / "rgba_x2.png")
    out_deep = decode_raw(tmp_path / "out" / "deep_x2.png")
    assert out_gray.shape == (40, 48) and out_gray.dtype == np.uint8
    assert out_rgba.shape == (40, 48, 4)
    expected_alpha = np.clip(np.round(interpolate(rgba[:, :, 3], 2)), 0, 255)  # bicubic
    np.testing.assert_array_equal(out_rgba[:, :, 3], expected_alpha)
    assert out_deep.shape == (40, 48, 3) and out_deep.dtype == np.uint16
    assert out_deep.max() > 255  # really 16-bit, not 8-bit values in a 16-bit file
    assert not list((tmp_path / "out").glob("*.tmp"))


def _upscale_srcnn_x2(source, output, weights, *extra) -> int:
    """``sr-keras upscale`` with the test's x2 srcnn_gr weights."""
    argv = ["upscale", str(source), "-o", str(output), "--model", "srcnn_gr", "--scale", "2"]
    return cli.main([*argv, "--weights", str(weights), *extra])


def test_bad_file_is_reported_and_the_others_written(tmp_path, srcnn_file, capsys):
    folder = tmp_path / "in"
    write_image(folder / "good.png", np.full((10, 12, 3), 128, np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    status = _upscale_srcnn_x2(folder, tmp_path / "out", srcnn_file)
    assert status == 1
    assert (tmp_path / "out" / "good_x2.png").is_file()
    assert not (tmp_path / "out" / "broken_x2.png").exists()
    assert "broken.png" in capsys.readouterr().err


def test_missing_shipped_weights_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(inference, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(SRKerasError, match="sr-keras train --model srresnet"):
        inference.load_model("srresnet", 4)


def test_weights_of_another_scale_are_refused(srcnn_file):
    with pytest.raises(SRKerasError, match="x2 model, not x4"):
        inference.load_model("srcnn_gr", 4, srcnn_file)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_edsr_x4_is_two_x2_shuffles_but_loads_as_x4(scale, tmp_path):
    path = tmp_path / f"edsr_x{scale}.keras"
    models.build("edsr_baseline", scale, global_residual=True).save(path)
    assert inference.model_scale(inference.load_model("edsr_baseline_gr", scale, path)) == scale
    other = 3 if scale != 3 else 4
    with pytest.raises(SRKerasError, match=f"x{scale} model, not x{other}"):
        inference.load_model("edsr_baseline_gr", other, path)


def test_evaluate_a_model_with_weights(tmp_path, srcnn_file, capsys):
    folder = tmp_path / "bench"
    rng = np.random.default_rng(2)
    for index in range(2):
        write_image(folder / f"{index}.png", rng.integers(0, 256, (32, 40, 3), dtype=np.uint8))
    report = tmp_path / "report"
    status = cli.main(
        [
            "evaluate",
            "--model",
            "bicubic,srcnn_gr",
            "--weights",
            str(srcnn_file),
            "--dataset",
            str(folder),
            "--scale",
            "2",
            "--report",
            str(report),
        ]
    )
    assert status == 0
    text = (tmp_path / "report.md").read_text()
    assert "| srcnn" in text and "20483" in text and "Loss (MSE)" in text


def test_srresnet_2040x1356_output_stays_under_3_gb(tmp_path):
    """The issue's memory bound: a DIV2K-sized x4 output with the largest full-resolution model,
    tiled (256 LR px, overlap 32), measured as the peak RSS of a fresh process (~1 min here)."""
    script = textwrap.dedent(
        """
        import resource
        import numpy as np
        from sr_keras import inference, models
        function = inference.model_function(models.build("srresnet", 4))
        image = np.random.default_rng(0).random((339, 510, 3), dtype=np.float32)
        out = inference.predict_tiled(function, image, 4, tile=256, overlap=32)
        assert out.shape == (1356, 2040, 3), out.shape
        print("PEAK_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    peak_mb = float(result.stdout.split("PEAK_MB")[1])
    assert peak_mb < 3 * 1024, f"peak {peak_mb:.0f} MB"


def test_missing_input_is_reported_and_the_others_written(tmp_path, srcnn_file):
    image = tmp_path / "good.png"
    write_image(image, np.full((10, 12, 3), 128, np.uint8))
    written, _, errors = inference.upscale_files(
        [tmp_path / "missing.png", image],
        tmp_path / "out",
        "srcnn_gr",
        2,
        weights=srcnn_file,
        progress=False,
    )
    assert [path.name for path in written] == ["good_x2.png"]
    assert len(errors) == 1 and "missing.png" in errors[0]


def test_the_same_model_twice_gives_two_rows(tmp_path, srcnn_file, capsys):
    folder = tmp_path / "bench"
    write_image(
        folder / "a.png", np.random.default_rng(3).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    )
    other = tmp_path / "other.keras"
    models.build("srcnn", 2, global_residual=True).save(other)
    report = tmp_path / "report"
    status = cli.main(
        [
            "evaluate",
            "--model",
            "srcnn_gr,srcnn_gr",
            "--weights",
            str(srcnn_file),
            "--weights",
            str(other),
            "--dataset",
            str(folder),
            "--scale",
            "2",
            "--report",
            str(report),
        ]
    )
    assert status == 0
    names = list(pd.read_csv(tmp_path / "report.csv")["Name"])
    assert names == ["srcnn_gr (srcnn_gr_x2)", "srcnn_gr (other)"]


def test_interpolate_is_a_top_level_function():
    import sr_keras

    out = sr_keras.interpolate(np.array([[10.0, 20.0], [30.0, 40.0]]), 2, method="bilinear")
    assert out[0, 1] == 12.5


def test_default_model_is_the_best_shipped_one_on_set5(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    monkeypatch.setattr(inference, "WEIGHTS_DIR", weights)
    monkeypatch.setattr(inference, "SHIPPED_TABLE", tmp_path / "shipped.csv")
    assert inference.default_model(4) == "srresnet"  # nothing shipped
    weights.mkdir()
    models.build("srcnn", 4).save(weights / "srcnn_x4.keras")
    models.build("srcnn", 4, global_residual=True).save(weights / "srcnn_gr_x4.keras")
    assert inference.shipped_models(4) == ["srcnn", "srcnn_gr"]

    def table(rows):  # (scale, dataset, name, Y-PSNR, seconds per megapixel)
        columns = ["Scale", "Dataset", "Name", "Y-PSNR", "1 MP (s)"]
        pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "shipped.csv", index=False)

    table([(4, "Set5", "srcnn", 28.0, 0.1), (4, "Set5", "srcnn_gr", 29.1, 0.1),
           (4, "Set14", "srcnn", 99.0, 0.1), (2, "Set5", "srcnn", 99.0, 0.1)])  # fmt: skip
    assert inference.default_model(4) == "srcnn_gr"
    # The best among those that upscale 1 MP in under 2 s.
    table([(4, "Set5", "srcnn", 28.0, 1.5), (4, "Set5", "srcnn_gr", 29.1, 9.0)])
    assert inference.default_model(4) == "srcnn"
    # upscale prefers weights trained on realistic degradations; evaluate the protocol's best.
    models.build("srcnn", 4, global_residual=True).save(weights / "srcnn_gr_realistic_x4.keras")
    table([(4, "Set5", "srcnn", 28.0, 1.5), (4, "Set5", "srcnn_gr_realistic", 27.9, 1.5)])
    assert inference.default_model(4) == "srcnn_gr_realistic"
    assert inference.default_model(4, robust=False) == "srcnn"
    realistic = inference.load_model("srcnn_gr_realistic", 4)
    assert realistic.get_layer("global_residual") is not None
    loaded = inference.load_model("srcnn_gr", 4)
    assert loaded.get_layer("global_residual") is not None
    with pytest.raises(ValueError, match="_gr"):
        inference.load_model("vdsr_gr", 4)


def test_self_ensemble_averages_the_eight_transforms():
    model = models.build("srresnet_lite", 2)
    function = inference.model_function(model)
    ensembled = inference.self_ensemble(function)
    batch = np.random.default_rng(7).random((1, 9, 12, 3), dtype=np.float32)
    outputs = []
    for flip in (False, True):
        source = batch[:, :, ::-1] if flip else batch
        for turns in range(4):
            out = function(np.ascontiguousarray(np.rot90(source, turns, axes=(1, 2))))
            out = np.rot90(out, -turns, axes=(1, 2))
            outputs.append(out[:, :, ::-1] if flip else out)
    expected = np.mean(outputs, axis=0)
    result = ensembled(batch)
    assert result.shape == (1, 18, 24, 3)
    np.testing.assert_allclose(result, expected, atol=1e-6)
    assert np.abs(result - function(batch)).max() > 1e-4  # a random model is not equivariant


def test_self_ensemble_of_an_equivariant_function_changes_nothing():
    """Nearest-neighbour upscaling commutes with flips and rotations."""
    from sr_keras.interpolation import interpolate

    def nearest(batch):
        return interpolate(batch[0], 2, "nearest")[None].astype(np.float32)

    batch = np.random.default_rng(8).random((1, 6, 5, 3), dtype=np.float32)
    np.testing.assert_allclose(inference.self_ensemble(nearest)(batch), nearest(batch), atol=1e-6)


def test_cli_self_ensemble_flag(tmp_path, srcnn_file):
    image = tmp_path / "in.png"
    write_image(image, np.random.default_rng(9).integers(0, 256, (12, 14, 3), dtype=np.uint8))
    status = _upscale_srcnn_x2(image, tmp_path / "out", srcnn_file, "--self-ensemble")
    assert status == 0 and (tmp_path / "out" / "in_x2.png").is_file()


# --- reliability of `sr-keras upscale` (issue #11) ------------------------------------------------


def _photo(seed, shape=(12, 14, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_upscale_into_the_input_folder_skips_and_resumes(tmp_path, srcnn_file, capsys):
    folder = tmp_path / "photos"
    write_image(folder / "a.png", _photo(0))
    write_image(folder / "b.png", _photo(1))
    own = write_image(folder / "b_x2.png", _photo(2))  # the user's own file, named like an output
    own_bytes = own.read_bytes()
    assert _upscale_srcnn_x2(folder, folder, srcnn_file) == 0
    out = capsys.readouterr().out
    assert f"skipped {own}: exists (use --overwrite to replace)" in out
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_x2.png", "b.png", "b_x2.png"]
    assert own.read_bytes() == own_bytes
    first = (folder / "a_x2.png").read_bytes()
    assert _upscale_srcnn_x2(folder, folder, srcnn_file) == 0  # a rerun: nothing compounds
    assert "a_x2.png: exists" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_x2.png", "b.png", "b_x2.png"]
    assert (folder / "a_x2.png").read_bytes() == first
    assert _upscale_srcnn_x2(folder, folder, srcnn_file, "--overwrite") == 0
    assert own.read_bytes() != own_bytes  # asked for: b.png's output replaced it
    assert decode_raw(own).shape == (24, 28, 3)
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_x2.png", "b.png", "b_x2.png"]


def test_a_corrupt_jpeg_does_not_block_the_png_of_the_same_name(tmp_path, srcnn_file, capsys):
    folder = tmp_path / "in"
    write_image(folder / "x.png", _photo(3))
    (folder / "x.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    assert _upscale_srcnn_x2(folder, tmp_path / "out", srcnn_file) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.png_x2.png"]
    err = capsys.readouterr().err
    assert "x.jpg" in err and "already" not in err and "Traceback" not in err


def test_stale_temp_files_of_the_outputs_are_removed(tmp_path, srcnn_file):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".in_x2.png.ab12cd34.tmp"  # what a killed run left
    stale.write_bytes(b"half an image")
    (out / ".notes.tmp").write_text("the user's")
    write_image(tmp_path / "in.png", _photo(4))
    assert _upscale_srcnn_x2(tmp_path / "in.png", out, srcnn_file) == 0
    assert sorted(p.name for p in out.iterdir()) == [".notes.tmp", "in_x2.png"]


def test_unwritable_output_folder_fails_before_any_work(tmp_path, srcnn_file, monkeypatch, capsys):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(inference, "load_model", never)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    write_image(tmp_path / "in.png", _photo(5))
    assert _upscale_srcnn_x2(tmp_path / "in.png", blocker / "out", srcnn_file) == 2
    err = capsys.readouterr().err
    assert f"'{blocker / 'out'}'" in err and ".tmp" not in err and len(err.splitlines()) == 1


def test_images_too_large_for_memory_are_refused_one_by_one(
    tmp_path, srcnn_file, capsys, monkeypatch
):
    from sr_keras import upscaling

    folder = tmp_path / "in"
    write_image(folder / "big.png", _photo(6, (64, 64, 3)))
    write_image(folder / "small.png", _photo(7))
    working = inference.upscaling_function("srcnn_gr", 2, srcnn_file)[1]
    big = sum(upscaling.memory_needed((64, 64, 3), 2, 1, 16, 4, working))
    small = sum(upscaling.memory_needed((12, 14, 3), 2, 1, 16, 4, working))
    assert small < big
    monkeypatch.setattr(upscaling, "available_memory", lambda: (small + big) // 2)
    argv = ["--tile", "16", "--overlap", "4"]
    assert _upscale_srcnn_x2(folder, tmp_path / "out", srcnn_file, *argv) == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["small_x2.png"]
    err = capsys.readouterr().err
    assert "big.png: upscaling 64x64 x2 needs about" in err and "GB available" in err
    assert "Traceback" not in err


def test_untiled_upscaling_too_large_for_memory_suggests_tiles(
    tmp_path, srcnn_file, capsys, monkeypatch
):
    from sr_keras import upscaling

    write_image(tmp_path / "wide.png", np.zeros((600, 600, 3), np.uint8))
    working = inference.upscaling_function("srcnn_gr", 2, srcnn_file)[1]
    untiled = sum(upscaling.memory_needed((600, 600, 3), 2, 1, 0, 0, working))
    tiled = sum(upscaling.memory_needed((600, 600, 3), 2, 1, 256, 32, working))
    assert tiled < untiled
    monkeypatch.setattr(upscaling, "available_memory", lambda: (tiled + untiled) // 2)
    status = _upscale_srcnn_x2(tmp_path / "wide.png", tmp_path / "out", srcnn_file, "--tile", "0")
    assert status == 1
    err = capsys.readouterr().err
    assert "wide.png: upscaling 600x600 x2 untiled needs about" in err
    assert "use --tile 256" in err


def test_tile_progress_within_one_image(tmp_path, srcnn_file, capsys):
    write_image(tmp_path / "in.png", _photo(8, (16, 16, 3)))
    inference.upscale_files([tmp_path / "in.png"], tmp_path / "out", "srcnn_gr", 2,
                            weights=srcnn_file, tile=8, overlap=4)  # fmt: skip
    err = capsys.readouterr().err
    assert "in.png:" in err and "/4 [" in err and "tile/s" in err  # a bar over its 4 tiles


def test_tile_progress_counts_the_tiles_run_on_the_models_multiple(tmp_path, monkeypatch):
    from sr_keras import upscaling
    from sr_keras.images import OutputPlan

    bars = []

    class Bar:  # records what each progress bar is told
        def __init__(self, iterable=None, total=None, **options):
            self.iterable, self.total, self.done = iterable, total, 0
            bars.append(self)

        def __iter__(self):
            return iter(self.iterable)

        def __enter__(self):
            return self

        def __exit__(self, *error):
            return False

        def update(self, count):
            self.done += count

    monkeypatch.setattr("tqdm.auto.tqdm", Bar)
    write_image(tmp_path / "in.png", np.zeros((1030, 1030, 3), np.uint8))

    def run(image, progress):  # RFDN's tiles start on multiples of 6: 16 tiles here, not 25
        return upscaling.upscale_image(lambda batch: batch, image, 1, 256, 32, progress, 6)

    upscaler = upscaling.Upscaler(run, 1, 256, 32, 48.0, multiple=6)
    plan = OutputPlan(jobs=[(tmp_path / "in.png", tmp_path / "out.png")])
    written, _, errors = upscaling.write_outputs(plan, upscaler, "upscale")
    assert written and not errors
    assert bars[1].total == bars[1].done == 16


def test_weights_of_another_model_are_refused_in_one_line(tmp_path, srcnn_file):
    espcn = tmp_path / "espcn.keras"
    models.build("espcn", 2).save(espcn)
    with pytest.raises(SRKerasError, match="holds the model espcn, not srcnn; use --model espcn"):
        inference.load_model("srcnn", 2, espcn)
    with pytest.raises(
        SRKerasError, match="holds the model srcnn_gr, not srcnn; use --model srcnn_gr"
    ):
        inference.load_model("srcnn", 2, srcnn_file)  # the global residual is another model
    weights = tmp_path / "espcn.weights.h5"
    models.build("espcn", 2).save_weights(weights)
    with pytest.raises(SRKerasError) as error:
        inference.load_model("srcnn", 2, weights)
    message = str(error.value)
    assert "\n" not in message and len(message) < 500 and "espcn.weights.h5" in message
    assert "--model" in message


def test_tile_and_overlap_are_checked_when_parsing(tmp_path, capsys):
    for flag, value in (("--tile", "-5"), ("--overlap", "-1")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["upscale", str(tmp_path), "-o", str(tmp_path), flag, value])
        assert exit_info.value.code == 2
        assert f"argument {flag}: must be 0 or more, got {value}" in capsys.readouterr().err


def test_upscale_image_writes_integers_tile_by_tile():
    """No full-size float arrays: the uint8 result equals the rounded float prediction."""
    model = models.build("espcn", 2)
    function = inference.model_function(model)
    image = _photo(9, (20, 18, 3))
    result = inference.upscale_image(function, image, 2, tile=8, overlap=8)
    floats = inference.predict_tiled(function, image.astype(np.float32) / 255, 2, tile=0)
    assert result.dtype == np.uint8 and result.shape == (40, 36, 3)
    expected = np.clip(np.round(floats * 255), 0, 255)
    assert np.abs(result.astype(int) - expected).max() <= 1


def test_tiles_shrink_to_the_memory_budget():
    from sr_keras.upscaling import fit_tile

    assert fit_tile(256, 32, 16384, budget=768e6) == 152  # (152 + 2 * 32)**2 * 16384 <= 768e6
    assert (152 + 64) ** 2 * 16384 <= 768e6 < (156 + 64) ** 2 * 16384
    assert fit_tile(256, 32, 100, budget=768e6) == 256  # a light model keeps --tile
    assert fit_tile(0, 32, 16384, budget=1) == 0  # whole images stay whole (checked apart)
    assert fit_tile(256, 30, 16384, budget=1) == 4  # never below one multiple
