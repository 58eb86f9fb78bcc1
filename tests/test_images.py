"""Reading any image file as RGB uint8, listing folders, atomic writes."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from sr_keras import utils
from sr_keras.images import (
    ImageReadError,
    SRKerasError,
    decode_raw,
    list_images,
    read_image,
    to_rgb_uint8,
    write_image,
)


def _write_cv2(path, image):
    """Writes an array with OpenCV directly (BGR(A) order), independent of write_image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def test_rgb_round_trip_png(tmp_path, make_photo):
    image = make_photo(0, (20, 30))
    path = write_image(tmp_path / "a.png", image)
    assert path == tmp_path / "a.png"
    np.testing.assert_array_equal(read_image(path), image)
    # Channel order on disk is what any other reader expects (OpenCV reads BGR).
    np.testing.assert_array_equal(cv2.imread(str(path))[:, :, ::-1], image)


def test_grayscale_png_becomes_three_channels(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (9, 11), dtype=np.uint8)
    path = _write_cv2(tmp_path / "gray.png", gray)
    assert decode_raw(path).shape == (9, 11)
    image = read_image(path)
    assert image.shape == (9, 11, 3) and image.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], gray)


def test_rgba_alpha_is_dropped(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    alpha = np.full((8, 10, 1), 17, np.uint8)
    path = write_image(tmp_path / "rgba.png", np.concatenate([rgb, alpha], axis=2))
    raw = decode_raw(path)
    assert raw.shape == (8, 10, 4)
    np.testing.assert_array_equal(raw[:, :, 3], 17)
    image = read_image(path)
    assert image.shape == (8, 10, 3)
    np.testing.assert_array_equal(image, rgb)


def test_16_bit_png_is_scaled_to_8_bit(tmp_path):
    values = np.array([[0, 257, 1000], [65535, 32896, 128]], dtype=np.uint16)
    rgb16 = np.stack([values, values // 2, values // 3], axis=2).astype(np.uint16)
    path = _write_cv2(tmp_path / "deep.png", rgb16[:, :, ::-1])
    assert decode_raw(path).dtype == np.uint16
    image = read_image(path)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, np.round(rgb16 / 257.0).astype(np.uint8))
    assert image[0, 1, 0] == 1 and image[1, 0, 0] == 255 and image[0, 2, 0] == 4


def test_to_rgb_uint8_conversions():
    gray_alpha = np.zeros((2, 2, 2), np.uint8)
    gray_alpha[..., 0], gray_alpha[..., 1] = 90, 200
    assert to_rgb_uint8(gray_alpha).shape == (2, 2, 3)
    assert (to_rgb_uint8(gray_alpha) == 90).all()
    kept = to_rgb_uint8(gray_alpha, keep_alpha=True)
    assert kept.shape == (2, 2, 4) and (kept[..., 3] == 200).all()
    floats = to_rgb_uint8(np.array([[0.0, 0.5, 1.0, 1.7]]))
    np.testing.assert_array_equal(floats[0, :, 0], [0, 128, 255, 255])
    with pytest.raises(ValueError, match="HxW"):
        to_rgb_uint8(np.zeros((2, 2, 5), np.uint8))


def test_unreadable_files(tmp_path):
    with pytest.raises(ImageReadError, match="no such image file"):
        read_image(tmp_path / "missing.png")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    with pytest.raises(ImageReadError, match="corrupt.png"):
        read_image(corrupt)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.jpg"):
        read_image(empty)
    assert issubclass(ImageReadError, SRKerasError)


def test_list_images_recursive_sorted_and_filtered(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    for name in ("b.png", "a/c.JPG", "a/deep/d.bmp", "e.jpeg"):
        write_image(tmp_path / name.lower(), image)
    (tmp_path / "a" / "c.jpg").rename(tmp_path / "a" / "c.JPG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "folder.png").mkdir()  # a folder with an image extension is not an image
    paths = list_images(tmp_path)
    relative = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert relative == ["a/c.JPG", "a/deep/d.bmp", "b.png", "e.jpeg"]


def test_list_images_missing_and_empty(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SRKerasError, match="sr-keras download") as error:
        list_images(missing)
    assert str(missing) in str(error.value)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(SRKerasError, match="holds no image") as error:
        list_images(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(error.value)


def test_write_image_is_atomic_and_replaces(tmp_path):
    target = tmp_path / "sub" / "out.png"
    first = np.full((6, 6, 3), 10, np.uint8)
    second = np.full((8, 5, 3), 200, np.uint8)
    write_image(target, first)  # creates the parent folder
    write_image(target, second)
    np.testing.assert_array_equal(read_image(target), second)
    assert sorted(os.listdir(target.parent)) == ["out.png"]  # no temp file left


def test_write_image_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    original = np.full((6, 6, 3), 10, np.uint8)
    write_image(target, original)
    before = target.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(utils.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_image(target, np.full((6, 6, 3), 99, np.uint8))
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"]

    with pytest.raises(SRKerasError, match="cannot encode"):
        write_image(tmp_path / "out.unknownext", original)
    assert os.listdir(tmp_path) == ["out.png"]


def test_atomic_write_text(tmp_path):
    path = utils.atomic_write_text(tmp_path / "deep" / "t.csv", "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    utils.atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(path.parent) == ["t.csv"]


def test_jpeg_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with EXIF orientation 6 reads upright."""
    from PIL import Image as PILImage

    from sr_keras.images import read_image

    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = 255  # left half white as stored
    path = tmp_path / "phone.jpg"
    image = PILImage.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(path, exif=exif, quality=95)
    upright = read_image(path)
    assert upright.shape == (40, 20, 3)
    assert upright[:20].mean() > 200 and upright[20:].mean() < 50  # white half now on top


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    from sr_keras.utils import atomic_write_text

    mask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "table.csv", "a,b\n")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
