"""The study (``sr_keras.study``): its comparison table on tiny trees and the first run."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from sr_keras import cli, inference, study
from sr_keras.evaluate import evaluate
from sr_keras.images import write_image
from sr_keras.layers import BicubicUpsample
from sr_keras.models import build


@pytest.fixture
def settings(tmp_path, make_photo):
    folder = tmp_path / "bench"
    folder.mkdir()
    for index in range(2):
        write_image(folder / f"photo{index}.png", make_photo(index))
    return study.StudySettings(
        "quick", 4, "sample", "sample", [str(folder)], tmp_path / "runs", tmp_path / "results"
    )


def _bicubic_only_srcnn():
    """SRCNN with the global residual and zero weights: its output is the bicubic input X1."""
    model = build("srcnn", 4, global_residual=True)
    for weight in model.weights:
        weight.assign(np.zeros(weight.shape, weight.dtype))
    return model


def _shifted_bicubic():
    """Bicubic x4 moved one pixel left: the 8-way ensemble averages four shifts into a blur."""
    inputs = keras.Input((None, None, 3))
    upsampled = BicubicUpsample(4)(inputs)
    shift = keras.layers.Conv2D(3, 3, padding="same", use_bias=False)
    outputs = shift(upsampled)
    kernel = np.zeros((3, 3, 3, 3), np.float32)
    for channel in range(3):
        kernel[1, 2, channel, channel] = 1.0
    shift.set_weights([kernel])
    return keras.Model(inputs, outputs)


def test_comparison_table_has_a_row_per_model_and_the_timing(settings):
    table = study.evaluate_models(settings, {"srcnn": build("srcnn", 4)})
    assert list(table["Name"]) == ["bicubic", "srcnn"]
    assert study.ENSEMBLE_GAIN not in table
    assert (table["1 MP (s)"] > 0).all()


def test_self_ensemble_gain_is_the_ensembled_minus_the_plain_y_psnr(settings):
    model = _shifted_bicubic()  # not equivariant to flips and rotations
    table = study.evaluate_models(settings, {"shifted": model}, self_ensemble=True)
    gains = table.set_index("Name")[study.ENSEMBLE_GAIN]
    assert np.isnan(gains["bicubic"])

    function = inference.self_ensemble(inference.model_function(model))
    ensembled = evaluate(
        lambda lr: function(lr[None].astype(np.float32) / 255.0)[0] * 255.0,
        settings.benchmarks[0],
        4,
        "valid",
        progress=False,
    )
    plain = table.set_index("Name")["Y-PSNR"]["shifted"]
    assert gains["shifted"] == pytest.approx(ensembled["psnr_y"].iloc[-1] - plain, abs=2e-3)
    assert abs(gains["shifted"]) > 0.01, "the ensemble should change this model's output"


def test_self_ensemble_of_plain_bicubic_gains_nothing(settings):
    table = study.evaluate_models(
        settings, {"bicubic_net": _bicubic_only_srcnn()}, self_ensemble=True
    )
    rows = table.set_index("Name")
    assert rows["Y-PSNR"]["bicubic_net"] == pytest.approx(rows["Y-PSNR"]["bicubic"], abs=0.01)
    assert rows[study.ENSEMBLE_GAIN]["bicubic_net"] == pytest.approx(0.0, abs=1e-3)


def test_quick_runs_are_labelled_as_smoke_runs(settings):
    assert dataclasses.replace(settings, mode="full").smoke == ""
    assert settings.smoke.startswith("SMOKE RUN")
    figure = study.outputs_figure(settings, {"srcnn": build("srcnn", 4)})
    assert figure.get_suptitle().startswith("SMOKE RUN")
    path = study.publish_table(settings, pd.DataFrame({"Name": ["x"]}), "t", "# Title")
    assert "SMOKE RUN" in path.read_text() and (settings.results_dir / "t.csv").is_file()


def test_the_plain_study_command_is_the_first_run(monkeypatch):
    """`sr-keras study`: the shipped models on the sample, all of them, under runs/study."""
    calls = []
    for name in ("SR_KERAS_MODE", "SR_KERAS_RUNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(study, "run", lambda **options: calls.append(options))
    assert cli.main(["study"]) == 0
    assert calls[0]["mode"] == "shipped" and calls[0]["models"] is None
    assert calls[0]["out"] is None and calls[0]["scales"] == [2, 3, 4]
    assert study.study_settings("shipped").results_dir.parts[-2:] == ("runs", "study")
    assert cli.main(["study", "--quick-train", "--models", "srcnn,espcn"]) == 0
    assert calls[1]["mode"] == "quick" and calls[1]["models"] == ["srcnn", "espcn"]


ROOT = Path(__file__).resolve().parents[1]


def _git(*args, cwd=ROOT) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_first_run_in_a_fresh_clone_shows_the_study_and_touches_no_tracked_file(tmp_path):
    """The README's first command in a fresh clone (two shipped models for time): the shipped
    weights beat bicubic on the sample photos, every output is under runs/study."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and this repository's history")
    commit = _git("stash", "create") or "HEAD"  # the working tree's tracked files, as a commit
    clone = tmp_path / "clone"
    _git("clone", "--quiet", "--shared", "--no-checkout", str(ROOT), str(clone))
    _git("checkout", "--quiet", "--detach", commit, cwd=clone)
    environment = {**os.environ, "PYTHONPATH": str(clone)}
    for name in ("SR_KERAS_MODE", "SR_KERAS_RUNS"):
        environment.pop(name, None)
    command = [sys.executable, "-m", "sr_keras", "study", "--models", "espcn", "--scales", "4"]
    result = subprocess.run(
        command, cwd=clone, env=environment, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert _git("status", "--porcelain", "--untracked-files=all", cwd=clone) == ""
    out = clone / "runs" / "study"
    table = pd.read_csv(out / "comparison.csv").set_index("Name")
    assert list(table.index) == ["bicubic", "espcn", "espcn_gr"]
    assert (table["Y-PSNR"].drop("bicubic") > table.loc["bicubic", "Y-PSNR"] + 0.3).all()
    assert "SMOKE" not in (out / "comparison.md").read_text()
    for name in ("baselines_sample.md", "figures/comparison.png", "upscaled/chelsea_x4.png"):
        assert (out / name).is_file(), name
    assert "Y-PSNR" in result.stdout and "espcn_gr" in result.stdout


def test_the_full_mode_reloads_published_weights_instead_of_training_over_them(settings):
    full = dataclasses.replace(settings, mode="full")
    published = _bicubic_only_srcnn()
    for folder in ("weights", "logs"):
        (full.results_dir / folder).mkdir(parents=True)
    published.save(full.results_dir / "weights" / "srcnn_gr_x4.keras")
    pd.DataFrame({"epoch": [0], "loss": [0.5]}).to_csv(
        full.results_dir / "logs" / "srcnn_gr_x4.csv", index=False
    )
    before = (full.results_dir / "weights" / "srcnn_gr_x4.keras").read_bytes()
    model, log = study.train_model(full, "srcnn", global_residual=True)
    assert not (full.runs_dir / "srcnn_gr_x4").exists()  # nothing trained
    assert (full.results_dir / "weights" / "srcnn_gr_x4.keras").read_bytes() == before
    assert list(log["loss"]) == [0.5]
    assert all(np.all(w == 0) for w in model.get_weights())


def test_recipe_table_lists_the_config_train_model_uses(settings):
    table = study.recipe_table(settings, "rfdn", global_residual=True)
    assert table.loc["model", "value"] == "rfdn"
    assert table.loc["global_residual", "value"] is True
    assert table.loc["out", "value"].endswith("rfdn_gr_x4")
