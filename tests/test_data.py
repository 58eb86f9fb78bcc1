"""Image sources and tf.data pipelines on tiny trees built in tmp_path."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from sr_keras import data
from sr_keras.data import (
    SAMPLE_TRAIN,
    SAMPLE_VALID,
    SkippedImageWarning,
    find_pairs,
    load_pair,
    training_dataset,
    validation_dataset,
)
from sr_keras.images import ImageReadError, SRKerasError, read_image, write_image
from sr_keras.interpolation import degrade


def _uint8(batch) -> np.ndarray:
    """A float [0, 1] tensor back to uint8 (exact: the pipeline divides uint8 by 255)."""
    array = batch.numpy()
    restored = np.round(array * 255.0)
    np.testing.assert_allclose(array * 255.0, restored, atol=1e-3)
    return restored.astype(np.uint8)


def _batches(dataset, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(_uint8(lr), _uint8(hr)) for lr, hr in dataset.take(count)]


def _find(patch: np.ndarray, images: list[np.ndarray], scale: int) -> tuple[int, int, int] | None:
    """(image index, top, left) of an HR patch inside one of the HR images, on the LR grid."""
    size = patch.shape[0]
    for index, image in enumerate(images):
        for top in range(0, image.shape[0] - size + 1, scale):
            for left in range(0, image.shape[1] - size + 1, scale):
                if np.array_equal(image[top : top + size, left : left + size], patch):
                    return index, top, left
    return None


def _locate(patch: np.ndarray, images: list[np.ndarray], scale: int) -> tuple[int, int, int]:
    place = _find(patch, images, scale)
    assert place is not None, "HR patch not found at an LR-aligned place of any HR image"
    return place


def _undo(patch: np.ndarray, flip: bool, turns: int) -> np.ndarray:
    """Inverts ``random_patch``'s augmentation: a flip, then ``turns`` x 90 degrees (CCW)."""
    patch = np.rot90(patch, -turns)
    return patch[:, ::-1] if flip else patch


def _hr_images(root, split="train") -> list[np.ndarray]:
    return [read_image(p) for p in sorted((root / f"DIV2K_{split}_HR").glob("*.png"))]


# --- sources -----------------------------------------------------------------------------------


def test_find_pairs_sample():
    train = find_pairs("sample", "train")
    assert [p.name for p in train] == [name.rsplit(".", 1)[0] for name in SAMPLE_TRAIN]
    valid = find_pairs("sample", "valid")
    assert (
        [p.name for p in valid]
        == ["astronaut", "coffee"]
        == [n.split(".")[0] for n in SAMPLE_VALID]
    )
    for pair in train + valid:
        assert pair.hr_path.is_file() and pair.lr_path is None
    lr, hr = load_pair(valid[0], scale=4)
    assert hr.shape == (512, 512, 3) and lr.shape == (128, 128, 3)
    with pytest.raises(ValueError, match="split"):
        find_pairs("sample", "test")


def test_find_pairs_div2k_uses_official_lr(tmp_path, div2k_factory, make_nearest_lr):
    root = div2k_factory(tmp_path / "DIV2K", lr=make_nearest_lr)
    assert data.is_div2k_root(root)
    train = find_pairs(root, "train", scale=4)
    assert [p.name for p in train] == ["0001", "0002", "0003"]
    assert train[0].lr_path == root / "DIV2K_train_LR_bicubic" / "X4" / "0001x4.png"
    valid = find_pairs(root, "valid", scale=4)
    assert [p.name for p in valid] == ["0801", "0802"]
    assert all(p.lr_path is not None and p.lr_path.is_file() for p in valid)
    lr, hr = load_pair(train[1], 4)
    # The official file is used (here every 4th pixel), not an on-the-fly degrade.
    np.testing.assert_array_equal(lr, hr[::4, ::4])
    assert not np.array_equal(lr, degrade(hr, 4))
    # No X2 folder: x2 pairs make their LR on the fly.
    assert all(p.lr_path is None for p in find_pairs(root, "train", scale=2))
    lr2, hr2 = load_pair(find_pairs(root, "train", scale=2)[1], 2)
    np.testing.assert_array_equal(lr2, degrade(hr2, 2))


def test_div2k_official_lr_matches_degrade(div2k_tree):
    for pair in find_pairs(div2k_tree, "valid", 4):
        lr, hr = load_pair(pair, 4)
        assert hr.shape == (120, 144, 3) and lr.shape == (30, 36, 3)
        np.testing.assert_array_equal(lr, degrade(hr, 4))


def test_div2k_without_lr_folder_degrades_on_the_fly(tmp_path, div2k_factory, make_nearest_lr):
    root = div2k_factory(tmp_path / "DIV2K", lr=make_nearest_lr)
    shutil.rmtree(root / "DIV2K_train_LR_bicubic")
    pairs = find_pairs(root, "train", 4)
    assert [p.lr_path for p in pairs] == [None, None, None]
    lr, hr = load_pair(pairs[0], 4)
    np.testing.assert_array_equal(lr, degrade(hr, 4))
    assert not np.array_equal(lr, hr[::4, ::4])


def test_div2k_wrong_size_lr_is_reported(div2k_tree):
    bad = div2k_tree / "DIV2K_valid_LR_bicubic" / "X4" / "0802x4.png"
    write_image(bad, np.zeros((10, 10, 3), np.uint8))
    pair = find_pairs(div2k_tree, "valid", 4)[1]
    with pytest.raises(ImageReadError, match="0802x4.png") as error:
        load_pair(pair, 4)
    assert "expected 36x30" in str(error.value)


def test_div2k_missing_split(tmp_path, div2k_factory):
    root = div2k_factory(tmp_path / "DIV2K", n_valid=0)
    assert not (root / "DIV2K_valid_HR").exists()
    with pytest.raises(SRKerasError, match="sr-keras download") as error:
        find_pairs(root, "valid", 4)
    assert "DIV2K_valid_HR" in str(error.value)


def test_find_pairs_folder_recursive(tmp_path, make_photo):
    folder = tmp_path / "mine"
    write_image(folder / "z.png", make_photo(0, (24, 28)))
    write_image(folder / "sub" / "b.jpg", make_photo(1, (24, 28)))
    write_image(folder / "sub" / "deeper" / "c.bmp", make_photo(2, (25, 27)))
    (folder / "sub" / "info.txt").write_text("not an image")
    pairs = find_pairs(folder, "valid", scale=4)
    assert [p.name for p in pairs] == ["sub/b", "sub/deeper/c", "z"]
    assert [p.name for p in find_pairs(folder, "train", 4)] == [p.name for p in pairs]
    assert not data.is_div2k_root(folder)
    lr, hr = load_pair(pairs[1], 4)  # BMP, cropped from 25x27 to 24x24
    assert hr.shape == (24, 24, 3) and lr.shape == (6, 6, 3)
    np.testing.assert_array_equal(hr, make_photo(2, (25, 27))[:24, :24])


def test_bad_sources(tmp_path):
    missing = tmp_path / "no_such_folder"
    for call in (
        lambda: find_pairs(missing),
        lambda: training_dataset(missing, patch_size=32, batch_size=2),
        lambda: validation_dataset(missing),
    ):
        with pytest.raises(SRKerasError, match="sr-keras download") as error:
            call()
        assert str(missing) in str(error.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SRKerasError, match="no image") as error:
        training_dataset(empty, patch_size=32, batch_size=2)
    assert str(empty) in str(error.value)


def test_bad_arguments(div2k_tree):
    with pytest.raises(ValueError, match="patch_size"):
        training_dataset(div2k_tree, scale=4, patch_size=30)
    with pytest.raises(ValueError, match="batch_size"):
        training_dataset(div2k_tree, scale=4, patch_size=32, batch_size=0)
    with pytest.raises(ValueError, match="center_crop_size"):
        validation_dataset(div2k_tree, scale=3, center_crop_size=32)


# --- training stream ----------------------------------------------------------------------------


def test_training_dataset_shapes_and_range(div2k_tree):
    dataset = training_dataset(div2k_tree, scale=4, patch_size=96, batch_size=16, seed=0)
    lr, hr = next(iter(dataset))
    assert lr.shape == (16, 24, 24, 3) and hr.shape == (16, 96, 96, 3)
    assert lr.dtype.name == "float32" and hr.dtype.name == "float32"
    for batch in (lr.numpy(), hr.numpy()):
        assert batch.min() >= 0.0 and batch.max() <= 1.0
        assert batch.max() > 0.5  # real image content, not zeros
    _uint8(lr), _uint8(hr)  # exact multiples of 1/255


def test_training_patches_are_aligned(tmp_path, div2k_factory, make_nearest_lr):
    root = div2k_factory(tmp_path / "DIV2K", lr=make_nearest_lr)
    images = _hr_images(root)
    dataset = training_dataset(root, 4, patch_size=48, batch_size=8, seed=3, augment=False)
    places = set()
    for lr, hr in _batches(dataset, 2):
        for lr_patch, hr_patch in zip(lr, hr, strict=True):
            np.testing.assert_array_equal(lr_patch, hr_patch[::4, ::4])
            places.add(_locate(hr_patch, images, 4))
    assert len({index for index, _, _ in places}) == 3  # all images are drawn
    assert len(places) > 10  # at random places


def test_training_augmentation_is_applied_to_both(tmp_path, div2k_factory, make_nearest_lr):
    root = div2k_factory(tmp_path / "DIV2K", lr=make_nearest_lr)
    images = _hr_images(root)
    dataset = training_dataset(root, 4, patch_size=32, batch_size=16, seed=5, augment=True)
    transforms = []
    for lr, hr in _batches(dataset, 2):
        for lr_patch, hr_patch in zip(lr, hr, strict=True):
            matching = []
            for flip in (False, True):
                for turns in range(4):
                    lr0, hr0 = _undo(lr_patch, flip, turns), _undo(hr_patch, flip, turns)
                    if np.array_equal(lr0, hr0[::4, ::4]) and _find(hr0, images, 4):
                        matching.append((flip, turns))
            # Exactly one flip/rotation maps both patches back onto an aligned original place.
            assert len(matching) == 1, matching
            transforms.append(matching[0])
    assert len(set(transforms)) >= 4  # flips and rotations do happen


def test_seed_makes_the_stream_repeatable(div2k_tree):
    def stream(seed):
        dataset = training_dataset(div2k_tree, 4, patch_size=32, batch_size=4, seed=seed)
        return _batches(dataset, 3)

    first, second, other = stream(11), stream(11), stream(12)
    for (lr1, hr1), (lr2, hr2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(lr1, lr2)
        np.testing.assert_array_equal(hr1, hr2)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))


def test_corrupt_training_image_is_skipped(tmp_path, make_photo):
    folder = tmp_path / "train"
    good = [make_photo(0, (48, 48)), make_photo(1, (48, 48))]
    write_image(folder / "a_good.png", good[0])
    (folder / "b_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    write_image(folder / "c_good.png", good[1])
    with pytest.warns(SkippedImageWarning, match="b_broken.png"):
        dataset = training_dataset(folder, 4, patch_size=32, batch_size=6, seed=0, augment=False)
        batches = _batches(dataset, 2)
    sources = {_locate(hr_patch, good, 4)[0] for _, hr in batches for hr_patch in hr}
    assert sources == {0, 1}


def test_too_small_training_image_is_skipped(tmp_path, make_photo):
    folder = tmp_path / "train"
    big = make_photo(0, (48, 48))
    write_image(folder / "big.png", big)
    write_image(folder / "small.png", make_photo(1, (24, 40)))
    with pytest.warns(SkippedImageWarning, match=r"small.png.*smaller than the 32px patch"):
        dataset = training_dataset(folder, 4, patch_size=32, batch_size=4, seed=0, augment=False)
        batches = _batches(dataset, 2)
    for _, hr in batches:
        for hr_patch in hr:
            assert _locate(hr_patch, [big], 4)[0] == 0


def test_odd_formats_are_delivered_as_rgb(tmp_path, make_photo):
    folder = tmp_path / "odd"
    photo = make_photo(0, (32, 40))
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    folder.mkdir()
    cv2.imwrite(str(folder / "gray.png"), gray)
    write_image(folder / "rgba.png", np.concatenate([photo, np.full((32, 40, 1), 9, np.uint8)], 2))
    cv2.imwrite(str(folder / "deep.png"), photo[:, :, ::-1].astype(np.uint16) * 257)
    dataset = validation_dataset(folder, scale=4)
    hrs = [_uint8(hr)[0] for _, hr in dataset]
    assert [hr.shape for hr in hrs] == [(32, 40, 3)] * 3
    deep, gray_hr, rgba = hrs  # sorted by name
    np.testing.assert_array_equal(deep, photo)
    np.testing.assert_array_equal(gray_hr, np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(rgba, photo)


# --- validation stream ---------------------------------------------------------------------------


def test_validation_dataset_is_deterministic_whole_images(div2k_tree):
    dataset = validation_dataset(div2k_tree, scale=4)
    epochs = [[(_uint8(lr), _uint8(hr)) for lr, hr in dataset] for _ in range(2)]
    assert len(epochs[0]) == 2
    expected = [load_pair(pair, 4) for pair in find_pairs(div2k_tree, "valid", 4)]
    for epoch in epochs:
        for (lr, hr), (lr_ref, hr_ref) in zip(epoch, expected, strict=True):
            assert lr.shape == (1, 30, 36, 3) and hr.shape == (1, 120, 144, 3)
            np.testing.assert_array_equal(lr[0], lr_ref)
            np.testing.assert_array_equal(hr[0], hr_ref)


def test_validation_center_crop(div2k_tree):
    dataset = validation_dataset(div2k_tree, scale=4, center_crop_size=48, cache=False)
    pairs = [load_pair(pair, 4) for pair in find_pairs(div2k_tree, "valid", 4)]
    crops = list(dataset)
    assert len(crops) == 2
    for (lr, hr), (lr_full, hr_full) in zip(crops, pairs, strict=True):
        assert lr.shape == (1, 12, 12, 3) and hr.shape == (1, 48, 48, 3)
        # LR 30x36 -> top (30-12)//2 = 9, left (36-12)//2 = 12; HR at 4x those.
        np.testing.assert_array_equal(_uint8(lr)[0], lr_full[9:21, 12:24])
        np.testing.assert_array_equal(_uint8(hr)[0], hr_full[36:84, 48:96])


def test_validation_skips_unreadable_images(tmp_path, make_photo):
    folder = tmp_path / "val"
    good = make_photo(0, (32, 32))
    write_image(folder / "a.png", good)
    (folder / "b.png").write_bytes(b"broken")
    with pytest.warns(SkippedImageWarning, match="b.png"):
        items = [(_uint8(lr), _uint8(hr)) for lr, hr in validation_dataset(folder, scale=4)]
    assert len(items) == 1
    np.testing.assert_array_equal(items[0][1][0], good)
    (folder / "a.png").unlink()
    with pytest.warns(SkippedImageWarning), pytest.raises(SRKerasError, match="no usable"):
        validation_dataset(folder, scale=4)


# --- benchmarks must be complete ---------------------------------------------------------------


def test_load_pair_raises_on_a_corrupt_file(tmp_path, make_photo):
    folder = tmp_path / "bench"
    write_image(folder / "a.png", make_photo(0, (24, 24)))
    (folder / "b.png").write_bytes(b"garbage")
    names = []
    with pytest.raises(ImageReadError, match="b.png"):
        for pair in find_pairs(folder, scale=4):
            load_pair(pair, scale=4)
            names.append(pair.name)
    assert names == ["a"]
