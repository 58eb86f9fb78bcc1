"""Image sources and tf.data pipelines: DIV2K, any folder of HR images, the embedded sample.

A *source* is one of:

* ``"sample"``: real photos that ship inside scikit-image (astronaut, coffee, chelsea, rocket,
  ...), so everything runs offline on a fresh machine;
* a DIV2K root in the official layout (``DIV2K_{train,valid}_HR/0001.png`` and, when present,
  ``DIV2K_{train,valid}_LR_bicubic/X4/0001x4.png``);
* any folder of HR images (PNG/JPEG/BMP/TIFF/WebP, searched recursively), e.g. Set5 or BSDS500.

LR images are the official DIV2K ones when present, else made from the HR image with the
standard degradation (:func:`sr_keras.interpolation.degrade`): HR cropped to a multiple of the
scale, MATLAB bicubic downscale with antialiasing, rounded to uint8.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from sr_keras.config import DEGRADATIONS
from sr_keras.degradations import realistic
from sr_keras.images import ImageReadError, SRKerasError, list_images, read_image
from sr_keras.interpolation import degrade, modcrop

SAMPLE_TRAIN = (
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "ihc.png",
)
SAMPLE_VALID = ("astronaut.png", "coffee.png")
SPLITS = ("train", "valid")


class SkippedImageWarning(UserWarning):
    """An image left out of a training or validation stream (unreadable or too small)."""


@dataclasses.dataclass(frozen=True)
class ImagePair:
    """One HR image and, if it exists on disk, its official LR image."""

    name: str
    hr_path: Path
    lr_path: Path | None = None


def sample_dir() -> Path:
    """The folder of scikit-image's bundled photos (the embedded sample source)."""
    import skimage

    return Path(skimage.__file__).parent / "data"


def is_div2k_root(path: str | os.PathLike) -> bool:
    """True if ``path`` holds ``DIV2K_train_HR`` or ``DIV2K_valid_HR``."""
    path = Path(path)
    return any((path / f"DIV2K_{split}_HR").is_dir() for split in SPLITS)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def div2k_pairs(root: str | os.PathLike, split: str = "train", scale: int = 4) -> list[ImagePair]:
    """The HR/LR pairs of a DIV2K root in the official layout.

    Args:
        root: Folder holding ``DIV2K_{split}_HR`` (and optionally ``DIV2K_{split}_LR_bicubic``).
        split: ``"train"`` (0001-0800) or ``"valid"`` (0801-0900).
        scale: 2, 3 or 4: which ``X{scale}`` LR folder to use.

    Returns:
        Pairs sorted by name; ``lr_path`` is ``None`` where no official LR image exists.

    Raises:
        ValueError: If ``split`` is unknown.
        SRKerasError: If the HR folder is missing or empty.
    """
    _check_split(split)
    root = Path(root)
    hr_dir = root / f"DIV2K_{split}_HR"
    if not hr_dir.is_dir():
        raise SRKerasError(
            f"DIV2K folder '{hr_dir}' does not exist. Get DIV2K with "
            f"`sr-keras download div2k --root {root} --scale {scale} --subset {split}`."
        )
    lr_dir = root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}"
    pairs = []
    for hr_path in list_images(hr_dir, what="DIV2K HR folder"):
        lr_path = lr_dir / f"{hr_path.stem}x{scale}{hr_path.suffix}"
        pairs.append(ImagePair(hr_path.stem, hr_path, lr_path if lr_path.is_file() else None))
    return pairs


def find_pairs(source: str | os.PathLike, split: str = "train", scale: int = 4) -> list[ImagePair]:
    """Lists the images of a source (``"sample"``, a DIV2K root or a folder).

    Args:
        source: ``"sample"``, a DIV2K root or a folder of HR images.
        split: ``"train"`` or ``"valid"``: selects DIV2K's and the sample's split; a plain
            folder gives all its images for either split.
        scale: The scale, to find DIV2K's official LR images.

    Returns:
        The image pairs, sorted.

    Raises:
        ValueError: If ``split`` is unknown.
        SRKerasError: If the source does not exist or holds no image.
    """
    _check_split(split)
    if str(source) == "sample":
        names = SAMPLE_TRAIN if split == "train" else SAMPLE_VALID
        return [ImagePair(Path(name).stem, sample_dir() / name) for name in names]
    if is_div2k_root(source):
        return div2k_pairs(source, split, scale)
    folder = Path(source)
    return [ImagePair(_relative_name(path, folder), path) for path in list_images(folder)]


def _relative_name(path: Path, folder: Path) -> str:
    return path.relative_to(folder).with_suffix("").as_posix()


def load_pair(pair: ImagePair, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Reads one pair as uint8 RGB ``(lr, hr)`` with ``hr`` cropped to a multiple of ``scale``.

    Raises:
        ImageReadError: If a file cannot be read, or the official LR image has the wrong size.
    """
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


def iterate_pairs(
    source: str | os.PathLike, split: str = "valid", scale: int = 4
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yields ``(name, lr, hr)`` uint8 arrays of a benchmark source, deterministically.

    Unlike the training stream, an unreadable file raises :class:`ImageReadError`: a
    benchmark with a missing image would not be comparable.
    """
    for pair in find_pairs(source, split, scale):
        lr, hr = load_pair(pair, scale)
        yield pair.name, lr, hr


def _pair_loader(pairs: list[ImagePair], scale: int, min_hr_size: int):
    """A NumPy function for ``tf.numpy_function``: index -> (lr, hr), empty when skipped."""

    def load(index):
        pair = pairs[int(index)]
        try:
            lr, hr = load_pair(pair, scale)
        except ImageReadError as error:
            warnings.warn(f"skipped: {error}", SkippedImageWarning, stacklevel=1)
            return _empty(), _empty()
        if min(hr.shape[:2]) < min_hr_size:
            warnings.warn(
                f"skipped: {pair.hr_path}: {hr.shape[1]}x{hr.shape[0]} is smaller than the "
                f"{min_hr_size}px patch",
                SkippedImageWarning,
                stacklevel=1,
            )
            return _empty(), _empty()
        return lr, hr

    return load


def _empty():
    return np.zeros((0, 0, 3), np.uint8)


def _decoded_pairs(pairs: list[ImagePair], scale: int, min_hr_size: int) -> tf.data.Dataset:
    if not pairs:
        raise SRKerasError("no images to load")
    loader = _pair_loader(pairs, scale, min_hr_size)

    def load(index):
        lr, hr = tf.numpy_function(loader, [index], (tf.uint8, tf.uint8), stateful=False)
        lr.set_shape([None, None, 3])
        hr.set_shape([None, None, 3])
        return lr, hr

    dataset = tf.data.Dataset.range(len(pairs))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.filter(lambda lr, hr: tf.size(hr) > 0)


def random_patch(lr, hr, seed, scale: int, patch_size: int, augment: bool = True):
    """Crops aligned LR/HR patches at a random place, with random flips and 90-degree turns.

    Args:
        lr: ``(h, w, 3)`` LR image.
        hr: ``(h*scale, w*scale, 3)`` HR image.
        seed: Shape ``[2]`` integer seed for the stateless random ops.
        scale: The scale.
        patch_size: HR patch side; the LR patch is ``patch_size // scale``.
        augment: Apply a random horizontal flip and a random multiple of 90-degree rotation.

    Returns:
        ``(lr_patch, hr_patch)`` with the same random transform applied to both.
    """
    lr_size = patch_size // scale
    draws = tf.random.stateless_uniform([4], seed=seed)
    lr_shape = tf.shape(lr)
    top = tf.cast(draws[0] * tf.cast(lr_shape[0] - lr_size + 1, tf.float32), tf.int32)
    left = tf.cast(draws[1] * tf.cast(lr_shape[1] - lr_size + 1, tf.float32), tf.int32)
    lr_patch = lr[top : top + lr_size, left : left + lr_size]
    hr_patch = hr[top * scale : (top + lr_size) * scale, left * scale : (left + lr_size) * scale]
    if augment:
        flip = draws[2] < 0.5
        lr_patch = tf.cond(flip, lambda: lr_patch[:, ::-1], lambda: lr_patch)
        hr_patch = tf.cond(flip, lambda: hr_patch[:, ::-1], lambda: hr_patch)
        turns = tf.cast(draws[3] * 4.0, tf.int32)
        lr_patch = tf.image.rot90(lr_patch, turns)
        hr_patch = tf.image.rot90(hr_patch, turns)
    lr_patch = tf.ensure_shape(lr_patch, [lr_size, lr_size, 3])
    hr_patch = tf.ensure_shape(hr_patch, [patch_size, patch_size, 3])
    return lr_patch, hr_patch


def to_float(lr, hr):
    """uint8 images to float32 in ``[0, 1]`` (the models' input and output range)."""
    return tf.cast(lr, tf.float32) / 255.0, tf.cast(hr, tf.float32) / 255.0


def has_training_image(
    source: str | os.PathLike, scale: int, patch_size: int, split: str = "train"
) -> bool:
    """Whether a training source has an image that is readable and at least ``patch_size``
    pixels on each side (decoding stops at the first one)."""
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
    """An endless stream of random aligned ``(lr, hr)`` patch batches, float32 in ``[0, 1]``.

    Decoded (and, without official LR images, degraded) images are cached, so each file is read
    and degraded once; then images are shuffled, repeated, cropped to random patches with random
    flips/rotations, batched and prefetched. Unreadable images and images smaller than the patch
    are skipped with a :class:`SkippedImageWarning` naming the file.

    Args:
        source: ``"sample"``, a DIV2K root or a folder of HR images.
        scale: 2, 3 or 4.
        patch_size: HR patch side in pixels (a multiple of ``scale``); LR is
            ``patch_size // scale``.
        batch_size: Patches per batch.
        split: Which split of DIV2K or of the sample to read.
        cache: ``True`` caches decoded images in RAM, a path caches them in that file
            (re-used by later runs), ``False`` re-reads files every epoch.
        seed: Makes the stream repeatable (shuffle order, crops and augmentations).
        augment: Random horizontal flips and 90-degree rotations.
        degradation: ``"bicubic"``: LR patches cropped from the protocol's LR image;
            ``"realistic"``: each HR patch made small its own random way, seeded
            (:func:`sr_keras.degradations.realistic`).

    Returns:
        A ``tf.data.Dataset`` of ``(lr, hr)`` with shapes
        ``(batch, patch/scale, patch/scale, 3)`` and ``(batch, patch, patch, 3)``.

    Raises:
        ValueError: If ``patch_size`` is not a positive multiple of ``scale``, ``batch_size`` is
            not positive or ``degradation`` is unknown.
        SRKerasError: If the source is missing or empty.
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


def center_crop(lr, hr, scale: int, hr_size: int):
    """Crops aligned centre patches (HR side ``hr_size``, a multiple of ``scale``)."""
    lr_size = hr_size // scale
    top = max((lr.shape[0] - lr_size) // 2, 0)
    left = max((lr.shape[1] - lr_size) // 2, 0)
    lr = lr[top : top + lr_size, left : left + lr_size]
    hr = hr[top * scale : (top + lr_size) * scale, left * scale : (left + lr_size) * scale]
    return lr, hr


def validation_dataset(
    source: str | os.PathLike,
    scale: int = 4,
    split: str = "valid",
    center_crop_size: int | None = None,
    cache: bool = True,
) -> tf.data.Dataset:
    """Whole validation images (or fixed centre crops), batch size 1, no randomness.

    The images are read once, up front (validation sets are small), so the dataset has a known
    length and unreadable files are reported before training starts.

    Args:
        source: ``"sample"``, a DIV2K root or a folder of HR images (e.g. Set5).
        scale: 2, 3 or 4.
        split: Which split of DIV2K or of the sample to read.
        center_crop_size: If set, an HR centre crop of this side (a multiple of ``scale``)
            instead of the whole image: faster validation on large images.
        cache: Keep decoded images in RAM between epochs.

    Returns:
        A ``tf.data.Dataset`` of ``(lr, hr)`` float32 in ``[0, 1]``, shapes ``(1, h, w, 3)``
        and ``(1, h*scale, w*scale, 3)``, in the same order every epoch.

    Raises:
        ValueError: If ``center_crop_size`` is not a multiple of ``scale``.
        SRKerasError: If the source is missing or empty.
    """
    if center_crop_size is not None and (center_crop_size < scale or center_crop_size % scale):
        raise ValueError(
            f"center_crop_size must be a positive multiple of scale={scale}, got {center_crop_size}"
        )
    pairs = find_pairs(source, split, scale)
    loader = _pair_loader(pairs, scale, min_hr_size=center_crop_size or 0)
    images = [loader(index) for index in range(len(pairs))]
    images = [(lr, hr) for lr, hr in images if hr.size]
    if not images:
        raise SRKerasError(f"no usable validation image in '{source}' (see the warnings above)")
    if center_crop_size:
        images = [center_crop(lr, hr, scale, center_crop_size) for lr, hr in images]
    signature = (
        tf.TensorSpec([None, None, 3], tf.uint8),
        tf.TensorSpec([None, None, 3], tf.uint8),
    )
    dataset = tf.data.Dataset.from_generator(lambda: iter(images), output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(images)))
    dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).batch(1)
    if cache:
        dataset = dataset.cache()
    return dataset.prefetch(tf.data.AUTOTUNE)
