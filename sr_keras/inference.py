"""Running models on images: predictors for evaluation, tiled upscaling of users' files.

Tiling splits the LR image into ``tile x tile`` pieces, runs each with ``overlap`` extra LR
pixels of context on every side and keeps only its centre, so the result equals the untiled
output (the overlap covers the models' receptive field) while memory stays bounded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_keras import models
from sr_keras.evaluate import BASELINES, baseline_predictor
from sr_keras.images import SRKerasError, decode_raw, list_images, write_image
from sr_keras.interpolation import interpolate

#: Where the project's trained weights live: ``results/weights/<model>_x<scale>.keras``.
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "results" / "weights"

ArrayFunction = Callable[[np.ndarray], np.ndarray]


def default_weights_path(name: str, scale: int) -> Path:
    """The shipped weights of a model and scale (may not exist)."""
    return WEIGHTS_DIR / f"{name}_x{scale}.keras"


def _architecture(name: str) -> tuple[str, bool]:
    """``srcnn_gr`` -> ``("srcnn", True)``: the registered model and the global-residual flag."""
    residual = name.endswith("_gr")
    architecture = name[: -len("_gr")] if residual else name
    if architecture not in models.MODELS:
        raise ValueError(
            f"model must be one of {models.available_models()} (optionally with the suffix "
            f"_gr for the global-residual variant), got {name!r}"
        )
    return architecture, residual


def shipped_models(scale: int) -> list[str]:
    """The model names (``srcnn``, ``srcnn_gr``...) with shipped weights for a scale."""
    suffix = f"_x{scale}.keras"
    return sorted(path.name[: -len(suffix)] for path in WEIGHTS_DIR.glob(f"*{suffix}"))


#: ``sr-keras upscale``'s default must upscale a 1-megapixel output within this many seconds.
DEFAULT_MAX_SECONDS_PER_MEGAPIXEL = 2.0


def default_model(scale: int) -> str:
    """The default model of ``sr-keras upscale``: the best shipped one that is fast enough.

    From ``results/comparison.csv``: the shipped model with the best Set5 Y-PSNR among those
    whose measured time for a 1-megapixel output (column ``1 MP (s)``) is under
    :data:`DEFAULT_MAX_SECONDS_PER_MEGAPIXEL`; if none is, the best shipped one.

    Args:
        scale: The scale.

    Returns:
        A model name; ``srresnet`` when nothing is shipped for this scale.
    """
    shipped = shipped_models(scale)
    if not shipped:
        return "srresnet"
    table_path = WEIGHTS_DIR.parent / "comparison.csv"
    if table_path.is_file():
        import pandas as pd

        table = pd.read_csv(table_path)
        table = table[(table["Dataset"] == "Set5") & table["Name"].isin(shipped)]
        if "1 MP (s)" in table:
            fast = table[table["1 MP (s)"] < DEFAULT_MAX_SECONDS_PER_MEGAPIXEL]
            table = fast if len(fast) else table
        if len(table):
            return str(table.loc[table["Y-PSNR"].idxmax(), "Name"])
    return shipped[-1]


def load_model(name: str, scale: int, weights: str | os.PathLike | None = None) -> keras.Model:
    """Loads a trained model: ``weights`` if given, else the project's shipped weights.

    Args:
        name: A registered model, optionally with ``_gr`` (the global-residual variant).
        scale: The scale the weights must have.
        weights: A whole ``.keras`` model or a ``.weights.h5`` file for ``build(name)``;
            default ``results/weights/<name>_x<scale>.keras``.

    Returns:
        The model.

    Raises:
        SRKerasError: If the file is missing or does not fit the model.
        ValueError: If ``name`` is not a registered model.
    """
    architecture, residual = _architecture(name)
    path = Path(weights) if weights else default_weights_path(name, scale)
    if not path.is_file():
        if weights:
            raise SRKerasError(f"weights file '{path}' does not exist")
        shipped = ", ".join(shipped_models(scale)) or "none"
        raise SRKerasError(
            f"no shipped weights for {name} x{scale} (looked for '{path}'; shipped for "
            f"x{scale}: {shipped}): train it with `sr-keras train --model {architecture} "
            f"--scale {scale} --out runs/{name}_x{scale}"
            f"{' --global-residual' if residual else ''}` and pass "
            f"--weights runs/{name}_x{scale}/best.keras"
        )
    try:
        if path.name.endswith(".weights.h5"):
            model = models.build(architecture, scale, global_residual=residual)
            model.load_weights(path)
        else:
            model = keras.models.load_model(path, compile=False)
    except (ValueError, OSError) as error:
        raise SRKerasError(f"{path}: cannot load it as {name} x{scale} ({error})") from error
    found = model_scale(model)
    if found != scale:
        raise SRKerasError(f"{path} is a x{found} model, not x{scale}")
    return model


def model_scale(model: keras.Model) -> int:
    """The upscaling factor of an SR model, measured (EDSR's x4 is two x2 pixel shuffles)."""
    side = 12
    output = model(np.zeros((1, side, side, model.input_shape[-1]), np.float32), training=False)
    return int(output.shape[1]) // side


def model_function(model: keras.Model) -> ArrayFunction:
    """Wraps a model in a ``tf.function`` traced once for every image size.

    Args:
        model: An SR model.

    Returns:
        A function from a ``(1, h, w, C)`` float32 array in ``[0, 1]`` to the
        ``(1, s*h, s*w, C)`` NumPy output.
    """
    channels = model.input_shape[-1]

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, channels], tf.float32)])
    def run(batch):
        return tf.cast(model(batch, training=False), tf.float32)

    return lambda batch: run(tf.convert_to_tensor(batch, tf.float32)).numpy()


def self_ensemble(function: ArrayFunction) -> ArrayFunction:
    """Averages a batch function over the 8 flips and 90-degree rotations (EDSR's "+").

    Each transformed input is upscaled, transformed back and the eight results averaged:
    8 times the compute, usually +0.1 to +0.2 dB for trained CNNs.

    Args:
        function: Batch function as from :func:`model_function`.

    Returns:
        The ensembled batch function (same signature).
    """

    def ensembled(batch: np.ndarray) -> np.ndarray:
        total = None
        for flip in (False, True):
            flipped = batch[:, :, ::-1] if flip else batch
            for turns in range(4):
                turned = np.ascontiguousarray(np.rot90(flipped, turns, axes=(1, 2)))
                output = np.rot90(function(turned), -turns, axes=(1, 2))
                output = output[:, :, ::-1] if flip else output
                total = output.astype(np.float64) if total is None else total + output
        return (total / 8).astype(np.float32)

    return ensembled


def predict_tiled(
    function: ArrayFunction,
    image: np.ndarray,
    scale: int,
    tile: int = 256,
    overlap: int = 32,
    multiple: int = 4,
    progress=None,
) -> np.ndarray:
    """Upscales an ``HxWxC`` float image in tiles (or whole with ``tile=0``).

    Args:
        function: Batch function as from :func:`model_function`.
        image: ``HxWxC`` float32 in ``[0, 1]``.
        scale: The model's scale.
        tile: LR tile side; 0 or an image no larger than a tile runs whole.
        overlap: LR pixels of context on each side of a tile.
        multiple: Tile origins are kept on multiples of this (models with poolings need it).
        progress: Optional callable given the number of tiles done.

    Returns:
        The ``(s*H, s*W, C)`` float32 output.

    Raises:
        ValueError: If ``tile`` or ``overlap`` is negative.
    """
    if tile < 0 or overlap < 0:
        raise ValueError(f"tile and overlap must be >= 0, got {tile} and {overlap}")
    height, width = image.shape[:2]
    if tile == 0 or (height <= tile and width <= tile):
        return function(image[None])[0]
    tile = math.ceil(tile / multiple) * multiple
    overlap = math.ceil(overlap / multiple) * multiple
    output = np.empty((height * scale, width * scale, image.shape[2]), np.float32)
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(bottom + overlap, height), min(right + overlap, width)
            result = function(image[None, y0:y1, x0:x1])[0]
            output[top * scale : bottom * scale, left * scale : right * scale] = result[
                (top - y0) * scale : (bottom - y0) * scale,
                (left - x0) * scale : (right - x0) * scale,
            ]
            if progress:
                progress(1)
    return output


def predictor(
    name: str,
    scale: int,
    weights: str | os.PathLike | None = None,
    tile: int = 0,
    overlap: int = 32,
    ensemble: bool = False,
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """The evaluation function of a baseline or a trained model.

    Args:
        name: An interpolation baseline or a registered model.
        scale: The scale.
        weights: Weights of a model; default the shipped ones.
        tile: LR tile side for models (0: whole images).
        overlap: LR context per tile side.
        ensemble: Average over the 8 flips/rotations (:func:`self_ensemble`).

    Returns:
        ``(predict, parameters)``: ``predict`` maps an LR uint8 ``HxWx3`` array to the SR
        image as floats in ``0..255``; ``parameters`` is 0 for baselines.

    Raises:
        SRKerasError: If the model's weights cannot be found or loaded.
    """
    if name in BASELINES:
        return baseline_predictor(name, scale), 0
    model = load_model(name, scale, weights)
    function = model_function(model)
    if ensemble:
        function = self_ensemble(function)

    def predict(lr: np.ndarray) -> np.ndarray:
        image = lr.astype(np.float32) / 255.0
        return predict_tiled(function, image, scale, tile, overlap) * 255.0

    return predict, model.count_params()


def upscale_image(
    function: ArrayFunction, image: np.ndarray, scale: int, tile: int = 256, overlap: int = 32
) -> np.ndarray:
    """Upscales an image as decoded from a file, keeping its kind.

    Grayscale stays grayscale (the model sees it as gray RGB), RGBA keeps its alpha (upscaled
    with bicubic interpolation), 16-bit stays 16-bit.

    Args:
        function: Batch function as from :func:`model_function`.
        image: ``HxW``, ``HxWx1``, ``HxWx2``, ``HxWx3`` or ``HxWx4``, uint8 or uint16.
        scale: The model's scale.
        tile: LR tile side (0: whole image).
        overlap: LR context per tile side.

    Returns:
        The upscaled image, same dtype and channels as the input.

    Raises:
        ValueError: If the dtype or the channels are not supported.
    """
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image must be uint8 or uint16, got {image.dtype}")
    white = float(np.iinfo(image.dtype).max)
    planes = image[:, :, None] if image.ndim == 2 else image
    channels = planes.shape[2]
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"image must have 1 to 4 channels, got {channels}")
    color_channels = 1 if channels <= 2 else 3
    color = planes[:, :, :color_channels].astype(np.float32) / white
    if color_channels == 1:
        color = np.repeat(color, 3, axis=2)
    result = predict_tiled(function, color, scale, tile, overlap)
    if color_channels == 1:
        result = result.mean(axis=2, keepdims=True)
    if channels in (2, 4):
        alpha = interpolate(planes[:, :, -1].astype(np.float32) / white, scale, "bicubic")
        result = np.concatenate([result, alpha[:, :, None]], axis=2)
    result = np.clip(np.round(result * white), 0, white).astype(image.dtype)
    return result[:, :, 0] if image.ndim == 2 else result


def collect_inputs(inputs: list[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Expands files and folders (searched recursively) into a list of image files.

    Args:
        inputs: Image files and folders.

    Returns:
        ``(files, errors)``: the files found, and a message for each input that does not
        exist or is a folder without images.
    """
    files, errors = [], []
    for item in map(Path, inputs):
        try:
            if item.is_dir():
                files.extend(list_images(item, what="input folder"))
            elif item.exists():
                files.append(item)
            else:
                raise SRKerasError(f"input '{item}' does not exist")
        except SRKerasError as error:
            errors.append(str(error))
    return files, errors


def upscale_files(
    inputs: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    name: str,
    scale: int = 4,
    weights: str | os.PathLike | None = None,
    tile: int = 256,
    overlap: int = 32,
    progress: bool = True,
    ensemble: bool = False,
) -> tuple[list[Path], list[str]]:
    """Upscales image files into ``out_dir`` as ``<stem>_x<scale>.png``.

    A file that cannot be read or written is reported and skipped; the others are still
    written. Each output is written to a temp file and renamed.

    Args:
        inputs: Files and folders.
        out_dir: The output folder.
        name: A registered model or an interpolation baseline.
        scale: The scale.
        weights: Weights file; default the project's trained weights.
        tile: LR tile side (0: whole images).
        overlap: LR context per tile side.
        progress: Show a progress bar over files.
        ensemble: Average over the 8 flips/rotations (8 times slower).

    Returns:
        ``(written paths, error messages)``.
    """
    from tqdm.auto import tqdm

    files, errors = collect_inputs(inputs)
    if name in BASELINES:
        baseline = baseline_predictor(name, scale)

        def function(batch):
            return (baseline(batch[0] * 255.0) / 255.0)[None].astype(np.float32)

    else:
        function = model_function(load_model(name, scale, weights))
    if ensemble:
        function = self_ensemble(function)
    written = []
    out_dir = Path(out_dir)
    targets = set()
    for path in tqdm(files, desc=f"upscale x{scale} {name}", unit="img", disable=not progress):
        target = out_dir / f"{path.stem}_x{scale}.png"
        try:
            if target in targets:
                raise SRKerasError(f"{path}: another input already wrote {target}; rename it")
            targets.add(target)
            image = decode_raw(path)
            if image.dtype not in (np.uint8, np.uint16):
                raise SRKerasError(f"{path}: {image.dtype} images are not supported")
            result = upscale_image(function, image, scale, tile, overlap)
            written.append(write_image(target, result))
        except (SRKerasError, ValueError, OSError, tf.errors.OpError) as error:
            message = getattr(error, "message", str(error)).strip().splitlines()[0]
            errors.append(message if str(path) in message else f"{path}: {message}")
    return written, errors
