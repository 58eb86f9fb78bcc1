"""benchmarks/peers.py writes the same networks in PyTorch: they must compute what Keras does.

PyTorch is a benchmark-only dependency (``pip install torch==2.13.0``); without it this skips.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
