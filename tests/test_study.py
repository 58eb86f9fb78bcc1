"""The study's comparison table (``sr_keras.experiment.evaluate_models``) on tiny trees."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from sr_keras import experiment, inference
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
    return experiment.StudySettings(
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
    table = experiment.evaluate_models(settings, {"srcnn": build("srcnn", 4)})
    assert list(table["Name"]) == ["bicubic", "srcnn"]
    assert experiment.ENSEMBLE_GAIN not in table
    assert (table["1 MP (s)"] > 0).all()


def test_self_ensemble_gain_is_the_ensembled_minus_the_plain_y_psnr(settings):
    model = _shifted_bicubic()  # not equivariant to flips and rotations
    table = experiment.evaluate_models(settings, {"shifted": model}, self_ensemble=True)
    gains = table.set_index("Name")[experiment.ENSEMBLE_GAIN]
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
    table = experiment.evaluate_models(
        settings, {"bicubic_net": _bicubic_only_srcnn()}, self_ensemble=True
    )
    rows = table.set_index("Name")
    assert rows["Y-PSNR"]["bicubic_net"] == pytest.approx(rows["Y-PSNR"]["bicubic"], abs=0.01)
    assert rows[experiment.ENSEMBLE_GAIN]["bicubic_net"] == pytest.approx(0.0, abs=1e-3)
