"""Shared fixtures: the shared benchmark images and tiny, fast image trees built in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sr_keras.data import sample_dir
from sr_keras.images import read_image, write_image
from sr_keras.interpolation import degrade

#: Set5, Set14 and BSDS500 (see its README.md); never copied into the repository.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: Side of the HR images of the tiny DIV2K tree: multiples of 2, 3 and 4, at least 96.
DIV2K_HR_SHAPE = (120, 144)

#: (photo shipped with scikit-image, top, left) of each crop of the tiny DIV2K tree.
_CROPS = (
    ("astronaut.png", 40, 160),
    ("coffee.png", 120, 200),
    ("chelsea.png", 60, 120),
    ("rocket.jpg", 150, 250),
    ("astronaut.png", 260, 300),
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; skips the test when it is not on this machine."""
    if not all((SHARED_DATA / name).is_dir() for name in ("Set5", "Set14")):
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA} (Set5/Set14 needed)")
    return SHARED_DATA


def photo_crop(index: int, shape: tuple[int, int] = DIV2K_HR_SHAPE) -> np.ndarray:
    """A real-photo RGB uint8 crop of ``shape``, from scikit-image's bundled images."""
    name, top, left = _CROPS[index % len(_CROPS)]
    image = read_image(sample_dir() / name)
    crop = image[top : top + shape[0], left : left + shape[1]]
    assert crop.shape == (*shape, 3), f"{name} too small for the crop"
    return np.ascontiguousarray(crop)


def nearest_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """An LR image that is exactly every ``scale``-th HR pixel: makes patch alignment testable."""
    return np.ascontiguousarray(hr[::scale, ::scale])


@pytest.fixture(scope="session")
def make_photo() -> Callable[..., np.ndarray]:
    """:func:`photo_crop`, as a fixture: ``make_photo(index, shape=(120, 144))``."""
    return photo_crop


@pytest.fixture(scope="session")
def make_nearest_lr() -> Callable[[np.ndarray, int], np.ndarray]:
    """:func:`nearest_lr`, as a fixture."""
    return nearest_lr


@pytest.fixture
def div2k_factory() -> Callable[..., Path]:
    """Builds a DIV2K-shaped tree: ``make(root, scale=4, lr=degrade, n_train=3, n_valid=2)``.

    ``lr`` maps ``(hr, scale)`` to the LR image written as the official one, or is ``None`` for a
    tree without ``DIV2K_*_LR_bicubic`` folders.
    """

    def make(
        root: Path,
        scale: int = 4,
        lr: Callable[[np.ndarray, int], np.ndarray] | None = degrade,
        n_train: int = 3,
        n_valid: int = 2,
    ) -> Path:
        splits = {"train": range(1, n_train + 1), "valid": range(801, 801 + n_valid)}
        index = 0
        for split, ids in splits.items():
            for image_id in ids:
                hr = photo_crop(index)
                index += 1
                write_image(root / f"DIV2K_{split}_HR" / f"{image_id:04d}.png", hr)
                if lr is not None:
                    lr_dir = root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}"
                    write_image(lr_dir / f"{image_id:04d}x{scale}.png", lr(hr, scale))
        return root

    return make


@pytest.fixture
def div2k_tree(tmp_path, div2k_factory) -> Path:
    """A tiny DIV2K root: 3 train and 2 valid 144x120 HR crops with official-style X4 LR."""
    return div2k_factory(tmp_path / "DIV2K")


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    """A folder of two small HR photos (72x84), for fast evaluate/study runs."""
    folder = tmp_path / "tiny"
    write_image(folder / "first.png", photo_crop(0, (72, 84)))
    write_image(folder / "second.png", photo_crop(1, (72, 84)))
    return folder
