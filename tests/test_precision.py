"""Precision: ``auto`` follows the hardware; bfloat16 models agree with their float32 twins."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from sr_keras import inference, precision
from sr_keras.metrics import psnr


def test_auto_is_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    if _has_gpu():
        pytest.skip("a GPU decides here, not the CPU flags")
    monkeypatch.setattr(precision, "_cpu_has_bfloat16", lambda: True)
    assert precision.resolve("auto") == "bfloat16"
    monkeypatch.setattr(precision, "_cpu_has_bfloat16", lambda: False)
    assert precision.resolve("auto") == "float32"
    assert precision.resolve("float32") == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("half")


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def test_policy_is_restored_after_an_error():
    with pytest.raises(RuntimeError), precision.policy("bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        raise RuntimeError
    assert keras.mixed_precision.global_policy().name == "float32"


#: Shipped model -> least PSNR (dB) between its bfloat16 and float32 outputs on a real photo.
#: The deck's srcnn (batch norm, no skip) is the least exact; with the bicubic skip the
#: network only adds a small residual, so bfloat16's 8-bit mantissa matters less (EDSR: 58.7 dB
#: measured with the zoo's x4 weights, 60+ with the pilot's).
TWIN_AGREEMENT = {"edsr_baseline_gr": 55.0, "srresnet_lite_gr": 50.0, "espcn": 50.0, "srcnn": 40.0}


@pytest.mark.parametrize("name", sorted(TWIN_AGREEMENT))
def test_a_bfloat16_model_agrees_with_its_float32_twin(name, make_photo):
    lr = make_photo(0)[::4, ::4].astype(np.float32)[None] / 255.0
    outputs = {}
    for wanted in ("float32", "bfloat16"):
        model = inference.load_model(name, 4, precision=wanted)  # the same float32 file
        assert model.layers[2].compute_dtype == wanted
        assert model.output.dtype == "float32"
        outputs[wanted] = inference.model_function(model)(lr)[0]
    first, second = (np.clip(outputs[key], 0, 1) * 255 for key in ("float32", "bfloat16"))
    assert float(psnr(first, second)) >= TWIN_AGREEMENT[name]
    assert np.abs(first - second).mean() <= 1.5  # grey levels
