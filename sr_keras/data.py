"""Image sources and tf.data pipelines.

A *source* is ``"sample"`` (photos that ship with scikit-image), a DIV2K root in the official
layout (``DIV2K_valid_HR/0801.png``, maybe ``DIV2K_valid_LR_bicubic/X4/0801x4.png``) or any folder
of HR images (searched recursively). LR images are DIV2K's own where present, else
:func:`sr_keras.interpolation.degrade` of the HR image cropped to the scale.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from sr_keras.config import DEGRADATIONS
from sr_keras.degradations import realistic
from sr_keras.images import ImageReadError, SRKerasError, list_images, read_image
from sr_keras.interpolation import degrade, modcrop

SAMPLE_TRAIN = ("chelsea.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
                "hubble_deep_field.jpg", "ihc.png")  # fmt: skip
SAMPLE_VALID = ("astronaut.png", "coffee.png")
SPLITS = ("train", "valid")


class SkippedImageWarning(UserWarning):
    """An image left out of a training or validation stream (unreadable or too small)."""


@dataclasses.dataclass(frozen=True)
class ImagePair:
    """An HR image and its official LR image, if there is one."""

    name: str
    hr_path: Path
    lr_path: Path | None = None


def sample_dir() -> Path:
    """The folder of scikit-image's bundled photos (the embedded sample source)."""
    import skimage

    return Path(skimage.__file__).parent / "data"


def is_div2k_root(path: str | os.PathLike) -> bool:
    """True if ``path`` holds ``DIV2K_train_HR`` or ``DIV2K_valid_HR``."""
    return any((Path(path) / f"DIV2K_{split}_HR").is_dir() for split in SPLITS)


def find_pairs(source: str | os.PathLike, split: str = "train", scale: int = 4) -> list[ImagePair]:
    """The images of a source, sorted; ``split`` picks DIV2K's and the sample's (a folder gives
    all), ``scale`` DIV2K's LR folder. SRKerasError if the source is missing or empty."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if str(source) == "sample":
        names = SAMPLE_TRAIN if split == "train" else SAMPLE_VALID
        return [ImagePair(Path(name).stem, sample_dir() / name) for name in names]
    folder = Path(source)
    if is_div2k_root(folder):
        hr_dir = folder / f"DIV2K_{split}_HR"
        if not hr_dir.is_dir():
            raise SRKerasError(
                f"DIV2K folder '{hr_dir}' does not exist. Get DIV2K with "
                f"`sr-keras download div2k --root {folder} --scale {scale} --subset {split}`."
            )
        lr_dir, pairs = folder / f"DIV2K_{split}_LR_bicubic" / f"X{scale}", []
        for hr_path in list_images(hr_dir, what="DIV2K HR folder"):
            lr_path = lr_dir / f"{hr_path.stem}x{scale}{hr_path.suffix}"
            pairs.append(ImagePair(hr_path.stem, hr_path, lr_path if lr_path.is_file() else None))
        return pairs
    return [
        ImagePair(path.relative_to(folder).with_suffix("").as_posix(), path)
        for path in list_images(folder)
    ]


def load_pair(pair: ImagePair, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """One pair as uint8 RGB ``(lr, hr)``, ``hr`` cropped to a multiple of ``scale``;
    ImageReadError if a file cannot be read or the official LR image has the wrong size."""
    hr = modcrop(read_image(pair.hr_path), scale)
    if min(hr.shape[:2]) < scale:
        raise ImageReadError(
            f"{pair.hr_path}: {hr.shape[1]}x{hr.shape[0]} is too small for x{scale}"
        )
    if pair.lr_path is None:
        return degrade(hr, scale), hr
    lr = read_image(pair.lr_path)
    expected = (hr.shape[0] // scale, hr.shape[1] // scale)
    if lr.shape[:2] != expected:
        raise ImageReadError(
            f"{pair.lr_path}: LR image is {lr.shape[1]}x{lr.shape[0]}, expected "
            f"{expected[1]}x{expected[0]} for x{scale} of {pair.hr_path.name}; "
            "delete the LR folder to make LR images on the fly, or re-download it"
        )
    return lr, hr


def _pair_loader(pairs: list[ImagePair], scale: int, min_hr_size: int):
    """index -> ``(lr, hr)``, empty arrays (and a warning) for an unusable image."""

    def load(index):
        pair = pairs[int(index)]
        try:
            lr, hr = load_pair(pair, scale)
            if min(hr.shape[:2]) < min_hr_size:
                raise ImageReadError(
                    f"{pair.hr_path}: {hr.shape[1]}x{hr.shape[0]} is smaller than the "
                    f"{min_hr_size}px patch"
                )
        except ImageReadError as error:
            warnings.warn(f"skipped: {error}", SkippedImageWarning, stacklevel=1)
            return np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0, 3), np.uint8)
        return lr, hr

    return load


def _decoded_pairs(pairs: list[ImagePair], scale: int, min_hr_size: int) -> tf.data.Dataset:
    loader = _pair_loader(pairs, scale, min_hr_size)

    def load(index):
        images = tf.numpy_function(loader, [index], (tf.uint8, tf.uint8), stateful=False)
        return tuple(tf.ensure_shape(image, [None, None, 3]) for image in images)

    dataset = tf.data.Dataset.range(len(pairs))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.filter(lambda lr, hr: tf.size(hr) > 0)


def random_patch(lr, hr, seed, scale: int, patch_size: int, augment: bool = True):
    """Aligned LR/HR patches (HR side ``patch_size``) at a random place, with (``augment``)
    the same random flip and quarter turns, drawn from the stateless ``[2]`` ``seed``."""
    lr_size = patch_size // scale
    draws = tf.random.stateless_uniform([4], seed=seed)
    room = tf.cast(tf.shape(lr)[:2] - lr_size + 1, tf.float32)  # top-left corners per axis
    top, left = tf.unstack(tf.cast(draws[:2] * room, tf.int32))
    lr_patch, hr_patch = _aligned_crop(lr, hr, top, left, lr_size, scale)
    if augment:

        def transform(patch):
            patch = tf.cond(draws[2] < 0.5, lambda: patch[:, ::-1], lambda: patch)
            return tf.image.rot90(patch, tf.cast(draws[3] * 4.0, tf.int32))

        lr_patch, hr_patch = transform(lr_patch), transform(hr_patch)
    lr_patch = tf.ensure_shape(lr_patch, [lr_size, lr_size, 3])
    hr_patch = tf.ensure_shape(hr_patch, [patch_size, patch_size, 3])
    return lr_patch, hr_patch


def to_float(lr, hr):
    """uint8 images to float32 in ``[0, 1]`` (the models' input and output range)."""
    return tf.cast(lr, tf.float32) / 255.0, tf.cast(hr, tf.float32) / 255.0


def has_training_image(source, scale: int, patch_size: int, split: str = "train") -> bool:
    """Whether a source has a readable image of at least ``patch_size`` pixels a side."""
    pairs = find_pairs(source, split, scale)
    return next(iter(_decoded_pairs(pairs, scale, patch_size).take(1)), None) is not None


def training_dataset(
    source: str | os.PathLike,
    scale: int = 4,
    patch_size: int = 96,
    batch_size: int = 16,
    split: str = "train",
    cache: bool | str = True,
    seed: int | None = None,
    augment: bool = True,
    degradation: str = "bicubic",
) -> tf.data.Dataset:
    """An endless stream of random aligned ``(lr, hr)`` patch batches, float32 in ``[0, 1]``;
    images unreadable or smaller than the patch are skipped with a :class:`SkippedImageWarning`.

    Args:
        patch_size: HR patch side, a multiple of ``scale``.
        cache: ``True``: decoded images in RAM; a path: in that file (kept for later runs).
        seed: Makes the stream repeatable (shuffle order, crops and augmentations).
        degradation: ``"bicubic"`` (the protocol's LR) or ``"realistic"``
            (:func:`sr_keras.degradations.realistic`, seeded per patch).
    """
    if patch_size < scale or patch_size % scale:
        raise ValueError(
            f"patch_size must be a positive multiple of scale={scale}, got {patch_size}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if degradation not in DEGRADATIONS:
        raise ValueError(f"degradation must be one of {DEGRADATIONS}, got {degradation!r}")
    pairs = find_pairs(source, split, scale)
    dataset = _decoded_pairs(pairs, scale, min_hr_size=patch_size)
    if cache:
        dataset = dataset.cache("" if cache is True else str(cache))
    dataset = dataset.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True).repeat()
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = tf.data.Dataset.zip(dataset, seeds)

    def patch(images, pair_seed):
        lr, hr = random_patch(*images, pair_seed, scale, patch_size, augment)
        return (realistic(lr, hr, pair_seed, scale) if degradation == "realistic" else lr), hr

    dataset = dataset.map(patch, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _aligned_crop(lr, hr, top, left, lr_size: int, scale: int):
    lr = lr[top : top + lr_size, left : left + lr_size]
    hr = hr[top * scale : (top + lr_size) * scale, left * scale : (left + lr_size) * scale]
    return lr, hr


def validation_dataset(
    source, scale: int = 4, split="valid", center_crop_size: int | None = None, cache=True
) -> tf.data.Dataset:
    """Whole validation images (or HR centre crops of side ``center_crop_size``) as ``(lr, hr)``
    batches of one, float32 in ``[0, 1]``, read up front: unusable files reported at once."""
    if center_crop_size is not None and (center_crop_size < scale or center_crop_size % scale):
        raise ValueError(
            f"center_crop_size must be a positive multiple of scale={scale}, got {center_crop_size}"
        )
    pairs = find_pairs(source, split, scale)
    loader = _pair_loader(pairs, scale, min_hr_size=center_crop_size or 0)
    images = [(lr, hr) for lr, hr in map(loader, range(len(pairs))) if hr.size]
    if not images:
        raise SRKerasError(f"no usable validation image in '{source}' (see the warnings above)")
    if center_crop_size:
        size = center_crop_size // scale
        for index, (lr, hr) in enumerate(images):
            top, left = (max((side - size) // 2, 0) for side in lr.shape[:2])
            images[index] = _aligned_crop(lr, hr, top, left, size, scale)
    signature = (tf.TensorSpec([None, None, 3], tf.uint8),) * 2
    dataset = tf.data.Dataset.from_generator(lambda: iter(images), output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(images)))
    dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).batch(1)
    if cache:
        dataset = dataset.cache()
    return dataset.prefetch(tf.data.AUTOTUNE)
