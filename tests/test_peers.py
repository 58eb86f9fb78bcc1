"""benchmarks/peers.py writes the same networks in PyTorch: they must compute what Keras does.

RFDN is checked against the official code's layout (benchmarks/rfdn_torch.py, after
github.com/njulj/RFDN), so our Keras RFDN must compute what the official RFDN computes.

PyTorch is a benchmark-only dependency (``pip install torch==2.13.0``); without it this skips.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from peers import perturb_weights, torch_model  # noqa: E402

from sr_keras import models  # noqa: E402


@pytest.mark.parametrize(("name", "scale"), [("srcnn", 3), ("srresnet", 4), ("edsr_baseline", 4)])
def test_pytorch_network_equals_keras(name, scale):
    model = models.build(name, scale)
    perturb_weights(model)
    rng = np.random.default_rng(0)
    image = rng.random((1, 13, 10, 3), dtype=np.float32)
    expected = model(image, training=False).numpy()
    with torch.inference_mode():
        actual = torch_model(model, name, scale)(torch.from_numpy(image.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(actual.numpy().transpose(0, 2, 3, 1), expected, atol=1e-4)


def _squares(height: int, width: int) -> np.ndarray:
    """Grey, with a black and a white square: exact zeros and ones."""
    image = np.full((1, height, width, 3), 0.5, dtype=np.float32)
    image[:, 8:20, 8:20] = 0.0
    image[:, 22:34, 20:32] = 1.0
    return image


@functools.cache
def _rfdn_pair(scale: int):
    """Our Keras RFDN with random weights and nonzero biases, and the official layout's twin."""
    keras.utils.set_random_seed(scale)
    model = models.build("rfdn", scale)
    perturb_weights(model)
    return model, torch_model(model, "rfdn", scale)


@pytest.mark.parametrize(
    ("scale", "height", "width"),
    [(4, 15, 15), (4, 16, 17), (4, 37, 29), (4, 64, 70), (4, 40, 40), (3, 37, 29), (2, 21, 18)],
)
def test_rfdn_equals_the_official_pytorch_rfdn(scale, height, width):
    # 15x15 is the official model's smallest input (ESA's 7x7 max pool); 40x40 is _squares.
    model, network = _rfdn_pair(scale)
    rng = np.random.default_rng(height * width)
    image = _squares(40, 40) if height == 40 else rng.random((1, height, width, 3), np.float32)
    expected = model(image, training=False).numpy()
    assert expected.shape == (1, scale * height, scale * width, 3)
    with torch.inference_mode():
        actual = network(torch.from_numpy(image.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(actual.transpose(0, 2, 3, 1), expected, rtol=0, atol=1e-5)
